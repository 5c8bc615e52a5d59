// Benchmark `runloop`: what giving the host's event loop a turn costs. The kernel runs in slices
// of ~20 ms wall and yields between them (Kernel.run), so a control socket, a gdb client or the
// test runner's RPC are served while a machine runs. The baseline, in the same run, is the same
// workload in one blocking run (sliceMs: Infinity), the way the kernel ran before slices. Runs
// alternate between the two, so load on the machine hits both alike.
//
//   syscall          null syscalls in slices of the default budget (the slice check per step)
//   switch           two sandboxes yielding to each other: the most scheduler steps per second
//   stores           the store-heavy loop, preempted by the default budget
//   migration 1k     images/migration.himg as it is: the rolling update under 1000 connections
//
// ratio = sliced / blocking: 1.00x means yielding costs nothing measurable.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_BUDGET, DEFAULT_SLICE_MS } from '../../core0/kernel.ts';
import { workspace } from '../../hicmod-toolchain/workspace.ts';
import { parseManifest } from '../../system/manifest.ts';
import { runImage } from '../../system/run-image.ts';
import type { Benchmark } from '../benchmark.ts';
import { guestProgram, type GuestName } from '../guest.ts';
import { BenchError, runOnKernel } from '../kernel-run.ts';
import { formatNs, formatRatio, formatRow, summarize } from '../stats.ts';

const RUNS = 5;
const WORKLOADS: readonly { readonly name: GuestName; readonly iterations: number; readonly sandboxes: number; readonly label: string }[] = [
  { name: 'syscall', iterations: 200_000, sandboxes: 1, label: 'syscall, 100k budget' },
  { name: 'yield', iterations: 100_000, sandboxes: 2, label: 'switch (yield ping-pong)' },
  { name: 'stores', iterations: 2_000_000, sandboxes: 1, label: 'store loop, 100k budget' },
];

async function imageWallNs(repoRoot: string, sliceMs: number): Promise<number> {
  const file = join('images', 'migration.himg');
  const manifest = parseManifest(file, readFileSync(join(repoRoot, file), 'utf8'));
  const ws = workspace(repoRoot);
  const t0 = process.hrtime.bigint();
  const { system, result } = await runImage(manifest, { modules: ws.repository, trust: ws.trust, sliceMs });
  const wallNs = Number(process.hrtime.bigint() - t0);
  system.dispose();
  if (result.deviations.length > 0) throw new BenchError(`${file} deviated: ${result.deviations[0]}`);
  return wallNs;
}

export const runLoop: Benchmark = {
  name: 'runloop',
  title: `the run loop: slices of ${DEFAULT_SLICE_MS} ms that yield to the host's event loop, against one blocking run`,
  async run(ctx) {
    const lines: string[] = [];
    const rows: Record<string, unknown>[] = [];
    const row = (label: string, sliced: number[], blocking: number[], unit: string) => {
      const s = summarize(sliced);
      const b = summarize(blocking);
      const ratio = s.median / b.median;
      lines.push(formatRow({ label: `run loop: ${label}`, hic: formatNs(s.median), range: `${formatNs(s.min)} – ${formatNs(s.max)}`, native: formatNs(b.median), ratio: formatRatio(ratio), note: `sliced vs blocking, ${unit}` }));
      rows.push({ workload: label, unit, sliced: { samples: sliced, summary: s }, blocking: { samples: blocking, summary: b }, ratio });
    };

    for (const w of WORKLOADS) {
      const program = guestProgram(ctx.repoRoot, w.name, w.iterations);
      const spec = { programs: Array(w.sandboxes).fill(program), budget: DEFAULT_BUDGET, syscalls: w.sandboxes * (w.name === 'stores' ? 1 : w.iterations + 1) };
      const per = w.name === 'stores' ? 1 : w.sandboxes * w.iterations;
      const sliced: number[] = [];
      const blocking: number[] = [];
      await runOnKernel(ctx.repoRoot, spec); // warm-up
      for (let i = 0; i < RUNS; i++) {
        sliced.push((await runOnKernel(ctx.repoRoot, { ...spec, sliceMs: DEFAULT_SLICE_MS })).wallNs / per);
        blocking.push((await runOnKernel(ctx.repoRoot, { ...spec, sliceMs: Infinity })).wallNs / per);
      }
      row(w.label, sliced, blocking, w.name === 'stores' ? 'ns per run' : 'ns per call');
    }

    const sliced = [await imageWallNs(ctx.repoRoot, DEFAULT_SLICE_MS)];
    const blocking = [await imageWallNs(ctx.repoRoot, Infinity)];
    row('migration 1k image', sliced, blocking, 'ns per run, one run each');
    return { lines, json: { parameters: { runs: RUNS, sliceMs: DEFAULT_SLICE_MS, budget: DEFAULT_BUDGET }, rows } };
  },
};
