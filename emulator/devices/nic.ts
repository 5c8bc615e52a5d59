// The NIC: an Ethernet controller with e1000-style descriptor rings in its driver's memory. The
// host side is the wire: `receive` puts a frame on it towards the guest, `onTransmit` takes what
// the guest sends, `tap` sees both (a capture attaches there). The device touches memory only
// through the DMA window the kernel binds to its driver (emulator/device.ts), so a descriptor
// or buffer its driver does not own stops the device instead of reaching someone else's bytes.
//
// Registers (64-bit, little-endian, 4 KiB window; reads of anything else are 0, writes ignored):
//   0x00 ID          ro  "HICNIC01" (0x4849434e49433031, first character in the top byte)
//   0x08 CTRL        rw  bit0 RX enable, bit1 TX enable, bit2 reset (self-clearing). An enable
//                        stays 0 while its ring size is unset or a DMA error is latched.
//   0x10 STATUS      ro  bit0 link up, bit1 DMA error (latched until reset)
//   0x18 MAC         ro  48-bit; byte i of the address is bits 8i..8i+7 (store it, get wire order)
//   0x20 RX_RING     rw  physical address of the RX ring (low 4 bits read as 0)
//   0x28 RX_SIZE     rw  entries: a power of two in 4..256; other values are ignored
//   0x30 RX_HEAD     ro  next descriptor the device fills
//   0x38 RX_TAIL     rw  descriptors [HEAD, TAIL) are the device's (one slot always stays empty);
//                        a value >= RX_SIZE is ignored
//   0x40 TX_RING, 0x48 TX_SIZE, 0x50 TX_HEAD, 0x58 TX_TAIL: the same for TX; a TAIL write sends
//                        [HEAD, TAIL) at once, in the guest's store
//   0x60 IRQ_STATUS  rw1c bit0 RX (a frame arrived), bit1 TX done
//   0x68 IRQ_MASK    rw  1 = enabled; the line is raised when (STATUS & MASK) turns non-zero
//   0x70 RX_DROPPED, 0x78 TX_COUNT, 0x80 RX_COUNT: ro counters
// Ring base and size writes are ignored while that ring is enabled, and reset its HEAD and TAIL.
// Reset returns every register (counters too) to its power-on value; the DMA binding stays.
//
// Descriptor (16 bytes): u64 buffer address, u16 length, u16 flags (bit0 DONE, bit1 EOP), u32
// reserved. RX: the driver writes the buffer's size (>= 1518, or frames are dropped and counted);
// the device writes the frame, its length and DONE|EOP. TX: the driver writes the frame length;
// the device sets DONE once sent. One frame per descriptor, 14..1518 bytes (no FCS).

import { readSlice, writeSlice, type Device, type DmaAccess, type DmaWindow } from '../device.ts';

export const NIC_REG = {
  ID: 0x00, CTRL: 0x08, STATUS: 0x10, MAC: 0x18,
  RX_RING: 0x20, RX_SIZE: 0x28, RX_HEAD: 0x30, RX_TAIL: 0x38,
  TX_RING: 0x40, TX_SIZE: 0x48, TX_HEAD: 0x50, TX_TAIL: 0x58,
  IRQ_STATUS: 0x60, IRQ_MASK: 0x68, RX_DROPPED: 0x70, TX_COUNT: 0x78, RX_COUNT: 0x80,
} as const;

export const NIC_ID = 0x4849434e49433031n; // "HICNIC01"
export const CTRL_RX_ENABLE = 1;
export const CTRL_TX_ENABLE = 2;
export const CTRL_RESET = 4;
export const STATUS_LINK_UP = 1;
export const STATUS_DMA_ERROR = 2;
export const IRQ_RX = 1;
export const IRQ_TX_DONE = 2;
export const DESC_DONE = 1;
export const DESC_EOP = 2;
export const DESC_SIZE = 16;
export const MIN_FRAME = 14; // an Ethernet II header
export const MAX_FRAME = 1518;
const MAX_RECORDED_FAULTS = 64;

/** A refused DMA: which ring, what the device tried to reach, and where. */
export interface DmaFault {
  readonly ring: 'rx' | 'tx';
  readonly what: 'descriptor' | 'buffer';
  readonly address: number;
  readonly length: number;
}

