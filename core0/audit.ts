// The audit log: an append-only, hash-chained record of security-relevant kernel decisions,
// persisted as JSON lines so it outlives the host process.
//
// Each record carries `prev` (the hash of the record before it; 64 zeros for the first) and
// `hash = sha256(prev + canonicalJson(record without hash))`. Editing, removing, reordering or
// tearing a line is therefore visible from the file alone. Removing the *last* records is not:
// what remains is still a valid chain. Only a head hash kept somewhere the file's editor cannot
// reach (the kernel emits it; `hic audit verify --head` compares it) closes that gap.
//
// The chain proves integrity, not authorship: there is no key, so anyone who can write the file
// can also append well-formed records. Time `t` is the caller's virtual time; this file never
// reads a clock, so the same appends give the same bytes.

import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

/** The fields the log sets itself; an entry that carries them is a caller bug. */
const RESERVED = ['seq', 'prev', 'hash'] as const;
const HASH_PATTERN = /^[0-9a-f]{64}$/;

export interface AuditRecord {
  readonly seq: number;
  readonly t: number;
  readonly kind: string;
  readonly prev: string;
  readonly hash: string;
  readonly [field: string]: unknown;
}

export interface AuditEntry {
  t: number;
  kind: string;
  [field: string]: unknown;
}

export type AuditFailure =
  | 'AUDIT_EDITED'
  | 'AUDIT_REORDERED'
  | 'AUDIT_REMOVED'
  | 'AUDIT_TORN'
  | 'AUDIT_MALFORMED'
  /** A trusted head was given and is not in the file: its last records were removed. */
  | 'AUDIT_TRUNCATED'
  /** A trusted head was given and the file has records after it. */
  | 'AUDIT_EXTENDED';

export type AuditVerdict =
  | { ok: true; records: number; head: string }
  | { ok: false; line: number; code: AuditFailure; reason: string };

export interface VerifyOptions {
  /** A head hash from a trusted copy: the file's last record must have exactly this hash. */
  readonly head?: string;
}

/**
 * Why the audit log refused (what a file contains is judged by a verdict, not thrown). Two kinds:
 * the log cannot be used -- AUDIT_CORRUPT (an existing file does not verify), AUDIT_WRITE_FAILED,
 * AUDIT_BUSY (another process appends) -- and the caller handed it something it must not record,
 * which is the caller's bug: AUDIT_BAD_ENTRY (a reserved field, a time that is not ns, no kind) and
 * AUDIT_UNENCODABLE (a value outside JSON: NaN, undefined, bigint, a class instance, a cycle).
 */
export type AuditErrorCode = 'AUDIT_CORRUPT' | 'AUDIT_WRITE_FAILED' | 'AUDIT_BUSY' | 'AUDIT_BAD_ENTRY' | 'AUDIT_UNENCODABLE';

/** The codes that mean the caller is at fault, not the file or the machine (see AuditErrorCode). */
export const AUDIT_CALLER_BUGS: ReadonlySet<AuditErrorCode> = new Set(['AUDIT_BAD_ENTRY', 'AUDIT_UNENCODABLE']);

export class AuditError extends Error {
  constructor(
    readonly code: AuditErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * JSON with object keys sorted at every depth and no whitespace, so a record's hash depends on
 * its content only. Values outside JSON (undefined, bigint, NaN, functions, class instances)
 * throw AUDIT_UNENCODABLE: the caller handed the log something it cannot record faithfully.
 */
export function canonicalJson(value: unknown): string {
  return encode(value, () => '$', new Set());
}

// The path of a value is only needed to name it in an error, so it is built only then: the
// audit log encodes every record on the kernel's path, and building strings there shows.
type Path = () => string;

function encode(v: unknown, path: Path, open: Set<object>): string {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new AuditError('AUDIT_UNENCODABLE', `audit: ${path()} is ${v}, not a JSON number`);
    return JSON.stringify(v);
  }
  if (typeof v !== 'object') throw new AuditError('AUDIT_UNENCODABLE', `audit: ${path()} is a ${typeof v}, not a JSON value`);
  if (open.has(v)) throw new AuditError('AUDIT_UNENCODABLE', `audit: ${path()} refers back to itself`);
  open.add(v);
  let out: string;
  if (Array.isArray(v)) {
    out = '[' + v.map((x, i) => encode(x, () => `${path()}[${i}]`, open)).join(',') + ']';
  } else {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      throw new AuditError('AUDIT_UNENCODABLE', `audit: ${path()} is a ${proto?.constructor?.name ?? 'class instance'}, not a plain object`);
    }
    out = '{' + sortedMembers(v as Record<string, unknown>, path, open).map(([k, e]) => `${JSON.stringify(k)}:${e}`).join(',') + '}';
  }
  open.delete(v);
  return out;
}

