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
// Baseline, in the same run: the same core code doing the same work natively -- N connections
// established in one stack, then each frozen, exported as schema 1, imported by a schema-2 stack
// (converted), thawed and released (services/netstack/core compiled by gcc with the core's test
// driver). The ratio is what the protocol around that work costs here: IPC, capability moves,
// memory objects, the driver's steering calls and the scheduling between four sandboxes.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { workspace } from '../../hicmod-toolchain/workspace.ts';
import { parseManifest } from '../../system/manifest.ts';
import { runImage } from '../../system/run-image.ts';
import type { Benchmark } from '../benchmark.ts';
import { BenchError } from '../kernel-run.ts';
import { formatNs, formatRatio, formatRow } from '../stats.ts';

interface Size {
  readonly connections: number;
  readonly label: string;
  /** The traffic's activity (connections start in its first quarter) and when migctl begins. */
  readonly durationS: number;
  readonly startMs: number;
  readonly untilS: number;
  /** The classes' shares; the image's own when absent. */
  readonly shares?: Readonly<Record<string, number>>;
}

const SIZES: readonly Size[] = [
  // The image as the tests run it: every class, bulk transfers and HTTP included.
  { connections: 1_000, label: '1k mixed', durationS: 2.4, startMs: 450, untilS: 3 },
  // Ten thousand idle connections: the stack's tables full, the wire quiet. (Ten thousand busy
  // ones take the emulated machine about 15 minutes of host time to play, too long for a bench.)
  { connections: 10_000, label: '10k idle', durationS: 16, startMs: 4_100, untilS: 17, shares: { idle: 1 } },
];


interface GuestRun {
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
  readonly traffic: string;
  readonly lost: number;
}

