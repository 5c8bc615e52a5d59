// The Module Manager's rolling update end to end (images/rolling-update.himg): netstack 1.2.0
// serves 1000 connections of every class while the Module Manager, a signed guest service, updates
// it to 1.3.0 at 450 ms through the operator's channel -- Core-0 verifies and creates the new
// instance from a reservation, connections move in the seed's four stages, the alias switches,
// the old instance is completed and destroyed. One boot; every assertion reads the event log (the
// Module Manager's typed records, Core-0's events) or the traffic generator's ground truth.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrafficSummary } from '../traffic/summary.ts';
import type { UpdateAccount } from '../system/update/outcome.ts';
import { reportOf } from '../system/update/report.ts';
import { validateReport } from '../system/report/validate.ts';
import { writeReport } from '../system/report/write.ts';
import { bootImage, type Booted } from './support/boot.ts';
import { recordsOf } from './support/kernel.ts';
import { summarize } from '../system/report/summary.ts';

let run: Booted;
let summary: TrafficSummary;
let account: UpdateAccount;

beforeAll(async () => {
  run = await bootImage('rolling-update');
  summary = run.system.traffic!.generator.summary();
  console.log(run.system.traffic!.generator.summaryLine());
  for (const l of run.kernel.events.of('console').filter((e) => e.sandbox === 'module-manager')) console.log(`  ${l.text.trimEnd()}`);
  account = run.system.updates.all[0]!;
}, 600_000);

afterAll(() => run?.machine.dispose());

