// Where an audit log lives on disk: its segments and its checkpoint.
//
//   audit.jsonl              the active segment, appended to
//   audit.000001.jsonl, …    sealed segments, oldest first: the active one renamed when it grew
//                            past the segment size. The chain runs on across them: the first
//                            record of a segment links to the last of the one before.
//   audit.checkpoint         where the last verified or written record ends, and its hash
//
// The checkpoint is what lets a boot verify only what is new: it says "up to byte `offset` of
// segment `segment` there are `records` records ending in `head`, and the sealed segments have
// these sizes". A boot checks that cheaply (sizes, and the one record that ends at `offset`) and
// verifies from there on. It is kept apart from the log, so a log cut back to an earlier state
// (records removed from the end, a segment deleted, an older copy restored) no longer holds the
// checkpointed head where the checkpoint says, and is refused; the chain alone cannot see that.
// The checkpoint carries a hash of its own fields, so a damaged one is refused, not believed.
// It has no key: whoever can rewrite the log and the checkpoint together can forge both.

import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { createHash } from 'node:crypto';
import { AuditError, canonicalJson, HASH_PATTERN } from './chain.ts';

/** The active segment is renamed to a sealed one once it holds this many bytes. */
export const DEFAULT_SEGMENT_BYTES = 64 << 20;

const CHECKPOINT_FORMAT = 'hic-audit-checkpoint/1';

export interface Checkpoint {
  /** Byte size of each sealed segment, segment 1 first. */
  readonly sealed: readonly number[];
  /** 1-based segment the position is in; sealed.length + 1 is the active one. */
  readonly segment: number;
  /** The position: a byte offset just past a record's newline, and the lines before it in that segment. */
  readonly offset: number;
  readonly line: number;
  /** Records in the whole log up to the position, and the hash of the last of them. */
  readonly records: number;
  readonly head: string;
}

const parts = (log: string) => {
  const ext = extname(log);
  return { dir: dirname(log), stem: basename(log, ext), ext };
};

export function sealedPath(log: string, n: number): string {
  const { dir, stem, ext } = parts(log);
  return join(dir, `${stem}.${String(n).padStart(6, '0')}${ext}`);
}

export function checkpointPath(log: string): string {
  const { dir, stem } = parts(log);
  return join(dir, `${stem}.checkpoint`);
}

/** The log a path names: a sealed segment's path names the log it belongs to. */
export function logOf(path: string): string {
  const { dir, stem, ext } = parts(path);
  const m = /^(.*)\.\d{6,}$/.exec(stem);
  return m ? join(dir, `${m[1]}${ext}`) : path;
}

/** Sealed segments present on disk, by number. */
export function sealedSegments(log: string): { n: number; path: string }[] {
  const { dir, stem, ext } = parts(log);
  if (!existsSync(dir)) return [];
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`^${escape(stem)}\\.(\\d{6,})${escape(ext)}$`);
  return readdirSync(dir)
    .map((f) => pattern.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ n: Number(m[1]), path: join(dir, m[0]) }))
    .sort((a, b) => a.n - b.n);
}

/** Every segment in chain order: the sealed ones, then the active one (which may not exist yet). */
export function segmentFiles(log: string): string[] {
  return [...sealedSegments(log).map((s) => s.path), log];
}

function checkOf(fields: Checkpoint): string {
  return createHash('sha256').update(CHECKPOINT_FORMAT + canonicalJson(fields)).digest('hex');
}

const corrupt = (file: string, what: string) =>
  new AuditError('AUDIT_CORRUPT', `${file}: ${what}; run \`hic audit verify\` on the log, and remove the checkpoint to accept the log as it verifies`);

/** The checkpoint beside a log, or undefined when there is none (a new log, or one from before checkpoints). */
export function readCheckpoint(log: string): Checkpoint | undefined {
  const file = checkpointPath(log);
  if (!existsSync(file)) return undefined;
  if (statSync(file).size > 1 << 20) throw corrupt(file, 'is too large to be a checkpoint');
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    throw corrupt(file, 'is not JSON');
  }
  const r = v as Record<string, unknown>;
  const count = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0;
  if (typeof v !== 'object' || v === null || r.format !== CHECKPOINT_FORMAT) throw corrupt(file, `is not a ${CHECKPOINT_FORMAT} checkpoint`);
  const fields: Checkpoint = { sealed: r.sealed as number[], segment: r.segment as number, offset: r.offset as number, line: r.line as number, records: r.records as number, head: r.head as string };
  if (!Array.isArray(fields.sealed) || !fields.sealed.every((b) => count(b) && b > 0) || !count(fields.segment) || fields.segment < 1 ||
    fields.segment > fields.sealed.length + 1 || !count(fields.offset) || !count(fields.line) || !count(fields.records) ||
    typeof fields.head !== 'string' || !HASH_PATTERN.test(fields.head)) {
    throw corrupt(file, 'has a missing or invalid field');
  }
  if (r.check !== checkOf(fields)) throw corrupt(file, 'does not match its own hash: it was changed or damaged');
  return fields;
}

/** Written beside the old one and renamed over it, so a crash leaves the old or the new, never half. */
export function writeCheckpoint(log: string, cp: Checkpoint): void {
  const file = checkpointPath(log);
  const tmp = `${file}.${process.pid}.tmp`;
  const fields: Checkpoint = { sealed: [...cp.sealed], segment: cp.segment, offset: cp.offset, line: cp.line, records: cp.records, head: cp.head };
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, JSON.stringify({ format: CHECKPOINT_FORMAT, ...fields, check: checkOf(fields) }) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** Makes a rename or a new file in `dir` durable (the directory entry, not only the data). */
export function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
