// Benchmark `switch`: a context switch between two sandboxes. Each runs a loop of yield syscalls;
// every yield stops its engine and the scheduler runs the other sandbox (each sandbox is its own
// engine, so no register context is saved or restored). ns per switch = wall time / total yields.
// Baseline: the native harness with two engines ping-ponging the same way — the C hook stops the
// engine, the C loop restarts the other one from its RIP.

import { measure, type Benchmark } from '../benchmark.ts';
import { guestProgram } from '../guest.ts';
import { BenchError } from '../kernel-run.ts';
import { formatNs, formatRatio, formatRow } from '../stats.ts';

const YIELDS_EACH = 100_000;
const RUNS = 5;
const BUDGET = 100_000;

export const contextSwitch: Benchmark = {
  name: 'switch',
  title: 'context switch between two sandboxes by yield (stop one engine, start the other)',
  async run(ctx) {
    const program = guestProgram(ctx.repoRoot, 'yield', YIELDS_EACH);
    const yields = 2 * YIELDS_EACH;
    const m = await measure(ctx, {
      program,
      kernel: { programs: [program, program], budget: BUDGET, syscalls: yields + 2 },
      native: { engines: 2, budget: BUDGET },
      runs: RUNS,
      unit: 'ns per switch',
      metric: (wallNs) => wallNs / yields,
    });
    const wrong = [...m.native.runs, ...m.nativeHicCounter.runs].find((r) => r.yields !== yields);
    if (wrong) throw new BenchError(`native harness saw ${wrong.yields} yields, expected ${yields}`);
    const off = [m.hic.warmup, ...m.hic.runs].find((r) => r.instructions !== 2 * program.instructions);
    if (off) throw new BenchError(`kernel executed ${off.instructions} instructions, expected ${2 * program.instructions}`);

    const { hic, native } = m;
    const ratio = hic.summary.median / native.summary.median;
    return {
      lines: [
        formatRow({
          label: 'context switch (yield ping-pong)',
          hic: formatNs(hic.summary.median),
          range: `${formatNs(hic.summary.min)} – ${formatNs(hic.summary.max)}`,
          native: formatNs(native.summary.median),
          ratio: formatRatio(ratio),
        }),
      ],
      json: {
        parameters: { sandboxes: 2, yieldsEach: YIELDS_EACH, runs: RUNS, budget: BUDGET, guest: 'bench/guest/yield.s', instructionsEach: program.instructions },
        ...m,
        ratio,
      },
    };
  },
};