describe('a rolling update of netstack 1.2.0 to 1.3.0 by the Module Manager, under 1000 connections', () => {
  it('completes, as the image expects, with every check passed', () => {
    expect(run.deviations).toEqual([]);
    expect(run.system.updates.outcomes()).toEqual(['completed', 'refused:downgrade', 'completed']);
    expect(account.failedChecks).toEqual([]);
    expect(account.end).toMatchObject({ outcome: 'completed', failed_step: 'none', ok: true });
  });

  it('loses, duplicates and reorders nothing: the generator checked every byte', () => {
    expect({ closed: summary.closed, failed: summary.failed, httpErrors: summary.httpErrors }).toEqual({ closed: 1000, failed: 0, httpErrors: 0 });
    expect({ lost: summary.lost, duplicated: summary.duplicated, reordered: summary.reordered, corrupted: summary.corrupted, seqGaps: summary.seqGaps, seqErrors: summary.seqErrors }).toEqual({
      lost: 0, duplicated: 0, reordered: 0, corrupted: 0, seqGaps: 0, seqErrors: 0,
    });
    expect(summary.probes).toMatchObject({ dnsAnswers: 20, dnsBad: 0, pingReceived: 10, pingBad: 0 });
  });

  it('runs every step of the seed\'s four phases in order, each begun and ended', () => {
    const ended = account.steps.filter((s) => s.state !== 'begin').map((s) => `${s.phase}:${s.step}:${s.state}`);
    expect(ended).toEqual([
      '1:request:ok', '1:fetch:ok', '1:dependencies:ok', '1:reserve:ok', '1:notify:ok',
      '2:sandbox:ok', '2:handshake:ok', '2:warmup:ok',
      '3:snapshot:ok', '3:migrate:ok', '3:switch:ok',
      '4:validate:ok', '4:stability:ok', '4:shutdown:ok', '4:release:ok',
    ]);
    const times = account.steps.map((s) => s.tNs);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it('tells the services that work with netstack that the update begins, and how it ended; each answers as the seed has it (步骤1.4)', () => {
    const notified = recordsOf(run.kernel, 'module-manager', 'notified').filter((r) => Number(r.id) === 1);
    expect(notified.map((r) => `${r.event} ${r.service} ${r.answer}`)).toEqual([
      'begins web_server ready_migrates', 'begins dns_resolver ready', 'begins firewall ready_refresh',
      'completed web_server ready_migrates', 'completed dns_resolver ready', 'completed firewall ready_refresh',
    ]);
    // Before the new instance existed, and the closing notice after the old one was reclaimed.
    const created = run.kernel.events.of('sandboxCreated').find((e) => e.sandbox === 'netstack-1-3-0')!;
    expect(notified.slice(0, 3).every((r) => r.t < created.t)).toBe(true);
    const reclaimed = run.kernel.events.of('sandboxDestroyed').find((e) => e.sandbox === 'netstack' && e.reason === 'destroyed')!;
    expect(notified.slice(3).every((r) => r.t > reclaimed.t)).toBe(true);
    // Each of them heard it: its own log says so, with the versions.
    for (const sandbox of ['web', 'dns', 'firewall'])
      expect(run.kernel.events.of('console').filter((e) => e.sandbox === sandbox && e.text.includes('notice: the update of netstack 1.2.0 to 1.3.0')).map((e) => e.text.replace(/.* to 1\.3\.0 /, '').replace(/;.*/, ''))).toEqual(['begins', 'completed']);
  });

  it('warms up with the old instance\'s configuration, then the same loopback probes to both instances, whose answers agree (seed 步骤2.4)', () => {
    const warmups = recordsOf(run.kernel, 'module-manager', 'warmup');
    expect(warmups.map((w) => Number(w.id))).toEqual([1, 3]); // the refused request never got that far
    for (const w of warmups) {
      // The configuration sync first: the new instance took the old one's ARP table (each of the
      // 50 client hosts it has talked to) and its route, its address and rules its own.
      expect(w).toMatchObject({ synced: true, arp: 50, routes: 1 });
      expect(w).toMatchObject({ probes: 3, agreed: 3, old_failed: 0, new_failed: 0, new_changed: 0 });
      expect(w.new_hash).toBe(w.old_hash); // 1.2.0 and 1.3.0 run the same TCP and echo code
      expect(Number(w.new_time)).toBeGreaterThan(0);
      expect(Number(w.new_time) * 1000).toBeLessThanOrEqual(Number(w.old_time) * 1050); // within 5 %
      // And the comparison is fair: the old instance, serving hundreds of connections, probes no
      // slower than the empty new one (a probe's connection takes the lowest free slot a word of
      // slots at a time; walking every taken slot below it made the loaded instance 46 % slower).
      expect(Number(w.old_time) * 1000).toBeLessThanOrEqual(Number(w.new_time) * 1050);
      // The leak check: 32 more probes at the new instance, and its memory as Core-0 counts it the same after.
      expect(Number(w.stress)).toBe(32);
      expect(Number(w.memory_before)).toBeGreaterThan(0);
      expect(w.memory_after).toBe(w.memory_before);
    }
  });

  it('is watched by the Monitor, which raises no alarm: a healthy version is not rolled back', () => {
    expect(recordsOf(run.kernel, 'monitor', 'watch')).toMatchObject([{ id: 1, from: 0x10200, to: 0x10300 }]);
    expect(account.monitor.baseline).toMatchObject({ id: 1, version: 0x10200 });
    expect(Number(account.monitor.baseline!.samples)).toBe(12); // the Monitor's baseline_samples: the last 12 before the update began
    expect(account.monitor.decisions.filter((d) => d.action !== 'continue')).toEqual([]);
    // The loopback probe of the critical functions: 1.2.0 passed both as the watch began, and 1.3.0
    // passes both on every interval with its echo unchanged.
    expect(Number(account.monitor.baseline!.functions)).toBe(3);
    expect(account.monitor.samples.length).toBeGreaterThan(10);
    expect(account.monitor.samples.filter((s) => Number(s.functions_failed) !== 0 || Number(s.corrupt) !== 0)).toEqual([]);
    expect(account.monitor.verdict).toBeUndefined();
    expect(account.monitor.unwatch).toMatchObject({ id: 1, unanswered: 0, verdicts: 0 });
    expect(recordsOf(run.kernel, 'monitor', 'alert')).toEqual([]); // nothing to alert on
    expect(run.kernel.audit.records.filter((r) => r.kind === 'record')).toEqual([]);
    expect(reportOf(account, 'rolling-update').alerts).toEqual([]); // watched, and no alert raised
    expect(account.rollback).toBeUndefined();
  });

  it('reserves twice the new quota before anything starts, and gives the headroom back at the end', () => {
    const reserved = run.kernel.events.of('reserved' as never) as unknown as { by: string; bytes: number; t: number }[];
    const released = run.kernel.events.of('reservationReleased' as never) as unknown as { by: string; bytes: number; t: number }[];
    const mine = (r: { t: number }) => r.t < account.end!.tNs; // update 1's; the operator's downgrade (below) reserves its own
    expect(reserved.filter(mine).map((r) => r.bytes)).toEqual([24 * 1024 * 1024, 24 * 1024 * 1024]);
    expect(account.reserved).toMatchObject({ memory: 48 * 1024 * 1024, quota: 24 * 1024 * 1024 });
    const created = run.kernel.events.of('sandboxCreated').find((e) => e.sandbox === 'netstack-1-3-0')!;
    expect(reserved.filter(mine).every((r) => r.t <= created.t)).toBe(true);
    expect(released.filter(mine).length).toBe(2); // one consumed by the spawn, one deleted at the end
  });

  it('has Core-0 create the new instance on request: netstack 1.3.0 in its own sandbox, on standby, with one granted channel', () => {
    const loaded = run.kernel.events.of('moduleLoaded').find((e) => e.sandbox === 'netstack-1-3-0')!;
    expect(loaded).toMatchObject({ module: 'netstack', version: '1.3.0', config: { instance: 2, migration_slot: 1, standby: true } });
    expect(run.kernel.events.of('moduleSpawned' as never).filter((e: { t: number }) => e.t < account.end!.tNs)).toHaveLength(1);
  });

  it('moves the connections in the four stages by class, in batches, each stage healthy, up to its share', () => {
    expect(account.stages.map((s) => s.class).slice(0, 4)).toEqual(['idle', 'http', 'realtime', 'persistent']);
    expect(account.stages.every((s) => s.healthy === true && s.failed === 0)).toBe(true);
    const snapshot = Number(account.end!.snapshot);
    const moved = account.stages.reduce((n, s) => n + Number(s.moved), 0);
    const gone = account.stages.reduce((n, s) => n + Number(s.gone), 0);
    expect(snapshot).toBeGreaterThan(500);
    expect(moved + gone).toBeGreaterThanOrEqual(snapshot);
    expect(Number(account.end!.moved)).toBe(moved);
    // Class order comes first: no stage goes past its share of the connections the source held
    // at the start (the rest of its class waits for the next stage), and the last takes them all.
    let cumulative = 0;
    for (const s of account.stages.slice(0, 3)) {
      cumulative += Number(s.moved) + Number(s.gone);
      expect(cumulative).toBeLessThanOrEqual(Math.ceil((Number(s.up_to) / 1000) * snapshot));
    }
    // The traffic split: the old instance empties, the new one fills.
    expect(account.split.at(-1)!.old).toBe(0);
    expect(account.split[0]!.new).toBeLessThan(account.split.at(-1)!.new);
  });

  it('switches the alias to the new instance, which answers through it', () => {
    const switched = run.kernel.events.of('endpointSwitched').filter((e) => e.by === 'module-manager');
    expect(switched.map((e) => [e.alias, e.to])).toEqual([['cap://netstack/stats', 'cap://netstack/v1.3.0/stats'], ['cap://netstack/stats', 'cap://netstack/v1.2.0/stats']]); // the second: the operator's downgrade
    expect(account.switched).toEqual(['stats']);
  });

  it('completes and destroys the old instance; Core-0 reclaims it, and the new one serves on', () => {
    const destroyed = run.kernel.events.of('sandboxDestroyed').filter((e) => e.reason === 'destroyed');
    expect(destroyed.map((e) => e.sandbox)).toEqual(['netstack', 'netstack-1-3-0']); // the second: by the operator's downgrade
    expect(destroyed[0]!.framesReturned).toBeGreaterThanOrEqual(1024); // its connection tables alone are over 4 MiB
    expect(account.destroyed.map((d) => d.sandbox)).toEqual(['netstack']);
    const netstackExits = run.kernel.events.of('exit').filter((e) => e.sandbox.startsWith('netstack'));
    expect(netstackExits).toEqual([]);
  });

  it('adds little latency per moved connection (virtual): average below 1 ms, maximum below the seed\'s 10 ms', () => {
    const end = account.end!;
    expect(Number(end.latency_avg)).toBeGreaterThan(0);
    expect(Number(end.latency_avg)).toBeLessThan(1e6);
    expect(Number(end.latency_max)).toBeLessThan(10e6);
    expect(Number(end.latency_p99)).toBeLessThanOrEqual(Number(end.latency_max) + 1000);
  });

  it('records every Core-0 step of it in the audit log', () => {
    const kinds = run.kernel.audit.records.map((r) => (r as { kind?: string; event?: { kind?: string } }).event?.kind ?? (r as { kind?: string }).kind);
    for (const k of ['reserved', 'moduleSpawned', 'sandboxCreated', 'endpointSwitched', 'sandboxDestroyed', 'reservationReleased']) expect(kinds).toContain(k);
  });

  it('reports it: a valid report.json and report.html with the phases, stages and split', () => {
    const report = reportOf(account, 'rolling-update');
    expect(validateReport(report)).toEqual(report);
    expect(report).toMatchObject({ service: 'netstack', from: '1.2.0', to: '1.3.0', outcome: 'completed' });
    expect(report.phases.filter((p) => p.outcome === 'ok')).toHaveLength(15); // every step
    expect(report.stages.slice(0, 4).map((s) => s.class)).toEqual(['idle', 'http', 'realtime', 'persistent']);
    // The services told of the update (seed 步骤1.4), as it began and as it ended; no restart.
    expect(report.notices!.map((n) => `${n.event} ${n.service} ${n.answer}`)).toEqual([
      'begins web_server ready_migrates', 'begins dns_resolver ready', 'begins firewall ready_refresh',
      'completed web_server ready_migrates', 'completed dns_resolver ready', 'completed firewall ready_refresh',
    ]);
    expect(report.restarts).toBeUndefined();
    const printed = summarize(report).join('\n');
    expect(printed).toMatch(/begins: web_server ready_migrates, dns_resolver ready, firewall ready_refresh/);
    const dir = mkdtempSync(join(tmpdir(), 'hic-report-'));
    try {
      const written = writeReport(dir, report);
      expect(JSON.parse(readFileSync(written.json, 'utf8'))).toEqual(report);
      expect(readFileSync(written.html, 'utf8')).toContain('netstack');
      expect(readFileSync(written.html, 'utf8')).toContain('<section id="notices">');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reads the Module Manager's records as the event log holds them", () => {
    expect(recordsOf(run.kernel, 'module-manager', 'begin')).toHaveLength(2);
    expect(recordsOf(run.kernel, 'module-manager', 'begin')[0]).toMatchObject({ id: 1, from: 0x010200, to: 0x010300, rate_limit: 4000, batch: 100, rollback_of: 0 });
  });

  it('keeps the rollback window open after COMPLETE, the Monitor watching, until the next request supersedes it', () => {
    const windows = recordsOf(run.kernel, 'module-manager', 'window');
    expect(windows.map((w) => [w.id, w.state])).toEqual([[1, 'open'], [1, 'superseded']]);
    expect(windows[1]!.t).toBeGreaterThanOrEqual(1_500_000_000); // the request at 1.5 s closed it
    expect(windows[1]!.t).toBeLessThan(Number(windows[0]!.until));
    expect(account.monitor.unwatch!).toBeDefined();
    expect(reportOf(account, 'rolling-update')).toMatchObject({ outcome: 'completed', window: { state: 'superseded' } });
  });

  it('refuses a downgrade not asked for, and runs the one the operator asks for knowingly like any update, Core-0 letting 1.2.0 past its rollback protection for it', () => {
    const [, refused, down] = run.system.updates.all;
    expect(refused!.refused).toMatchObject({ reason: 'downgrade' });
    expect(refused!.begin).toBeUndefined();
    expect(down!.begin).toMatchObject({ from: 0x10300, to: 0x10200, rollback_of: 0 });
    expect(down!.end).toMatchObject({ outcome: 'completed', failed: 0, ok: true });
    expect(down!.failedChecks).toEqual([]);
    expect(down!.stages.map((x) => x.class)).toEqual(['idle', 'http', 'realtime', 'persistent']); // the update's order, not a rollback's
    const verified = run.kernel.events.of('moduleVerified').filter((e) => e.module === 'netstack' && e.version === '1.2.0' && e.t > refused!.refused!.tNs);
    expect(verified.length).toBeGreaterThan(0);
    expect(verified.every((e) => e.downgrade)).toBe(true);
    expect(run.kernel.events.of('moduleLoaded').at(-1)).toMatchObject({ sandbox: 'netstack-1-2-0', version: '1.2.0' });
    expect(reportOf(down!, 'rolling-update')).toMatchObject({ from: '1.3.0', to: '1.2.0', outcome: 'completed' });
  });
});
