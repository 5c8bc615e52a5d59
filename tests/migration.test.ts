// The state migration protocol end to end (images/migration.himg): netstack 1.2.0 serves 1000
// connections of every class from the traffic generator while netstack 1.3.0 waits beside it,
// and migctl -- the harness standing in for the Module Manager -- drives the protocol over the
// control channels Core-0 created. Runs of the same image, each with every byte checked by the
// generator: the whole update (twice: the second time with the host taking its turns fifty times
// as often, which must not change the event log -- this image's determinism check); every one of
// 1000 long-lived connections migrated; an abort half-way that gives everything back to 1.2.0;
// and the protocol's refusals, each of which must change nothing.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NicDevice } from '../emulator/devices/nic.ts';
import { PcapWriter } from '../emulator/net/pcap.ts';
import type { TrafficSummary } from '../traffic/summary.ts';
import { consoleOf, lastRecord, recordsOf, type Fields } from './support/kernel.ts';
import { stage, type StageOptions } from './support/boot.ts';
import { type RunResult } from '../system/run-image.ts';
import { REPO } from './support/boot.ts';

const execFileAsync = promisify(execFile);

const TSHARK = '/usr/bin/tshark';
const MIGCTL = 6; // the manifest's seventh sandbox

interface Run {
  readonly done: RunResult;
  readonly summary: TrafficSummary;
  readonly migctl: string[];
  readonly netstacks: string[];
  readonly switched: { t: number; alias: string; from: string; to: string; by: string }[];
  readonly grants: { channel: string; sandbox: string; rights: number }[];
  /** The driver's default_changed records: which instance became the default, and which was. */
  readonly defaults: { instance: unknown; was: unknown }[];
  /** migctl's last record of the mode's end (migrated, aborted or refusals_done). */
  readonly result: Fields;
  readonly snapshot: Fields | undefined;
  readonly refusals: Fields[];
  /** The event log: its lines and its hash. */
  readonly log: { readonly lines: string; readonly hash: string };
}

interface Image {
  run: { until: string };
  sandboxes: { config?: Record<string, unknown> }[];
  traffic: Record<string, unknown>;
}

const RESULT_OF = { update: 'migrated', abort: 'aborted', refusals: 'refusals_done' } as const;

/** Boots images/migration.himg with migctl in `mode`, traffic attached; `pcap` captures the wire. */
async function run(mode: keyof typeof RESULT_OF, pcap?: string, adjust?: (image: Image) => void, options: StageOptions = {}): Promise<Run> {
  const image = JSON.parse(readFileSync(join(REPO, 'images', 'migration.himg'), 'utf8')) as Image;
  image.sandboxes[MIGCTL]!.config = { ...image.sandboxes[MIGCTL]!.config, mode };
  adjust?.(image);
  const staged = await stage({ label: `images/migration.himg (migctl mode ${mode})`, image }, options);
  try {
    const { kernel, machine } = staged;
    let writer: PcapWriter | undefined;
    if (pcap) {
      writer = PcapWriter.open(pcap);
      const w = writer;
      (machine.devices[0]!.device as NicDevice).tap = (_direction, frame) => w.write(kernel.machine.clock.now, frame);
    }
    const traffic = staged.traffic!;
    const done = await staged.run();
    writer?.close();
    const summary = traffic.generator.summary();
    console.log(`mode ${mode}: ${traffic.generator.summaryLine()}`);
    const migctl = consoleOf(kernel, 'migctl').map((l) => l.text);
    for (const l of migctl) console.log(`  ${l}`);
    return {
      done,
      summary,
      migctl,
      netstacks: [...consoleOf(kernel, 'netstack'), ...consoleOf(kernel, 'netstack-next')].map((l) => l.text),
      switched: kernel.events.of('endpointSwitched'),
      grants: kernel.events.of('channelGranted').map(({ channel, sandbox, rights }) => ({ channel, sandbox, rights })),
      defaults: recordsOf(kernel, 'driver', 'default_changed').map(({ instance, was }) => ({ instance, was })),
      result: lastRecord(kernel, 'migctl', RESULT_OF[mode]) ?? {},
      snapshot: lastRecord(kernel, 'migctl', 'snapshot'),
      refusals: recordsOf(kernel, 'migctl', 'refusal'),
      log: { lines: kernel.events.toJsonLines(), hash: done.logHash },
    };
  } finally {
    staged.machine.dispose();
  }
}

/** The generator's ground truth: every connection closed, nothing lost, doubled or reordered. */
function expectCleanTraffic(s: TrafficSummary): void {
  expect({ closed: s.closed, failed: s.failed, httpErrors: s.httpErrors }).toEqual({ closed: 1000, failed: 0, httpErrors: 0 });
  expect({ lost: s.lost, duplicated: s.duplicated, reordered: s.reordered, corrupted: s.corrupted, seqGaps: s.seqGaps, seqErrors: s.seqErrors }).toEqual({
    lost: 0, duplicated: 0, reordered: 0, corrupted: 0, seqGaps: 0, seqErrors: 0,
  });
  expect(s.probes).toMatchObject({ dnsQueries: 20, dnsAnswers: 20, dnsBad: 0, pingSent: 10, pingReceived: 10, pingBad: 0, pingDuplicates: 0 });
}

