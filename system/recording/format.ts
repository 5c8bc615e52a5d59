// The recording of a live run (`hic boot --record FILE`): everything a replay needs to run the
// same machine again and get the same event log, bit for bit. JSON lines:
//
//   line 1   the header: the image's manifest as it was read, the boot's wall-clock date, how far
//            the run was to go, whether the image's traffic was on the wire, and what the event
//            log held once the machine was assembled (its length and hash: the same modules)
//   then     one line per slice boundary at which outside inputs entered: its virtual time, its
//            turn (core0/pacer.ts), the event number the first input got, and the inputs
//   last     how the run ended: halt reason, virtual time, events, the log's hash
//
// Lines are written as the run goes, so a run that dies leaves a recording that replays up to
// its last input. Reading checks every line and names the line and field of any mistake.

import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { HaltReason } from '../../core0/kernel.ts';
import type { SystemStateRecord } from '../state/system-state.ts';

export const RECORDING_FORMAT = 'hic-recording';
export const RECORDING_VERSION = 1;

export interface RecordingHeader {
  readonly format: typeof RECORDING_FORMAT;
  readonly version: typeof RECORDING_VERSION;
  /** The image manifest: the file it was read from, and its text. */
  readonly image: { readonly file: string; readonly text: string };
  /** The wall-clock date (UTC) repository expiry was judged at. */
  readonly date: string;
  /** Virtual ns the run was to go to, or 'never' (until quit). */
  readonly until: number | 'never';
  /** Whether the image's traffic generator was on the wire. */
  readonly traffic: boolean;
  /** The event log once the machine was assembled, before it ran. */
  readonly boot: { readonly events: number; readonly hash: string };
  /** What the boot found in its data directory (the systemState event's content), if it had one: a replay boots the same. */
  readonly state?: SystemStateRecord;
}

export interface RecordedInput {
  readonly source: 'tap' | 'control';
  readonly what: string;
  readonly data: string;
}

/** The inputs that entered at one slice boundary. */
export interface RecordedBatch {
  readonly t: number;
  readonly turn: number;
  /** The event number the first input's `input` event got. */
  readonly seq: number;
  readonly inputs: readonly RecordedInput[];
}

export interface RecordingEnd {
  readonly halt: HaltReason;
  readonly t: number;
  readonly events: number;
  readonly logHash: string;
}

export interface Recording {
  readonly file: string;
  readonly header: RecordingHeader;
  readonly batches: readonly RecordedBatch[];
  /** Undefined when the recorded run died before it ended. */
  readonly end: RecordingEnd | undefined;
}

export type RecordingErrorCode = 'RECORDING_UNREADABLE' | 'RECORDING_UNWRITABLE' | 'RECORDING_MALFORMED' | 'RECORDING_MISMATCH';

