// `update` over the control socket while the Module Manager is busy: images/rolling-update.himg
// in real time, without its image updates or traffic. A first request (the seed's policy, whose
// stability window is an hour) keeps the Module Manager in its update; the next eight wait in the
// operator's channel; the ninth, from a raw client and from `hic ctl`, is refused with QueueFull,
// and the event log holds an `updateRequested` for the accepted ones only.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
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

/** Every wait here is for an event; this only bounds a machine that is stuck (real time, on a shared host). */
const LIMIT = 600_000;
const run = promisify(execFile);
const path = join(mkdtempSync(join(tmpdir(), 'hic-update-queue-')), 'hic.sock');
const REFUSAL = "8 update requests are waiting for the Module Manager, the most the operator's channel holds (8); ask again once one is delivered";

const image = JSON.parse(readFileSync(join(REPO, 'images', 'rolling-update.himg'), 'utf8')) as Record<string, unknown>;
image.name = 'rolling-update-queue';
delete image.updates;
delete image.expect;

let system: System;
let live: LiveMachine;
let server: ControlServer;
let running: Promise<RunResult>;

beforeAll(async () => {
  system = await stage({ label: 'rolling-update (live, a full update queue)', image }, { traffic: 'none', live: { realtime: true }, until: Infinity });
  live = new LiveMachine(system);
  server = await ControlServer.listen({ path, live, metrics: new MachineMetrics(live), version: '0.1.0' });
  running = live.run();
}, LIMIT);

afterAll(async () => {
  if (live.phase !== 'ended') {
    system.pacer!.submit({ source: 'control', what: 'quit', data: '{}', apply: () => system.pacer!.quit() });
    await running;
  }
  await server?.close();
  system?.dispose();
}, LIMIT);

async function waitFor(done: () => boolean, label: string): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if (done()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`gave up waiting for ${label}`);
}

describe('hic ctl update while the Module Manager is busy', () => {
  it('queues eight requests, refuses the ninth with QueueFull, and records only the accepted ones', async () => {
    const c = await ControlClient.open(path);
    await c.greeting();
    expect(await c.returns('update', { service: 'netstack', to: '1.3.0' })).toMatchObject({ id: 1 });
    await waitFor(() => system.kernel.events.of('updateDelivered').some((e) => e.id === 1), 'the Module Manager to take update 1');

    const accepted = await Promise.all(Array.from({ length: 8 }, () => c.returns('update', { service: 'netstack', to: '1.3.0' })));
    expect(accepted.map((r) => (r as { id: number }).id)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    const refused = await c.execute('update', { service: 'netstack', to: '1.3.0' });
    expect(refused.error).toEqual({ class: 'QueueFull', desc: REFUSAL });

    const shell = await run(process.execPath, [join(REPO, 'bin', 'hic.mjs'), 'ctl', path, 'update', 'netstack', '1.3.0'], { cwd: REPO, encoding: 'utf8' }).catch((e: { code: number; stderr: string }) => e);
    expect(shell).toMatchObject({ code: 2, stderr: `hic: update: ${REFUSAL} [QueueFull]\n` });

    // Still busy with update 1, and nothing delivered since: the eight counted were all waiting.
    const updates = (await c.returns('updates')) as { id: number; outcome: string }[];
    expect(updates.map((u) => [u.id, u.outcome])).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map((id) => [id, 'running']));
    expect(system.kernel.events.of('updateDelivered').map((e) => e.id)).toEqual([1]);
    await c.returns('quit');
    c.close();
    await running;

    expect(system.kernel.events.of('updateRequested').map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(system.kernel.events.of('updateDelivered').map((e) => e.id)).toEqual([1]);
    // The refused requests entered as inputs, so a replay refuses them at the same instants.
    expect(system.kernel.events.of('input').filter((e) => e.what === 'update')).toHaveLength(11);
    expect(system.operator.pending).toBe(8);
  }, LIMIT);
});