/** A numeric field of a record. */
function number(fields: Fields | undefined, key: string): number {
  const v = fields?.[key];
  if (typeof v !== 'number') throw new Error(`record field ${key} is ${JSON.stringify(v)} in ${JSON.stringify(fields)}`);
  return v;
}

// For the first 100 connections migctl waits 2 ms between steering one to 1.3.0 and taking it
// from 1.2.0, so that segments arrive in between and must be held (config linger).
const lingerFirst = (image: Image) => {
  image.sandboxes[MIGCTL]!.config!.linger = '2ms';
};

describe('rolling update of netstack 1.2.0 to 1.3.0 under 1000 connections', () => {
  let dir: string;
  let r: Run;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hic-migration-'));
    r = await run('update', join(dir, 'wire.pcap'), lingerFirst);
  }, 600_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs to the end with migctl reporting every check passed', () => {
    expect(r.done.deviations).toEqual([]);
    expect(r.done.outcome.faults).toEqual({});
    expect(r.result.ok).toBe(true);
  });

  it('gives the control channels only to the coordinator (W) and each one instance (R)', () => {
    expect(r.grants).toEqual([
      { channel: 'mig-old', sandbox: 'netstack', rights: 1 },
      { channel: 'mig-new', sandbox: 'netstack-next', rights: 1 },
      { channel: 'mig-old', sandbox: 'migctl', rights: 2 },
      { channel: 'mig-new', sandbox: 'migctl', rights: 2 },
    ]);
  });

  it('negotiates 1.3 between 1.2.0 (1.2, 1.3) and 1.3.0 (1.3, 1.4), and moves a 1024-shard snapshot of schema 1 to schema 2', () => {
    expect(r.migctl).toContain('migctl: handshake: source 1.2.0 speaks 102 103, target 1.3.0 speaks 103 104: agreed 1.3');
    expect(r.snapshot).toMatchObject({ shards: 1024, source_schema: 1, target_schema: 2 });
    expect(number(r.snapshot, 'connections')).toBeGreaterThan(0);
    expect(number(r.snapshot, 'export')).toBeGreaterThan(0);
    expect(number(r.snapshot, 'import')).toBeGreaterThan(0);
    expect(r.result).toMatchObject({ protocol_major: 1, protocol_minor: 3 });
  });

  it('migrates every live connection one at a time, none failing, while the generator sees no byte lost, doubled or reordered', () => {
    expect(number(r.result, 'failed')).toBe(0);
    // Most of the 1000 are open when the update begins at 450 ms (the persistent classes live
    // for most of the run): a few hundred would mean the harness skipped some.
    expect(number(r.result, 'migrated')).toBeGreaterThan(600);
    expectCleanTraffic(r.summary);
  });

  it('accounts for every connection of the snapshot: it arrived at 1.3.0, or closed at 1.2.0 before its turn', () => {
    const snapshot = number(r.result, 'snapshot');
    const received = number(r.result, 'received');
    const closedFirst = number(r.result, 'snapshot_closed_first');
    expect(snapshot).toBeGreaterThan(600);
    expect(received + closedFirst).toBe(snapshot);
    expect(r.netstacks).toContainEqual(expect.stringMatching(/^netstack 1\.2\.0: retired; 0 connections dropped/));
  });

  it('holds the segments that arrive while a connection is on its way, and delivers every one after the import', () => {
    expect(number(r.result, 'held')).toBeGreaterThan(0);
    expect(number(r.result, 'held_dropped')).toBe(0);
  });

  it('sends new connections to 1.3.0 from the moment it becomes the default', () => {
    expect(r.defaults).toContainEqual({ instance: 2, was: 1 });
    expect(number(r.result, 'source_opened_after_default')).toBe(0);
    expect(number(r.result, 'target_opened')).toBeGreaterThan(0);
  });

  it('switches cap://netstack/stats to 1.3.0 in one registry step at the end', () => {
    expect(r.switched.map((e) => ({ alias: e.alias, to: e.to, by: e.by }))).toEqual([
      { alias: 'cap://netstack/stats', to: 'cap://netstack/v1.3.0/stats', by: 'migctl' },
    ]);
  });

  it('gives the same event log when the host takes its turns fifty times as often (0.4 ms slices, no capture)', async () => {
    const again = await run('update', undefined, lingerFirst, { sliceMs: 0.4 });
    expect(again.log.lines).toBe(r.log.lines);
    expect(again.log.hash).toBe(r.log.hash);
    expect(r.log.lines.length).toBeGreaterThan(200);
  }, 600_000);

  it('leaves a capture of the whole run that tshark finds clean', async () => {
    if (!existsSync(TSHARK)) throw new Error(`${TSHARK} is missing: the project's set-up installs it (apt-get install tshark); this test needs it`);
    const decodeAs = [5432, 1194, 8080].flatMap((p) => ['-d', `tcp.port==${p},data`]);
    const base = ['-n', '-r', join(dir, 'wire.pcap'), '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', ...decodeAs];
    // Beside the event loop: a capture of the whole update takes tshark seconds.
    const count = async (filter: string) =>
      (await execFileAsync(TSHARK, [...base, '-Y', filter], { encoding: 'utf8', maxBuffer: 256 << 20 })).stdout.split('\n').filter((l) => l !== '').length;
    expect(await count('tcp')).toBeGreaterThan(10_000);
    expect(await count('_ws.malformed || _ws.expert.severity == error || ip.checksum.status == "Bad" || tcp.checksum.status == "Bad" || udp.checksum.status == "Bad"')).toBe(0);
  });
});

