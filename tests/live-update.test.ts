// `hic ctl update` on a running real-time machine: images/rolling-update.himg without its image
// updates, 200 connections, a control socket. An operator asks for netstack 1.3.0 over the
// socket once traffic flows; the request enters as an input, the Module Manager carries it out
// while the clients keep talking, and `updates` (the query, and `hic ctl … updates` from a shell)
// follows it to the end. Then the operator's messages to the Monitor (confirm, veto, silence) and
// their refusals, and a subscription narrowed to the Monitor's records. Every reply is checked
// against docs/control-protocol.schema.json.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlServer } from '../system/control/server.ts';
import { LiveMachine } from '../system/live.ts';
import { MachineMetrics } from '../system/metrics.ts';
import type { RunResult, System } from '../system/run-image.ts';
import { REPO, stage } from './support/boot.ts';
import { ControlClient } from './support/control-client.ts';
import { recordsOf } from './support/kernel.ts';

const LIMIT = 600_000;
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'hic-live-update-'));
const path = join(dir, 'hic.sock');

let system: System;
let live: LiveMachine;
let server: ControlServer;
let running: Promise<RunResult>;
let result: RunResult;

const image = JSON.parse(readFileSync(join(REPO, 'images', 'rolling-update.himg'), 'utf8')) as {
  name: string; updates?: { policy: object }[]; expect?: object; traffic: { connections: number; clients: number };
  sandboxes: { name: string; config?: Record<string, unknown> }[];
};
// A short rollback window: the operator's confirm below must find the completed update no longer
// watched, and in real time a window of 1 s would still be open then or not, by the wall clock.
const policy = { ...image.updates![0]!.policy, rollbackWindow: '10ms' };
image.name = 'rolling-update-live';
delete image.updates;
delete image.expect;
image.traffic.connections = 200;
image.traffic.clients = 20;
// This test is about the control plane (update, silence, confirm on a live machine), not about
// detection, which the deterministic images test. In real time the update lands at a different
// virtual time each run; with the seed's windows unscaled (time_scale 1: "performance down for
// 15 minutes") no windowed rule can hold within the run, so the outcome does not hang on where
// the healthy new version's service time falls against its threshold.
const monitor = image.sandboxes.find((s) => s.name === 'monitor')!;
monitor.config = { ...monitor.config, time_scale: 1 };

beforeAll(async () => {
  // Real time: the machine must outlive the tests that talk to it (the update ends near 1 s of
  // virtual time; the Monitor's commands come a few wall seconds later), so 8 s, not the image's 3.
  system = await stage({ label: 'rolling-update (live, 200 connections)', image }, { live: { realtime: true }, until: 8e9 });
  live = new LiveMachine(system);
  server = await ControlServer.listen({ path, live, metrics: new MachineMetrics(live), version: '0.1.0' });
  running = live.run();
}, LIMIT);

afterAll(async () => {
  await server?.close();
  system?.dispose();
}, LIMIT);

async function waitFor<T>(what: () => Promise<T | undefined>, label: string): Promise<T> {
  for (let i = 0; i < 3000; i++) {
    const v = await what();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`gave up waiting for ${label}`);
}

