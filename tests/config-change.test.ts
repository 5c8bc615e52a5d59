// Configuration changes (seed §4.4.2) other than the bad one of rollback-config.test.ts: a healthy
// table put in force and kept, with no alarm; requests the Module Manager refuses (a service whose
// configuration it cannot change, an image that granted it no admin channel); a table the firewall
// refuses, which changes nothing; and the mistakes the operator's channel refuses before the
// machine sees them.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HostClient } from '../core0/host-client.ts';
import { ManifestError, parseManifest, Reader } from '../system/manifest.ts';
import { encodeRequest, MM_REQUEST_CONFIGURE, readRules, REQUEST_BYTES } from '../system/update/request.ts';
import { REPO, stage, type Booted } from './support/boot.ts';
import { recordsOf } from './support/kernel.ts';

type Image = Record<string, unknown> & { run: { until: string }; updates: Record<string, unknown>[]; expect: { updates: string[] } };
const load = (name: string) => JSON.parse(readFileSync(join(REPO, 'images', `${name}.himg`), 'utf8')) as Image;

const runs: Booted[] = [];
afterAll(() => runs.forEach((r) => r.machine.dispose()));

async function boot(image: Image, label: string, before?: (system: Awaited<ReturnType<typeof stage>>) => void): Promise<Booted> {
  const system = await stage({ label, image });
  before?.(system);
  const result = await system.run();
  const run = { ...result, system, kernel: system.kernel, machine: system.machine };
  runs.push(run);
  return run;
}

// The built-in table with one more service allowed: nothing that worked stops working.
const HEALTHY = ['allow tcp 80', 'allow tcp 5432', 'allow tcp 1194', 'allow tcp 8080', 'allow tcp 9000', 'allow udp 53', 'allow icmp 8', 'deny tcp 0-65535', 'deny udp 0-65535'];

describe('configuration changes on a serving machine', () => {
  it('keeps a healthy table after its stability window, raises no alarm, and refuses what it cannot do', async () => {
    const image = load('regression-config');
    const policy = image.updates[0]!.policy;
    image.updates = [
      { at: '300ms', service: 'netstack', rules: HEALTHY, policy }, // not a configuration the Module Manager changes
      { at: '450ms', service: 'firewall', rules: HEALTHY, policy },
    ];
    image.expect = { updates: ['refused:not_configurable', 'completed'] };
    image.run = { until: '1.4s' };
    image.traffic = { ...(image.traffic as object), connections: 300, duration: '1s' };
    // A table the firewall must refuse (protocol 2 is none it judges), sent raw: the host's own
    // encoder never writes one.
    const raw = encodeRequest(77, { service: 'firewall', to: '', allowDowngrade: false, rules: readRules(new Reader('test'), HEALTHY, 'rules'), policy: {} });
    raw[REQUEST_BYTES + 8 + 4] = 2;
    const run = await boot(image, 'config-change', (system) =>
      system.kernel.at(1.1e9, () => {
        const h = HostClient.attach(system.kernel, 'tester');
        h.sendNow(h.lookup('cap://module_manager/requests'), { label: MM_REQUEST_CONFIGURE, payload: raw });
      }),
    );
    expect(run.deviations).toEqual([]);
    const mm = (type: string) => recordsOf(run.kernel, 'module-manager', type);
    expect(mm('refused').map((r) => [r.id, r.reason])).toEqual([[1, 'not_configurable']]);

    // The healthy change: version 2 in force, enforced, watched through its window without an alert.
    const account = run.system.updates.account(2)!;
    expect(account.end).toMatchObject({ outcome: 'completed', ok: true });
    expect(account.monitor.alerts).toEqual([]);
    expect(account.rollback).toBeUndefined();
    expect(mm('config').map((r) => [r.id, r.state, r.version, r.added, r.removed])).toEqual([[2, 'applied', 2, 1, 1]]); // allow tcp 9000 in, the explicit telnet denial out
    const enforced = recordsOf(run.kernel, 'netstack', 'rules').map((r) => r.version);
    expect(enforced).toEqual([1, 2]);

    // The raw table: refused by the firewall, the table in force untouched, the update failed there.
    expect(mm('step').filter((r) => r.id === 77).map((r) => [r.step, r.state])).toEqual([
      ['request', 'begin'], ['request', 'ok'], ['config_apply', 'begin'], ['config_apply', 'failed'],
    ]);
    expect(mm('end').filter((r) => r.id === 77).map((r) => [r.outcome, r.failed_step])).toEqual([['failed', 'config_apply']]);
    expect(recordsOf(run.kernel, 'firewall', 'version').map((r) => r.version)).toEqual([1, 2]);
    expect(recordsOf(run.kernel, 'netstack', 'rules').at(-1)).toMatchObject({ version: 2 });
    // Nothing about the code changed.
    expect(run.kernel.events.of('sandboxDestroyed').filter((e) => e.reason !== 'shutdown')).toEqual([]);
  }, 600_000);

  it('refuses a configuration change where the image granted it no admin channel to the firewall', async () => {
    const image = load('update-refusals');
    image.updates = [{ at: '20ms', service: 'firewall', rules: HEALTHY }];
    image.expect = { updates: ['refused:not_configurable'] };
    const run = await boot(image, 'config-change, no channel');
    expect(run.deviations).toEqual([]);
    expect(recordsOf(run.kernel, 'module-manager', 'refused')).toMatchObject([{ reason: 'not_configurable', code: 8 }]); // HIC_ERR_BAD_SLOT
    expect(recordsOf(run.kernel, 'firewall', 'version').map((r) => r.version)).toEqual([1]);
  }, 600_000);
});

describe('configuration requests the operator\'s channel refuses', () => {
  const withUpdate = (update: Record<string, unknown>) => () => {
    const image = load('regression-config');
    image.updates = [{ at: '10ms', ...update }];
    return parseManifest('c.himg', JSON.stringify(image));
  };
  const many = Array.from({ length: 33 }, () => 'deny udp 1');
  it.each([
    [{ service: 'firewall', to: '1.0.0', rules: HEALTHY }, 'updates[0].to', 'keeps the version'],
    [{ service: 'firewall', rules: HEALTHY, allowDowngrade: true }, 'updates[0].allowDowngrade', 'only for an update'],
    [{ service: 'firewall', rules: 'allow tcp 80' }, 'updates[0].rules', 'expected a list of rules'],
    [{ service: 'firewall', rules: ['allow tcp'] }, 'updates[0].rules[0]', 'is not a rule'],
    [{ service: 'firewall', rules: ['permit tcp 80'] }, 'updates[0].rules[0]', 'is not a rule'],
    [{ service: 'firewall', rules: ['allow tcp 70000'] }, 'updates[0].rules[0]', 'a port is at most 65535'],
    [{ service: 'firewall', rules: ['allow icmp 300'] }, 'updates[0].rules[0]', 'an ICMP type is at most 255'],
    [{ service: 'firewall', rules: ['deny udp 90-80'] }, 'updates[0].rules[0]', 'ends before it begins'],
    [{ service: 'firewall', rules: many }, 'updates[0].rules', 'at most 32'],
  ])('%j is refused at %s', (update, field, words) => {
    let e: unknown;
    try {
      withUpdate(update)();
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(ManifestError);
    expect((e as Error).message).toContain(`${field}:`);
    expect((e as Error).message).toContain(words);
  });
});
