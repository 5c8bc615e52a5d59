// Update requests the Module Manager refuses (images/update-refusals.himg, and variants of it):
// each ends in a `refused` record with its reason before anything changes -- no sandbox, no
// reservation, no frame taken, netstack 1.2.0 serving on. Requests the operator's channel itself
// refuses (a malformed policy, more updates than it holds) never reach the machine; one that
// reaches the Module Manager malformed (a raw message of the wrong size) is refused there too.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HostClient } from '../core0/host-client.ts';
import { ManifestError, parseManifest } from '../system/manifest.ts';
import { encodeRequest, MAX_PENDING_UPDATES, MM_REQUEST_UPDATE } from '../system/update/request.ts';
import { REPO, stage, type Booted } from './support/boot.ts';
import { recordsOf } from './support/kernel.ts';

const IMAGE = JSON.parse(readFileSync(join(REPO, 'images', 'update-refusals.himg'), 'utf8')) as Record<string, unknown> & {
  machine: { memory: string };
  sandboxes: { name: string; version: string }[];
  updates: unknown[];
  expect: { updates: string[] };
};

type Snapshot = { frames: number; sandboxes: string[] };

const runs: Booted[] = [];
afterAll(() => runs.forEach((r) => r.machine.dispose()));

/**
 * Boots an image, noting the machine's frames and sandboxes at two instants: after the first
 * request reached the Module Manager (the operator's channel has its host sandbox by then, and
 * netstack has set up its tables, which it does in its first 25 ms) and after the last was
 * refused. Equal: the refusals changed nothing.
 */
async function bootWatched(image: object, label: string, firstNs: number, lastNs: number): Promise<{ run: Booted; before: Snapshot; after: Snapshot }> {
  const system = await stage({ label, image });
  let before: Snapshot | undefined, after: Snapshot | undefined;
  const look = (): Snapshot => ({ frames: system.machine.frames.accounting().allocated, sandboxes: system.kernel.liveSandboxes.map((s) => s.name) });
  system.kernel.at(firstNs, () => (before = look()));
  system.kernel.at(lastNs, () => (after = look()));
  const result = await system.run();
  const run = { ...result, system, kernel: system.kernel, machine: system.machine };
  runs.push(run);
  return { run, before: before!, after: after! };
}

