// `hic bench` (npm run bench): runs the benchmarks, each beside its native baseline measured in
// the same run, prints one table, and writes bench/results/<name>.json with every raw sample and
// the machine description (plus bench/results/machine.json). Benchmarks measure; they never
// assert a figure — the exit code is 1 only when a benchmark could not run at all.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Benchmark, BenchContext } from './benchmark.ts';
import { contextSwitch } from './benchmarks/switch.ts';
import { debugReverse } from './benchmarks/debug-reverse.ts';
import { detect } from './benchmarks/detect.ts';
import { moduleLoad } from './benchmarks/module-load.ts';
import { sse } from './benchmarks/sse.ts';
import { ipc } from './benchmarks/ipc.ts';
import { migration } from './benchmarks/migration.ts';
import { runLoop } from './benchmarks/run-loop.ts';
import { steering } from './benchmarks/steering.ts';
import { syscall } from './benchmarks/syscall.ts';
import { throughput } from './benchmarks/throughput.ts';
import { describeMachine } from './machine-info.ts';
import { buildHarness } from './native.ts';
import { tableHeader } from './stats.ts';

export const BENCHMARKS: readonly Benchmark[] = [syscall, throughput, contextSwitch, moduleLoad, ipc, steering, migration, runLoop, debugReverse, detect, sse];

export class UnknownBenchmarkError extends Error {
  readonly code = 'HIC_BENCH_UNKNOWN';
}

export async function runBenchmarks(repoRoot: string, only?: string): Promise<number> {
  const selected = only === undefined ? BENCHMARKS : BENCHMARKS.filter((b) => b.name === only);
  if (selected.length === 0) {
    throw new UnknownBenchmarkError(`no benchmark named '${only}' (there are: ${BENCHMARKS.map((b) => b.name).join(', ')})`);
  }
  const machine = describeMachine();
  const out = (s: string) => process.stdout.write(s + '\n');
  const resultsDir = join(repoRoot, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'machine.json'), JSON.stringify(machine, null, 2) + '\n');

  const ctx: BenchContext = { repoRoot, harness: buildHarness(repoRoot) };
  out(`HIC benchmarks on ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, Unicorn ${machine.unicorn}`);
  out('');
  out(tableHeader());
  let failed = 0;
  const started = process.hrtime.bigint();
  for (const b of selected) {
    try {
      const r = await b.run(ctx);
      for (const line of r.lines) out(line);
      const record = { benchmark: b.name, title: b.title, machine, ...r.json };
      writeFileSync(join(resultsDir, `${b.name}.json`), JSON.stringify(record, null, 2) + '\n');
    } catch (e) {
      failed++;
      out(`${b.name}: FAILED — ${(e as Error).message}`);
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  out('');
  out(`${selected.length - failed} of ${selected.length} benchmarks ran in ${seconds.toFixed(1)} s; raw samples in bench/results/`);
  return failed === 0 ? 0 : 1;
}
