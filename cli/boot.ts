// `hic boot`: assemble an image's machine, run it, print its run and the report. Deterministic by
// default; live with --realtime, --control, --metrics, --tap or --record: a host pacer holds the
// run (system/realtime.ts), outside inputs enter through it, and the machine runs until its time
// limit (--until, or the manifest's) or a `quit` on the control socket, or SIGINT/SIGTERM.
// --record writes where each input entered (system/recording/); --replay runs such a recording
// again, as fast as the machine goes, and says whether its event log is the recorded one. --gdb
// lets gdb attach to the booting machine (boot-gdb.ts).

import type { Command } from 'commander';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
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
import { SystemState } from '../system/state/system-state.ts';
import { writeReport } from '../system/report/write.ts';
import { reportOf } from '../system/update/report.ts';
import { readManifest } from '../system/manifest.ts';
import { MachineMetrics } from '../system/metrics.ts';
import { AlertFile } from '../system/alert-file.ts';
import { EventFile } from '../system/event-file.ts';
import { RunRecorder } from '../system/recording/recorder.ts';
import { replayedImage, replayOptions, replayVerdict } from '../system/recording/replay.ts';
import { System, type SystemOptions } from '../system/run-image.ts';
import type { StampedEvent } from '../core0/events.ts';
import { BootUnderGdb, DEFAULT_GDB_PORT } from './boot-gdb.ts';
import { parseGdbAddress } from './debug.ts';
import { TapDevice } from '../system/tap.ts';
import { runCommand, UsageError } from './errors.ts';
import { DEFAULT_NETNS } from './net.ts';
import { progressLine } from './progress.ts';
import { printable, renderEvent } from './render.ts';

interface BootOptions {
  quiet?: boolean;
  events?: string;
  alerts?: string;
  page?: string;
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
  record?: string;
  replay?: string;
  gdb?: string | true;
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

/**
 * The Monitor's alerts file (system/alert-file.ts), opened to append: a path that names nothing
 * writable is a usage error, before the machine is assembled.
 */
function alertsFile(path: string, beforeWrite: () => void, route: 'file' | 'page' = 'file'): AlertFile {
  const flag = route === 'file' ? '--alerts' : '--page', what = route === 'file' ? 'an alerts file' : 'a page file';
  if (path.trim() === '') throw new UsageError(`${flag}: an empty path; name a file to append the alerts to`);
  const abs = resolve(path);
  if (/^\/(proc|sys|dev)(\/|$)/.test(abs)) throw new UsageError(`${flag}: ${abs} is inside /${abs.split('/')[1]}, not a place for ${what}`);
  if (existsSync(abs) && statSync(abs).isDirectory()) throw new UsageError(`${flag}: ${abs} is a directory; name a file in it`);
  if (!existsSync(dirname(abs))) throw new UsageError(`${flag}: ${dirname(abs)} does not exist; create it first`);
  try {
    return AlertFile.open(abs, { beforeWrite, route });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === undefined) throw e;
    throw new UsageError(`${flag}: cannot append to ${abs}: ${code === 'ENOTREG' ? 'not a regular file' : code === 'EACCES' ? 'permission denied' : code === 'ENXIO' ? 'a FIFO nobody reads' : code}`);
  }
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
    .argument('[image]', 'image manifest (.himg); with --replay, the recording has it')
    .option('-q, --quiet', 'show only guest console lines and records, faults and exits (and no status line)')
    .option('--events <file>', 'write the event log as JSON lines to <file> as it is made (its sha256 is the hash printed at the end)')
    .option('--alerts <file>', "append the Monitor's alerts routed to the alerts file (sent or escalated, not silenced) to <file>, one JSON object per line (docs/monitor.md#alerts-seed-522)")
    .option('--page <file>', "append the alerts routed to the operator's page (P0: the seed's phone and SMS) to <file>, in the same form, for a pager to read")
    .option('--data-dir <dir>', `where persistent state goes: the hash-chained audit log (audit.jsonl, its segments and checkpoint), what the system trusted of the repository (${TRUSTED_STATE_FILE}), and the machine's installed versions and journal (system/)`, 'build/data')
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
    .option('--record <file>', 'record every outside input (TAP frames, control commands, Ctrl-C) with where it entered the machine, so `--replay` (or `hic debug --replay`) runs it again to the same event log; makes the run live')
    .option('--replay <file>', 'run a recording made with --record again, as fast as the machine goes, and check the event log is the recorded one (the image, date, run length and traffic are the recording\'s)')
    .option('--gdb [[127.0.0.1]:port]', `serve gdb's remote protocol on 127.0.0.1 (default port ${DEFAULT_GDB_PORT}; 0: any free one, printed): the machine waits for gdb before its first instruction, runs on when gdb detaches, and stops when it attaches again; forwards only`)
    .action((image: string | undefined, opts: BootOptions) => runCommand(() => boot(image, opts, repoRoot, version)));
}

