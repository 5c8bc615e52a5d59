// Benchmark `detect`: how well the Monitor's policy core (services/monitor/core) tells a faulty
// update from a healthy one. bench/native/detect.c runs seeded synthetic streams -- an hour of
// baseline, two hours after the switch, a sample every 5 s -- of each fault the regression images
// inject (6 % errors, latency doubled, no answers, corrupted payloads, a memory leak, a crash
// loop) and healthy ones, through the detectors and the decision engine; this file turns what it
// printed into precision, recall and detection delay. Baseline, on the very same samples: the
// textbook 3-sigma rule on single samples (the same detector without the consecutive count, the
// minimum band or load adaptation), which alarms on any metric out of its band. The ratio is F1
// against that baseline's F1. Detection is counted, not timed: the figures are the same on every
// machine and every run with the same seed.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Benchmark } from '../benchmark.ts';
import { BenchError, compileNative } from '../kernel-run.ts';
import { formatRow, summarize, type Summary } from '../stats.ts';

const STREAMS_PER_KIND = 60;
const SEED = 1;
const STEP_S = 5;

/** What detect.c prints for one stream (sample indices count from the switch; -1: never). */
interface Stream {
  readonly kind: number;
  readonly onset: number;
  readonly first: number;
  readonly firstRule: number;
  readonly final: number;
  readonly finalRule: number;
  readonly finalKind: number;
  readonly action: number;
  readonly level: number;
  readonly score: number;
  readonly naive: number;
  readonly naiveKind: number;
}

interface Run {
  readonly kinds: readonly string[];
  /** Kinds before this index are healthy (a plain one, a load surge, a slightly slower version). */
  readonly firstFault: number;
  readonly streams: readonly Stream[];
  readonly baselineSamples: number;
  readonly watchSamples: number;
}

/** enum md_action, by value (services/monitor/core/md.h). */
const ACTIONS = ['continue', 'retry', 'pause', 'configuration rollback', 'component rollback', 'reverse rollback', 'emergency rollback'];

function build(repoRoot: string): string {
  const core = join(repoRoot, 'services', 'monitor', 'core');
  const native = join(repoRoot, 'bench', 'native');
  const sources = [join(native, 'detect.c'), join(native, 'detect-streams.c'), ...readdirSync(core).filter((f) => f.endsWith('.c')).map((f) => join(core, f))];
  const inputs = [...sources, join(native, 'detect-streams.h'), ...readdirSync(core).filter((f) => f.endsWith('.h')).map((f) => join(core, f))];
  const binary = join(repoRoot, 'build', 'bench', 'detect');
  mkdirSync(join(repoRoot, 'build', 'bench'), { recursive: true });
  const newest = Math.max(...inputs.map((f) => statSync(f).mtimeMs));
  if (!existsSync(binary) || statSync(binary).mtimeMs < newest) {
    compileNative(['-std=c11', '-O2', '-Wall', '-Wextra', '-Werror', `-I${core}`, `-I${native}`, ...sources, '-lm', '-o', binary], 'bench/native/detect.c');
  }
  return binary;
}

interface Score {
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  /** null when nothing was predicted (no precision to speak of). */
  readonly precision: number | null;
  readonly recall: number | null;
  readonly f1: number | null;
}

function score(tp: number, fp: number, fn: number): Score {
  const precision = tp + fp === 0 ? null : tp / (tp + fp);
  const recall = tp + fn === 0 ? null : tp / (tp + fn);
  const f1 = precision === null || recall === null || precision + recall === 0 ? (tp + fp + fn === 0 ? null : 0) : (2 * precision * recall) / (precision + recall);
  return { tp, fp, fn, precision, recall, f1 };
}

/** Per fault kind: the decision that acted names it (ours), or the metric that left its band (naive). */
function perKind(streams: readonly Stream[], kind: number, at: (s: Stream) => number, said: (s: Stream) => number): Score {
  const hit = (s: Stream) => s.kind === kind && at(s) >= s.onset && said(s) === kind;
  const tp = streams.filter(hit).length;
  const fp = streams.filter((s) => said(s) === kind && at(s) >= 0 && !hit(s)).length;
  return score(tp, fp, streams.filter((s) => s.kind === kind).length - tp);
}

/** Any fault at all: an alarm after the onset is a detection; one in a healthy stream or before the onset is false. */
function overall(streams: readonly Stream[], at: (s: Stream) => number): Score {
  const faulty = streams.filter((s) => s.onset >= 0);
  const tp = faulty.filter((s) => at(s) >= s.onset).length;
  const fp = streams.filter((s) => at(s) >= 0 && (s.onset < 0 || at(s) < s.onset)).length;
  return score(tp, fp, faulty.length - tp);
}

