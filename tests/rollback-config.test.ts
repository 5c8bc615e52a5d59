// A bad configuration, rolled back alone (images/regression-config.himg, seed §4.4.2): at 450 ms the
// operator asks for a firewall table that denies TCP port 80. The firewall puts it in force as
// configuration version 2 and netstack 1.2.0 enforces it; the Monitor, watching the running
// instance for a configuration change, finds port 80 refusing its probe (§4.2 "a critical function
// fails completely"), classifies the cause as configuration (the code did not change) and asks for
// a configuration rollback. Version 1 is put back in force; the code, the sandboxes and every
// connection stay as they were.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpdateAccount } from '../system/update/outcome.ts';
import { reportOf } from '../system/update/report.ts';
import { renderHtml } from '../system/report/render-html.ts';
import { validateReport } from '../system/report/validate.ts';
import type { TrafficSummary } from '../traffic/summary.ts';
import { bootUpdate, type Booted } from './support/boot.ts';
import { expectEveryByte } from './support/rollback.ts';

const PROBE_HTTP = 1; // hic/netstack_probe.h: NS_PROBE_HTTP

let run: Booted, summary: TrafficSummary, account: UpdateAccount;
beforeAll(async () => void ({ run, summary, account } = await bootUpdate('regression-config')), 600_000);
afterAll(() => run?.machine.dispose());

const records = (module: string, type: string) => run.kernel.events.of('record').filter((e) => e.module === module && e.type === type);

describe('a firewall table that blocks port 80, rolled back as configuration', () => {
  it('ends rolled back on the "critical_function" rule, narrowed to a configuration rollback', () => {
    expect(run.deviations).toEqual([]);
    expect(run.system.updates.outcomes()).toEqual(['rolled_back:critical_function']);
    expect(account.monitor.verdict).toMatchObject({ action: 'config_rollback', rule: 'critical_function', level: 1, score: 950 });
    expect(account.monitor.cause).toMatchObject({ cause: 'configuration' });
    expect(account.rollback).toMatchObject({ kind: 'config', asked: 'config_rollback', moved_back: 0, abandoned: 0, marked_bad: false, ok: true });
    expect(account.end).toMatchObject({ outcome: 'rolled_back', failed_step: 'stability', ok: true });
  });

  it('watches the running instance for a configuration change, from the functions it passed under the old table', () => {
    const watch = records('monitor', 'watch');
    expect(watch.map((e) => e.fields)).toEqual([{ id: 1, from: 0x010200, to: 0x010200, config: true }]);
    expect(Number(account.monitor.baseline!.functions)).toBe(3);
    const applied = records('module_manager', 'config').find((e) => e.fields.state === 'applied')!;
    expect(watch[0]!.t).toBeLessThan(applied.t); // the watch began before the change
    // Every probe before the change passed; the first after it failed port 80 alone.
    const samples = account.monitor.samples;
    expect(samples.filter((s) => s.tNs < applied.t && Number(s.functions_failed) !== 0)).toEqual([]);
    expect(Number(samples.find((s) => s.tNs > applied.t)!.functions_failed)).toBe(PROBE_HTTP);
  });

  it('puts version 2 in force and version 1 back, each enforced by the netstack with the firewall\'s own hash', () => {
    const versions = records('firewall', 'version').map((e) => e.fields);
    expect(versions).toEqual([
      { version: 1, previous: 0, rules: 9, hash: versions[0]!.hash, added: 9, removed: 0, revert: false }, // at start: the built-in table
      { version: 2, previous: 1, rules: 8, hash: versions[1]!.hash, added: 1, removed: 2, revert: false }, // deny tcp 80 in; allow tcp 80 and deny tcp 23 out
      { version: 1, previous: 2, rules: 9, hash: versions[0]!.hash, added: 2, removed: 1, revert: true },
    ]);
    expect(versions[1]!.hash).not.toBe(versions[0]!.hash);
    const enforced = records('netstack', 'rules').map((e) => [e.fields.version, e.fields.hash]);
    expect(enforced).toEqual([1, 2, 1].map((v) => [v, versions[v === 1 ? 0 : 1]!.hash]));
    expect(records('module_manager', 'config').map((e) => [e.fields.state, e.fields.version, e.fields.previous])).toEqual([
      ['applied', 2, 1],
      ['reverted', 1, 2],
    ]);
  });

  it('keeps the code: no sandbox created or destroyed, no version marked, the netstack the one that booted', () => {
    const operator = 'operator'; // the host's sender of the request
    expect(run.kernel.events.of('sandboxCreated').filter((e) => e.t > 400_000_000 && e.sandbox !== operator)).toEqual([]);
    expect(run.kernel.events.of('sandboxDestroyed').filter((e) => e.reason !== 'shutdown')).toEqual([]);
    expect(run.kernel.events.of('moduleMarked')).toEqual([]);
    expect(run.kernel.events.of('moduleLoaded').filter((e) => e.module === 'netstack').map((e) => e.version)).toEqual(['1.2.0']);
  });

  it('switches back within the seed\'s 100 ms of the verdict, and the validation finds port 80 answering again', () => {
    const r = account.rollback!;
    expect(Number(r.switched_back) - Number(r.verdict)).toBeLessThan(100_000_000);
    expect(account.monitor.validation).toMatchObject({ restored: true, answered: 6, samples: 6 });
  });

  it('refused only the clients that opened a connection to port 80 while version 2 was in force; every other byte arrives', () => {
    const [applied, reverted] = records('module_manager', 'config');
    const failed = run.system.traffic!.generator.connections().filter((c) => c.outcome === 'failed');
    expect(failed.length).toBe(summary.refused.connections);
    expect(summary.failed).toBe(summary.refused.connections);
    expect(failed.map((c) => [c.serverPort, c.failure])).toEqual(Array(failed.length).fill([80, 'refused by the server']));
    expect(summary.refused.lastAt).toBeGreaterThan(applied!.t);
    expect(summary.refused.lastAt).toBeLessThanOrEqual(reverted!.t + 1_000_000);
    expectEveryByte(summary);
  });

  it('reports the change: the versions, the diff, the table, and the rollback of kind configuration', () => {
    const report = reportOf(account, 'regression-config');
    validateReport(report);
    expect(report).toMatchObject({ service: 'firewall', from: '1.0.0', to: '1.0.0', outcome: 'rolled-back' });
    expect(report.configuration).toEqual({
      rules: ['allow tcp 5432', 'allow tcp 1194', 'allow tcp 8080', 'allow udp 53', 'allow icmp 8', 'deny tcp 80', 'deny tcp 0-65535', 'deny udp 0-65535'],
      version: 2, previous: 1, added: 1, removed: 2, hash: Number(account.configuration!.applied!.hash).toString(16).padStart(8, '0'), revertedTo: 1,
    });
    expect(report.rollback).toMatchObject({ kind: 'configuration', movedBack: 0, abandoned: 0, survivalRate: 1 });
    expect(report.rollback!.phases.map((p) => [p.name, p.outcome])).toEqual([['config_revert', 'ok']]);
    expect(report.rootCause).toMatchObject({ class: 'configuration' });
    expect(report.rootCause!.configDiff).toContainEqual({ key: 'firewall configuration version', from: '1', to: '2' });
    // The page has the section, with every rule of the table in order.
    const page = renderHtml(report);
    expect(page).toContain('<section id="configuration"><h2>Configuration change</h2>');
    expect([...page.matchAll(/<li><code>([^<]*)<\/code><\/li>/g)].map((m) => m[1])).toEqual(report.configuration!.rules);
    expect(page).toContain('<h2>Rollback (configuration)</h2>');
  });
});
