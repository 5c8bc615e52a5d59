// Record and replay of a live run (system/recording/): `hic boot --realtime --record` of
// images/netstack.himg driven through its control socket (stop, cont, a second stop and cont,
// quit) on a chosen date, then `hic boot --replay` — the event log byte for byte the live one, the
// date the recorded one — and `hic debug --replay`, which stops at each recorded input and runs to
// the same hash. A recording that is malformed, of another image, of another boot, cut short or
// tampered with is refused or found out, each with its line and reason. (tests/replay-tap.test.ts
// records real traffic from Linux through a TAP device.)

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readRecording, RecordingError, type Recording } from '../system/recording/format.ts';
import { ReplayPacer, replayedImage, replayOptions, replayVerdict } from '../system/recording/replay.ts';
import { REPO, stage } from './support/boot.ts';
import { ControlClient } from './support/control-client.ts';
import { runNode } from './support/run-node.ts';

/** Every wait here is for an event; this only bounds a machine that is stuck (real time, on a shared host). */
const LIMIT = 600_000;
const HIC = join(REPO, 'bin', 'hic.mjs');
const dir = mkdtempSync(join(tmpdir(), 'hic-record-'));
const socket = join(dir, 'hic.sock');
const recordingFile = join(dir, 'run.rec');
const liveEvents = join(dir, 'live.jsonl');
const hic = (...args: string[]) => runNode([HIC, ...args], { cwd: REPO });

let liveOutput = '';
let recording: Recording;

/** Writes a copy of the recording with its lines changed by `edit`; its path. */
function tampered(name: string, edit: (lines: string[]) => string[]): string {
  const file = join(dir, name);
  writeFileSync(file, edit(readFileSync(recordingFile, 'utf8').trimEnd().split('\n')).join('\n') + '\n');
  return file;
}