/** Options a replay takes from its recording, or that have no meaning in one. */
const NOT_WITH_REPLAY = ['realtime', 'until', 'date', 'control', 'metrics', 'tap', 'netns', 'record'] as const;

async function boot(image: string | undefined, opts: BootOptions, repoRoot: string, version: string): Promise<number> {
  if (opts.replay !== undefined) {
    const given = NOT_WITH_REPLAY.filter((o) => opts[o] !== undefined && opts[o] !== false);
    if (given.length > 0) throw new UsageError(`--replay takes the run from its recording: --${given[0]} does not go with it`);
    if (!opts.traffic) throw new UsageError('--replay takes the run from its recording: --no-traffic does not go with it');
  } else if (image === undefined) throw new UsageError('missing the image: hic boot IMAGE (or --replay FILE)');
  const replay = opts.replay !== undefined ? replayedImage(opts.replay, image) : undefined;
  const manifest = replay ? replay.manifest : readManifest(image!);
  const until = opts.until === undefined ? undefined : parseUntil(opts.until);
  const gdbPort = opts.gdb === undefined ? undefined : opts.gdb === true ? DEFAULT_GDB_PORT : parseGdbAddress(opts.gdb);
  const listen = opts.metrics === undefined ? undefined : parseListen(opts.metrics);
  if (opts.tap !== undefined && !opts.realtime) throw new UsageError('--tap needs --realtime: Linux on the other side of the bridge lives in wall time');
  if (opts.netns !== undefined && opts.tap === undefined) throw new UsageError('--netns names where the TAP device is: it needs --tap');
  const liveRun = Boolean(opts.realtime || opts.control || opts.metrics || opts.tap || opts.record);
  const date = replay ? replay.recording.header.date : wallClockDate(opts.date);
  const ws = moduleOrigin(opts, repoRoot);
  const dataDir = dataDirectory(opts.dataDir);
  // A replay runs the recorded machine again: it is no boot of the system, and leaves its
  // persistent state (audit log, what it trusted) alone.
  const recorder = opts.record !== undefined ? new RunRecorder(opts.record) : undefined;
  const audit = replay ? AuditLog.inMemory() : AuditLog.open(join(dataDir, 'audit.jsonl'), { lock: tryLock });
  // Under the audit log's lock, like everything in the data directory: the installed versions, the journal.
  let state: SystemState | undefined;
  try {
    state = replay ? undefined : SystemState.open(dataDir);
  } catch (e) {
    audit.close();
    throw e;
  }
  const pcap = opts.pcap ? PcapWriter.open(opts.pcap) : undefined;
  // What leaves the process — the event file, a terminal line, a frame to Linux — leaves after the
  // audit records of what led to it are written (AuditLog.flush; docs/reliability.md#audit-records-in-batches).
  const sealAudit = () => audit.flush();
  const eventFile = opts.events ? EventFile.open(opts.events, { beforeWrite: sealAudit }) : undefined;
  let alertFile: AlertFile | undefined;
  let pageFile: AlertFile | undefined;
  let system: System | undefined;
  let gdb: BootUnderGdb | undefined;
  let trusted: TrustedRepository | undefined;
  let bridge: TapBridge | undefined;
  let control: ControlServer | undefined;
  let metricsServer: { close(): void } | undefined;
  let print: (line: string) => void = (line) => void process.stdout.write(line + '\n');
  const quit = () => {
    // Waiting for gdb (or held by it), a machine that is not live has nothing to quit through.
    if (gdb?.attached || (gdb && !system?.pacer)) process.exit(130);
    gdb?.release();
    if (system?.pacer) system.pacer.submit({ source: 'control', what: 'quit', data: '{}', apply: () => system!.pacer!.quit() });
    else process.exit(130);
  };
  // The TAP first: without the privilege for it, nothing else is worth starting.
  const netns = opts.tap === undefined ? undefined : (opts.netns ?? (existsSync(`/run/netns/${DEFAULT_NETNS}`) ? DEFAULT_NETNS : undefined));
  let tap: TapDevice | undefined;
  try {
    if (opts.tap !== undefined) tap = TapDevice.open(opts.tap, netns ? { netns } : {});
    if (opts.alerts !== undefined) alertFile = alertsFile(opts.alerts, sealAudit);
    if (opts.page !== undefined) pageFile = alertsFile(opts.page, sealAudit, 'page');
    // Under the audit log's lock: one boot at a time reads and updates what the system trusted.
    trusted = TrustedRepository.open(ws.repoDir, ws.trust, { now: endOfDate(date), ...(replay ? {} : { stateFile: join(dataDir, TRUSTED_STATE_FILE) }) });
    const options: SystemOptions = {
      modules: withBuildFailures(trusted, ws.failures),
      trust: ws.trust,
      audit,
      ...(state ? { state } : {}),
      wallClock: date,
      ...(pcap ? { pcap } : {}),
      ...(opts.traffic ? {} : { traffic: 'none' as const }),
      ...(liveRun ? { live: { realtime: Boolean(opts.realtime), ...(recorder ? { onAdmit: recorder.onAdmit } : {}) } } : {}),
      ...(until !== undefined ? { until } : {}),
      ...(replay ? replayOptions(replay.recording) : {}),
      // The whole log goes to the terminal and the file as it is made; memory keeps the latest.
      retainEvents: RETAINED_EVENTS,
    };
    const onEvent = (e: StampedEvent) => {
      eventFile?.write(e);
      alertFile?.write(e);
      pageFile?.write(e);
      const line = renderEvent(e, { quiet: opts.quiet });
      if (line === undefined) return;
      sealAudit(); // the audit records of what a printed line shows are sealed before it is shown
      print(line);
    };
    if (gdbPort !== undefined) {
      gdb = await BootUnderGdb.open(manifest, options, onEvent, repoRoot, gdbPort);
      system = gdb.system;
      process.stderr.write(`hic: gdb: waiting on 127.0.0.1:${gdb.stub.port} (target remote :${gdb.stub.port}); the machine runs when gdb continues or detaches\n`);
    } else system = await System.assemble(manifest, { ...options, onEvent });
    if (recorder) {
      const end = until ?? manifest.until;
      recorder.begin(system, { image: { file: image!, text: readFileSync(image!, 'utf8') }, date, until: Number.isFinite(end) ? end : 'never', traffic: opts.traffic });
    }
    if (tap) {
      const nic = system.nic;
      if (!nic) throw new UsageError(`--tap: image ${manifest.name} has no NIC (machine.devices must include "nic")`);
      bridge = bridgeTap(nic, system.pacer!, tap, sealAudit);
      process.stderr.write(`hic: NIC bridged to TAP ${tap.name}${netns ? ` in network namespace ${netns}` : ''}\n`);
    }
    // Each update's report, written when it ends: build/reports/<id>/report.json and report.html.
    const reportsDir = join(repoRoot, 'build', 'reports');
    system.updates.onEnd((a) => {
      const written = writeReport(reportsDir, reportOf(a, manifest.name));
      const what = a.configuration ? `${printable(a.service)} configuration, ${a.configuration.rules.length} rules` : `${printable(a.service)} to ${printable(a.to)}`;
      print(`hic: update ${a.id} (${what}): report ${relative(process.cwd(), written.html)}`);
    });
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
      result = await live.run(gdb ? () => gdb!.run() : undefined);
    } finally {
      progress.stop();
      print = (line) => void process.stdout.write(line + '\n');
      control?.machineEnded();
    }
    recorder?.end(result.halt, result.logHash);
    const verdict = replay ? replayVerdict(system, result) : undefined;
    const { machine, traffic } = system;
    const ms = Number(process.hrtime.bigint() - wall) / 1e6;
    const frames = machine.frames.accounting();
    const status = live.status();
    process.stdout.write(
      `\n${printable(manifest.name)}: ${formatTime(machine.clock.now)} virtual in ${ms.toFixed(0)} ms wall; ` +
        `${frames.allocated} frames still allocated; event log sha256 ${result.logHash.slice(0, 16)}\n` +
        (status.realtime ? `real time: lag ${(status.lagNs / 1e6).toFixed(1)} ms at the end, at most ${(status.maxLagNs / 1e6).toFixed(1)} ms; ${status.inputs} outside inputs recorded\n` : '') +
        (bridge ? `tap ${bridge.tap.name}: ${bridge.counters.toGuest} frames to the guest, ${bridge.counters.toLinux} to Linux, ${bridge.counters.refused} refused by the NIC\n` : '') +
        (recorder ? `recorded: ${status.inputs} outside inputs, to ${recorder.file}\n` : '') +
        (verdict ? `${verdict.line}\n` : `audit: ${audit.records.length} records appended to ${join(opts.dataDir, 'audit.jsonl')}, head ${audit.head.slice(0, 16)}\n`),
    );
    if (traffic) process.stdout.write(`${traffic.generator.summaryLine()}; rx ring drops ${traffic.dropped()}\n`);
    if (manifest.expect || traffic) {
      if (result.deviations.length === 0) process.stdout.write('outcome: as expected\n');
      for (const d of result.deviations) process.stdout.write(`outcome DEVIATES: ${d}\n`);
    }
    return result.deviations.length === 0 && (verdict?.same ?? true) ? 0 : 1;
  } finally {
    if (system && trusted && !replay) trusted.remember(system.kernel.events.of('moduleVerified'));
    recorder?.close();
    process.off('SIGINT', quit);
    process.off('SIGTERM', quit);
    await control?.close();
    metricsServer?.close();
    bridge?.close();
    tap?.close();
    eventFile?.close();
    alertFile?.close();
    pageFile?.close();
    pcap?.close();
    state?.close();
    audit.close();
    await gdb?.close();
    if (gdb) gdb.dispose();
    else system?.dispose();
  }
}