describe('update requests the Module Manager refuses, each with nothing changed', () => {
  it('refuses an unknown service, an unknown version, the running version, and an unmet dependency', async () => {
    const { run, before, after } = await bootWatched(IMAGE, "images/update-refusals.himg", 45e6, 95e6);
    expect(run.deviations).toEqual([]);
    expect(run.system.updates.outcomes()).toEqual(['refused:unknown_service', 'refused:no_such_version', 'refused:same_version', 'refused:dependency_unmet']);
    expect(recordsOf(run.kernel, 'module-manager', 'refused').map((r) => [r.reason, r.code])).toEqual([
      ['unknown_service', 7], ['no_such_version', 7], ['same_version', 0], ['dependency_unmet', 0],
    ]);
    expect(after).toEqual(before);
    expect(run.kernel.events.of('reserved' as never)).toEqual([]);
    expect(run.kernel.events.of('moduleSpawned' as never)).toEqual([]);
    expect(recordsOf(run.kernel, 'module-manager', 'begin')).toEqual([]);
  });

  it('refuses an update it cannot reserve for, and gives back what it had reserved', async () => {
    const image = structuredClone(IMAGE);
    image.name = 'update-refusals (40 MiB, eth_driver 1.2.0)';
    image.machine.memory = '40MiB';
    image.sandboxes[0]!.version = '1.2.0';
    image.updates = [{ at: '40ms', service: 'nosuch', to: '1.0.0' }, { at: '50ms', service: 'netstack', to: '1.3.0' }];
    image.expect = { updates: ['refused:unknown_service', 'refused:cannot_reserve'] };
    const { run, before, after } = await bootWatched(image, "update-refusals, no room", 45e6, 95e6);
    expect(run.deviations).toEqual([]);
    expect(recordsOf(run.kernel, 'module-manager', 'refused')[1]).toMatchObject({ reason: 'cannot_reserve', code: 4 }); // NO_MEMORY
    const reserved = run.kernel.events.of('reserved' as never) as unknown as { bytes: number }[];
    const released = run.kernel.events.of('reservationReleased' as never) as unknown as { bytes: number }[];
    expect(released.map((r) => r.bytes)).toEqual(reserved.map((r) => r.bytes));
    expect(after).toEqual(before);
  });

  it('refuses an update a service it must notify is not ready for, and tells those it told that it is off (seed 步骤1.4)', async () => {
    // web_server's place taken by a host sandbox whose endpoint takes no call: the notice goes unanswered.
    const image = structuredClone(IMAGE);
    image.name = 'update-refusals (a dependent that does not answer)';
    image.sandboxes = image.sandboxes.filter((s) => s.name !== 'web');
    image.sandboxes[0]!.version = '1.2.0';
    // The first request brings the operator's channel up, so the machine is looked at between the two.
    image.updates = [{ at: '40ms', service: 'nosuch', to: '1.0.0' }, { at: '50ms', service: 'netstack', to: '1.3.0', policy: { phaseTimeout: '5ms' } }];
    image.expect = { updates: ['refused:unknown_service', 'refused:dependent_not_ready'] };
    const system = await stage({ label: 'update-refusals, deaf dependent', image });
    let before: Snapshot | undefined, after: Snapshot | undefined;
    const look = (): Snapshot => ({ frames: system.machine.frames.accounting().allocated, sandboxes: system.kernel.liveSandboxes.map((s) => s.name) });
    system.kernel.at(10e6, () => {
      const deaf = HostClient.attach(system.kernel, 'deaf'); // registry R|W by default
      deaf.register('cap://web/v9.0.0/http', deaf.syscall('endpoint_create'));
    });
    system.kernel.at(45e6, () => (before = look()));
    system.kernel.at(95e6, () => (after = look()));
    const result = await system.run();
    runs.push({ ...result, system, kernel: system.kernel, machine: system.machine });
    expect(result.deviations).toEqual([]);
    expect(recordsOf(system.kernel, 'module-manager', 'notified').map((r) => `${r.event} ${r.service} ${r.answer}`)).toEqual([
      'begins web_server no_answer', 'begins dns_resolver ready', 'begins firewall ready_refresh',
      'failed web_server no_answer', 'failed dns_resolver ready', 'failed firewall ready_refresh',
    ]);
    expect(recordsOf(system.kernel, 'module-manager', 'refused').map((r) => r.reason)).toEqual(['unknown_service', 'dependent_not_ready']);
    expect(after).toEqual(before); // the reservations went back; no sandbox was made
    const reserved = system.kernel.events.of('reserved' as never) as unknown as { bytes: number }[];
    const released = system.kernel.events.of('reservationReleased' as never) as unknown as { bytes: number }[];
    expect(reserved).toHaveLength(2);
    expect(released.map((r) => r.bytes)).toEqual(reserved.map((r) => r.bytes));
    expect(system.kernel.events.of('moduleSpawned' as never)).toEqual([]);
  });

  it('a hostile caller\'s notices (hic/notice.h) are refused unless well formed, and put nothing of theirs in the log', async () => {
    const image = structuredClone(IMAGE);
    image.updates = [];
    image.expect = { updates: [] };
    const system = await stage({ label: 'update-refusals, hostile notices', image });
    const text = (s: string) => new TextEncoder().encode(s);
    const notices = [
      { words: [9n, 0n, 0n, 0n], payload: text('netstack') }, // no such event
      { words: [1n, 0n, 0n, 0n], payload: new Uint8Array(200).fill(97) }, // a name too long
      { words: [1n, 0n, 0n, 0n] }, // no name
      { words: [1n, 1n, 2n, 0n], payload: text('netstack\n\x1b[2Jforged line') }, // not a module name
      { words: [2n, 0x10200n, 0x10300n, 0n], payload: text('netstack') }, // well formed
    ];
    let h: HostClient | undefined;
    let ep = 0;
    system.kernel.at(19e6, () => ((h = HostClient.attach(system.kernel, 'hostile')), (ep = h.lookup('cap://firewall/rules'))));
    notices.forEach((n, i) => system.kernel.at(20e6 + i * 1e6, () => h!.sendNow(ep, { label: 0x4e54n, ...n }))); // NOTICE_UPDATE
    const result = await system.run();
    runs.push({ ...result, system, kernel: system.kernel, machine: system.machine });
    expect(result.deviations).toEqual([]);
    const lines = system.kernel.events.of('console').filter((e) => e.sandbox === 'firewall').map((e) => e.text);
    expect(lines.filter((l) => l.includes('notice'))).toEqual(['firewall: notice: the update of netstack 1.2.0 to 1.3.0 completed; answered 3']);
    expect(lines.filter((l) => l.includes('forged') || l.includes('\x1b'))).toEqual([]);
  });

  it('refuses a request that reaches it malformed (a payload of the wrong size)', async () => {
    const image = structuredClone(IMAGE);
    image.updates = [];
    image.expect = { updates: [] };
      const system = await stage({ label: 'update-refusals, raw', image });
    system.kernel.at(10e6, () => {
      const h = HostClient.attach(system.kernel, 'tester');
      const ep = h.lookup('cap://module_manager/requests');
      h.sendNow(ep, { label: MM_REQUEST_UPDATE, payload: encodeRequest(77, { service: 'netstack', to: '1.3.0', allowDowngrade: false, policy: {} }).subarray(0, 100) });
    });
    const result = await system.run();
    runs.push({ ...result, system, kernel: system.kernel, machine: system.machine });
    expect(recordsOf(system.kernel, 'module-manager', 'refused').map((r) => r.reason)).toEqual(['bad_policy']);
    expect(system.kernel.liveSandboxes.length).toBe(0); // shut down at the end; nothing was added meanwhile
    expect(system.kernel.events.of('moduleSpawned' as never)).toEqual([]);
  });
});