beforeAll(async () => {
  const child = spawn(process.execPath, [HIC, 'boot', 'images/netstack.himg', '--realtime', '--until', 'never', '--no-traffic', '-q', '--date', '2026-01-02', '--control', socket, '--record', recordingFile, '--events', liveEvents, '--data-dir', join(dir, 'data')], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.setEncoding('utf8').on('data', (d: string) => (liveOutput += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (liveOutput += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  while (!/control socket at/.test(liveOutput)) {
    if (child.exitCode !== null) throw new Error(`hic boot ended early:\n${liveOutput}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  // One client for all of them, so the live run stays short (and so its replays).
  const client = await ControlClient.open(socket);
  await client.greeting();
  for (const command of ['stop', 'cont', 'status', 'stop', 'cont', 'quit']) await client.returns(command);
  client.close();
  expect(await exited).toBe(0);
  recording = readRecording(recordingFile);
}, LIMIT);

describe('a live run, recorded', () => {
  it('holds each input with where it entered, and how the run ended', () => {
    expect(liveOutput).toMatch(/recorded: 5 outside inputs, to .*run\.rec/);
    expect(recording.header).toMatchObject({ format: 'hic-recording', version: 1, date: '2026-01-02', until: 'never', traffic: false, image: { file: 'images/netstack.himg' } });
    // `status` is a query: it changes nothing, so it is not an input.
    expect(recording.batches.flatMap((b) => b.inputs.map((i) => `${i.source}:${i.what}`))).toEqual(['control:stop', 'control:cont', 'control:stop', 'control:cont', 'control:quit']);
    // Stopped, virtual time stands still: each cont enters at its stop's time.
    const [stop1, cont1, stop2, cont2] = recording.batches;
    expect(cont1!.t).toBe(stop1!.t);
    expect(cont2!.t).toBe(stop2!.t);
    const live = readFileSync(liveEvents, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { seq: number; t: number; kind: string; what?: string });
    for (const b of recording.batches) expect(live[b.seq]).toMatchObject({ kind: 'input', t: b.t, what: b.inputs[0]!.what });
    expect(recording.end).toMatchObject({ halt: 'quit', events: live.length, t: recording.batches.at(-1)!.t });
  });
});

describe('hic boot --replay', () => {
  it('gives the live run’s event log, byte for byte, on the recorded date', async () => {
    const replayEvents = join(dir, 'replay.jsonl');
    const r = await hic('boot', '--replay', recordingFile, '-q', '--events', replayEvents);
    expect(r.stdout).toMatch(/^replay: 5 recorded inputs entered as recorded; the event log is the recorded run's, bit for bit \(sha256 [0-9a-f]{16}\)$/m);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(replayEvents, 'utf8')).toBe(readFileSync(liveEvents, 'utf8'));
    expect(readFileSync(replayEvents, 'utf8')).toMatch(/"kind":"wallClock","date":"2026-01-02"/);
  }, LIMIT);

  it('refuses options the recording decides, an image that is not the recorded one, and a recording it cannot write', async () => {
    const both = await hic('boot', '--replay', recordingFile, '--realtime');
    expect(both.stderr).toBe('hic: --replay takes the run from its recording: --realtime does not go with it [HIC_USAGE]\n');
    expect(both.status).toBe(2);
    const other = await hic('boot', 'images/hello.himg', '--replay', recordingFile);
    expect(other.stderr).toMatch(/^hic: .*run\.rec is a recording of images\/netstack\.himg, and images\/hello\.himg is not that manifest .*\[RECORDING_MISMATCH\]\n$/);
    expect(other.status).toBe(2);
    const none = await hic('boot');
    expect(none.stderr).toBe('hic: missing the image: hic boot IMAGE (or --replay FILE) [HIC_USAGE]\n');
    const nowhere = await hic('boot', 'images/hello.himg', '--record', join(dir, 'no-such-dir', 'x.rec'), '--data-dir', join(dir, 'data'));
    expect(nowhere.stderr.replace(dir, 'DIR')).toBe('hic: --record DIR/no-such-dir/x.rec: cannot write it (ENOENT) [RECORDING_UNWRITABLE]\n');
    expect(nowhere.status).toBe(2);
  }, LIMIT);
});

describe('hic debug --replay', () => {
  it('stops at each recorded input as it entered, goes back over them, and runs on to the recorded hash', async () => {
    const script = join(dir, 'script');
    writeFileSync(script, ['break event input if what == "stop"', 'continue', 'status', 'continue', 'reverse-continue', 'status', 'continue', 'delete', 'continue'].join('\n') + '\n');
    // Checkpoints close together: the debugger pauses the run often, and going back restores
    // the replay's place in the recording with the machine.
    const r = await hic('debug', '--replay', recordingFile, '-q', '--checkpoint-interval', '5000000', '--commands', script);
    expect(r.stdout).toMatch(/^hic debug: image netstack assembled from the recording .*run\.rec \(5 boundaries with outside inputs\)/);
    const [stop1, , stop2] = recording.batches;
    const hit = (b: typeof stop1) => `breakpoint 1, event #${b!.seq}: [${(b!.t / 1e9).toFixed(9)}s] input source=control what=stop data={}`;
    const stops = r.stdout.split('\n').filter((l) => l.startsWith('breakpoint 1, event'));
    expect(stops).toEqual([hit(stop1), hit(stop2), hit(stop1), hit(stop2)]);
    expect(r.stdout.match(/recording .*run\.rec: 1 of 5 boundaries with outside inputs reached/g)).toHaveLength(2);
    expect(r.stdout).toMatch(/checkpoints: [1-9]\d*, every 5000000 instructions/);
    expect(r.stdout).toContain(`machine halted (quit) at ${recording.end!.t} ns; event log sha256 ${recording.end!.logHash.slice(0, 16)}`);
    expect(r.stdout).toMatch(/replay: 5 recorded inputs entered as recorded; the event log is the recorded run's, bit for bit/);
    expect(r.status, r.stderr).toBe(0);
  }, LIMIT);
});

describe('recordings that are not what they say', () => {
  const refusal = (file: string) => {
    try {
      readRecording(file);
    } catch (e) {
      expect(e).toBeInstanceOf(RecordingError);
      return `${(e as RecordingError).code}: ${(e as Error).message.replace(dir, 'DIR')}`;
    }
    throw new Error(`${file} was read`);
  };

  it('a malformed one is refused, naming its line and what is wrong', () => {
    expect(refusal(join(dir, 'nothing.rec'))).toBe('RECORDING_UNREADABLE: DIR/nothing.rec: no such recording');
    expect(refusal(tampered('json.rec', (l) => [l[0]!, '{"t":']))).toBe('RECORDING_MALFORMED: DIR/json.rec:2: not a JSON line (a recording is written by `hic boot --record`)');
    expect(refusal(tampered('format.rec', (l) => [l[0]!.replace('hic-recording', 'pcap'), ...l.slice(1)]))).toBe('RECORDING_MALFORMED: DIR/format.rec:1: not a HIC recording (format "pcap", expected "hic-recording")');
    expect(refusal(tampered('version.rec', (l) => [l[0]!.replace('"version":1', '"version":9'), ...l.slice(1)]))).toBe('RECORDING_MALFORMED: DIR/version.rec:1: recording version 9; this HIC reads version 1');
    expect(refusal(tampered('source.rec', (l) => [l[0]!, l[1]!.replace('"control"', '"serial"'), ...l.slice(2)]))).toBe('RECORDING_MALFORMED: DIR/source.rec:2: inputs[0] must be { source: "tap"|"control", what, data }');
    expect(refusal(tampered('order.rec', (l) => [l[0]!, l[3]!, l[1]!, ...l.slice(4)]))).toBe('RECORDING_MALFORMED: DIR/order.rec:3: a boundary before the one on the line above it (time, turn and event number only grow)');
    expect(refusal(tampered('after.rec', (l) => [...l, l[1]!]))).toBe('RECORDING_MALFORMED: DIR/after.rec:8: a line after the end line');
    expect(refusal(tampered('end.rec', (l) => [...l.slice(0, -1), '{"end":{"halt":"bored"}}']))).toBe('RECORDING_MALFORMED: DIR/end.rec:7: "end" must be { halt: "idle"|"timeLimit"|"quit", t, events, logHash }');
  });

  /** A replay of a recording file, in this process, to its end. */
  async function replay(file: string) {
    const { recording: r, manifest } = replayedImage(file, undefined);
    const system = await stage({ label: manifest.file, image: JSON.parse(r.header.image.text) as object }, replayOptions(r));
    try {
      const result = await system.run();
      return { result, verdict: replayVerdict(system, result), pacer: system.pacer as ReplayPacer };
    } finally {
      system.dispose();
    }
  }

  it('one of another boot is refused before anything runs', async () => {
    const file = tampered('boot.rec', (l) => [l[0]!.replace(/"hash":"[0-9a-f]{4}/, '"hash":"0000'), ...l.slice(1)]);
    await expect(replay(file)).rejects.toThrow(/boot\.rec: this machine boots differently from the recorded one \(\d+ events before it runs, hash [0-9a-f]{16}; recorded \d+, 0000[0-9a-f]{12}\): its image or a module differs/);
  }, LIMIT);

  it('one whose boundary moved is found out where the machine leaves it, and the run ends there', async () => {
    // The quit, one turn later than it entered: the machine passes its time without it.
    const file = tampered('moved.rec', (l) => [...l.slice(0, 5), l[5]!.replace(/"turn":(\d+)/, (_m, n: string) => `"turn":${Number(n) + 1}`), l[6]!]);
    const { verdict, pacer, result } = await replay(file);
    expect(result.halt).toBe('quit');
    expect(pacer.progress.admitted).toBe(4);
    expect(verdict.same).toBe(false);
    const quit = recording.batches[4]!;
    expect(verdict.line).toMatch(new RegExp(`^replay DIVERGED: replay diverged at recorded boundary 5 of 5: the machine reached turn ${quit.turn + 1} at (\\d+) ns; the recording's next inputs entered after turn ${quit.turn + 1} at ${quit.t} ns$`));
    expect(Number(/reached turn \d+ at (\d+) ns/.exec(verdict.line)![1])).toBeGreaterThan(quit.t);
  }, LIMIT);

  it('one cut short (the recorded run died) replays to its last input and says nothing after it can be compared', async () => {
    const file = tampered('cut.rec', (l) => l.slice(0, 3));
    const { verdict, pacer, result } = await replay(file);
    expect(result.halt).toBe('quit');
    expect(pacer.progress).toEqual({ admitted: 2, of: 2 });
    expect(verdict).toEqual({ same: false, line: expect.stringMatching(/^replay: all 2 recorded inputs entered as recorded; .*cut\.rec ends there \(the recorded run did not finish\), so nothing after it can be compared$/) });
  }, LIMIT);
});
