// What a benchmark is to the runner — a name, a run that returns table lines and a JSON record —
// and the measuring loop they share. Both sides are measured in the same process run and
// interleaved sample by sample (kernel, native, native with HIC's counter, kernel, ...), so a
// noisy neighbour or a frequency change hits both sides alike instead of skewing one batch.

import type { GuestProgram } from './guest.ts';
import { runOnKernel, type KernelRun, type KernelRunSpec } from './kernel-run.ts';
import { runNative, type Counter, type NativeRun, type NativeSpec } from './native.ts';
import { summarize, type Summary } from './stats.ts';

export interface BenchContext {
  readonly repoRoot: string;
  /** Path of the built native harness. */
  readonly harness: string;
}

export interface BenchResult {
  /** Lines for the table on stdout. */
  readonly lines: readonly string[];
  /** Written to bench/results/<name>.json together with the machine description. */
  readonly json: Record<string, unknown>;
}

export interface Benchmark {
  readonly name: string;
  readonly title: string;
  run(ctx: BenchContext): Promise<BenchResult>;
}

/** One side's figure: the per-run values, their summary, and the per-run records they came from. */
export interface Measured<Raw> {
  readonly unit: string;
  readonly samples: readonly number[];
  readonly summary: Summary;
  /** A run before the counted ones, not counted: JIT compilation, first translation, cold caches. */
  readonly warmup: Raw;
  readonly runs: readonly Raw[];
}

export interface Measurement {
  readonly hic: Measured<KernelRun>;
  /** The baseline: Unicorn's own count = budget slices. */
  readonly native: Measured<NativeRun>;
  /** For reference: native with HIC's counting scheme (C code hook, count = 0), to separate its cost. */
  readonly nativeHicCounter: Measured<NativeRun>;
}

export interface MeasureSpec {
  readonly program: GuestProgram;
  readonly kernel: KernelRunSpec;
  readonly native: Pick<NativeSpec, 'engines' | 'budget'>;
  readonly runs: number;
  readonly unit: string;
  /** Turns a run's wall time into the reported figure (ns per call, MIPS, ...). */
  readonly metric: (wallNs: number) => number;
}

export async function measure(ctx: BenchContext, spec: MeasureSpec): Promise<Measurement> {
  const kernelRuns: KernelRun[] = [await runOnKernel(ctx.repoRoot, spec.kernel)];
  const nativeRuns: NativeRun[] = [];
  const hookRuns: NativeRun[] = [];
  // Each native sample is the second run of a fresh harness process; the first warms it up.
  const nativeSample = (counter: Counter, into: NativeRun[]) => {
    const [warm, counted] = runNative(ctx.harness, spec.program, { ...spec.native, runs: 2, counter }).runs;
    if (into.length === 0) into.push(warm!);
    into.push(counted!);
  };
  for (let i = 0; i < spec.runs; i++) {
    nativeSample('uc', nativeRuns);
    nativeSample('hook', hookRuns);
    kernelRuns.push(await runOnKernel(ctx.repoRoot, spec.kernel));
  }
  const side = <Raw extends { wallNs: number }>(all: Raw[]) => measured(all, spec.unit, spec.metric);
  return { hic: side(kernelRuns), native: side(nativeRuns), nativeHicCounter: side(hookRuns) };
}

/** A reference figure from the native harness alone: `runs` runs after one warm-up, one process. */
export function measureNativeOnly(ctx: BenchContext, spec: Omit<MeasureSpec, 'kernel' | 'native'> & { readonly native: Omit<NativeSpec, 'runs'> }): Measured<NativeRun> {
  const report = runNative(ctx.harness, spec.program, { ...spec.native, runs: spec.runs + 1 });
  return measured(report.runs, spec.unit, spec.metric);
}

/** The first run is the warm-up; the rest are the samples. */
function measured<Raw extends { wallNs: number }>(all: readonly Raw[], unit: string, metric: (wallNs: number) => number): Measured<Raw> {
  const runs = all.slice(1);
  const samples = runs.map((r) => metric(r.wallNs));
  return { unit, samples, summary: summarize(samples), warmup: all[0]!, runs };
}