describe('policies the operator\'s channel refuses before the machine sees them', () => {
  const withPolicy = (policy: unknown) => {
    const image = structuredClone(IMAGE);
    image.updates = [{ at: '10ms', service: 'netstack', to: '1.3.0', policy }];
    return () => parseManifest('p.himg', JSON.stringify(image));
  };
  it.each([
    [{ stages: [0.3, 0.6, 0.9] }, 'updates[0].policy.stages', 'expected a list of 4 values'],
    [{ stages: [0.5, 0.4, 0.9, 1] }, 'updates[0].policy.stages', 'must not fall'],
    [{ stages: [0.3, 0.6, 0.9, 0.95] }, 'updates[0].policy.stages', 'its fraction is 1'],
    [{ rateLimit: 0 }, 'updates[0].policy.rateLimit', 'expected an integer in [1, 1000000]'],
    [{ batch: 5000 }, 'updates[0].policy.batch', 'expected an integer in [1, 1000]'],
    [{ zeroDowntime: false }, 'updates[0].policy.zeroDowntime', 'only true is offered'],
    [{ stability: '0ms' }, 'updates[0].policy.stability', 'longer than 0'],
    [{ idle: '2min' }, 'updates[0].policy.idle', 'between 1ms and 60s'],
    [{ rollback: '1h' }, 'updates[0].policy.rollback', 'unknown field'],
  ])('%j is refused at %s', (policy, field, words) => {
    let e: unknown;
    try {
      withPolicy(policy)();
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(ManifestError);
    expect((e as ManifestError).field).toBe(field);
    expect((e as ManifestError).message).toContain(words);
  });

  it('refuses an update at or after the run ends, out of time order, or without a Module Manager', () => {
    const image = structuredClone(IMAGE);
    image.updates = [{ at: '20ms', service: 'netstack', to: '1.3.0' }, { at: '10ms', service: 'netstack', to: '1.3.0' }];
    expect(() => parseManifest('p.himg', JSON.stringify(image))).toThrow(/updates\[1\]\.at: updates are listed in time order/);
    image.updates = [{ at: '100ms', service: 'netstack', to: '1.3.0' }];
    expect(() => parseManifest('p.himg', JSON.stringify(image))).toThrow(/updates\[0\]\.at: at or after run\.until/);
    image.updates = [{ at: '10ms', service: 'netstack', to: '1.3' }];
    expect(() => parseManifest('p.himg', JSON.stringify(image))).toThrow(/updates\[0\]\.to: "1\.3" is not an exact version/);
    const noManager = structuredClone(IMAGE);
    noManager.sandboxes = noManager.sandboxes.filter((s) => s.name !== 'module-manager');
    expect(() => parseManifest('p.himg', JSON.stringify(noManager))).toThrow(/updates: no sandbox runs module_manager/);
  });

  it("refuses more updates than the operator's channel holds, and takes as many", () => {
    const image = structuredClone(IMAGE);
    const list = (n: number) => Array.from({ length: n }, (_, i) => ({ at: `${10 + i}ms`, service: 'netstack', to: '1.3.0' }));
    image.updates = list(MAX_PENDING_UPDATES + 1);
    let e: unknown;
    try {
      parseManifest('p.himg', JSON.stringify(image));
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(ManifestError);
    expect((e as ManifestError).field).toBe('updates');
    expect((e as ManifestError).message).toBe("p.himg: updates: 9 update requests; the operator's channel holds at most 8");
    image.updates = list(MAX_PENDING_UPDATES);
    expect(parseManifest('p.himg', JSON.stringify(image)).updates).toHaveLength(8);
  });
});
