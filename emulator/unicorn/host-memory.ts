// Host memory blocks with a stable native address: anonymous mmap, so large blocks cost nothing
// until touched and start zeroed. The backing for physical memory and for register batches.

import { koffi } from './lib.ts';

const libc = koffi.load('libc.so.6');
const mmap = libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, intptr_t off)');
const munmap = libc.func('int munmap(void *addr, size_t len)');
const PROT_READ_WRITE = 3;
const MAP_PRIVATE_ANONYMOUS = 0x22;

export class HostMemory {
  /** A view of the whole block. Invalid after free(). */
  readonly bytes: Uint8Array;
  /** @internal the native address, for the binding only. */
  readonly address: bigint;
  private native: unknown;

  private constructor(native: unknown, readonly size: number) {
    this.native = native;
    this.address = koffi.address(native);
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
  }
}
