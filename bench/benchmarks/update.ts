// Benchmark `update`: the rolling update as a user runs it -- images/rolling-update.himg, where the
// Module Manager (services/module_manager, a signed guest service) updates netstack 1.2.0 to 1.3.0
// on the operator's request -- at 1,000 and 10,000 live connections under traffic, with the rate
// limit off (policy rateLimit "off") so the figures are the mechanism's, not the throttle's.
//
// The Module Manager's typed records carry the virtual times (`step` begin/ok, `end`); the host
// clock and the process's CPU time are read as those records arrive, so each figure has its
// virtual and wall time from the same run:
//
//   connection phase     step migrate begin -> ok (the LIST pass, four stages, health checks)
//   added latency        end.latency_avg / p99 / max: CONN_OUT to CONN_IN per moved connection
//   IPC per connection   end.ipc_per_connection (hundredths): all calls made in the phase / moved
//   alias switch         step switch begin -> ok
//   whole update         the first step's begin -> the end record (stability window included)
//
// Baselines, in the same run: the native migration of the same number of connections
// (bench/migration-baseline.ts, shared with `migration`); the harness migctl on the same sizes
// (runMigctl, the `migration` benchmark's run) for the connection phase, the latency, the IPC
// count and the whole update; and for the switch, Core-0's alias switch made by a host client on
// the same kernel after the run, which is the mechanism without a guest around it.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Right } from '../../core0/abi/abi.ts';
import { HostClient } from '../../core0/host-client.ts';
import type { Kernel } from '../../core0/kernel.ts';
import { workspace } from '../../hicmod-toolchain/workspace.ts';
import { parseManifest } from '../../system/manifest.ts';
import { System } from '../../system/run-image.ts';
import type { Benchmark } from '../benchmark.ts';
import { BenchError } from '../kernel-run.ts';
import { buildMigrationBaseline, perSecond, resizeImage, runMigrationBaseline, SIZES, type TrafficSize } from '../migration-baseline.ts';
import { formatNs, formatRatio, formatRow } from '../stats.ts';
import { runMigctl } from './migration.ts';

/** A bound the seed (or the issue) sets, and whether the run met it. */
const goal = (met: boolean, what: string) => `${what}: ${met ? 'met' : 'NOT met'}`;

/** The virtual time, host clock and process CPU time when a record arrived. */
interface Mark {
  readonly virtualNs: number;
  readonly wall: bigint;
  readonly cpuUs: number;
}

/** Instructions and syscalls per sandbox over the connection phase: where the machine's work went. */
type Counters = Record<string, { instructions: number; syscalls: number }>;

export interface UpdateRun {
  readonly snapshot: number;
  readonly moved: number;
  readonly gone: number;
  readonly failed: number;
  readonly latencyAvgNs: number;
  readonly latencyP99Ns: number;
  readonly latencyMaxNs: number;
  readonly ipcPerConnection: number;
  readonly checks: number;
  readonly phase: Span;
  readonly switch: Span;
  readonly update: Span;
  /** The stability window, part of the whole update. */
  readonly stability: Span;
  readonly counters: Counters;
  readonly hostSwitchNs: number;
  readonly traffic: string;
  readonly lost: number;
}

interface Span {
  readonly virtualNs: number;
  readonly wallNs: number;
  readonly cpuNs: number;
  /** The host's monotonic clock at both ends, in µs: the clock of `node --cpu-prof`'s samples, so
   * bench/profile-phase.ts can cut a profile of this run to the span. */
  readonly monotonicUs: readonly [number, number];
}

const MM = 'module-manager';

