// `hic boot`: assemble an image's machine, run it, print its run and the report. Deterministic by
// default; live with --realtime, --control, --metrics or --tap: a host pacer holds the run
// (system/realtime.ts), outside inputs enter through it, and the machine runs until its time
// limit (--until, or the manifest's) or a `quit` on the control socket, or SIGINT/SIGTERM.

import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AuditLog } from '../core0/audit.ts';
import { formatTime } from '../emulator/clock.ts';
import { PcapWriter } from '../emulator/net/pcap.ts';
import { withBuildFailures, workspace, type BuildFailure } from '../hicmod-toolchain/workspace.ts';
import type { TrustStore } from '../core0/module/verify.ts';
import { endOfDate, TRUSTED_STATE_FILE, TrustedRepository } from '../hicmod-toolchain/repository/client.ts';
import { rootCertificate } from '../hicmod-toolchain/pki/pki.ts';
import { tryLock } from '../emulator/flock.ts';
import { bridgeTap, type TapBridge } from '../system/bridge.ts';
import { ControlServer } from '../system/control/server.ts';
import { LiveMachine } from '../system/live.ts';
import { readManifest } from '../system/manifest.ts';
import { MachineMetrics } from '../system/metrics.ts';
import { EventFile } from '../system/event-file.ts';
import { System } from '../system/run-image.ts';
import { TapDevice } from '../system/tap.ts';
import { runCommand, UsageError } from './errors.ts';
import { DEFAULT_NETNS } from './net.ts';
import { progressLine } from './progress.ts';
import { printable, renderEvent } from './render.ts';

interface BootOptions {
  quiet?: boolean;
  events?: string;
  dataDir: string;
  date?: string;
  repo?: string;
  pki?: string;
  pcap?: string;
  realtime?: boolean;
  until?: string;
  traffic: boolean;
  control?: string;
  metrics?: string;
  tap?: string;
  netns?: string;
}

/**
 * The data directory as given, checked: persistent state belongs in an ordinary directory, not
 * in the current one by accident (an empty path) nor in a kernel file system.
 */
function dataDirectory(dir: string): string {
  if (dir.trim() === '') throw new UsageError('--data-dir: an empty path; name a directory (default build/data)');
  const abs = resolve(dir);
  if (/^\/(proc|sys|dev)(\/|$)/.test(abs)) throw new UsageError(`--data-dir: ${abs} is inside /${abs.split('/')[1]}, not a place for persistent state`);
  if (existsSync(abs) && !statSync(abs).isDirectory()) throw new UsageError(`--data-dir: ${abs} exists and is not a directory`);
  return dir;
}

/** Events `hic boot` keeps in memory; the rest reach the terminal and --events only. */
const RETAINED_EVENTS = 100_000;

/** The boot's wall-clock date, UTC: --date as given (checked), or today. */
function wallClockDate(given: string | undefined): string {
  if (given === undefined) return new Date().toISOString().slice(0, 10);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(given) || Number.isNaN(endOfDate(given)) || new Date(endOfDate(given)).toISOString().slice(0, 10) !== given) {
    throw new UsageError(`--date: "${given}" is not a date like 2026-01-31`);
  }
  return given;
}

/** Where a boot's modules come from: the workspace, built first; or with --repo, a repository as it is. */
function moduleOrigin(opts: { repo?: string; pki?: string }, repoRoot: string): { repoDir: string; trust: TrustStore; failures: readonly BuildFailure[] } {
  if (opts.pki && !opts.repo) throw new UsageError('--pki: only with --repo (the workspace brings its own PKI)');
  if (!opts.repo) return workspace(repoRoot);
  return { repoDir: opts.repo, trust: { roots: [rootCertificate(opts.pki ?? join(repoRoot, 'build', 'pki'))] }, failures: [] };
}

const UNITS: Record<string, number> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9, min: 60e9, h: 3600e9 };

/** "30s", "1.5min", "never": virtual nanoseconds (Infinity for never). */
export function parseUntil(text: string): number {
  if (text === 'never') return Infinity;
  const m = /^(\d+(?:\.\d+)?)(ns|us|ms|s|min|h)$/.exec(text);
  if (!m) throw new UsageError(`--until: "${text}" is not a duration like 500ms, 30s, 5min, 2h, or "never"`);
  return Math.round(Number(m[1]) * UNITS[m[2]!]!);
}