const rootPath: Path = () => '$';

function join(members: [string, string][]): string {
  return '{' + members.map(([k, e]) => `${JSON.stringify(k)}:${e}`).join(',') + '}';
}

/** [key, encoded value] in canonical order. Default sort compares UTF-16 code units: fixed by the language, not by locale. */
function sortedMembers(o: Record<string, unknown>, path: Path, open: Set<object>): [string, string][] {
  return Object.keys(o)
    .sort()
    .map((k) => [k, encode(o[k], () => `${path()}.${k}`, open)]);
}

function recordHash(prev: string, withoutHash: object): string {
  return createHash('sha256').update(prev + canonicalJson(withoutHash)).digest('hex');
}

export class AuditLog {
  private readonly appended: AuditRecord[] = [];
  private broken: string | null = null;

  private constructor(
    private readonly path: string | null,
    private nextSeq: number,
    private last: string,
  ) {}

  /**
   * Opens (or creates) a log file; an existing file must verify, and the chain continues it. One
   * process appends at a time: `<path>.lock` holds its pid until close() (or its exit), and a
   * second process is refused with AUDIT_BUSY rather than interleaving its records into the chain.
   * A lock whose process is gone is taken over.
   */
  static open(path: string): AuditLog {
    mkdirSync(dirname(path), { recursive: true });
    const lock = lockAudit(path);
    try {
      if (!existsSync(path)) {
        appendFileSync(path, '');
        return new AuditLog(path, 0, GENESIS_HASH);
      }
      const verdict = verifyAuditText(readFileSync(path, 'utf8'));
      if (!verdict.ok) {
        throw new AuditError('AUDIT_CORRUPT', `${path}:${verdict.line}: ${verdict.reason} [${verdict.code}]; refusing to append to a log that does not verify`);
      }
      return new AuditLog(path, verdict.records, verdict.head);
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  /** Releases the file for the next process; appending afterwards is refused. */
  close(): void {
    if (this.path === null || this.broken !== null) return;
    this.broken = 'closed';
    unlockAudit(this.path);
  }

  /** The same chain without a file: for tests and for a kernel run without a data directory. */
  static inMemory(): AuditLog {
    return new AuditLog(null, 0, GENESIS_HASH);
  }

  append(entry: AuditEntry): AuditRecord {
    if (this.broken !== null) throw new AuditError('AUDIT_WRITE_FAILED', `audit log ${this.path} is unusable: ${this.broken}`);
    for (const k of RESERVED) {
      if (Object.hasOwn(entry, k)) throw new AuditError('AUDIT_BAD_ENTRY', `audit: entry field "${k}" is set by the log, not the caller`);
    }
    if (!Number.isSafeInteger(entry.t) || entry.t < 0) throw new AuditError('AUDIT_BAD_ENTRY', `audit: t=${entry.t} is not a virtual time in ns`);
    if (typeof entry.kind !== 'string' || entry.kind === '') throw new AuditError('AUDIT_BAD_ENTRY', 'audit: entry needs a non-empty kind');

    const body = { ...entry, seq: this.nextSeq, prev: this.last };
    // Encode the members once: the hashed form is them without "hash", the line them with it.
    const members = sortedMembers(body, rootPath, new Set());
    const hash = createHash('sha256').update(this.last + join(members)).digest('hex');
    const at = members.findIndex(([k]) => k > 'hash');
    members.splice(at < 0 ? members.length : at, 0, ['hash', JSON.stringify(hash)]);
    const line = join(members);
    if (this.path !== null) {
      try {
        appendFileSync(this.path, line + '\n');
      } catch (e) {
        // Only the file system's refusals (ENOSPC, EISDIR, EACCES, ...): anything else is a bug.
        if (!isSystemError(e)) throw e;
        // Part of the line may have reached the file; appending after it would bury a torn
        // line mid-file. Stop here: a log that silently skipped a record is worse than none.
        this.broken = e.message;
        throw new AuditError('AUDIT_WRITE_FAILED', `audit log ${this.path}: record #${this.nextSeq} not written: ${this.broken}`);
      }
    }
    // A copy, so later changes to the caller's objects cannot alter it: flat entries (nearly all)
    // are copied as they are, nested ones through the line itself.
    const nested = Object.values(entry).some((v) => typeof v === 'object' && v !== null);
    const { seq, t, kind, prev, hash: h, ...fields } = nested ? (JSON.parse(line) as AuditRecord) : ({ ...body, hash } as AuditRecord);
    const record: AuditRecord = Object.freeze({ seq, t, kind, ...fields, prev, hash: h });
    this.appended.push(record);
    this.nextSeq++;
    this.last = hash;
    return record;
  }

  /** Records appended by this process (earlier ones stay in the file). */
  get records(): readonly AuditRecord[] {
    return this.appended;
  }

  /** Hash of the last record in the whole chain, or the genesis hash if there is none. */
  get head(): string {
    return this.last;
  }
}

const held = new Set<string>();
let exitHookInstalled = false;

function lockAudit(path: string): { release(): void } {
  const file = `${path}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      held.add(path);
      if (!exitHookInstalled) {
        exitHookInstalled = true;
        process.on('exit', () => {
          for (const p of held) rmSync(`${p}.lock`, { force: true });
        });
      }
      return { release: () => unlockAudit(path) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new AuditError('AUDIT_BUSY', `${path}: process ${pid} is appending to this log (${file}); wait for it, or use another --data-dir`);
      }
      rmSync(file, { force: true }); // its process is gone: a stale lock
    }
  }
  throw new AuditError('AUDIT_BUSY', `${path}: could not take ${file}`);
}

function unlockAudit(path: string): void {
  if (held.delete(path)) rmSync(`${path}.lock`, { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    const code = isSystemError(e) ? e.code : undefined;
    if (code === 'ESRCH') return false;
    if (code === 'EPERM') return true; // it exists, it is just not ours to signal
    throw e;
  }
}

/** An error the operating system reported (it names the call that failed), as opposed to a bug. */
function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).syscall === 'string';
}

export function verifyAuditFile(path: string, options: VerifyOptions = {}): AuditVerdict {
  return verifyAuditText(readFileSync(path, 'utf8'), options);
}

interface Parsed {
  readonly record: AuditRecord | null;
  readonly problem: { code: AuditFailure; reason: string } | null;
}

/** Checks one line on its own: JSON, fields, own hash, canonical bytes. */
function parseLine(text: string): Parsed {
  const bad = (code: AuditFailure, reason: string, record: AuditRecord | null = null): Parsed => ({ record, problem: { code, reason } });
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e; // JSON.parse of a string refuses only this way
    return bad('AUDIT_MALFORMED', text === '' ? 'empty line' : 'not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad('AUDIT_MALFORMED', 'not a JSON object');
  const r = v as Record<string, unknown>;
  if (!Number.isSafeInteger(r.seq) || (r.seq as number) < 0) return bad('AUDIT_MALFORMED', 'missing or invalid "seq"');
  if (!Number.isSafeInteger(r.t) || (r.t as number) < 0) return bad('AUDIT_MALFORMED', 'missing or invalid "t"');
  if (typeof r.kind !== 'string' || r.kind === '') return bad('AUDIT_MALFORMED', 'missing or invalid "kind"');
  if (typeof r.prev !== 'string' || !HASH_PATTERN.test(r.prev)) return bad('AUDIT_MALFORMED', 'missing or invalid "prev"');
  if (typeof r.hash !== 'string' || !HASH_PATTERN.test(r.hash)) return bad('AUDIT_MALFORMED', 'missing or invalid "hash"');
  const record = r as unknown as AuditRecord;
  let canonical: string;
  try {
    canonical = canonicalJson(record);
  } catch (e) {
    // JSON.parse reads 1e999 as Infinity, which no record the log wrote can hold: the file's fault.
    if (!(e instanceof AuditError && e.code === 'AUDIT_UNENCODABLE')) throw e;
    return bad('AUDIT_MALFORMED', `record #${record.seq} cannot be re-encoded (${e.message})`, record);
  }
  const { hash, ...body } = record;
  if (recordHash(record.prev, body) !== hash) return bad('AUDIT_EDITED', `record #${record.seq} does not match its hash`, record);
  // Same content, other bytes (CRLF, pretty-printing, a duplicated key): re-serialised by hand.
  if (canonical !== text) return bad('AUDIT_MALFORMED', `record #${record.seq} is not in canonical form`, record);
  return { record, problem: null };
}

/** verifyAuditFile on text: the first problem, by 1-based line, or the record count and head. */
export function verifyAuditText(text: string, options: VerifyOptions = {}): AuditVerdict {
  const lines = text.split('\n');
  // A complete file ends with '\n', leaving one empty piece; anything else there is a torn write.
  const torn = lines.pop() !== '';
  const parsed = lines.map(parseLine);
  const lineOfSeq = new Map<number, number>();
  parsed.forEach((p, i) => {
    if (p.record && !lineOfSeq.has(p.record.seq)) lineOfSeq.set(p.record.seq, i + 1);
  });

  let head = GENESIS_HASH;
  const headLine = new Map<string, number>([[GENESIS_HASH, 0]]);
  for (let i = 0; i < parsed.length; i++) {
    const line = i + 1;
    const { record, problem } = parsed[i]!;
    if (problem) return { ok: false, line, ...problem };
    const r = record!;
    const want = i; // seq counts lines from 0 in a file nobody touched
    const fail = (code: AuditFailure, reason: string): AuditVerdict => ({ ok: false, line, code, reason });
    if (r.seq > want) {
      // A gap: either the missing records sit later in the file (moved) or they are gone.
      for (let s = want; s < r.seq; s++) {
        const at = lineOfSeq.get(s);
        if (at !== undefined && at > line) return fail('AUDIT_REORDERED', `record #${r.seq} comes before #${s} (line ${at})`);
      }
      if (r.prev === head) return fail('AUDIT_EDITED', `record #${r.seq} skips #${want} yet chains to line ${i}: it was rewritten and re-hashed`);
      const which = r.seq - want === 1 ? `record #${want} is` : `records #${want}..#${r.seq - 1} are`;
      return fail('AUDIT_REMOVED', `${which} missing before record #${r.seq}`);
    }
    if (r.seq < want) return fail('AUDIT_REORDERED', `record #${r.seq} appears again (first at line ${lineOfSeq.get(r.seq)})`);
    if (r.prev !== head) {
      // Right place, own hash valid, wrong link: one of this pair was changed and re-hashed.
      return fail('AUDIT_EDITED', `record #${r.seq} does not chain to line ${i}: one of the two was rewritten and re-hashed`);
    }
    head = r.hash;
    headLine.set(head, line);
  }
  if (torn) return { ok: false, line: parsed.length + 1, code: 'AUDIT_TORN', reason: 'last line is incomplete (no newline): a write was cut short' };

  if (options.head !== undefined && options.head !== head) {
    const at = headLine.get(options.head);
    if (at !== undefined) {
      const where = at === 0 ? 'the empty log' : `line ${at}`;
      return { ok: false, line: at + 1, code: 'AUDIT_EXTENDED', reason: `${parsed.length - at} record(s) follow the trusted head (${where})` };
    }
    return {
      ok: false,
      line: parsed.length + 1,
      code: 'AUDIT_TRUNCATED',
      reason: `the trusted head is not in the file (${parsed.length} records): its last records were removed, or it is another log`,
    };
  }
  return { ok: true, records: parsed.length, head };
}