/** One boot of images/rolling-update.himg at `size`: its first update only, rate limit off. */
export async function runUpdate(repoRoot: string, size: TrafficSize): Promise<UpdateRun> {
  const file = join('images', 'rolling-update.himg');
  const image = JSON.parse(readFileSync(join(repoRoot, file), 'utf8'));
  resizeImage(image, size);
  const [first] = image.updates;
  image.updates = [{ ...first, at: `${size.startMs}ms`, policy: { ...first.policy, rateLimit: 'off' } }];
  image.expect = { updates: ['completed'] };
  // The snapshot passes through the Module Manager on its way to the target, as a memory object
  // charged to its quota: 10,000 connections make 1.6 MiB, more than the image's 1 MiB.
  image.sandboxes.find((s: { name: string }) => s.name === MM).quota = '16MiB';
  const manifest = parseManifest(`${file} (${size.connections} connections, rate limit off)`, JSON.stringify(image));
  const ws = workspace(repoRoot);
  const marks = new Map<string, Mark>();
  const counted: Counters[] = [];
  let kernel: Kernel | undefined;
  let last = 'no output';
  const system = await System.assemble(manifest, {
    modules: ws.repository,
    trust: ws.trust,
    onEvent: (e) => {
      if (e.kind === 'console' && e.sandbox === MM) last = e.text;
      if (e.kind !== 'record' || e.sandbox !== MM) return;
      const key = e.type === 'step' ? `${e.fields.step} ${e.fields.state}` : e.type;
      if (marks.has(key)) return;
      marks.set(key, { virtualNs: e.t, wall: process.hrtime.bigint(), cpuUs: cpuUs() });
      if (key === 'migrate begin' || key === 'migrate ok') counted.push(countersOf(kernel!));
    },
  });
  kernel = system.kernel;
  try {
    await system.run();
    const end = system.kernel.events.of('record').find((e) => e.sandbox === MM && e.type === 'end')?.fields;
    if (!end || end.outcome !== 'completed' || end.ok !== true) throw new BenchError(`the update with ${size.connections} connections did not complete cleanly: ${last}`);
    const at = (key: string) => marks.get(key) ?? raise(new BenchError(`the Module Manager sent no '${key}' record`));
    const span = (from: string, to: string): Span => {
      const a = at(from), b = at(to);
      return { virtualNs: b.virtualNs - a.virtualNs, wallNs: Number(b.wall - a.wall), cpuNs: (b.cpuUs - a.cpuUs) * 1000, monotonicUs: [Number(a.wall / 1000n), Number(b.wall / 1000n)] };
    };
    const summary = system.traffic!.generator.summary();
    return {
      snapshot: Number(end.snapshot), moved: Number(end.moved), gone: Number(end.gone), failed: Number(end.failed),
      latencyAvgNs: Number(end.latency_avg), latencyP99Ns: Number(end.latency_p99), latencyMaxNs: Number(end.latency_max),
      ipcPerConnection: Number(end.ipc_per_connection) / 100, checks: Number(end.checks),
      phase: span('migrate begin', 'migrate ok'), switch: span('switch begin', 'switch ok'),
      update: span('request begin', 'end'), stability: span('stability begin', 'stability ok'),
      counters: difference(counted[0]!, counted[1]!),
      hostSwitchNs: hostSwitch(system.kernel),
      traffic: system.traffic!.generator.summaryLine(),
      lost: summary.lost + summary.duplicated + summary.reordered + summary.failed + summary.running,
    };
  } finally {
    system.dispose();
  }
}

function raise(e: Error): never {
  throw e;
}

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

function countersOf(k: Kernel): Counters {
  return Object.fromEntries(k.liveSandboxes.map((s) => [s.name, { instructions: s.cpu.executed, syscalls: s.syscalls }]));
}

function difference(a: Counters, b: Counters): Counters {
  return Object.fromEntries(Object.entries(b).map(([name, c]) => [name, { instructions: c.instructions - (a[name]?.instructions ?? 0), syscalls: c.syscalls - (a[name]?.syscalls ?? 0) }]));
}

/** Core-0's alias switch alone, on the kernel the update ran on: ns per switch, median of 5 x 1000. */
function hostSwitch(k: Kernel): number {
  const h = HostClient.attach(k, 'bench-switch', { registry: Right.R | Right.W | Right.G });
  h.register('cap://bench/v1.0.0/stats', h.syscall('endpoint_create'));
  h.register('cap://bench/v2.0.0/stats', h.syscall('endpoint_create'));
  const rounds: number[] = [];
  for (let r = 0; r < 6; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < 1000; i++) h.switchAlias('cap://bench/stats', i % 2 ? 'cap://bench/v1.0.0/stats' : 'cap://bench/v2.0.0/stats');
    if (r > 0) rounds.push(Number(process.hrtime.bigint() - t) / 1000); // the first round warms up
  }
  return rounds.sort((a, b) => a - b)[rounds.length >> 1]!;
}