describe('1000 long-lived connections, every one of them migrated', () => {
  let r: Run;
  beforeAll(async () => {
    // Only the persistent classes, all started in the first 1.5 s and none closing before 1.8 s;
    // the update begins at 1.51 s, so the snapshot holds all 1000 and each is moved while its
    // traffic flows; the first 100 with migctl's 2 ms wait between steer and freeze.
    r = await run('update', undefined, (image) => {
      image.run.until = '6.5s';
      image.traffic = { ...image.traffic, duration: '6s', shares: { idle: 1, realtime: 1, vpn: 1, db: 1, ws: 1 } };
      image.sandboxes[MIGCTL]!.config = { ...image.sandboxes[MIGCTL]!.config, linger: '2ms', start: '1510ms' };
    });
  }, 600_000);

  it('moves all 1000, each one arriving, none failing, and the generator finds every byte in order', () => {
    expect(r.done.deviations).toEqual([]);
    expect(r.result).toMatchObject({ ok: true, snapshot: 1000, migrated: 1000, received: 1000, failed: 0, held_dropped: 0 });
    expect(number(r.result, 'held')).toBeGreaterThan(0);
    expectCleanTraffic(r.summary);
  });
});

describe('abort half-way', () => {
  let r: Run;
  beforeAll(async () => {
    r = await run('abort');
  }, 600_000);

  it('gives every connection back to 1.2.0, including those opened at 1.3.0 meanwhile, and loses nothing', () => {
    expect(r.done.deviations).toEqual([]);
    expect(r.result.ok).toBe(true);
    const out = number(r.result, 'moved_out');
    const back = number(r.result, 'moved_back');
    expect(out).toBeGreaterThan(250);
    expect(back).toBeGreaterThanOrEqual(out);
    expect(number(r.result, 'target_holds')).toBe(0);
    expect(number(r.result, 'failed')).toBe(0);
    expectCleanTraffic(r.summary);
  });

  it('points the driver back at 1.2.0 and leaves the alias where it was', () => {
    expect(r.defaults.at(-1)).toEqual({ instance: 1, was: 2 });
    // Nobody switches it, during the run or at shutdown (where no alias falls back: nobody is left to call it).
    expect(r.switched).toEqual([]);
  });
});

describe('protocol refusals', () => {
  let r: Run;
  beforeAll(async () => {
    r = await run('refusals');
  }, 600_000);

  // migctl's refusal records, in order: the case, and the protocol error it must get (hic/migration.h).
  const refusals: [string, string, number][] = [
    ['no common protocol version', 'no_common_version', 4],
    ['a peer of another module', 'other_module', 3],
    ['the instance itself as its peer', 'self_as_peer', 3],
    ['a successor older than the source', 'older_successor', 3],
    ['a peer with other firewall rules', 'other_rules', 6],
    ["a successor that cannot read the source's schema", 'unreadable_schema', 5],
    ['EXPORT_STATE before PEER', 'export_before_peer', 2],
    ['CONN_OUT before PREPARE', 'conn_out_before_prepare', 2],
    ['a corrupt shard', 'corrupt_shard', 7],
    ['a snapshot of an unknown schema', 'unknown_schema', 5],
    ['an unknown connection', 'unknown_connection', 9],
    ['a snapshot that is not a memory object', 'not_a_memory_object', 12],
    ['an unknown call', 'unknown_call', 1],
  ];

  it.each(refusals)('refuses %s with its own error (%s, %i)', (_text, what, code) => {
    expect(r.refusals.filter((f) => f.what === what).map(({ got, want }) => ({ got, want }))).toEqual([{ got: code, want: code }]);
  });

  it('tries each refusal once, in order, and nothing else', () => {
    expect(r.refusals.map((f) => f.what)).toEqual(refusals.map(([, what]) => what));
  });

  it('changes nothing: each refusal is followed by the same phases and counts, and the traffic is untouched', () => {
    expect(r.done.deviations).toEqual([]);
    // ok: every one of migctl's checks passed, the "nothing changed" ones after each refusal included.
    expect(r.result.ok).toBe(true);
    expect(number(r.result, 'checks')).toBeGreaterThan(refusals.length);
    expectCleanTraffic(r.summary);
  });
});
