// The control socket and /metrics of a live machine (images/netstack.himg in real time, no
// traffic generator): every command once right and several ways wrong, every message the server
// sends and every request checked against docs/control-protocol.schema.json; hostile clients
// (malformed JSON, an endless line, a client gone mid-stream) beside well-behaved ones; the `hic
// ctl` client's exit codes; the metrics parsed by a Prometheus exposition parser and scraped by
// curl.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import parsePrometheus from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlServer } from '../system/control/server.ts';
import { MAX_LINE_BYTES } from '../system/control/protocol.ts';
import { LiveMachine } from '../system/live.ts';
import { SystemState } from '../system/state/system-state.ts';
import { MachineMetrics } from '../system/metrics.ts';
import type { RunResult, System } from '../system/run-image.ts';
import { REPO, stage } from './support/boot.ts';
import { ControlClient, mustMatch, validator } from './support/control-client.ts';

/** Every wait here is for an event; this only bounds a machine that is stuck (real time, on a shared host). */
const LIMIT = 600_000;
const run = promisify(execFile);
const hic = (...args: string[]) =>
  run(process.execPath, [join(REPO, 'bin', 'hic.mjs'), ...args], { cwd: REPO, encoding: 'utf8' }).then(
    (r) => ({ status: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ status: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

let system: System;
let live: LiveMachine;
let server: ControlServer;
let metricsUrl: string;
let closeHttp: () => void;
let running: Promise<RunResult>;
const path = join(mkdtempSync(join(tmpdir(), 'hic-control-')), 'hic.sock');

beforeAll(async () => {
  // With a data directory, as `hic boot` has: `status` says what the boot found there.
  system = await stage('netstack', { traffic: 'none', live: { realtime: true }, until: Infinity, state: SystemState.open(mkdtempSync(join(tmpdir(), 'hic-live-'))) });
  live = new LiveMachine(system);
  const metrics = new MachineMetrics(live);
  server = await ControlServer.listen({ path, live, metrics, version: '0.1.0' });
  const served = await metrics.serve('127.0.0.1', 0);
  metricsUrl = served.url;
  closeHttp = () => served.server.close();
  running = live.run();
}, LIMIT);

afterAll(async () => {
  if (live.phase !== 'ended') {
    system.pacer!.submit({ source: 'control', what: 'quit', data: '{}', apply: () => system.pacer!.quit() });
    await running;
  }
  await server.close();
  closeHttp();
  system.dispose();
}, LIMIT);

describe('the control socket', () => {
  it('greets with its version, capabilities and every command', async () => {
    const c = await ControlClient.open(path);
    const g = (await c.greeting()).HIC as { version: { protocol: { major: number; minor: number } }; image: string; capabilities: string[]; commands: { name: string }[] };
    expect(g.version.protocol).toEqual({ major: 1, minor: 1 });
    expect(g.image).toBe('netstack');
    expect(g.capabilities).toEqual(['events', 'realtime']);
    expect(g.commands.map((x) => x.name)).toEqual(['status', 'sandboxes', 'caps', 'events', 'stop', 'cont', 'metrics', 'update', 'configure', 'confirm', 'veto', 'silence', 'updates', 'quit', 'commands']);
    c.close();
  }, LIMIT);

  it('answers every query, each as its schema says', async () => {
    const c = await ControlClient.open(path);
    await c.greeting();
    const status = (await c.returns('status')) as { phase: string; realtime: boolean; nic: object };
    expect(status).toMatchObject({ image: 'netstack', phase: 'running', realtime: true, state: { boot: 'image', recovered: null, windowClosed: null, journal: 0 } });
    expect((status as unknown as { state: { versions: object } }).state.versions).toMatchObject({ netstack: '1.2.0', eth_driver: '1.1.0' });
    expect(status.nic).toBeDefined();
    const sandboxes = (await c.returns('sandboxes')) as { name: string; module: string; instructions: number }[];
    expect(sandboxes.map((s) => s.name)).toEqual(['driver', 'firewall', 'dns', 'web', 'netstack']);
    expect(sandboxes.find((s) => s.name === 'netstack')).toMatchObject({ module: 'netstack', version: '1.2.0' });
    const caps = (await c.returns('caps', { sandbox: 'driver' })) as { slot: number; type: string }[];
    expect(caps[0]).toMatchObject({ slot: 0, type: 'REGISTRY' });
    expect(caps.some((x) => x.type === 'IRQ' || x.type === 'MMIO')).toBe(true);
    const commands = (await c.returns('commands')) as { name: string; effect: string }[];
    expect(commands.filter((x) => x.effect === 'input').map((x) => x.name)).toEqual(['stop', 'cont', 'update', 'configure', 'confirm', 'veto', 'silence', 'quit']);
    const metrics = (await c.returns('metrics')) as { name: string }[];
    expect(metrics.map((m) => m.name)).toContain('hic_realtime_lag_seconds');
    c.close();
  }, LIMIT);

  it('refuses what is wrong with the exact error class, and the connection goes on', async () => {
    const c = await ControlClient.open(path);
    await c.greeting();
    const error = async (request: string) => {
      c.raw(request + '\n');
      const m = await c.take((x) => 'error' in x, `the error for ${request}`);
      return (m.error as { class: string }).class;
    };
    expect(await error('{"execute": "status"')).toBe('MalformedJson');
    expect(await error('[1, 2]')).toBe('InvalidRequest');
    expect(await error('{"arguments": {}}')).toBe('InvalidRequest');
    expect(await error('{"execute": "status", "extra": 1}')).toBe('InvalidRequest');
    expect(await error('{"execute": "status", "id": {}}')).toBe('InvalidRequest');
    expect(await error('{"execute": "reboot"}')).toBe('CommandNotFound');
    expect(await error('{"execute": "caps"}')).toBe('InvalidArgument');
    expect(await error('{"execute": "caps", "arguments": {"sandbox": "ghost"}}')).toBe('InvalidArgument');
    expect(await error('{"execute": "caps", "arguments": {"sandbox": 7}}')).toBe('InvalidArgument');
    expect(await error('{"execute": "status", "arguments": {"verbose": true}}')).toBe('InvalidArgument');
    expect(await error('{"execute": "status", "arguments": []}')).toBe('InvalidArgument');
    expect(await error('{"execute": "events", "arguments": {"kinds": ["nonsense"]}}')).toBe('InvalidArgument');
    const reply = await c.execute('caps', { sandbox: 'nobody' });
    expect(reply).toMatchObject({ id: expect.any(Number), error: { class: 'InvalidArgument' } });
    expect(await c.returns('status')).toMatchObject({ phase: 'running' });
    c.close();
  }, LIMIT);

  it('ends a connection whose line never ends, and serves the others meanwhile', async () => {
    const hostile = await ControlClient.open(path);
    const other = await ControlClient.open(path);
    await hostile.greeting();
    await other.greeting();
    const chunk = 'x'.repeat(16 * 1024);
    for (let sent = 0; sent <= MAX_LINE_BYTES; sent += chunk.length) hostile.raw(chunk);
    const m = await hostile.take((x) => 'error' in x, 'LineTooLong');
    expect(m.error).toMatchObject({ class: 'LineTooLong' });
    await hostile.take(() => false, 'the close').catch(() => {});
    expect(hostile.closed).toBe(true);
    expect(await other.returns('status')).toMatchObject({ phase: 'running' });
    other.close();
  }, LIMIT);

  it('two clients at once: events go to the one that subscribed; stop freezes virtual time, cont goes on', async () => {
    const watcher = await ControlClient.open(path);
    const operator = await ControlClient.open(path);
    await watcher.greeting();
    await operator.greeting();
    expect(await watcher.returns('events', { kinds: ['input', 'stopped', 'resumed'] })).toEqual({ subscribed: true, kinds: ['input', 'stopped', 'resumed'] });
    const stopped = (await operator.returns('stop')) as { virtual: number };
    const a = (await operator.returns('status')) as { phase: string; virtualNs: number };
    await new Promise((r) => setTimeout(r, 100));
    const b = (await operator.returns('status')) as { virtualNs: number };
    expect(a.phase).toBe('stopped');
    expect(b.virtualNs).toBe(a.virtualNs);
    expect(a.virtualNs).toBe(stopped.virtual);
    const input = await watcher.take((m) => m.event === 'input', 'the stop input');
    expect(input).toMatchObject({ data: { source: 'control', what: 'stop' }, timestamp: { virtual: stopped.virtual } });
    expect(await watcher.take((m) => m.event === 'stopped', 'stopped')).toMatchObject({ data: { virtual: stopped.virtual } });
    await operator.returns('cont');
    expect(await watcher.take((m) => m.event === 'resumed', 'resumed')).toBeDefined();
    expect(((await operator.returns('status')) as { phase: string }).phase).toBe('running');
    expect(operator.received.filter((m) => 'event' in m)).toEqual([]);
    watcher.close();
    operator.close();
  }, LIMIT);

  it('a client that goes away mid-stream, or mid-line, is forgotten; the machine and the others go on', async () => {
    const leaver = await ControlClient.open(path);
    const halfLine = await ControlClient.open(path);
    const stayer = await ControlClient.open(path);
    await Promise.all([leaver.greeting(), halfLine.greeting(), stayer.greeting()]);
    await leaver.returns('events', { kinds: ['input', 'stopped', 'resumed', 'console'] });
    halfLine.raw('{"execute": "sta');
    halfLine.close();
    for (let i = 0; i < 5; i++) {
      await stayer.returns('stop');
      if (i === 2) leaver.close(); // while events for it are on their way
      await stayer.returns('cont');
    }
    const before = ((await stayer.returns('status')) as { virtualNs: number }).virtualNs;
    await expect.poll(async () => ((await stayer.returns('status')) as { virtualNs: number }).virtualNs, { timeout: 300_000 }).toBeGreaterThan(before);
    await expect.poll(() => server.connections, { timeout: 60_000 }).toBe(1);
    stayer.close();
  }, LIMIT);

  it('hic ctl: each command prints its reply; a bad command, bad arguments or no listener is one line and exit 2', async () => {
    const [status, caps, events] = await Promise.all([
      hic('ctl', path, 'status', '--json'),
      hic('ctl', path, 'caps', 'netstack'),
      hic('ctl', path, 'events', 'console', 'sandbox=netstack', '--count', '2', '--json'),
    ]);
    expect(status.status).toBe(0);
    mustMatch(validator('returns/status'), JSON.parse(status.stdout));
    expect(caps.status).toBe(0);
    expect(caps.stdout).toMatch(/^slot\s+type\s+rights\s+badge/);
    expect(events.status).toBe(0);
    const lines = events.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    mustMatch(validator('returns/events'), lines[0]);
    expect(lines[0]).toEqual({ subscribed: true, kinds: ['console'], sandbox: 'netstack' });
    expect(lines.slice(1)).toMatchObject([{ event: 'console', data: { sandbox: 'netstack' } }, { event: 'console', data: { sandbox: 'netstack' } }]);
    const refusals = [
      [['reboot'], /^hic: no command "reboot"; the machine knows: status, sandboxes, caps, events, stop, cont, metrics, update, configure, confirm, veto, silence, updates, quit, commands \[CTL_UNKNOWN_COMMAND\]\n$/],
      [['caps'], /^hic: caps: missing <sandbox> \(the sandbox, by name\) \[CTL_BAD_ARGUMENT\]\n$/],
      [['caps', 'ghost'], /^hic: caps: no live sandbox named "ghost"; `sandboxes` lists them \[InvalidArgument\]\n$/],
      [['status', 'extra'], /^hic: status: unexpected "extra" \(it takes no arguments\) \[CTL_BAD_ARGUMENT\]\n$/],
    ] as const;
    const [nobody, ...refused] = await Promise.all([hic('ctl', join(tmpdir(), 'hic-no-such.sock'), 'status'), ...refusals.map(([args]) => hic('ctl', path, ...args))]);
    refused.forEach((r, i) => {
      expect(r.stderr).toMatch(refusals[i]![1]);
      expect(r.status).toBe(2);
    });
    expect(nobody.status).toBe(2);
    expect(nobody.stderr.trim().split('\n')).toHaveLength(1);
    expect(nobody.stderr).toMatch(/no such socket .*\[CTL_NO_SERVER\]/);
  }, LIMIT);
});

describe('/metrics', () => {
  it('is the Prometheus text format, with labelled series for sandboxes, NIC and lag', async () => {
    const res = await fetch(metricsUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheus(await res.text());
    const family = (name: string) => families.find((f) => f.name === name);
    for (const sandbox of ['driver', 'firewall', 'dns', 'web', 'netstack']) {
      for (const name of ['hic_sandbox_instructions_total', 'hic_sandbox_syscalls_total', 'hic_sandbox_faults_total', 'hic_sandbox_frames', 'hic_sandbox_cpu_share']) {
        expect(family(name)?.metrics.find((m) => m.labels?.sandbox === sandbox), `${name}{sandbox="${sandbox}"}`).toBeDefined();
      }
    }
    expect(family('hic_sandbox_instructions_total')!.type).toBe('COUNTER');
    const netstack = family('hic_sandbox_instructions_total')!.metrics.find((m) => m.labels?.sandbox === 'netstack')!;
    expect(netstack.labels).toEqual({ sandbox: 'netstack', module: 'netstack', version: '1.2.0' });
    expect(Number(netstack.value)).toBeGreaterThan(0);
    const share = family('hic_sandbox_cpu_share')!.metrics.reduce((sum, m) => sum + Number(m.value), 0);
    expect(share).toBeCloseTo(1, 6);
    expect(family('hic_nic_frames_total')!.metrics.map((m) => m.labels?.direction).sort()).toEqual(['rx', 'tx']);
    expect(family('hic_nic_rx_ring_descriptors')!.metrics.map((m) => m.labels?.state).sort()).toEqual(['free', 'occupied', 'size']);
    expect(family('hic_registry_alias_target')!.metrics.map((m) => m.labels?.alias)).toContain('cap://netstack/stats');
    expect(Number(family('hic_realtime_lag_seconds')!.metrics[0]!.value)).toBeGreaterThanOrEqual(0);
    expect((await fetch(metricsUrl.replace('/metrics', '/other'))).status).toBe(404);
  }, LIMIT);

  it('scrapes with curl', async () => {
    const { stdout } = await run('curl', ['-sS', '--fail', '--max-time', '30', metricsUrl], { encoding: 'utf8' });
    expect(stdout).toMatch(/^# HELP hic_virtual_time_seconds /m);
    expect(stdout).toMatch(/^hic_sandbox_syscalls_total\{sandbox="driver",module="eth_driver",version="1\.1\.0"\} \d+$/m);
  }, LIMIT);
});

describe("hic boot's live options", () => {
  it('a mistake in them is one line and exit 2, before anything boots', async () => {
    const cases = [
      [['--tap', 'hic9'], /^hic: --tap needs --realtime: Linux on the other side of the bridge lives in wall time \[HIC_USAGE\]\n$/],
      [['--netns', 'x'], /^hic: --netns names where the TAP device is: it needs --tap \[HIC_USAGE\]\n$/],
      [['--until', 'soon'], /^hic: --until: "soon" is not a duration like 500ms, 30s, 5min, 2h, or "never" \[HIC_USAGE\]\n$/],
      [['--metrics', 'localhost'], /^hic: --metrics: "localhost" is not HOST:PORT .* \[HIC_USAGE\]\n$/],
      [['--metrics', '127.0.0.1:70000'], /^hic: --metrics: "127\.0\.0\.1:70000" is not HOST:PORT .* \[HIC_USAGE\]\n$/],
      [['--control', path], /^hic: --control .*: another process is listening on it \[CONTROL_IN_USE\]\n$/],
    ] as const;
    // Each with a data directory of its own: a boot that got as far as the audit log would hold its lock.
    const data = mkdtempSync(join(tmpdir(), 'hic-live-mistakes-'));
    const results = await Promise.all(cases.map(([args], i) => hic('boot', 'images/hello.himg', '-q', ...args, '--data-dir', join(data, String(i)))));
    rmSync(data, { recursive: true, force: true });
    results.forEach((r, i) => {
      expect(r.stderr).toMatch(cases[i]![1]);
      expect(r.status).toBe(2);
    });
    expect(results[5]!.stdout).not.toMatch(/hello/); // refused before the machine ran
  }, LIMIT);
});

describe('quit', () => {
  it('ends the run at the next boundary; later inputs are refused as NotAvailable', async () => {
    const c = await ControlClient.open(path);
    await c.greeting();
    const q = (await c.returns('quit')) as { virtual: number };
    const result = await running;
    expect(result.halt).toBe('quit');
    expect(system.kernel.events.of('halt')).toMatchObject([{ reason: 'quit', t: q.virtual }]);
    server.machineEnded();
    expect(await c.execute('stop')).toMatchObject({ error: { class: 'NotAvailable' } });
    expect(await c.returns('status')).toMatchObject({ phase: 'ended' });
    c.close();
  }, LIMIT);
});
