// Benchmark `migration`: the rolling update of images/migration.himg -- netstack 1.2.0 hands every
// live connection to 1.3.0 one at a time while the traffic generator keeps them busy -- at 1,000
// and 10,000 connections. migctl (the harness) reports the virtual time of each step in typed
// records; the host clock is read when those records arrive, so the wall time of the snapshot
// (export + import) and of the connection phase come from the same run.
//
//   connections migrated per second   migrated / the connection phase (virtual and wall)
//   added latency per connection      the whole five-call sequence, and the frozen window (from
//                                     CONN_OUT to CONN_IN: how long its segments wait), virtual
//   export + import of the whole state  EXPORT_STATE + IMPORT_STATE of the snapshot
//
// Baseline, in the same run: the same core code doing the same work natively
// (bench/migration-baseline.ts, shared with the `update` benchmark). The ratio is what the
// protocol around that work costs here: IPC, capability moves, memory objects, the driver's
// steering calls and the scheduling between four sandboxes.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { workspace } from '../../hicmod-toolchain/workspace.ts';
import { parseManifest } from '../../system/manifest.ts';
import { runImage } from '../../system/run-image.ts';
import type { Benchmark } from '../benchmark.ts';
import { BenchError } from '../kernel-run.ts';
import { buildMigrationBaseline, perSecond, resizeImage, runMigrationBaseline, SIZES, type TrafficSize } from '../migration-baseline.ts';
import { formatNs, formatRatio, formatRow } from '../stats.ts';

export interface MigctlRun {
  readonly migrated: number;
  readonly failed: number;
  readonly perConnVirtualNs: number;
  readonly maxConnVirtualNs: number;
  readonly frozenVirtualNs: number;
  readonly frozenMaxVirtualNs: number;
  readonly phaseVirtualNs: number;
  readonly phaseWallNs: number;
  readonly snapshotBytes: number;
  readonly snapshotConnections: number;
  readonly exportVirtualNs: number;
  readonly importVirtualNs: number;
  readonly snapshotWallNs: number;
  /** The whole update: migctl's first step (handshake) to its `migrated` record. */
  readonly updateVirtualNs: number;
  readonly updateWallNs: number;
  readonly traffic: string;
  readonly lost: number;
}

/** One run of images/migration.himg at `size`, migctl driving the update at size.startMs. */
export async function runMigctl(repoRoot: string, size: TrafficSize): Promise<MigctlRun> {
  const file = join('images', 'migration.himg');
  const image = JSON.parse(readFileSync(join(repoRoot, file), 'utf8'));
  resizeImage(image, size);
  const migctl = image.sandboxes.find((s: { name: string }) => s.name === 'migctl');
  migctl.config = { mode: 'update', start: `${size.startMs}ms` };
  const manifest = parseManifest(`${file} (${size.connections} connections)`, JSON.stringify(image));
  const ws = workspace(repoRoot);
  // The host clock and the virtual time when each of migctl's records first arrived: each step
  // began, the snapshot arrived at the target, the update ended.
  const wall = new Map<string, bigint>();
  const virtual = new Map<string, number>();
  let last = 'no output';
  const { system } = await runImage(manifest, {
    modules: ws.repository,
    trust: ws.trust,
    onEvent: (e) => {
      if (e.kind === 'console' && e.sandbox === 'migctl') last = e.text;
      if (e.kind !== 'record' || e.sandbox !== 'migctl') return;
      const key = e.type === 'step' ? `step ${e.fields.phase}` : e.type;
      if (!wall.has(key)) wall.set(key, process.hrtime.bigint()), virtual.set(key, e.t);
    },
  });
  system.dispose();
  const traffic = system.traffic;
  const records = system.kernel.events.of('record').filter((e) => e.sandbox === 'migctl');
  const r = records.find((e) => e.type === 'migrated')?.fields;
  const s = records.find((e) => e.type === 'snapshot')?.fields;
  if (!r || !s || r.ok !== true) throw new BenchError(`the migration of ${size.connections} connections did not finish cleanly: ${last}`);
  const summary = traffic!.generator.summary();
  const ns = (a: string, b: string) => Number(wall.get(b)! - wall.get(a)!);
  return {
    migrated: Number(r.migrated), failed: Number(r.failed),
    perConnVirtualNs: Number(r.per_connection_avg), maxConnVirtualNs: Number(r.per_connection_max),
    frozenVirtualNs: Number(r.frozen_avg), frozenMaxVirtualNs: Number(r.frozen_max),
    phaseVirtualNs: Number(r.phase), phaseWallNs: ns('snapshot', 'migrated'),
    snapshotBytes: Number(s.bytes), snapshotConnections: Number(s.connections), exportVirtualNs: Number(s.export), importVirtualNs: Number(s.import),
    snapshotWallNs: ns('step snapshot', 'snapshot'),
    updateVirtualNs: virtual.get('migrated')! - virtual.get('step handshake')!,
    updateWallNs: ns('step handshake', 'migrated'),
    traffic: traffic!.generator.summaryLine(),
    lost: summary.lost + summary.duplicated + summary.reordered + summary.failed + summary.running,
  };
}

export const migration: Benchmark = {
  name: 'migration',
  title: 'rolling update under load: connections migrated per second, added latency per connection, snapshot export + import',
  async run(ctx) {
    const native = buildMigrationBaseline(ctx.repoRoot);
    const lines: string[] = [];
    const results: Record<string, unknown>[] = [];
    for (const size of SIZES) {
      const g = await runMigctl(ctx.repoRoot, size);
      const n = runMigrationBaseline(native, g.migrated);
      const s = runMigrationBaseline(native, g.snapshotConnections);
      const perConnWall = g.phaseWallNs / g.migrated;
      const perConnNative = n.wallNs / n.moved;
      const k = size.label;
      lines.push(
        formatRow({
          label: `migration ${k}: conns/s`,
          hic: `${perSecond((g.migrated / g.phaseWallNs) * 1e9)} wall`,
          range: `${perSecond((g.migrated / g.phaseVirtualNs) * 1e9)} virtual`,
          native: perSecond((n.moved / n.wallNs) * 1e9),
          ratio: formatRatio(perConnWall / perConnNative),
          note: `${g.migrated} migrated, ${g.failed} failed; traffic: lost, doubled, reordered, failed or unfinished ${g.lost}`,
        }),
        formatRow({
          label: `migration ${k}: per conn`,
          hic: `${formatNs(g.perConnVirtualNs)} virtual`,
          range: `max ${formatNs(g.maxConnVirtualNs)}`,
          native: formatNs(perConnNative),
          ratio: formatRatio(perConnWall / perConnNative),
          note: `frozen ${formatNs(g.frozenVirtualNs)} avg, ${formatNs(g.frozenMaxVirtualNs)} max (virtual); ${formatNs(perConnWall)} wall per connection`,
        }),
        formatRow({
          label: `migration ${k}: snapshot`,
          hic: `${formatNs(g.snapshotWallNs)} wall`,
          range: `${formatNs(g.exportVirtualNs + g.importVirtualNs)} virtual`,
          native: formatNs(s.snapshotNs),
          ratio: formatRatio(g.snapshotWallNs / s.snapshotNs),
          note: `${g.snapshotConnections} connections, ${(g.snapshotBytes / 1024).toFixed(0)} KiB, 1024 shards (export ${formatNs(g.exportVirtualNs)}, import ${formatNs(g.importVirtualNs)} virtual)`,
        }),
      );
      results.push({ connections: size.connections, guest: g, native: n, nativeSnapshot: s });
    }
    return { lines, json: { parameters: { sizes: SIZES }, results } };
  },
};
