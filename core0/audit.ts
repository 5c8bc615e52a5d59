// The audit log: an append-only, hash-chained record of security-relevant kernel decisions,
// persisted as JSON lines so it outlives the host process.
//
// Editing, removing, reordering or tearing a line is visible from the log alone (audit/chain.ts,
// audit/verify.ts). Removing the *last* records is not: what remains is still a valid chain. Two
// things close that gap: the checkpoint beside the log (audit/segments.ts), which every boot checks
// before it appends, and a head hash kept somewhere the log's editor cannot reach (the kernel
// emits it; `hic audit verify --head` compares it).
//
// The log is read and verified in a stream, never as one string, and grows in segments; a boot
// verifies only what was appended after the checkpoint, so its cost does not grow with the log.
// What one sandbox can make the kernel audit is rate-limited (audit/limiter.ts).
//
// The chain proves integrity, not authorship: there is no key, so anyone who can write the files
// can also append well-formed records. Time `t` is the caller's virtual time; this file never
// reads a clock, so the same appends give the same bytes.

import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { AuditError, flatCopy, GENESIS_HASH, RESERVED, seal, type AuditEntry, type AuditFailure, type AuditRecord } from './audit/chain.ts';
import { AuditLimiter, type AuditLimits } from './audit/limiter.ts';
import { MAX_LINE } from './audit/lines.ts';
import { refuse, setTornTailAside, startingPoint, TORN_KIND } from './audit/resume.ts';
import { sealFlat } from './audit/shapes.ts';
import { DEFAULT_SEGMENT_BYTES, logOf, sealedPath, segmentFiles, syncDirectory, writeCheckpoint, type Checkpoint } from './audit/segments.ts';
import { fileSegment, GENESIS, textSegment, verifyChain, type ChainOptions } from './audit/verify.ts';

export { AUDIT_CALLER_BUGS, AuditError, canonicalJson, GENESIS_HASH, type AuditEntry, type AuditErrorCode, type AuditFailure, type AuditRecord } from './audit/chain.ts';
export { DEFAULT_AUDIT_LIMITS, SUPPRESSED_KIND, type AuditLimits } from './audit/limiter.ts';
export { fileLines } from './audit/lines.ts';
export { TORN_KIND } from './audit/resume.ts';
export { checkpointPath, DEFAULT_SEGMENT_BYTES, logOf, segmentFiles } from './audit/segments.ts';

export type AuditVerdict =
  | { ok: true; records: number; head: string }
  | { ok: false; file?: string; line: number; code: AuditFailure; reason: string };

export type VerifyOptions = ChainOptions;

/** Held while a process appends; release() lets the next one in. */
export interface AppendLock {
  release(): void;
}

/**
 * Takes the lock file of a log, or says who holds it. The kernel does not know how the host locks
 * files: the caller passes a lock the operating system drops when its process dies (flock, in
 * emulator/flock.ts), so a crashed appender never blocks the next one.
 */
export type LockLog = (lockFile: string) => AppendLock | { readonly busy: true; readonly holder?: number | undefined };

export interface OpenOptions {
  readonly lock: LockLog;
  readonly limits?: AuditLimits;
  /** The active segment is sealed once it holds this many bytes (default 64 MiB). */
  readonly segmentBytes?: number;
}

/** A checkpoint is written after this many appends too, so a crash leaves little to re-verify. */
const CHECKPOINT_EVERY = 16_384;

/** A record admitted, not yet sealed: its place in the chain and its content, fixed. */
interface Deferred {
  readonly seq: number;
  readonly entry: AuditEntry;
  /** Every field a JSON scalar (flatCopy): sealed through its kind's shape (audit/shapes.ts). */
  readonly flat: boolean;
}

/** A record hashed, with its line, not yet written. */
interface Sealed {
  readonly record: AuditRecord;
  readonly text: string;
  readonly bytes: number;
}

/** The files behind a log that has them. */
interface Files {
  readonly path: string;
  readonly lock: AppendLock;
  readonly segmentBytes: number;
  /** Byte size of each sealed segment. */
  readonly sealed: number[];
  fd: number;
  /** Bytes and lines of the active segment. */
  bytes: number;
  lines: number;
  sinceCheckpoint: number;
}

