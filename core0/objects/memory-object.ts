// Memory objects: a contiguous run of frames named by capabilities. A holder maps it (read-only
// or read-write by its rights, never executable) at its physical address; moving the capability
// to another sandbox moves the frames' accounting with it and, because the mover's own mapping
// goes with its capability, the old holder can no longer touch the pages — the same bytes, no copy.
//
// The frames are freed (zeroed) when the last capability is gone.

import type { Frames } from '../../emulator/types.ts';
import type { KernelObject } from './capability.ts';

export class MemoryObject implements KernelObject {
  readonly capType = 'MEMORY' as const;

  constructor(
    readonly first: number,
    readonly pages: number,
    /** The owner tag the frames carry: the sandbox whose quota pays for them. */
    public tag: number,
    private readonly frames: Frames,
    private readonly onFree: (m: MemoryObject) => void,
  ) {}

  get address(): number {
    return this.first * 4096;
  }

  /** Re-charges the frames to another sandbox (the tag moves; the bytes do not). */
  retag(to: number): void {
    this.frames.retag(this.first, this.pages, this.tag, to);
    this.tag = to;
  }

  released(): void {
    this.frames.free(this.first, this.pages, this.tag);
    this.onFree(this);
  }
}
