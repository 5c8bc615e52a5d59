// Devices: register windows the guest reaches by ordinary loads and stores (MMIO), and the IRQ
// line a device raises. The machine places each device at a physical address above RAM; Core-0
// decides, by capability, which sandbox may map its window and with what rights. A device that
// does DMA reaches memory only through the window the kernel binds when its driver maps it.

/** How a device touches memory: reading it (a frame to send) or writing it (a frame received). */
export type DmaAccess = 'read' | 'write';

/**
 * The physical bytes [physical, physical+length) a device may touch with that access, or
 * undefined when it may not (an IOMMU in spirit): the kernel decides, per driver.
 */
export type DmaWindow = (physical: number, length: number, access: DmaAccess) => Uint8Array | undefined;

export interface Device {
  readonly name: string;
  /** Size of the register window in bytes (a multiple of 4 KiB). */
  readonly size: number;
  read(offset: number, size: number): number | bigint;
  write(offset: number, size: number, value: number): void;
  /** Set by whoever routes the device's interrupt line; the device calls it to raise it. */
  raise: (() => void) | undefined;
  /**
   * Devices that do DMA: the kernel binds the window of the sandbox that maps the registers
   * read-write (its driver). Until then the device reaches no memory at all.
   */
  bind?(dma: DmaWindow): void;
}

/** Where devices live: one 64 KiB slot each, from 4 GiB up, never overlapping RAM. */
export const DEVICE_BASE = 0x1_0000_0000;
export const DEVICE_SLOT = 0x1_0000;

export interface AttachedDevice {
  readonly device: Device;
  readonly base: number;
  readonly irq: number;
}

/**
 * The guest's view of 64-bit registers through accesses of any width: Unicorn hands an 8-byte
 * MMIO access to the device as two 4-byte ones (QEMU's default access size), so a register is
 * read in slices and written by read-modify-write of the slice.
 */
export function readSlice(register: bigint, offset: number, size: number): bigint {
  return (register >> BigInt(8 * (offset & 7))) & ((1n << BigInt(8 * size)) - 1n);
}

export function writeSlice(register: bigint, offset: number, size: number, value: number): bigint {
  const shift = BigInt(8 * (offset & 7));
  const mask = ((1n << BigInt(8 * size)) - 1n) << shift;
  return (register & ~mask) | ((BigInt(value) << shift) & mask);
}

/**
 * A small device to prove the path end to end (and for tests): an identity register, a scratch
 * register, and a doorbell that raises its interrupt line.
 *   0x00  ID       read-only  0x484943444f4f5231 ("HICDOOR1")
 *   0x08  SCRATCH  read-write
 *   0x10  DOORBELL write (its low half): raises the IRQ; read: how many times it rang
 */
export class DoorbellDevice implements Device {
  readonly size = 0x1000;
  raise: (() => void) | undefined;
  private scratch = 0n;
  private rung = 0n;
  static readonly ID = 0x484943444f4f5231n;

  constructor(readonly name = 'doorbell') {}

  read(offset: number, size: number): bigint {
    const register = offset >> 3 === 0 ? DoorbellDevice.ID : offset >> 3 === 1 ? this.scratch : offset >> 3 === 2 ? this.rung : 0n;
    return readSlice(register, offset, size);
  }

  write(offset: number, size: number, value: number): void {
    if (offset >> 3 === 1) this.scratch = writeSlice(this.scratch, offset, size, value);
    if (offset === 0x10) {
      this.rung++;
      this.raise?.();
    }
  }
}
