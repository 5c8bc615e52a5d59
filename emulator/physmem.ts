// Physical memory: one host block cut into 4 KiB frames, and the frame allocator.
//
// Frames are handed out as contiguous runs (first fit), because every run becomes one engine
// mapping and Unicorn wants few, large mappings (docs/unicorn.md#few-mappings). A frame is zeroed
// when it is freed, so memory never carries one sandbox's bytes to the next owner. Each allocated
// frame records an owner tag, which is what lets a test (or the debugger) say whose page an
// address is.
//
// Frames below FIRST_FRAME are never allocated: physical page 0 stays unused so that a null
// pointer is never a valid address anywhere (sandboxes map frames at their physical address).

import { HostMemory } from './unicorn/host-memory.ts';

export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;
const FIRST_FRAME = 256; // the first megabyte stays unused

export class OutOfFramesError extends Error {
  readonly code = 'HIC_OUT_OF_FRAMES';
}

export interface FrameAccounting {
  readonly total: number;
  readonly free: number;
  readonly allocated: number;
}

export class PhysicalMemory {
  readonly frameCount: number;
  /** The host block; engines map slices of it. */
  readonly host: HostMemory;
  /** owner[i] = 0 when frame i is free, else the owner tag given at allocation. */
  private readonly owner: Uint32Array;
  private freeFrames: number;

  constructor(bytes: number) {
    if (bytes % PAGE_SIZE !== 0 || bytes < (FIRST_FRAME + 16) * PAGE_SIZE) {
      throw new RangeError(`physical memory size must be a multiple of 4 KiB and at least ${(FIRST_FRAME + 16) * 4} KiB`);
    }
    this.frameCount = bytes / PAGE_SIZE;
    this.host = HostMemory.allocate(bytes);
    this.owner = new Uint32Array(this.frameCount);
    this.owner.fill(0xffff_ffff, 0, FIRST_FRAME); // reserved
    this.freeFrames = this.frameCount - FIRST_FRAME;
  }

  get bytes(): Uint8Array {
    return this.host.bytes;
  }

  accounting(): FrameAccounting {
    return { total: this.frameCount - FIRST_FRAME, free: this.freeFrames, allocated: this.frameCount - FIRST_FRAME - this.freeFrames };
  }

  /**
   * Allocates `count` contiguous frames for `owner` (a non-zero tag) and returns the first frame
   * number. Throws OutOfFramesError when no run is long enough (there may still be free frames).
   * Sandbox memory is taken first-fit from the bottom; the kernel's own structures (page tables)
   * from the top (`high`), so the two never interleave.
   */
  allocate(count: number, owner: number, high = false): number {
    if (!Number.isInteger(count) || count <= 0) throw new RangeError(`allocate: bad frame count ${count}`);
    if (!(owner > 0 && owner < 0xffff_ffff)) throw new RangeError(`allocate: bad owner tag ${owner}`);
    let run = 0;
    const step = high ? -1 : 1;
    for (let f = high ? this.frameCount - 1 : FIRST_FRAME; f >= FIRST_FRAME && f < this.frameCount; f += step) {
      run = this.owner[f] === 0 ? run + 1 : 0;
      if (run === count) {
        const first = high ? f : f - count + 1;
        this.owner.fill(owner, first, first + count);
        this.freeFrames -= count;
        return first;
      }
    }
    throw new OutOfFramesError(`no run of ${count} free frames (${this.freeFrames} free in all)`);
  }

  /** allocate, with no run long enough answered as a value (the form Core-0 calls: emulator/types.ts). */
  tryAllocate(count: number, owner: number, high = false): number | 'NO_FRAMES' {
    try {
      return this.allocate(count, owner, high);
    } catch (e) {
      if (e instanceof OutOfFramesError) return 'NO_FRAMES';
      throw e;
    }
  }

  /** Zeroes and frees frames [first, first+count), which must all belong to `owner`. */
  free(first: number, count: number, owner: number): void {
    for (let f = first; f < first + count; f++) {
      if (f < FIRST_FRAME || f >= this.frameCount || this.owner[f] !== owner) {
        throw new Error(`free: frame ${f} is not owned by ${owner} (owner ${this.owner[f]})`);
      }
    }
    this.host.bytes.fill(0, first * PAGE_SIZE, (first + count) * PAGE_SIZE);
    this.owner.fill(0, first, first + count);
    this.freeFrames += count;
  }

  /** Gives frames to another owner without touching their bytes (a memory transfer). */
  retag(first: number, count: number, from: number, to: number): void {
    for (let f = first; f < first + count; f++) {
      if (this.owner[f] !== from) throw new Error(`retag: frame ${f} is not owned by ${from}`);
    }
    this.owner.fill(to, first, first + count);
  }

  ownerOf(frame: number): number {
    return this.owner[frame] ?? 0;
  }

  /** The frames a tag owns, as [first, count] runs. */
  runsOf(owner: number): [number, number][] {
    const runs: [number, number][] = [];
    for (let f = FIRST_FRAME; f < this.frameCount; f++) {
      if (this.owner[f] !== owner) continue;
      const last = runs[runs.length - 1];
      if (last && last[0] + last[1] === f) last[1]++;
      else runs.push([f, 1]);
    }
    return runs;
  }

  /** A view of physical bytes [address, address+length). */
  view(address: number, length: number): Uint8Array {
    if (address < 0 || length < 0 || address + length > this.frameCount * PAGE_SIZE) {
      throw new RangeError(`physical range [0x${address.toString(16)}, +${length}) outside memory`);
    }
    return this.host.bytes.subarray(address, address + length);
  }

  dispose(): void {
    this.host.free();
  }
}
