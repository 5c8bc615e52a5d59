// Benchmark `throughput`: guest instructions per second for two loops of known length — one that
// touches only registers (the emulator's best case) and one that stores to the stack (Unicorn
// 2.0.1's slow store path, closer to compiled code) — each run in time slices of the sandbox
// budget: the default 100,000 instructions, so preemption is part of the figure, and 10,000,000.
// Baseline: the native harness running the same bytes in slices of the same size. For reference
// the harness also runs each loop with no instruction counting at all: the emulator's ceiling,
// which shows what counting every instruction (needed for slices and the virtual clock) costs.

import { DEFAULT_BUDGET } from '../../core0/kernel.ts';
import { measure, measureNativeOnly, type Benchmark } from '../benchmark.ts';
import { guestProgram, type GuestName } from '../guest.ts';
import { BenchError } from '../kernel-run.ts';
import { formatMips, formatRatio, formatRow } from '../stats.ts';

const RUNS = 5;
const BUDGETS = [DEFAULT_BUDGET, 10_000_000] as const;
/** Sized for ~0.15 s per run on a 2-core EPYC (~230 and ~60 MIPS). */
const LOOPS: readonly { readonly name: GuestName; readonly label: string; readonly iterations: number }[] = [
  { name: 'registers', label: 'register loop', iterations: 10_000_000 },
  { name: 'stores', label: 'store loop', iterations: 2_000_000 },
];

const budgetLabel = (b: number) => (b >= 1e6 ? `${b / 1e6}M` : `${b / 1e3}k`);

export const throughput: Benchmark = {
  name: 'throughput',
  title: 'guest instruction throughput (million instructions per second), register-only and store-heavy loops',
  async run(ctx) {
    const lines: string[] = [];
    const loops: Record<string, unknown>[] = [];
    for (const loop of LOOPS) {
      const program = guestProgram(ctx.repoRoot, loop.name, loop.iterations);
      const unit = 'million instructions per second';
      const metric = (wallNs: number) => (program.instructions / wallNs) * 1000;
      const nativeUncounted = measureNativeOnly(ctx, { program, native: { engines: 1, budget: DEFAULT_BUDGET, counter: 'none' }, runs: RUNS, unit, metric });
      const budgets: Record<string, unknown>[] = [];
      for (const budget of BUDGETS) {
        const m = await measure(ctx, { program, kernel: { programs: [program], budget, syscalls: 1 }, native: { engines: 1, budget }, runs: RUNS, unit, metric });
        const miscounted = m.nativeHicCounter.runs.find((r) => r.executed !== program.instructions);
        if (miscounted) throw new BenchError(`native harness executed ${miscounted.executed} instructions of ${loop.name}, expected ${program.instructions}`);
        const off = [m.hic.warmup, ...m.hic.runs].find((r) => r.instructions !== program.instructions);
        if (off) throw new BenchError(`kernel executed ${off.instructions} instructions of ${loop.name}, expected ${program.instructions}`);

        const { hic, native } = m;
        // A time ratio like the other benchmarks': how much longer the kernel takes for the same work.
        const ratio = native.summary.median / hic.summary.median;
        lines.push(
          formatRow({
            label: `throughput, ${loop.label}, budget ${budgetLabel(budget)}`,
            hic: formatMips(hic.summary.median),
            range: `${hic.summary.min.toFixed(0)} – ${hic.summary.max.toFixed(0)}`,
            native: formatMips(native.summary.median),
            ratio: formatRatio(ratio),
            ...(budget === BUDGETS[0] ? { note: `native without instruction counting: ${formatMips(nativeUncounted.summary.median)}` } : {}),
          }),
        );
        budgets.push({ budget, slices: Math.ceil(program.instructions / budget), ...m, ratio });
      }
      loops.push({ loop: loop.name, guest: `bench/guest/${loop.name}.s`, iterations: loop.iterations, instructions: program.instructions, nativeUncounted, budgets });
    }
    return { lines, json: { parameters: { runs: RUNS, budgets: BUDGETS }, loops } };
  },
};