const delays = (streams: readonly Stream[], at: (s: Stream) => number): Summary | null => {
  const d = streams.filter((s) => s.onset >= 0 && at(s) >= s.onset).map((s) => at(s) - s.onset);
  return d.length ? summarize(d) : null;
};

const pr = (s: Score) => `P ${s.precision === null ? '–' : s.precision.toFixed(2)} R ${s.recall === null ? '–' : s.recall.toFixed(2)}`;
const ratio = (a: Score, b: Score) => (a.f1 === null || b.f1 === null ? '–' : b.f1 === 0 ? (a.f1 === 0 ? '–' : 'n/a') : `${(a.f1 / b.f1).toFixed(2)}x`);
const samples = (d: Summary | null) => (d ? `${d.min}–${d.max} smp` : '–');
const minutes = (n: number) => `${((n * STEP_S) / 60).toFixed(1)} min`;

export const detect: Benchmark = {
  name: 'detect',
  title: 'Monitor policy core: precision, recall and delay on synthetic faulty and healthy streams, against plain single-sample 3-sigma',
  async run(ctx) {
    const binary = build(ctx.repoRoot);
    let run: Run;
    try {
      run = JSON.parse(execFileSync(binary, [String(STREAMS_PER_KIND), String(SEED)], { encoding: 'utf8', maxBuffer: 64 << 20 })) as Run;
    } catch (e) {
      throw new BenchError(`bench/native/detect failed: ${String((e as { stderr?: string }).stderr ?? e).trim()}`);
    }
    const { streams, kinds } = run;
    const lines: string[] = [];
    const byKind: Record<string, unknown> = {};
    for (let k = 0; k < run.firstFault; k++) {
      const healthy = streams.filter((s) => s.kind === k);
      const falseOurs = healthy.filter((s) => s.first >= 0).length;
      const falseNaive = healthy.filter((s) => s.naive >= 0).length;
      lines.push(formatRow({
        label: `detect: ${kinds[k]} (${healthy.length} streams)`, hic: `${falseOurs} alarmed`, range: '', native: `${falseNaive} alarmed`, ratio: '',
        note: 'streams with any alarm (a decision of level 1-3) against streams with any sample out of 3 sigma',
      }));
      byKind[kinds[k]!] = { streams: healthy.length, falseAlarms: falseOurs, naiveFalseAlarms: falseNaive };
    }
    for (let k = run.firstFault; k < kinds.length; k++) {
      const mine = streams.filter((s) => s.kind === k);
      const ours = perKind(streams, k, (s) => s.final, (s) => s.finalKind);
      const naive = perKind(streams, k, (s) => s.naive, (s) => s.naiveKind);
      const actionDelay = delays(mine, (s) => s.final);
      const firstDelay = delays(mine, (s) => s.first);
      const actions: Record<string, number> = {};
      for (const s of mine) if (s.action >= 0) actions[ACTIONS[s.action]!] = (actions[ACTIONS[s.action]!] ?? 0) + 1;
      const acted = Object.entries(actions).map(([a, n]) => `${a} ${n}/${mine.length}`).join(', ') || 'no action';
      lines.push(formatRow({
        label: `detect: ${kinds[k]} (${mine.length} streams)`, hic: pr(ours), range: samples(actionDelay), native: pr(naive), ratio: ratio(ours, naive),
        note: `${acted}; onset to action median ${actionDelay ? `${actionDelay.median} samples (${minutes(actionDelay.median)})` : '–'}, to first alarm median ${firstDelay ? firstDelay.median : '–'}`,
      }));
      byKind[kinds[k]!] = { streams: mine.length, ours, naive, actionDelaySamples: actionDelay, firstAlarmDelaySamples: firstDelay, naiveDelaySamples: delays(mine, (s) => s.naive), actions };
    }
    const ours = overall(streams, (s) => s.first);
    const naive = overall(streams, (s) => s.naive);
    const firstDelay = delays(streams, (s) => s.first);
    lines.push(formatRow({
      label: `detect: all (${streams.length} streams)`, hic: pr(ours), range: samples(firstDelay), native: pr(naive), ratio: ratio(ours, naive),
      note: `any fault: the first alarm after the onset, any other alarm false; ratio = F1 / the baseline's F1; delays in ${STEP_S}-s samples`,
    }));
    return {
      lines,
      json: {
        parameters: { streamsPerKind: STREAMS_PER_KIND, seed: SEED, stepSeconds: STEP_S, baselineSamples: run.baselineSamples, watchSamples: run.watchSamples, policy: 'md_policy_default (the seed\'s values)' },
        byKind, overall: { ours, naive, firstAlarmDelaySamples: firstDelay, naiveDelaySamples: delays(streams, (s) => s.naive) }, streams,
      },
    };
  },
};