/** Everything guest-visible, for snapshots (getState/setState). */
export interface NicState {
  ctrl: number;
  dmaError: boolean;
  linkUp: boolean;
  rx: RingState;
  tx: RingState;
  irqStatus: number;
  irqMask: number;
  rxDropped: number;
  txCount: number;
  rxCount: number;
}

interface RingState {
  base: bigint;
  size: number;
  head: number;
  tail: number;
}

export interface NicOptions {
  readonly name?: string;
  /** Six bytes, or "02:48:49:43:00:01" form. */
  readonly mac?: Uint8Array | string;
}

const DEFAULT_MAC = '02:48:49:43:00:01';

export class NicDevice implements Device {
  readonly name: string;
  readonly size = 0x1000;
  readonly mac: Uint8Array;
  raise: (() => void) | undefined;
  /** Called with each frame the guest transmits (a copy, at the virtual time of its TAIL store). */
  onTransmit: ((frame: Uint8Array) => void) | undefined;
  /** Sees every frame that crosses the device: received into the ring, or transmitted. */
  tap: ((direction: 'rx' | 'tx', frame: Uint8Array) => void) | undefined;
  /** Refused DMAs since construction (the first 64), for tests and the debugger. */
  readonly dmaFaults: DmaFault[] = [];
  dmaFaultCount = 0;

  private dma: DmaWindow | undefined;
  private state: NicState = NicDevice.powerOn(true);

  constructor(options: NicOptions = {}) {
    this.name = options.name ?? 'nic';
    this.mac = parseMac(options.mac ?? DEFAULT_MAC);
  }

  private static powerOn(linkUp: boolean): NicState {
    const ring = (): RingState => ({ base: 0n, size: 0, head: 0, tail: 0 });
    return { ctrl: 0, dmaError: false, linkUp, rx: ring(), tx: ring(), irqStatus: 0, irqMask: 0, rxDropped: 0, txCount: 0, rxCount: 0 };
  }

  bind(dma: DmaWindow): void {
    this.dma = dma;
  }

  get linkUp(): boolean {
    return this.state.linkUp;
  }

  /** Plugs or unplugs the cable: without link nothing is received and sent frames go nowhere. */
  set linkUp(up: boolean) {
    this.state.linkUp = up;
  }

  /** Frames received into the ring, sent, and dropped at the ring (RX_COUNT, TX_COUNT, RX_DROPPED). */
  get counters(): { readonly rx: number; readonly tx: number; readonly rxDropped: number } {
    return { rx: this.state.rxCount, tx: this.state.txCount, rxDropped: this.state.rxDropped };
  }

  /** The RX ring now: its size, and the descriptors the device holds free for frames to come. */
  get rxRing(): { readonly size: number; readonly free: number } {
    const s = this.state;
    const free = s.ctrl & CTRL_RX_ENABLE && s.linkUp && s.rx.size > 0 ? (s.rx.tail - s.rx.head) & (s.rx.size - 1) : 0;
    return { size: s.rx.size, free };
  }

  // --- the wire ----------------------------------------------------------------------------------

  /**
   * A frame arrives from the wire: written into the next descriptor the device owns, which is
   * then marked DONE, and RX_HEAD moves on. Returns false, counting RX_DROPPED, when it cannot be
   * taken (RX off, no link, no free descriptor, a bad length, a too-small buffer, a refused DMA).
   */
  receive(frame: Uint8Array): boolean {
    const s = this.state;
    const rx = s.rx;
    if (!(s.ctrl & CTRL_RX_ENABLE) || !s.linkUp || rx.head === rx.tail || frame.length < MIN_FRAME || frame.length > MAX_FRAME) {
      return this.dropped();
    }
    const desc = this.descriptor('rx', rx, rx.head);
    if (!desc) return this.dropped();
    const capacity = desc.getUint16(8, true);
    if (capacity < MAX_FRAME) return this.dropped(); // the descriptor stays the device's
    const buffer = this.reach('rx', 'buffer', desc.getBigUint64(0, true), capacity, 'write');
    if (!buffer) return this.dropped();
    buffer.set(frame);
    desc.setUint16(8, frame.length, true);
    desc.setUint16(10, DESC_DONE | DESC_EOP, true);
    rx.head = (rx.head + 1) & (rx.size - 1);
    s.rxCount++;
    this.tap?.('rx', frame);
    this.interrupt(IRQ_RX);
    return true;
  }

