// The frame allocator: contiguous runs, first fit, kernel frames from the top, zero on free,
// owner checks and accounting.

import { describe, expect, it } from 'vitest';
import { OutOfFramesError, PAGE_SIZE, PhysicalMemory } from '../emulator/physmem.ts';

const MiB = 1 << 20;

describe('physical memory', () => {
  it('hands out contiguous runs first-fit above the reserved first megabyte', () => {
    const m = new PhysicalMemory(4 * MiB);
    const a = m.allocate(3, 1);
    const b = m.allocate(2, 2);
    expect(a).toBe(256);
    expect(b).toBe(259);
    expect(m.accounting()).toEqual({ total: 1024 - 256, free: 1024 - 256 - 5, allocated: 5 });
    m.free(a, 3, 1);
    expect(m.allocate(2, 3)).toBe(256); // the hole is reused
    expect(m.allocate(2, 3)).toBe(261); // a run of 2 no longer fits in the remaining hole of 1
    m.dispose();
  });

  it('takes kernel frames from the top so they never interleave with sandbox memory', () => {
    const m = new PhysicalMemory(4 * MiB);
    expect(m.allocate(1, 9, true)).toBe(1023);
    expect(m.allocate(2, 9, true)).toBe(1021);
    m.dispose();
  });

  it('zeroes frames when they are freed', () => {
    const m = new PhysicalMemory(4 * MiB);
    const f = m.allocate(2, 1);
    m.view(f * PAGE_SIZE, 2 * PAGE_SIZE).fill(0xab);
    m.free(f, 2, 1);
    const g = m.allocate(2, 2);
    expect(g).toBe(f);
    expect(m.view(g * PAGE_SIZE, 2 * PAGE_SIZE).every((b) => b === 0)).toBe(true);
    m.dispose();
  });

  it('refuses to free frames of another owner, or reserved ones, and changes nothing', () => {
    const m = new PhysicalMemory(4 * MiB);
    const f = m.allocate(2, 1);
    m.view(f * PAGE_SIZE, 1).fill(7);
    expect(() => m.free(f, 2, 2)).toThrow(/not owned by 2/);
    expect(() => m.free(0, 1, 0xffff_ffff)).toThrow();
    expect(m.ownerOf(f)).toBe(1);
    expect(m.view(f * PAGE_SIZE, 1)[0]).toBe(7);
    m.dispose();
  });

  it('retags frames for a transfer without touching their bytes', () => {
    const m = new PhysicalMemory(4 * MiB);
    const f = m.allocate(2, 1);
    m.view(f * PAGE_SIZE, 1).fill(5);
    m.retag(f, 2, 1, 2);
    expect(m.runsOf(2)).toEqual([[f, 2]]);
    expect(m.runsOf(1)).toEqual([]);
    expect(m.view(f * PAGE_SIZE, 1)[0]).toBe(5);
    m.dispose();
  });

  it('says so when no run is long enough', () => {
    const m = new PhysicalMemory(2 * MiB);
    expect(() => m.allocate(257, 1)).toThrow(OutOfFramesError);
    expect(m.accounting().allocated).toBe(0);
    m.dispose();
  });

  it('rejects bad requests', () => {
    const m = new PhysicalMemory(2 * MiB);
    expect(() => m.allocate(0, 1)).toThrow(RangeError);
    expect(() => m.allocate(1, 0)).toThrow(RangeError);
    expect(() => m.view(2 * MiB - 1, 2)).toThrow(RangeError);
    expect(() => new PhysicalMemory(12345)).toThrow(RangeError);
    m.dispose();
  });
});