/** "HOST:PORT" (IPv6 in brackets): where /metrics is served. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--metrics: "${text}" is not HOST:PORT (e.g. 127.0.0.1:9464, or [::1]:9464; port 0 picks a free one)`);
  return { host: m[1] ?? m[2]!, port };
}

export function registerBootCommand(program: Command, repoRoot: string, version: string): void {
  program
    .command('boot')
    .description('boot a system image: create its sandboxes, run them in virtual time, report the outcome')
    .argument('<image>', 'image manifest (.himg)')
    .option('-q, --quiet', 'show only guest console lines and records, faults and exits (and no status line)')
    .option('--events <file>', 'write the event log as JSON lines to <file> as it is made (its sha256 is the hash printed at the end)')
    .option('--data-dir <dir>', `where persistent state goes: the hash-chained audit log (audit.jsonl, its segments and checkpoint) and what the system trusted of the repository (${TRUSTED_STATE_FILE})`, 'build/data')
    .option('--date <yyyy-mm-dd>', 'the wall-clock date (UTC) to judge repository expiry at; recorded in the event log (default: today)')
    .option('--pcap <file>', 'write every frame crossing the emulated wire (NIC) as a pcap capture')
    .option('--repo <dir>', 'boot from the module repository in <dir> as it is, instead of building the workspace and booting from build/repo')
    .option('--pki <dir>', 'with --repo: the PKI whose root is trusted (default: build/pki)')
    .option('--realtime', 'pace virtual time to the wall clock: the machine never runs ahead of it; its lag is shown and exported')
    .option('--until <time>', 'run to this virtual time instead of the manifest\'s run.until: 500ms, 30s, 5min, or "never" (until quit or Ctrl-C)')
    .option('--no-traffic', "leave the image's traffic generator off the wire")
    .option('--control <path>', 'serve the control protocol (docs/control-protocol.md) on this Unix socket; `hic ctl <path> …` talks to it')
    .option('--metrics <host:port>', 'serve Prometheus metrics at http://<host:port>/metrics (port 0: any free port)')
    .option('--tap <name>', 'bridge the NIC to Linux TAP device <name> (created if absent; needs root or CAP_NET_ADMIN; needs --realtime)')
    .option('--netns <name>', `the network namespace the TAP device is in (default: ${DEFAULT_NETNS} if \`hic net peer up\` created it, else the current one)`)
    .action((image: string, opts: BootOptions) => runCommand(() => boot(image, opts, repoRoot, version)));
}

async function boot(image: string, opts: BootOptions, repoRoot: string, version: string): Promise<number> {
  const manifest = readManifest(image);
  const until = opts.until === undefined ? undefined : parseUntil(opts.until);
  const listen = opts.metrics === undefined ? undefined : parseListen(opts.metrics);
  if (opts.tap !== undefined && !opts.realtime) throw new UsageError('--tap needs --realtime: Linux on the other side of the bridge lives in wall time');
  if (opts.netns !== undefined && opts.tap === undefined) throw new UsageError('--netns names where the TAP device is: it needs --tap');
  const liveRun = Boolean(opts.realtime || opts.control || opts.metrics || opts.tap);
  const date = wallClockDate(opts.date);
  const ws = moduleOrigin(opts, repoRoot);
  const dataDir = dataDirectory(opts.dataDir);
  const audit = AuditLog.open(join(dataDir, 'audit.jsonl'), { lock: tryLock });
  const pcap = opts.pcap ? PcapWriter.open(opts.pcap) : undefined;
  // What leaves the process — the event file, a terminal line, a frame to Linux — leaves after the
  // audit records of what led to it are written (AuditLog.flush; docs/reliability.md#audit-records-in-batches).
  const sealAudit = () => audit.flush();
  const eventFile = opts.events ? EventFile.open(opts.events, { beforeWrite: sealAudit }) : undefined;
  let system: System | undefined;
  let trusted: TrustedRepository | undefined;
  let bridge: TapBridge | undefined;
  let control: ControlServer | undefined;
  let metricsServer: { close(): void } | undefined;
  let print: (line: string) => void = (line) => void process.stdout.write(line + '\n');
  const quit = () => (system?.pacer ? system.pacer.submit({ source: 'control', what: 'quit', data: '{}', apply: () => system!.pacer!.quit() }) : process.exit(130));
  // The TAP first: without the privilege for it, nothing else is worth starting.
  const netns = opts.tap === undefined ? undefined : (opts.netns ?? (existsSync(`/run/netns/${DEFAULT_NETNS}`) ? DEFAULT_NETNS : undefined));
  let tap: TapDevice | undefined;
  try {
    if (opts.tap !== undefined) tap = TapDevice.open(opts.tap, netns ? { netns } : {});
    // Under the audit log's lock: one boot at a time reads and updates what the system trusted.
    trusted = TrustedRepository.open(ws.repoDir, ws.trust, { now: endOfDate(date), stateFile: join(dataDir, TRUSTED_STATE_FILE) });
    system = await System.assemble(manifest, {
      modules: withBuildFailures(trusted, ws.failures),
      trust: ws.trust,
      audit,
      wallClock: date,
      ...(pcap ? { pcap } : {}),
      ...(opts.traffic ? {} : { traffic: 'none' as const }),
      ...(liveRun ? { live: { realtime: Boolean(opts.realtime) } } : {}),
      ...(until !== undefined ? { until } : {}),
      // The whole log goes to the terminal and the file as it is made; memory keeps the latest.
      retainEvents: RETAINED_EVENTS,
      onEvent: (e) => {
        eventFile?.write(e);
        const line = renderEvent(e, { quiet: opts.quiet });
        if (line === undefined) return;
        sealAudit();
        print(line);
      },
    });
    if (tap) {
      const nic = system.nic;
      if (!nic) throw new UsageError(`--tap: image ${manifest.name} has no NIC (machine.devices must include "nic")`);
      bridge = bridgeTap(nic, system.pacer!, tap, sealAudit);
      process.stderr.write(`hic: NIC bridged to TAP ${tap.name}${netns ? ` in network namespace ${netns}` : ''}\n`);
    }
    const live = new LiveMachine(system, bridge);
    const metrics = new MachineMetrics(live);
    if (listen) {
      const served = await metrics.serve(listen.host, listen.port);
      metricsServer = served.server;
      process.stderr.write(`hic: metrics at ${served.url}\n`);
    }
    if (opts.control !== undefined) {
      control = await ControlServer.listen({ path: opts.control, live, metrics, version });
      process.stderr.write(`hic: control socket at ${opts.control}\n`);
    }
    if (liveRun) {
      process.once('SIGINT', quit);
      process.once('SIGTERM', quit);
    }
    const progress = progressLine(live, { quiet: opts.quiet });
    print = progress.print;
    const wall = process.hrtime.bigint();
    let result;
    try {
      result = await live.run();
    } finally {
      progress.stop();
      print = (line) => void process.stdout.write(line + '\n');
      control?.machineEnded();
    }
    const { machine, traffic } = system;
    const ms = Number(process.hrtime.bigint() - wall) / 1e6;
    const frames = machine.frames.accounting();
    const status = live.status();
    process.stdout.write(
      `\n${printable(manifest.name)}: ${formatTime(machine.clock.now)} virtual in ${ms.toFixed(0)} ms wall; ` +
        `${frames.allocated} frames still allocated; event log sha256 ${result.logHash.slice(0, 16)}\n` +
        (status.realtime ? `real time: lag ${(status.lagNs / 1e6).toFixed(1)} ms at the end, at most ${(status.maxLagNs / 1e6).toFixed(1)} ms; ${status.inputs} outside inputs recorded\n` : '') +
        (bridge ? `tap ${bridge.tap.name}: ${bridge.counters.toGuest} frames to the guest, ${bridge.counters.toLinux} to Linux, ${bridge.counters.refused} refused by the NIC\n` : '') +
        `audit: ${audit.records.length} records appended to ${join(opts.dataDir, 'audit.jsonl')}, head ${audit.head.slice(0, 16)}\n`,
    );
    if (traffic) process.stdout.write(`${traffic.generator.summaryLine()}; rx ring drops ${traffic.dropped()}\n`);
    if (manifest.expect || traffic) {
      if (result.deviations.length === 0) process.stdout.write('outcome: as expected\n');
      for (const d of result.deviations) process.stdout.write(`outcome DEVIATES: ${d}\n`);
    }
    return result.deviations.length === 0 ? 0 : 1;
  } finally {
    if (system && trusted) trusted.remember(system.kernel.events.of('moduleVerified'));
    process.off('SIGINT', quit);
    process.off('SIGTERM', quit);
    await control?.close();
    metricsServer?.close();
    bridge?.close();
    tap?.close();
    eventFile?.close();
    pcap?.close();
    audit.close();
    system?.dispose();
  }
}
