// The audit log's record format: canonical JSON, the hash that links each record to the one
// before it, and the check of one line on its own. Everything that reads or writes the log —
// appending, verifying, showing — goes through these few functions, so a record has one form.
//
// Each record carries `prev` (the hash of the record before it; 64 zeros for the first) and
// `hash = sha256(prev + canonicalJson(record without hash))`.

import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);
export const HASH_PATTERN = /^[0-9a-f]{64}$/;

/** The fields the log sets itself; an entry that carries them is a caller bug. */
export const RESERVED = ['seq', 'prev', 'hash'] as const;

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
  /** A trusted head (--head, or the checkpoint) is not in the log: its last records were removed. */
  | 'AUDIT_TRUNCATED'
  /** A trusted head was given and the log has records after it. */
  | 'AUDIT_EXTENDED';

/**
 * Why the audit log refused (what a file contains is judged by a verdict, not thrown). Two kinds:
 * the log cannot be used -- AUDIT_CORRUPT (an existing log does not verify), AUDIT_WRITE_FAILED,
 * AUDIT_BUSY (another process appends) -- and the caller handed it something it must not record,
 * which is the caller's bug: AUDIT_BAD_ENTRY (a reserved field, a time that is not ns, no kind, a
 * record too long for a line) and AUDIT_UNENCODABLE (a value outside JSON: NaN, undefined, bigint,
 * a class instance, a cycle).
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
export const rootPath: Path = () => '$';

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
    out = joinMembers(sortedMembers(v as Record<string, unknown>, path, open));
  }
  open.delete(v);
  return out;
}

export function joinMembers(members: [string, string][]): string {
  return '{' + members.map(([k, e]) => `${JSON.stringify(k)}:${e}`).join(',') + '}';
}

/** [key, encoded value] in canonical order. Default sort compares UTF-16 code units: fixed by the language, not by locale. */
export function sortedMembers(o: Record<string, unknown>, path: Path = rootPath, open: Set<object> = new Set()): [string, string][] {
  return Object.keys(o)
    .sort()
    .map((k) => [k, encode(o[k], () => `${path()}.${k}`, open)]);
}

/**
 * The hash of a record and its line, from its members without "hash" (canonical order): the
 * hashed form is the members as they are, the line is them with "hash" put in its sorted place.
 */
export function sealMembers(prev: string, members: [string, string][]): { hash: string; line: string } {
  const hash = createHash('sha256').update(prev + joinMembers(members)).digest('hex');
  const withHash = [...members];
  const at = withHash.findIndex(([k]) => k > 'hash');
  withHash.splice(at < 0 ? withHash.length : at, 0, ['hash', JSON.stringify(hash)]);
  return { hash, line: joinMembers(withHash) };
}

export interface ParsedLine {
  readonly record: AuditRecord | null;
  readonly problem: { code: AuditFailure; reason: string } | null;
}

/** Checks one line on its own: JSON, fields, own hash, canonical bytes. */
export function parseLine(text: string): ParsedLine {
  const bad = (code: AuditFailure, reason: string, record: AuditRecord | null = null): ParsedLine => ({ record, problem: { code, reason } });
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
  const { hash, ...body } = record;
  let sealed: { hash: string; line: string };
  try {
    sealed = sealMembers(record.prev, sortedMembers(body));
  } catch (e) {
    // JSON.parse reads 1e999 as Infinity, which no record the log wrote can hold: the file's fault.
    if (!(e instanceof AuditError && e.code === 'AUDIT_UNENCODABLE')) throw e;
    return bad('AUDIT_MALFORMED', `record #${record.seq} cannot be re-encoded (${e.message})`, record);
  }
  if (sealed.hash !== hash) return bad('AUDIT_EDITED', `record #${record.seq} does not match its hash`, record);
  // Same content, other bytes (CRLF, pretty-printing, a duplicated key): re-serialised by hand.
  if (sealed.line !== text) return bad('AUDIT_MALFORMED', `record #${record.seq} is not in canonical form`, record);
  return { record, problem: null };
}