export class RecordingError extends Error {
  constructor(
    readonly code: RecordingErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Writes a recording as the run goes: one system call per line, so nothing waits in memory. */
export class RecordingWriter {
  private constructor(private fd: number | undefined) {}

  /** The file, created (or emptied) at once, so a path that cannot be written is found before the run. */
  static create(file: string): RecordingWriter {
    try {
      return new RecordingWriter(openSync(file, 'w'));
    } catch (e) {
      throw new RecordingError('RECORDING_UNWRITABLE', `--record ${file}: cannot write it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }

  header(h: RecordingHeader): void {
    this.line(h);
  }

  batch(b: RecordedBatch): void {
    this.line(b);
  }

  end(e: RecordingEnd): void {
    this.line({ end: e });
    this.close();
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private line(value: unknown): void {
    if (this.fd !== undefined) writeSync(this.fd, JSON.stringify(value) + '\n');
  }
}

// --- reading ---------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const HALTS: readonly HaltReason[] = ['idle', 'timeLimit', 'quit'];

export function readRecording(file: string): Recording {
  if (!existsSync(file)) throw new RecordingError('RECORDING_UNREADABLE', `${file}: no such recording`);
  const lines = readFileSync(file, 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const at = (n: number, what: string) => new RecordingError('RECORDING_MALFORMED', `${file}:${n}: ${what}`);
  const parse = (n: number): Json => {
    let v: unknown;
    try {
      v = JSON.parse(lines[n - 1]!);
    } catch {
      throw at(n, 'not a JSON line (a recording is written by `hic boot --record`)');
    }
    if (!isObject(v)) throw at(n, 'not a JSON object');
    return v;
  };
  if (lines.length === 0) throw at(1, 'empty: no header');
  const header = readHeader(parse(1), (what) => at(1, what));
  const batches: RecordedBatch[] = [];
  let end: RecordingEnd | undefined;
  for (let n = 2; n <= lines.length; n++) {
    const v = parse(n);
    if (end) throw at(n, 'a line after the end line');
    if ('end' in v) end = readEnd(v.end, (what) => at(n, what));
    else {
      const b = readBatch(v, (what) => at(n, what));
      const last = batches[batches.length - 1];
      if (last && (b.turn < last.turn || b.t < last.t || b.seq <= last.seq)) throw at(n, 'a boundary before the one on the line above it (time, turn and event number only grow)');
      batches.push(b);
    }
  }
  // Frozen: a replay only reads it, and a debugger's checkpoints skip frozen objects.
  return deepFreeze({ file, header, batches, end });
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

function readHeader(v: Json, fail: (what: string) => Error): RecordingHeader {
  if (v.format !== RECORDING_FORMAT) throw fail(`not a HIC recording (format "${String(v.format)}", expected "${RECORDING_FORMAT}")`);
  if (v.version !== RECORDING_VERSION) throw fail(`recording version ${String(v.version)}; this HIC reads version ${RECORDING_VERSION}`);
  const image = v.image;
  if (!isObject(image) || typeof image.file !== 'string' || typeof image.text !== 'string') throw fail('"image" must be { file, text }');
  if (typeof v.date !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(v.date)) throw fail('"date" must be a date like 2026-01-31');
  if (v.until !== 'never' && !isCount(v.until)) throw fail('"until" must be virtual nanoseconds or "never"');
  if (typeof v.traffic !== 'boolean') throw fail('"traffic" must be true or false');
  const boot = v.boot;
  if (!isObject(boot) || !isCount(boot.events) || typeof boot.hash !== 'string') throw fail('"boot" must be { events, hash }');
  const state = v.state;
  if (state !== undefined && !(isObject(state) && (state.boot === 'image' || state.boot === 'installed') && isObject(state.versions) && Array.isArray(state.bad))) {
    throw fail('"state" must be what the boot found in its data directory: { boot, versions, bad, recovered, windowClosed, journal }');
  }
  return {
    format: RECORDING_FORMAT, version: RECORDING_VERSION, image: { file: image.file, text: image.text }, date: v.date, until: v.until, traffic: v.traffic, boot: { events: boot.events, hash: boot.hash },
    ...(state === undefined ? {} : { state: state as unknown as SystemStateRecord }),
  };
}

function readBatch(v: Json, fail: (what: string) => Error): RecordedBatch {
  if (!isCount(v.t) || !isCount(v.turn) || !isCount(v.seq)) throw fail('a boundary needs "t", "turn" and "seq", each a whole number');
  if (!Array.isArray(v.inputs) || v.inputs.length === 0) throw fail('"inputs" must be a list of at least one input');
  const inputs = v.inputs.map((x: unknown, i: number): RecordedInput => {
    if (!isObject(x) || (x.source !== 'tap' && x.source !== 'control') || typeof x.what !== 'string' || typeof x.data !== 'string') {
      throw fail(`inputs[${i}] must be { source: "tap"|"control", what, data }`);
    }
    return { source: x.source, what: x.what, data: x.data };
  });
  return { t: v.t, turn: v.turn, seq: v.seq, inputs };
}

function readEnd(v: unknown, fail: (what: string) => Error): RecordingEnd {
  if (!isObject(v) || !HALTS.includes(v.halt as HaltReason) || !isCount(v.t) || !isCount(v.events) || typeof v.logHash !== 'string') {
    throw fail('"end" must be { halt: "idle"|"timeLimit"|"quit", t, events, logHash }');
  }
  return { halt: v.halt as HaltReason, t: v.t, events: v.events, logHash: v.logHash };
}