export class AuditLog {
  private readonly appended: AuditRecord[] = [];
  /** Admitted by the kernel, sealed at the next flush(). */
  private pending: Deferred[] = [];
  private readonly limiter: AuditLimiter;
  private broken: string | null = null;
  private lastT = 0;

  /** The seq of the next record admitted: ahead of the sealed records by those pending. */
  private nextSeq: number;

  private constructor(
    private readonly files: Files | null,
    /** Records in the whole chain sealed so far (on disk, for a log with files). */
    private sealedRecords: number,
    private last: string,
    limits: AuditLimits | undefined,
  ) {
    this.nextSeq = sealedRecords;
    this.limiter = new AuditLimiter(limits);
  }

  /**
   * Opens (or creates) a log. What is already there must verify — from the checkpoint on, when
   * there is one that still matches the log, otherwise from the first record — and the chain
   * continues it. One process appends at a time: a second is refused with AUDIT_BUSY rather
   * than interleaving its records into the chain.
   */
  static open(path: string, options: OpenOptions): AuditLog {
    mkdirSync(dirname(path), { recursive: true });
    const held = options.lock(`${path}.lock`);
    if ('busy' in held) {
      const who = held.holder ? `process ${held.holder}` : 'another process';
      throw new AuditError('AUDIT_BUSY', `${path}: ${who} is appending to this log (${path}.lock); wait for it, or use another --data-dir`);
    }
    try {
      const { start, sealed } = startingPoint(path);
      const files = segmentFiles(path);
      let v = verifyChain(files.map(fileSegment), start);
      const torn = !v.ok && v.code === 'AUDIT_TORN' && v.file === path ? setTornTailAside(path, v.offset) : undefined;
      if (torn) v = verifyChain(files.map(fileSegment), start);
      if (!v.ok) refuse(v.file, v.line, v.code, v.reason);
      const active = files.length - 1;
      const bytes = existsSync(path) ? statSync(path).size : 0;
      const lines = v.end.segment === active ? v.end.line : 0;
      const fd = openSync(path, 'a');
      const state: Files = { path, lock: held, segmentBytes: options.segmentBytes ?? DEFAULT_SEGMENT_BYTES, sealed, fd, bytes, lines, sinceCheckpoint: 0 };
      const log = new AuditLog(state, v.end.records, v.end.head, options.limits);
      if (torn) log.append({ t: 0, kind: TORN_KIND, ...torn });
      if (state.bytes >= state.segmentBytes) log.rotate();
      else log.checkpoint();
      return log;
    } catch (e) {
      held.release();
      throw e;
    }
  }

  /** The same chain without a file: for tests and for a kernel run without a data directory. */
  static inMemory(options: { limits?: AuditLimits } = {}): AuditLog {
    return new AuditLog(null, 0, GENESIS_HASH, options.limits);
  }

  /**
   * A kernel record, through the per-sandbox limit: it, or nothing and a count, or a summary
   * first. Its place in the chain and its content are fixed now; a flat record (every field a
   * JSON scalar, nearly all of them) is encoded, hashed and written at the next flush(), which the
   * kernel calls at every slice boundary and the host before it lets anything out (the log is
   * off the kernel's critical path, not out of it: docs/reliability.md#audit-records-in-batches).
   */
  admit(entry: AuditEntry): void {
    for (const e of this.limiter.admit(entry)) this.defer(e);
  }

  /** Appends one record as it is (no limit), sealed and written before it returns: the chain's own operation. */
  append(entry: AuditEntry): AuditRecord {
    this.flush();
    this.check(entry);
    return this.seal([{ seq: this.nextSeq, entry, flat: false }])[0]!;
  }

