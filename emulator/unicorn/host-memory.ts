// Host memory blocks with a stable native address: anonymous mmap, so large blocks cost nothing
// until touched and start zeroed. The backing for physical memory and for register batches.

import { koffi } from './lib.ts';

const libc = koffi.load('libc.so.6');
const mmap = libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, intptr_t off)');
const munmap = libc.func('int munmap(void *addr, size_t len)');
const PROT_READ_WRITE = 3;
const MAP_PRIVATE_ANONYMOUS = 0x22;

// Native addresses stay inside emulator/unicorn/: only engine.ts imports hostAddress().
const addresses = new WeakMap<HostMemory, bigint>();

/** The block's native address. For the binding only; never passed above emulator/unicorn/. */
export function hostAddress(m: HostMemory): bigint {
  const a = addresses.get(m);
  if (a === undefined) throw new Error('host memory used after free');
  return a;
}

export class HostMemory {
  /** A view of the whole block. Invalid after free(). */
  readonly bytes: Uint8Array;
  private native: unknown;

  private constructor(native: unknown, readonly size: number) {
    this.native = native;
    addresses.set(this, koffi.address(native));
    this.bytes = new Uint8Array(koffi.view(native, size));
  }

  static allocate(size: number): HostMemory {
    if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`HostMemory.allocate: bad size ${size}`);
    const p = mmap(null, size, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0);
    if (koffi.address(p) === 0xffff_ffff_ffff_ffffn) throw new Error(`mmap of ${size} bytes failed`);
    return new HostMemory(p, size);
  }

  free(): void {
    if (this.native === null) return;
    munmap(this.native, this.size);
    this.native = null;
    addresses.delete(this);
  }
}