async function onKernel(repoRoot: string, size: Size): Promise<GuestRun> {
  const file = join('images', 'migration.himg');
  const image = JSON.parse(readFileSync(join(repoRoot, file), 'utf8'));
  image.run.until = `${size.untilS}s`;
  image.traffic = { ...image.traffic, connections: size.connections, clients: Math.min(250, Math.max(50, size.connections / 40)), duration: `${size.durationS}s` };
  if (size.shares) image.traffic.shares = size.shares;
  const migctl = image.sandboxes.find((s: { name: string }) => s.name === 'migctl');
  migctl.config = { mode: 'update', start: `${size.startMs}ms` };
  const manifest = parseManifest(`${file} (${size.connections} connections)`, JSON.stringify(image));
  const ws = workspace(repoRoot);
  // The host clock when each of migctl's records arrived: the snapshot step began, the snapshot
  // arrived at the target, the update ended.
  const wall = new Map<string, bigint>();
  let last = 'no output';
  const { system } = await runImage(manifest, {
    modules: ws.repository,
    trust: ws.trust,
    onEvent: (e) => {
      if (e.kind === 'console' && e.sandbox === 'migctl') last = e.text;
      if (e.kind !== 'record' || e.sandbox !== 'migctl') return;
      const key = e.type === 'step' ? `step ${e.fields.phase}` : e.type;
      if (!wall.has(key)) wall.set(key, process.hrtime.bigint());
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
    traffic: traffic!.generator.summaryLine(),
    lost: summary.lost + summary.duplicated + summary.reordered + summary.failed + summary.running,
  };
}

/** The native baseline's main: the same core work per connection, timed in-process. */
const NATIVE_MAIN = `/* Generated by bench/benchmarks/migration.ts: the migration benchmark's native baseline. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "harness.h"

static uint8_t record[NS_SNDBUF_SIZE + 8 * (NS_SEG_MAX + 2) + 512];

static long long since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (long long)(t1.tv_sec - t0->tv_sec) * 1000000000LL + (t1.tv_nsec - t0->tv_nsec);
}

int main(int argc, char **argv) {
  uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 1000, moved = 0;
  struct world a, b;
  world_init(&a, 42, OUR_IP);
  world_init(&b, 43, OUR_IP);
  uint32_t *ids = calloc(n, sizeof *ids);
  for (uint32_t i = 0; i < n; i++) {
    a.cl.port = (uint16_t)(1024 + i % 60000);
    a.cl.ip = PEER_IP + i / 60000;
    a.cl.seq = CLIENT_ISN;
    ids[i] = tcp_connect(&a);
  }
  /* The snapshot's work: every record exported (schema 1) and CRC'd, then CRC'd again and
   * decoded with conversion (schema 2 reading 1) as IMPORT_STATE checks it. */
  uint8_t *snap = malloc((size_t)n * 512 + NS_SNDBUF_SIZE * NS_SNDBUF_COUNT);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  size_t at = 0;
  for (uint32_t i = 0; i < n; i++) if (ids[i]) at += ns_export_conn_as(a.s, ids[i], 1, snap + at, NS_SNDBUF_SIZE + 512);
  uint32_t crc = ns_crc32(0, snap, at), checked = 0;
  if (ns_crc32(0, snap, at) != crc) return 1;
  for (size_t p = 0, len; p < at; p += len) {
    uint64_t key;
    len = (size_t)snap[p + 8] | (size_t)snap[p + 9] << 8 | (size_t)snap[p + 10] << 16 | (size_t)snap[p + 11] << 24;
    if (ns_check_conn(snap + p, len, &key) != 1) return 1;
    checked++;
  }
  long long snapshot_ns = since(&t0);
  if (checked != n) return 1;

  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (uint32_t i = 0; i < n; i++) {
    if (!ids[i] || ns_freeze(a.s, ids[i]) < 0) continue;
    size_t len = ns_export_conn_as(a.s, ids[i], 1, record, sizeof record);
    int id = len ? ns_import_conn(b.s, record, len) : -1;
    if (id < 0) continue;
    cap_reset(&b.cap);
    ns_thaw(b.s, (uint32_t)id, b.now, cap_emit, &b.cap);
    ns_release(a.s, ids[i]);
    moved++;
  }
  long long ns = since(&t0);
  printf("{\\"moved\\": %u, \\"wallNs\\": %lld, \\"snapshotNs\\": %lld}\\n", moved, ns, snapshot_ns);
  return 0;
}
`;

function buildNative(repoRoot: string): string {
  const dir = join(repoRoot, 'build', 'bench');
  const source = join(dir, 'migration-native.c');
  const binary = join(dir, 'migration-native');
  const core = join(repoRoot, 'services', 'netstack', 'core');
  const driver = join(repoRoot, 'tests', 'support', 'netstack-core');
  const cFiles = (d: string) => readdirSync(d).filter((f) => f.endsWith('.c')).map((f) => join(d, f));
  mkdirSync(dir, { recursive: true });
  if (!existsSync(source) || readFileSync(source, 'utf8') !== NATIVE_MAIN) writeFileSync(source, NATIVE_MAIN);
  const inputs = [source, ...cFiles(core), join(core, 'net.h'), join(core, 'internal.h'), join(driver, 'harness.c'), join(driver, 'harness.h')];
  const newest = Math.max(...inputs.map((f) => statSync(f).mtimeMs));
  if (!existsSync(binary) || statSync(binary).mtimeMs < newest) {
    const flags = ['-O2', '-std=c11', '-mgeneral-regs-only', '-DNS_SCHEMA=2', '-DNS_MAX_CONNS=16384', '-DNS_CONN_HASH=16384', `-I${core}`, `-I${driver}`];
    try {
      execFileSync('gcc', [...flags, '-o', binary, source, join(driver, 'harness.c'), ...cFiles(core)], { stdio: ['ignore', 'inherit', 'inherit'] });
    } catch {
      throw new BenchError('building the native migration baseline failed (needs gcc)');
    }
  }
  return binary;
}

function onNative(binary: string, connections: number): { moved: number; wallNs: number; snapshotNs: number } {
  const out = execFileSync(binary, [String(connections)], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return JSON.parse(out.trim().split('\n').at(-1)!) as { moved: number; wallNs: number; snapshotNs: number };
}

const perSecond = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M/s` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k/s` : `${n.toFixed(0)}/s`);

export const migration: Benchmark = {
  name: 'migration',
  title: 'rolling update under load: connections migrated per second, added latency per connection, snapshot export + import',
  async run(ctx) {
    const native = buildNative(ctx.repoRoot);
    const lines: string[] = [];
    const results: Record<string, unknown>[] = [];
    for (const size of SIZES) {
      const g = await onKernel(ctx.repoRoot, size);
      const n = onNative(native, g.migrated);
      const s = onNative(native, g.snapshotConnections);
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