  /** Seals and writes every record admitted so far. Nothing to do costs nothing. */
  flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.seal(batch);
  }

  private defer(entry: AuditEntry): void {
    this.check(entry);
    const copy = flatCopy(entry, MAX_LINE);
    if (copy === undefined) {
      this.append(entry); // nested, or long enough to need its length checked now
      return;
    }
    this.pending.push({ seq: this.nextSeq++, entry: copy, flat: true });
  }

  /** What a caller may not hand the log; refused before anything changes. */
  private check(entry: AuditEntry): void {
    if (this.broken !== null) throw new AuditError('AUDIT_WRITE_FAILED', `audit log ${this.files?.path} is unusable: ${this.broken}`);
    for (const k of RESERVED) {
      if (Object.hasOwn(entry, k)) throw new AuditError('AUDIT_BAD_ENTRY', `audit: entry field "${k}" is set by the log, not the caller`);
    }
    if (!Number.isSafeInteger(entry.t) || entry.t < 0) throw new AuditError('AUDIT_BAD_ENTRY', `audit: t=${entry.t} is not a virtual time in ns`);
    if (typeof entry.kind !== 'string' || entry.kind === '') throw new AuditError('AUDIT_BAD_ENTRY', 'audit: entry needs a non-empty kind');
  }

  /**
   * Hashes the records in chain order and writes them, a run of lines per system call, split
   * where the segment rotates or a checkpoint falls (where one record at a time would split it).
   * A record joins `records` and the head only once its line is written.
   */
  private seal(batch: readonly Deferred[]): AuditRecord[] {
    let prev = this.last;
    const sealed: Sealed[] = [];
    for (const { seq, entry, flat } of batch) {
      const { hash, line, record } = (flat ? sealFlat(entry, seq, prev) : undefined) ?? sealAny(entry, seq, prev);
      const text = line + '\n';
      const bytes = Buffer.byteLength(text, 'utf8');
      if (bytes > MAX_LINE) throw new AuditError('AUDIT_BAD_ENTRY', `audit: a ${entry.kind} record of ${bytes} bytes is longer than a line may be (${MAX_LINE})`);
      prev = hash;
      sealed.push({ record, text, bytes });
    }
    const f = this.files;
    if (!f) {
      this.commit(sealed);
      return sealed.map((r) => r.record);
    }
    let run: Sealed[] = [];
    let runBytes = 0;
    for (const r of sealed) {
      run.push(r);
      runBytes += r.bytes;
      const rotate = f.bytes + runBytes >= f.segmentBytes;
      if (rotate || f.sinceCheckpoint + run.length >= CHECKPOINT_EVERY) {
        this.commit(run);
        run = [];
        runBytes = 0;
        if (rotate) this.rotate();
        else this.checkpoint();
      }
    }
    this.commit(run);
    return sealed.map((r) => r.record);
  }

  /** Writes sealed records as one run of lines, then makes them the log's. */
  private commit(run: readonly Sealed[]): void {
    if (run.length === 0) return;
    if (this.files) this.write(run.length === 1 ? run[0]!.text : run.map((r) => r.text).join(''), run);
    for (const { record } of run) {
      this.appended.push(record);
      this.last = record.hash;
      this.lastT = Math.max(this.lastT, record.t);
    }
    this.sealedRecords = run.at(-1)!.record.seq + 1;
    this.nextSeq = Math.max(this.nextSeq, this.sealedRecords);
  }

  /** Seals what is pending, writes the summaries of what is still suppressed, checkpoints, and lets the next process in. */
  close(): void {
    if (this.broken === 'closed') return;
    const f = this.files;
    try {
      if (this.broken === null) {
        this.flush();
        for (const e of this.limiter.flush(this.lastT)) this.append(e);
        if (f) this.checkpoint();
      }
    } finally {
      this.broken = 'closed';
      if (f) {
        closeSync(f.fd);
        f.lock.release();
      }
    }
  }

  /** Records appended by this process (earlier ones stay in the log); reading them seals what is pending. */
  get records(): readonly AuditRecord[] {
    this.flush();
    return this.appended;
  }

  /** Hash of the last record in the whole chain, or the genesis hash if there is none; reading it seals what is pending. */
  get head(): string {
    this.flush();
    return this.last;
  }

  /** Records admitted and not yet sealed. */
  get pendingRecords(): number {
    return this.pending.length;
  }

  /** Sealed segments of the log so far. */
  get sealedSegments(): number {
    return this.files?.sealed.length ?? 0;
  }

  private write(text: string, run: readonly Sealed[]): void {
    const f = this.files!;
    const bytes = Buffer.from(text, 'utf8');
    try {
      // A log removed while we append would swallow every later record unseen.
      if (fstatSync(f.fd).nlink === 0) throw Object.assign(new Error(`${f.path} was removed while this process appended to it`), { syscall: 'fstat' });
      const n = writeSync(f.fd, bytes);
      if (n !== bytes.length) throw Object.assign(new Error(`only ${n} of ${bytes.length} bytes written`), { syscall: 'write' });
    } catch (e) {
      // Only the file system's refusals (ENOSPC, EIO, ...): anything else is a bug.
      if (!isSystemError(e)) throw e;
      // Part of the lines may have reached the file; appending after them would bury a torn
      // line mid-file. Stop here: a log that silently skipped a record is worse than none.
      this.broken = e.message;
      const first = run[0]!.record.seq;
      const which = run.length === 1 ? `record #${first}` : `records #${first}..#${first + run.length - 1}`;
      throw new AuditError('AUDIT_WRITE_FAILED', `audit log ${f.path}: ${which} not written: ${this.broken}`);
    }
    f.bytes += bytes.length;
    f.lines += run.length;
    f.sinceCheckpoint += run.length;
  }

  /** Durable up to here: the log's bytes first, then the checkpoint that points at them. */
  private checkpoint(): void {
    const f = this.files!;
    fsyncSync(f.fd);
    const cp: Checkpoint = { sealed: f.sealed, segment: f.sealed.length + 1, offset: f.bytes, line: f.lines, records: this.sealedRecords, head: this.last };
    writeCheckpoint(f.path, cp);
    syncDirectory(dirname(f.path));
    f.sinceCheckpoint = 0;
  }

  /** Seals the active segment under the next number and starts an empty one; the chain runs on. */
  private rotate(): void {
    const f = this.files!;
    fsyncSync(f.fd);
    closeSync(f.fd);
    // A crash after the rename leaves the old checkpoint pointing into what is now a sealed
    // segment: the same bytes under the same segment number, so the next open still finds them.
    renameSync(f.path, sealedPath(f.path, f.sealed.length + 1));
    f.sealed.push(f.bytes);
    f.fd = openSync(f.path, 'a');
    f.bytes = 0;
    f.lines = 0;
    this.checkpoint();
  }
}