describe('hic ctl update on a running real-time machine', () => {
  it('takes the request as an input, and the Module Manager completes it under traffic', async () => {
    const c = await ControlClient.open(path);
    await c.greeting();
    await waitFor(async () => ((await c.returns('status')) as { virtualNs: number }).virtualNs > 500e6 || undefined, 'traffic to flow');
    const bad = await c.execute('update', { service: 'netstack', to: '1.3.0', policy: { batch: 0 } });
    expect(bad.error).toMatchObject({ class: 'InvalidArgument' });
    expect(String((bad.error as { desc: string }).desc)).toContain('arguments.policy.batch');
    const reply = (await c.returns('update', { service: 'netstack', to: '1.3.0', policy })) as { virtual: number; id: number };
    expect(reply.id).toBe(1);
    const done = await waitFor(async () => {
      const all = (await c.returns('updates')) as { outcome: string }[];
      return all[0] && all[0].outcome !== 'running' ? all[0] : undefined;
    }, 'the update to end');
    expect(done).toMatchObject({ id: 1, service: 'netstack', from: '1.2.0', to: '1.3.0', outcome: 'completed', reason: '' });
    c.close();
  }, LIMIT);

  it('shows it to `hic ctl … updates`, and `--policy FILE` is read by the client', async () => {
    const shown = await run(process.execPath, [join(REPO, 'bin', 'hic.mjs'), 'ctl', path, 'updates'], { cwd: REPO, encoding: 'utf8' });
    expect(shown.stdout).toMatch(/^id\s+service\s+from\s+to\s+outcome/m);
    expect(shown.stdout).toMatch(/^1\s+netstack\s+1\.2\.0\s+1\.3\.0\s+completed/m);
    const file = join(dir, 'policy.json');
    writeFileSync(file, JSON.stringify({ ...policy, batch: 5000 }));
    const refused = await run(process.execPath, [join(REPO, 'bin', 'hic.mjs'), 'ctl', path, 'update', 'netstack', '1.3.0', '--policy', file], { cwd: REPO, encoding: 'utf8' }).catch((e: { code: number; stderr: string }) => e);
    expect(refused).toMatchObject({ code: 2 });
    expect((refused as { stderr: string }).stderr).toContain('arguments.policy.batch: expected an integer in [1, 1000], got 5000');
  }, LIMIT);

  it('takes a configuration change from `hic ctl … configure`, which this image\'s Module Manager refuses: it holds no admin channel to the firewall', async () => {
    const c = await ControlClient.open(path);
    await c.greeting();
    const bad = await c.execute('configure', { service: 'firewall', rules: ['allow tcp 80', 'permit tcp 81'] });
    expect(bad.error).toMatchObject({ class: 'InvalidArgument' });
    expect(String((bad.error as { desc: string }).desc)).toContain('arguments.rules[1]: "permit tcp 81" is not a rule');
    const shell = await run(process.execPath, [join(REPO, 'bin', 'hic.mjs'), 'ctl', path, 'configure', 'firewall', 'allow tcp 80', 'deny tcp 0-65535', '--json'], { cwd: REPO, encoding: 'utf8' });
    expect(JSON.parse(shell.stdout)).toMatchObject({ id: 2 });
    const done = await waitFor(async () => {
      const all = (await c.returns('updates')) as { outcome: string }[];
      return all[1] && all[1].outcome !== 'running' ? all[1] : undefined;
    }, 'the configuration request to end');
    expect(done).toMatchObject({ id: 2, service: 'firewall', outcome: 'refused', reason: 'refused: not_configurable (error 8)' });
    expect(system.kernel.events.of('updateRequested').at(-1)).toMatchObject({ service: 'firewall', to: '', rules: ['allow tcp 80', 'deny tcp 0-65535'] });
    c.close();
  }, LIMIT);

  it('passes the operator\'s confirm, veto and silence to the Monitor, refusing bad arguments; a records filter streams only those records', async () => {
    const watcher = await ControlClient.open(path);
    await watcher.greeting();
    expect(await watcher.returns('events', { records: ['monitor.silence', 'monitor.confirmation'] })).toEqual({ subscribed: true, kinds: ['record'], records: ['monitor.silence', 'monitor.confirmation'] });
    const c = await ControlClient.open(path);
    await c.greeting();
    const refusals: [string, Record<string, unknown>, string][] = [
      ['silence', { duration: 'forever' }, 'silence: "forever" is not a duration of virtual time from 1ns to 24h (30s, 5min, 1h), nor off'],
      ['silence', { duration: '0s' }, 'silence: "0s" is not a duration of virtual time from 1ns to 24h (30s, 5min, 1h), nor off'],
      ['silence', { duration: '25h' }, 'silence: "25h" is not a duration of virtual time from 1ns to 24h (30s, 5min, 1h), nor off'],
      ['confirm', { id: 99 }, 'no update 99 has been requested; `updates` lists them'],
      ['veto', { id: 0 }, 'no update 0 has been requested; `updates` lists them'],
      ['confirm', {}, 'confirm: missing argument "id" (the update (`updates` lists them))'],
      ['events', { records: ['alert'] }, 'events: records: "alert" is not module.type (e.g. monitor.alert)'],
      ['events', { kinds: ['console'], records: ['monitor.alert'] }, 'events: records narrows the record events, but kinds leaves record out'],
    ];
    for (const [command, args, desc] of refusals) expect(await c.execute(command, args)).toMatchObject({ error: { class: 'InvalidArgument', desc } });
    const silenced = (await c.returns('silence', { duration: '2s' })) as { virtual: number; from: number; until: number };
    expect(silenced).toEqual({ virtual: silenced.virtual, from: silenced.virtual, until: silenced.virtual + 2e9 });
    expect(((await c.returns('silence', { duration: 'off' })) as { until: number }).until).toBe(0);
    // Update 1 has completed and its rollback window has closed: the Monitor watches it no more.
    await waitFor(async () => recordsOf(system.kernel, 'module-manager', 'window').find((w) => w.state === 'expired'), 'the rollback window to close');
    await c.returns('confirm', { id: 1 });
    const records = [];
    for (let i = 0; i < 3; i++) records.push((await watcher.take((m) => m.event === 'record', 'a Monitor record')).data as { type: string; fields: Record<string, unknown> });
    expect(records.map((r) => [r.type, r.fields.result])).toEqual([['silence', 'set'], ['silence', 'lifted'], ['confirmation', 'not_watched']]);
    expect(records[0]!.fields).toMatchObject({ from: silenced.from, until: silenced.until });
    expect(system.kernel.events.of('operatorMessage').map((e) => e.what)).toEqual(['silence', 'silence', 'confirm']);
    // From a shell: `hic ctl PATH silence 5min`.
    const shown = await run(process.execPath, [join(REPO, 'bin', 'hic.mjs'), 'ctl', path, 'silence', '5min', '--json'], { cwd: REPO, encoding: 'utf8' });
    const r = JSON.parse(shown.stdout) as { from: number; until: number };
    expect(r.until - r.from).toBe(300e9);
    c.close();
    watcher.close();
  }, LIMIT);

  it('loses nothing on the wire, and the event log holds the request as an input', async () => {
    result = await running; // to the image's end, when every client has finished
    const s = system.traffic!.generator.summary();
    expect({ closed: s.closed, failed: s.failed, lost: s.lost, duplicated: s.duplicated, reordered: s.reordered }).toEqual({ closed: 200, failed: 0, lost: 0, duplicated: 0, reordered: 0 });
    expect(system.kernel.events.of('input').filter((e) => e.what === 'update')).toHaveLength(1);
    expect(system.kernel.events.of('input').filter((e) => e.what === 'configure')).toHaveLength(1);
    expect(system.kernel.events.of('updateRequested')).toHaveLength(2);
    expect(recordsOf(system.kernel, 'module-manager', 'end')[0]).toMatchObject({ outcome: 'completed', ok: true });
    expect(result.halt).toBe('timeLimit');
  }, LIMIT);
});
