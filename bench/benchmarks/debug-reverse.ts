// Benchmark `debugreverse`: going back in the debugger, in the middle of a rolling update. For
// each checkpoint interval, images/migration.himg runs under the debugger to its first MIG_CONN_OUT
// reply (~467 ms virtual, 216 M instructions, 1000 live connections); then reverse-stepi is timed
// three times, and reverse-continue once. The baseline is the same image run to the same point
// with no checkpoints, and a reverse-stepi that re-runs it from boot (interval 0): what a
// checkpoint saves. Also reported: what the checkpoints taken so far hold, and what taking them
// cost the forward run.

import { workspace } from '../../hicmod-toolchain/workspace.ts';
import { readManifest } from '../../system/manifest.ts';
import { DEFAULT_CHECKPOINT_INTERVAL } from '../../system/debug/machine.ts';
import type { ReplayStats } from '../../system/debug/replay.ts';
import { DebugSession } from '../../system/debug/session.ts';
import type { Benchmark } from '../benchmark.ts';
import { BenchError } from '../kernel-run.ts';
import { formatNs, formatRatio, formatRow, summarize } from '../stats.ts';

const INTERVALS = [0, 10_000_000, 20_000_000, DEFAULT_CHECKPOINT_INTERVAL];
const STEPS = 3;

interface Sample {
  readonly interval: number;
  readonly forwardNs: number;
  readonly checkpoints: number;
  readonly bytes: number;
  readonly takeMs: number;
  readonly reverseStepiNs: number[];
  readonly reverseContinueNs: number;
  readonly rss: number;
  /** Each reverse-stepi's replay: restore time, instructions re-executed and their wall time. */
  readonly replays: readonly ReplayStats[];
}

async function sample(repoRoot: string, interval: number): Promise<Sample> {
  const ws = workspace(repoRoot);
  const s = await DebugSession.open(readManifest('images/migration.himg'), { modules: ws.repository, trust: ws.trust }, repoRoot, { checkpointInterval: interval });
  try {
    const t0 = process.hrtime.bigint();
    s.addBreakpoint('break', ['mig', 'CONN_OUT']);
    await s.continue();
    const stop = await s.continue();
    const forwardNs = Number(process.hrtime.bigint() - t0);
    if (!/CONN_OUT reply/.test(stop.summary)) throw new BenchError(`expected the first CONN_OUT reply, stopped at: ${stop.summary}`);
    const reverseStepiNs: number[] = [];
    const replays: ReplayStats[] = [];
    for (let i = 0; i < STEPS; i++) {
      const t = process.hrtime.bigint();
      await s.reverseStepInstructions(1);
      reverseStepiNs.push(Number(process.hrtime.bigint() - t));
      replays.push(s.lastReplay!);
    }
    const t = process.hrtime.bigint();
    await s.reverseContinue();
    const reverseContinueNs = Number(process.hrtime.bigint() - t);
    const store = s.machine.checkpoints;
    return {
      interval, forwardNs, checkpoints: store?.list.length ?? 0, bytes: store?.bytes ?? 0,
      takeMs: store && store.list.length ? store.list.reduce((n, c) => n + c.takeMs, 0) : 0,
      reverseStepiNs, reverseContinueNs, rss: process.memoryUsage().rss, replays,
    };
  } finally {
    s.dispose();
  }
}

export const debugReverse: Benchmark = {
  name: 'debugreverse',
  title: 'the debugger going back in the migration image: checkpoints against re-running from boot',
  async run(ctx) {
    const samples: Sample[] = [];
    for (const interval of INTERVALS) samples.push(await sample(ctx.repoRoot, interval));
    const base = samples.find((x) => x.interval === 0)!;
    const lines = samples.map((x) => {
      const r = summarize(x.reverseStepiNs);
      const label = x.interval === 0 ? 'debug: reverse-stepi, from boot' : `debug: reverse-stepi, every ${x.interval / 1e6}M`;
      const last = x.replays[x.replays.length - 1]!;
      const rate = last.instructions / (last.wallMs - (last.restoreMs ?? 0)) / 1e3; // M instructions per s
      const worst = x.interval === 0 ? 0 : (last.restoreMs ?? 0) + x.interval / (rate * 1e3);
      const note = x.interval === 0
        ? `to the first CONN_OUT reply ${formatNs(x.forwardNs)}; reverse-continue ${formatNs(x.reverseContinueNs)}; re-executes at ${rate.toFixed(0)} M/s`
        : `${x.checkpoints} checkpoints, ${(x.bytes / 1048576).toFixed(1)} MiB, ${x.takeMs.toFixed(0)} ms to take; forward ${formatNs(x.forwardNs)}; ` +
          `restore ${(last.restoreMs ?? 0).toFixed(0)} ms + ${(last.instructions / 1e6).toFixed(1)} M at ${rate.toFixed(0)} M/s (a whole interval: ~${worst.toFixed(0)} ms); reverse-continue ${formatNs(x.reverseContinueNs)}`;
      return formatRow({ label, hic: formatNs(r.median), range: `${formatNs(r.min)} – ${formatNs(r.max)}`, native: formatNs(summarize(base.reverseStepiNs).median), ratio: formatRatio(r.median / summarize(base.reverseStepiNs).median), note });
    });
    return { lines, json: { parameters: { intervals: INTERVALS, steps: STEPS, point: 'the first MIG_CONN_OUT reply of images/migration.himg' }, samples } };
  },
};
