// A live run with real traffic from Linux, recorded and replayed: images/netstack.himg booted by
// `hic boot --realtime --tap --record` in a network namespace of this test's own, pinged and
// fetched from with curl, then quit. `hic boot --replay` runs the recording to the live run's
// event log byte for byte — every frame Linux sent entering where it entered live — and `hic
// debug --replay` stops in the guest's tcp_input on the segments curl sent, unwinds it, and runs
// on to the same hash. Needs root and /dev/net/tun, as tests/tap-bridge.test.ts does.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRecording } from '../system/recording/format.ts';
import { REPO } from './support/boot.ts';
import { cannotBridge, expectedBody, GUEST, HIC, LiveNet } from './support/live-net.ts';
import { runNode } from './support/run-node.ts';

/** Every wait here is for an event; this only bounds a machine that is stuck (real time, on a shared host). */
const LIMIT = 600_000;
const why = cannotBridge();
if (why && process.env.CI) throw new Error(`the TAP replay test must run in CI, but: ${why}`);

const net = new LiveNet(`hic-rp-${process.pid}`, `hicrp${process.pid % 100000}`);
const recordingFile = join(net.dir, 'tap.rec');
const liveEvents = join(net.dir, 'live.jsonl');
const hic = (...args: string[]) => runNode([...HIC, ...args], { cwd: REPO });

/** What a recorded frame is: its EtherType, and for IPv4 its protocol and destination port. */
function frameKind(base64: string): string {
  const f = Buffer.from(base64, 'base64');
  const type = f.readUInt16BE(12);
  if (type === 0x0806) return 'arp';
  if (type !== 0x0800) return `ethertype 0x${type.toString(16)}`;
  const proto = f[23]!;
  const ihl = (f[14]! & 0x0f) * 4;
  if (proto === 1) return 'icmp';
  if (proto === 6) return `tcp:${f.readUInt16BE(14 + ihl + 2)}`;
  return `ip proto ${proto}`;
}

describe.skipIf(why !== undefined)(`a live run with Linux traffic, recorded and replayed${why ? ` (skipped: ${why})` : ''}`, () => {
  beforeAll(async () => {
    await net.up();
    await net.start('images/netstack.himg', ['--no-traffic', '-q', '--record', recordingFile, '--events', liveEvents, '--data-dir', join(net.dir, 'data')], /netstack 1\.2\.0: instance 1 live/);
    const ping = await net.run(['ping', '-n', '-c', '3', '-i', '0.2', '-W', '10', GUEST]);
    expect(ping.stdout).toMatch(/3 packets transmitted, 3 received/);
    const page = await net.run(['curl', '-sS', '--fail', '--max-time', '120', `http://${GUEST}/recorded`]);
    expect(page.status, page.stderr).toBe(0);
    expect(page.bytes.equals(expectedBody('/recorded'))).toBe(true);
    expect(await net.quit()).toBe(0);
  }, LIMIT);

  afterAll(async () => {
    await net.close();
  }, LIMIT);

  it('the recording holds the frames Linux sent, each where it entered', () => {
    const recording = readRecording(recordingFile);
    const frames = recording.batches.flatMap((b) => b.inputs.filter((i) => i.source === 'tap'));
    const kinds = frames.map((f) => frameKind(f.data));
    expect(kinds.filter((k) => k === 'icmp').length).toBeGreaterThanOrEqual(3); // the echo requests
    expect(kinds.filter((k) => k === 'tcp:80').length).toBeGreaterThanOrEqual(3); // curl's handshake, request, acknowledgements
    expect(net.log).toMatch(new RegExp(`recorded: ${frames.length + 1} outside inputs`)); // and the quit
    const live = readFileSync(liveEvents, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { kind: string; t: number; source?: string; data?: string });
    for (const b of recording.batches) expect(live[b.seq]).toMatchObject({ kind: 'input', t: b.t, source: b.inputs[0]!.source, data: b.inputs[0]!.data });
  });

  it('hic boot --replay gives the live event log, byte for byte', async () => {
    const replayEvents = join(net.dir, 'replay.jsonl');
    const r = await hic('boot', '--replay', recordingFile, '-q', '--events', replayEvents);
    expect(r.stdout).toMatch(/^replay: \d+ recorded inputs entered as recorded; the event log is the recorded run's, bit for bit/m);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(replayEvents, 'utf8')).toBe(readFileSync(liveEvents, 'utf8'));
  }, LIMIT);

  it('hic debug --replay stops in tcp_input on what curl sent, unwinds it, and runs on to the same hash', async () => {
    const script = join(net.dir, 'script');
    writeFileSync(script, ['break netstack:tcp_input', 'continue', 'bt', 'status', 'delete', 'continue'].join('\n') + '\n');
    const r = await hic('debug', '--replay', recordingFile, '-q', '--commands', script);
    expect(r.stdout).toMatch(/breakpoint 1, netstack\/\d+ at 0x[0-9a-f]+ <netstack:tcp_input>/);
    expect(r.stdout).toMatch(/#0 {2}0x[0-9a-f]+ <netstack:tcp_input> {2}\(netstack 1\.2\.0\)/);
    expect(r.stdout).toMatch(/#1 {2}0x[0-9a-f]+ <netstack:ip_input\+\d+>/);
    expect(r.stdout).toMatch(/recording .*tap\.rec: \d+ of \d+ boundaries with outside inputs reached/);
    // The segment tcp_input is about to read is the last frame that entered: curl's SYN to port 80.
    const last = /last event: #\d+ \[[\d.]+s\] input source=tap what=frame data=(\S+)/.exec(r.stdout);
    expect(last).not.toBeNull();
    expect(frameKind(last![1]!)).toBe('tcp:80');
    expect(r.stdout).toMatch(/replay: \d+ recorded inputs entered as recorded; the event log is the recorded run's, bit for bit/);
    expect(r.status, r.stderr).toBe(0);
  }, LIMIT);
});