/** Any entry, through the generic canonical encoder; its record a copy the caller's later changes cannot alter. */
function sealAny(entry: AuditEntry, seq: number, prev: string): { hash: string; line: string; record: AuditRecord } {
  const body = { ...entry, seq, prev };
  const { hash, line } = seal(prev, body);
  // Flat entries are copied as they are, nested ones through the line itself.
  const nested = Object.values(entry).some((v) => typeof v === 'object' && v !== null);
  const { seq: s, t, kind, prev: p, hash: h, ...fields } = nested ? (JSON.parse(line) as AuditRecord) : ({ ...body, hash } as AuditRecord);
  return { hash, line, record: Object.freeze({ seq: s, t, kind, ...fields, prev: p, hash: h }) };
}

/** An error the operating system reported (it names the call that failed), as opposed to a bug. */
function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).syscall === 'string';
}

const verdictOf = (v: ReturnType<typeof verifyChain>, named: boolean): AuditVerdict => {
  if (v.ok) return { ok: true, records: v.end.records, head: v.end.head };
  const { file, offset: _offset, ...rest } = v;
  return named ? { ...rest, file } : rest;
};

/**
 * Verifies a whole log from its first record, across its sealed segments: `path` names the log
 * (its active segment, or any of its sealed ones). Streamed, so any size verifies.
 */
export function verifyAuditFile(path: string, options: VerifyOptions = {}): AuditVerdict {
  const log = logOf(path);
  const files = segmentFiles(log);
  if (files.length === 1) statSync(log); // a log that is not there is the caller's mistake (ENOENT)
  return verdictOf(verifyChain(files.map(fileSegment), GENESIS, options), true);
}

/** verifyAuditFile on text in memory: the first problem, by 1-based line, or the record count and head. */
export function verifyAuditText(text: string, options: VerifyOptions = {}): AuditVerdict {
  return verdictOf(verifyChain([textSegment(text)], GENESIS, options), false);
}
