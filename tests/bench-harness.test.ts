// The benchmark machinery checks itself here, never its timings: each guest program executes the
// instruction count the bench divides by (on the kernel and on the native harness alike), the
// harness does what the kernel does with the same bytes, and the statistics are right.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { guestProgram, type GuestName } from '../bench/guest.ts';
import { runOnKernel } from '../bench/kernel-run.ts';
import { buildHarness, runNative } from '../bench/native.ts';
import { summarize } from '../bench/stats.ts';

const REPO_ROOT = join(import.meta.dirname, '..');
const ITERATIONS = 1000;
/** Syscalls each program makes: its loop's, then exit. */
const SYSCALLS: Record<GuestName, number> = { syscall: ITERATIONS + 1, registers: 1, stores: 1, yield: ITERATIONS + 1 };

describe('bench machinery', () => {
  const harness = buildHarness(REPO_ROOT);

  for (const name of Object.keys(SYSCALLS) as GuestName[]) {
    it(`${name}: the kernel and the native harness execute the counted instructions and syscalls`, async () => {
      const program = guestProgram(REPO_ROOT, name, ITERATIONS);
      // A small budget, so preemption and resumption are part of what is checked.
      const kernel = await runOnKernel(REPO_ROOT, { programs: [program], budget: 1000, syscalls: SYSCALLS[name] });
      expect(kernel.instructions).toBe(program.instructions);
      for (const counter of ['uc', 'hook', 'none'] as const) {
        const native = runNative(harness, program, { engines: 1, budget: 1000, runs: 1, counter });
        expect(native.runs[0]!.syscalls).toBe(SYSCALLS[name]);
        // Uncounted runs are cut only by yield and exit.
        const slices = counter === 'none' ? (name === 'yield' ? ITERATIONS + 1 : 1) : Math.ceil(program.instructions / 1000);
        expect(native.runs[0]!.slices).toBeGreaterThanOrEqual(slices);
        if (counter === 'hook') expect(native.runs[0]!.executed).toBe(program.instructions);
      }
    });
  }

  it('ping-pongs two engines natively, one yield per switch', () => {
    const program = guestProgram(REPO_ROOT, 'yield', ITERATIONS);
    const native = runNative(harness, program, { engines: 2, budget: 100_000, runs: 1 });
    expect(native.runs[0]!).toMatchObject({ yields: 2 * ITERATIONS, syscalls: 2 * (ITERATIONS + 1), slices: 2 * (ITERATIONS + 1) });
  });

  it('refuses a guest file that does not exist, with the harness message', () => {
    const program = { ...guestProgram(REPO_ROOT, 'syscall', ITERATIONS), binPath: '/nonexistent/guest.bin' };
    expect(() => runNative(harness, program, { engines: 1, budget: 1000, runs: 1 })).toThrow(/cannot open \/nonexistent\/guest.bin/);
  });

  it('summarizes by median, min and max', () => {
    expect(summarize([5, 1, 3])).toEqual({ median: 3, min: 1, max: 5 });
    expect(summarize([4, 1, 3, 2])).toEqual({ median: 2.5, min: 1, max: 4 });
    expect(() => summarize([])).toThrow(RangeError);
  });
});