/** ns as seconds when long enough to read better so. */
const duration = (ns: number) => (ns >= 1e9 ? `${(ns / 1e9).toFixed(2)} s` : formatNs(ns));

export const update: Benchmark = {
  name: 'update',
  title: "the Module Manager's rolling update, rate limit off: connection phase, added latency, IPC per connection, alias switch, whole update",
  async run(ctx) {
    const native = buildMigrationBaseline(ctx.repoRoot);
    const lines: string[] = [];
    const results: Record<string, unknown>[] = [];
    for (const size of SIZES) {
      const u = await runUpdate(ctx.repoRoot, size);
      const m = await runMigctl(ctx.repoRoot, size);
      const n = runMigrationBaseline(native, u.moved);
      const s = runMigrationBaseline(native, u.snapshot);
      const k = `update ${size.label}`;
      const nativeWhole = s.snapshotNs + n.wallNs;
      lines.push(
        formatRow({
          label: `${k}: connection phase`,
          hic: `${duration(u.phase.wallNs)} wall`,
          range: `${duration(u.phase.virtualNs)} virtual`,
          native: duration(n.wallNs),
          ratio: formatRatio(u.phase.wallNs / n.wallNs),
          note: [
            `${u.moved} moved (${perSecond((u.moved / u.phase.wallNs) * 1e9)} wall), ${u.gone} closed first, ${u.failed} failed; process CPU ${duration(u.phase.cpuNs)}`,
            `migctl ${duration(m.phaseWallNs)} wall, ${duration(m.phaseVirtualNs)} virtual`,
            ...(size.connections >= 10_000 ? [goal(u.phase.wallNs <= 3e9, 'goal <= 3 s wall')] : []),
            `traffic: lost, doubled, reordered, failed or unfinished ${u.lost}`,
          ].join('; '),
        }),
        formatRow({
          label: `${k}: added latency`,
          hic: `${formatNs(u.latencyAvgNs)} avg`,
          range: `p99 ${formatNs(u.latencyP99Ns)} max ${formatNs(u.latencyMaxNs)}`,
          native: formatNs(m.frozenVirtualNs),
          ratio: formatRatio(u.latencyAvgNs / m.frozenVirtualNs),
          note: `virtual, CONN_OUT to CONN_IN; baseline = migctl's, avg (max ${formatNs(m.frozenMaxVirtualNs)}); ${goal(u.latencyMaxNs < 10e6, 'seed max < 10 ms')}, ${goal(u.latencyAvgNs < 1e6, 'avg < 1 ms')}`,
        }),
        formatRow({
          label: `${k}: IPC calls per conn`,
          hic: u.ipcPerConnection.toFixed(2),
          range: '',
          native: '5',
          ratio: formatRatio(u.ipcPerConnection / 5),
          note: `baseline = migctl's five protocol calls; here all calls of the phase (LIST, the five, splits, ${u.checks} checks) / moved`,
        }),
        formatRow({
          label: `${k}: alias switch`,
          hic: `${duration(u.switch.wallNs)} wall`,
          range: `${formatNs(u.switch.virtualNs)} virtual`,
          native: formatNs(u.hostSwitchNs),
          ratio: formatRatio(u.switch.wallNs / u.hostSwitchNs),
          note: "step switch begin -> ok; baseline = Core-0's switch by a host client, same kernel",
        }),
        formatRow({
          label: `${k}: whole update`,
          hic: `${duration(u.update.wallNs)} wall`,
          range: `${duration(u.update.virtualNs)} virtual`,
          native: duration(nativeWhole),
          ratio: formatRatio(u.update.wallNs / nativeWhole),
          note: `request to end, stability window ${duration(u.stability.virtualNs)} virtual (${duration(u.stability.wallNs)} wall) included; native = snapshot + moves; migctl ${duration(m.updateWallNs)} wall, ${duration(m.updateVirtualNs)} virtual`,
        }),
      );
      results.push({ connections: size.connections, label: size.label, update: u, migctl: m, native: n, nativeSnapshot: s });
    }
    return { lines, json: { parameters: { sizes: SIZES, rateLimit: 'off', moduleManagerQuota: '16MiB' }, results } };
  },
};
