// Benchmark `syscall`: the null syscall round trip — guest `syscall`, Unicorn's trap, the kernel's
// dispatcher (time_now: read the clock, write rax) and back into the guest without leaving the
// engine. Baseline: the same guest bytes on the native harness, whose C hook does the same
// register traffic (one batch read of seven registers, one write of rax).

import { measure, type Benchmark } from '../benchmark.ts';
import { guestProgram } from '../guest.ts';
import { BenchError } from '../kernel-run.ts';
import { formatNs, formatRatio, formatRow } from '../stats.ts';

const CALLS = 200_000;
const RUNS = 7;
/** One slice holds the whole run, so no preemption is timed: only syscalls. */
const BUDGET = 10_000_000;
/** From the issue. */
const TARGET_NS = 1000;
const TARGET_RATIO = 10;

export const syscall: Benchmark = {
  name: 'syscall',
  title: 'null syscall round trip (time_now): guest → TypeScript dispatcher → guest',
  async run(ctx) {
    const program = guestProgram(ctx.repoRoot, 'syscall', CALLS);
    const m = await measure(ctx, {
      program,
      kernel: { programs: [program], budget: BUDGET, syscalls: CALLS + 1 },
      native: { engines: 1, budget: BUDGET },
      runs: RUNS,
      unit: 'ns per syscall',
      metric: (wallNs) => wallNs / CALLS,
    });
    const wrong = [...m.native.runs, ...m.nativeHicCounter.runs].find((r) => r.syscalls !== CALLS + 1);
    if (wrong) throw new BenchError(`native harness saw ${wrong.syscalls} syscalls, expected ${CALLS + 1}`);
    const off = [m.hic.warmup, ...m.hic.runs].find((r) => r.instructions !== program.instructions);
    if (off) throw new BenchError(`kernel executed ${off.instructions} instructions, expected ${program.instructions}`);

    const { hic, native } = m;
    const ratio = hic.summary.median / native.summary.median;
    const metNs = hic.summary.median < TARGET_NS;
    const metRatio = ratio < TARGET_RATIO;
    const verdict = (met: boolean) => (met ? 'met' : 'NOT met');
    return {
      lines: [
        formatRow({
          label: 'syscall round trip',
          hic: formatNs(hic.summary.median),
          range: `${formatNs(hic.summary.min)} – ${formatNs(hic.summary.max)}`,
          native: formatNs(native.summary.median),
          ratio: formatRatio(ratio),
          note: `target <1 µs: ${verdict(metNs)}; <${TARGET_RATIO}x native: ${verdict(metRatio)}`,
        }),
      ],
      json: {
        parameters: { calls: CALLS, runs: RUNS, budget: BUDGET, guest: 'bench/guest/syscall.s', instructions: program.instructions },
        ...m,
        ratio,
        targets: { medianBelowNs: TARGET_NS, medianMet: metNs, ratioBelow: TARGET_RATIO, ratioMet: metRatio },
      },
    };
  },
};