  /** Sends [TX_HEAD, TX_TAIL): each frame to tap and onTransmit, its descriptor marked DONE. */
  private transmit(): void {
    const s = this.state;
    const tx = s.tx;
    let sent = false;
    while (s.ctrl & CTRL_TX_ENABLE && tx.head !== tx.tail) {
      const desc = this.descriptor('tx', tx, tx.head);
      if (!desc) break;
      const length = desc.getUint16(8, true);
      // A bad length completes the descriptor unsent: the driver's mistake must not wedge the ring.
      if (length >= MIN_FRAME && length <= MAX_FRAME) {
        const buffer = this.reach('tx', 'buffer', desc.getBigUint64(0, true), length, 'read');
        if (!buffer) break;
        const frame = buffer.slice();
        s.txCount++;
        if (s.linkUp) {
          this.tap?.('tx', frame);
          this.onTransmit?.(frame);
        }
      }
      desc.setUint16(10, desc.getUint16(10, true) | DESC_DONE, true);
      tx.head = (tx.head + 1) & (tx.size - 1);
      sent = true;
    }
    if (sent) this.interrupt(IRQ_TX_DONE);
  }

  /** Descriptor i of a ring, read-write (the device writes its status back), or a DMA fault. */
  private descriptor(ring: 'rx' | 'tx', r: RingState, i: number): DataView | undefined {
    const b = this.reach(ring, 'descriptor', r.base + BigInt(i * DESC_SIZE), DESC_SIZE, 'write');
    return b && new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  /** The bytes, if the driver's window allows them; otherwise latches the error and stops. */
  private reach(ring: 'rx' | 'tx', what: DmaFault['what'], address: bigint, length: number, access: DmaAccess): Uint8Array | undefined {
    // An address past 2^53 is not in anyone's memory; Number() would round it to one that might be.
    const at = address <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(address) : undefined;
    const bytes = at === undefined ? undefined : this.dma?.(at, length, access);
    if (bytes && bytes.length === length) return bytes;
    this.dmaFaultCount++;
    if (this.dmaFaults.length < MAX_RECORDED_FAULTS) this.dmaFaults.push({ ring, what, address: Number(address), length });
    this.state.dmaError = true;
    this.state.ctrl &= ~(CTRL_RX_ENABLE | CTRL_TX_ENABLE);
    return undefined;
  }

  private dropped(): false {
    this.state.rxDropped++;
    return false;
  }

  /** Sets IRQ_STATUS bits; the line is raised on the edge where an enabled bit becomes pending. */
  private interrupt(bits: number): void {
    const before = this.asserted;
    this.state.irqStatus |= bits;
    if (!before && this.asserted) this.raise?.();
  }

  private get asserted(): boolean {
    return (this.state.irqStatus & this.state.irqMask) !== 0;
  }

  // --- registers ---------------------------------------------------------------------------------

  read(offset: number, size: number): bigint {
    return readSlice(this.register(offset & ~7), offset, size);
  }

  private register(at: number): bigint {
    const s = this.state;
    switch (at) {
      case NIC_REG.ID: return NIC_ID;
      case NIC_REG.CTRL: return BigInt(s.ctrl);
      case NIC_REG.STATUS: return BigInt((s.linkUp ? STATUS_LINK_UP : 0) | (s.dmaError ? STATUS_DMA_ERROR : 0));
      case NIC_REG.MAC: return this.mac.reduceRight((v, b) => (v << 8n) | BigInt(b), 0n);
      case NIC_REG.RX_RING: return s.rx.base;
      case NIC_REG.RX_SIZE: return BigInt(s.rx.size);
      case NIC_REG.RX_HEAD: return BigInt(s.rx.head);
      case NIC_REG.RX_TAIL: return BigInt(s.rx.tail);
      case NIC_REG.TX_RING: return s.tx.base;
      case NIC_REG.TX_SIZE: return BigInt(s.tx.size);
      case NIC_REG.TX_HEAD: return BigInt(s.tx.head);
      case NIC_REG.TX_TAIL: return BigInt(s.tx.tail);
      case NIC_REG.IRQ_STATUS: return BigInt(s.irqStatus);
      case NIC_REG.IRQ_MASK: return BigInt(s.irqMask);
      case NIC_REG.RX_DROPPED: return BigInt(s.rxDropped);
      case NIC_REG.TX_COUNT: return BigInt(s.txCount);
      case NIC_REG.RX_COUNT: return BigInt(s.rxCount);
      default: return 0n;
    }
  }

  /** A store of `size` bytes at `offset`: Unicorn delivers 64-bit stores as two 4-byte slices. */
  write(offset: number, size: number, value: number): void {
    const at = offset & ~7;
    const next = writeSlice(this.register(at), offset, size, value);
    const entries = next <= 0xffffn ? Number(next) : -1; // a ring size; anything larger is refused
    const s = this.state;
    switch (at) {
      case NIC_REG.CTRL: return this.control(Number(next & 0xffn));
      case NIC_REG.RX_RING: return this.configure(s.rx, CTRL_RX_ENABLE, next & ~0xfn, s.rx.size);
      case NIC_REG.RX_SIZE: return this.configure(s.rx, CTRL_RX_ENABLE, s.rx.base, entries);
      case NIC_REG.RX_TAIL: return this.setTail(s.rx, next);
      case NIC_REG.TX_RING: return this.configure(s.tx, CTRL_TX_ENABLE, next & ~0xfn, s.tx.size);
      case NIC_REG.TX_SIZE: return this.configure(s.tx, CTRL_TX_ENABLE, s.tx.base, entries);
      case NIC_REG.TX_TAIL:
        this.setTail(s.tx, next);
        return this.transmit();
      case NIC_REG.IRQ_STATUS:
        s.irqStatus &= ~Number(writeSlice(0n, offset, size, value) & 0xffn); // write 1 to clear
        return;
      case NIC_REG.IRQ_MASK: {
        const before = this.asserted;
        s.irqMask = Number(next & BigInt(IRQ_RX | IRQ_TX_DONE));
        if (!before && this.asserted) this.raise?.();
        return;
      }
      default: // read-only or unassigned
    }
  }

  private control(value: number): void {
    const s = this.state;
    if (value & CTRL_RESET) {
      this.state = NicDevice.powerOn(s.linkUp);
      return;
    }
    const wasTx = s.ctrl & CTRL_TX_ENABLE;
    let ctrl = 0;
    if (!s.dmaError && value & CTRL_RX_ENABLE && s.rx.size > 0) ctrl |= CTRL_RX_ENABLE;
    if (!s.dmaError && value & CTRL_TX_ENABLE && s.tx.size > 0) ctrl |= CTRL_TX_ENABLE;
    s.ctrl = ctrl;
    if (!wasTx && ctrl & CTRL_TX_ENABLE) this.transmit(); // frames queued while TX was off go now
  }

  private configure(r: RingState, enable: number, base: bigint, size: number): void {
    if (this.state.ctrl & enable) return; // the device is using this ring
    if (size !== r.size && !(size >= 4 && size <= 256 && (size & (size - 1)) === 0)) return;
    r.base = base;
    r.size = size;
    r.head = 0;
    r.tail = 0;
  }

  private setTail(r: RingState, value: bigint): void {
    if (value < BigInt(r.size)) r.tail = Number(value);
  }

  // --- snapshots ---------------------------------------------------------------------------------

  getState(): NicState {
    return structuredClone(this.state);
  }

  setState(state: NicState): void {
    this.state = structuredClone(state);
  }
}

function parseMac(mac: Uint8Array | string): Uint8Array {
  if (typeof mac !== 'string') {
    if (mac.length !== 6) throw new RangeError(`nic: a MAC address is 6 bytes, not ${mac.length}`);
    return Uint8Array.from(mac);
  }
  const parts = mac.split(':');
  if (parts.length !== 6 || !parts.every((h) => /^[0-9a-f]{2}$/i.test(h))) throw new RangeError(`nic: bad MAC address "${mac}"`);
  return Uint8Array.from(parts, (h) => parseInt(h, 16));
}
