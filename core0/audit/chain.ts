// The audit log's record format: canonical JSON, the hash that links each record to the one
// before it, and the check of one line on its own. Everything that reads or writes the log —
// appending, verifying, showing — goes through these few functions, so a record has one form.
//
// Each record carries `prev` (the hash of the record before it; 64 zeros for the first) and
// `hash = sha256(prev + canonicalJson(record without hash))`.

import { createHash, hash as oneShotHash } from 'node:crypto';

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
  const sorted = sortedCopy(value, [], new Set());
  return sorted === MEMBERWISE ? encode(value, [], new Set()) : JSON.stringify(sorted);
}

/**
 * The hash of a record and its line, from the record without "hash": the hashed form is its
 * canonical JSON, the line is the same with "hash" in its sorted place.
 */
export function seal(prev: string, body: Record<string, unknown>): { hash: string; line: string } {
  const sorted = sortedCopy(body, [], new Set());
  if (sorted === MEMBERWISE) return sealMembers(prev, members(body, [], new Set()));
  // The members before "hash" and after it, each written once (a field may be most of a 1 MiB
  // line); the hashed form joins the two, the line puts "hash" between them.
  const before: Record<string, unknown> = {};
  const after: Record<string, unknown> = {};
  for (const k in sorted as Record<string, unknown>) (k < 'hash' ? before : after)[k] = (sorted as Record<string, unknown>)[k];
  const head = JSON.stringify(before).slice(1, -1);
  const tail = JSON.stringify(after).slice(1, -1);
  const hash = sha256(prev + braced(head, tail));
  return { hash, line: braced(head, `"hash":"${hash}"`, tail) };
}

/** An object's JSON from the JSON of its runs of members (each without braces, perhaps empty). */
function braced(...runs: string[]): string {
  return '{' + runs.filter((r) => r !== '').join(',') + '}';
}

/**
 * A copy of an entry whose fields are all JSON scalars and whose line cannot be longer than
 * `maxLine` bytes, for sealing later; undefined for any other entry, which the caller seals at
 * once. A field outside JSON throws AUDIT_UNENCODABLE here, as encoding it would.
 */
export function flatCopy(entry: AuditEntry, maxLine: number): AuditEntry | undefined {
  // seq, prev and hash with their keys, braces, commas and the newline, generously.
  let bound = 256;
  const path: Path = [''];
  for (const k of Object.keys(entry)) {
    path[0] = k;
    const v = entry[k];
    if (!scalar(v, path)) return undefined;
    // JSON escapes a UTF-16 unit to at most 6 bytes (\u00xx); a number to at most 24.
    bound += 6 * k.length + 4 + (typeof v === 'string' ? 6 * v.length + 2 : 24);
  }
  return bound <= maxLine ? { ...entry } : undefined;
}

// Two encoders give the same bytes. The fast one copies the value with every object's keys
// inserted in sorted order (checking that it is JSON on the way) and lets JSON.stringify, which
// keeps insertion order, write it. It cannot when a key is an array index ("0", "12"): objects
// enumerate those first whatever the insertion order, so such values, which no kernel record
// holds, are written member by member; so is a key "__proto__", which a plain object would take as
// its prototype.

/** sortedCopy's answer when a key would be reordered: encode member by member instead. */
const MEMBERWISE = Symbol('memberwise');

/**
 * Where a value sits in the record, kept as a stack of keys and indexes and spelt out only for an
 * error. (Building a name per value, or a closure to build it, cost more than the encoding: under
 * tsx every closure made is also an Object.defineProperty call.)
 */
type Path = (string | number)[];

function named(path: Path): string {
  return '$' + path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('');
}

/** Throws AUDIT_UNENCODABLE unless v is a JSON scalar; true for null, booleans, strings, finite numbers. */
function scalar(v: unknown, path: Path): boolean {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return true;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new AuditError('AUDIT_UNENCODABLE', `audit: ${named(path)} is ${v}, not a JSON number`);
    return true;
  }
  if (typeof v !== 'object') throw new AuditError('AUDIT_UNENCODABLE', `audit: ${named(path)} is a ${typeof v}, not a JSON value`);
  return false;
}

/** v is an object or array here; refuses cycles and anything but plain objects. */
function enter(v: object, path: Path, open: Set<object>): void {
  if (open.has(v)) throw new AuditError('AUDIT_UNENCODABLE', `audit: ${named(path)} refers back to itself`);
  if (!Array.isArray(v)) {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      throw new AuditError('AUDIT_UNENCODABLE', `audit: ${named(path)} is a ${proto?.constructor?.name ?? 'class instance'}, not a plain object`);
    }
  }
  open.add(v);
}

/** A key a plain object would not keep in insertion order (an index), or would not keep at all. */
export const reordered = (k: string) => (k.charCodeAt(0) >= 48 && k.charCodeAt(0) <= 57) || k === '__proto__';

function sortedCopy(v: unknown, path: Path, open: Set<object>): unknown {
  if (scalar(v, path)) return v;
  const o = v as object;
  enter(o, path, open);
  let out: unknown;
  if (Array.isArray(o)) {
    const items: unknown[] = [];
    for (let i = 0; i < o.length && out === undefined; i++) {
      path.push(i);
      const c = sortedCopy(o[i], path, open);
      path.pop();
      if (c === MEMBERWISE) out = MEMBERWISE;
      else items.push(c);
    }
    out ??= items;
  } else {
    const keys = Object.keys(o).sort();
    const copy: Record<string, unknown> = {};
    for (let i = 0; i < keys.length && out === undefined; i++) {
      const k = keys[i]!;
      if (reordered(k)) {
        out = MEMBERWISE;
        break;
      }
      path.push(k);
      const c = sortedCopy((o as Record<string, unknown>)[k], path, open);
      path.pop();
      if (c === MEMBERWISE) out = MEMBERWISE;
      else copy[k] = c;
    }
    out ??= copy;
  }
  open.delete(o);
  return out;
}

function encode(v: unknown, path: Path, open: Set<object>): string {
  if (scalar(v, path)) return JSON.stringify(v);
  const o = v as object;
  enter(o, path, open);
  let out: string;
  if (Array.isArray(o)) {
    const items: string[] = [];
    for (let i = 0; i < o.length; i++) {
      path.push(i);
      items.push(encode(o[i], path, open));
      path.pop();
    }
    out = '[' + items.join(',') + ']';
  } else {
    out = joinMembers(members(o as Record<string, unknown>, path, open));
  }
  open.delete(o);
  return out;
}

function joinMembers(members: [string, string][]): string {
  let out = '{';
  for (let i = 0; i < members.length; i++) out += (i === 0 ? '' : ',') + JSON.stringify(members[i]![0]) + ':' + members[i]![1];
  return out + '}';
}

/** [key, encoded value] in canonical order. Default sort compares UTF-16 code units: fixed by the language, not by locale. */
function members(o: Record<string, unknown>, path: Path, open: Set<object>): [string, string][] {
  const keys = Object.keys(o).sort();
  const out: [string, string][] = [];
  for (const k of keys) {
    path.push(k);
    out.push([k, encode(o[k], path, open)]);
    path.pop();
  }
  return out;
}

function sealMembers(prev: string, members: [string, string][]): { hash: string; line: string } {
  const hash = sha256(prev + joinMembers(members));
  const withHash = [...members];
  const at = withHash.findIndex(([k]) => k > 'hash');
  withHash.splice(at < 0 ? withHash.length : at, 0, ['hash', JSON.stringify(hash)]);
  return { hash, line: joinMembers(withHash) };
}

/** SHA-256 in hex, one-shot where Node has it (20.12 on): no Hash object per record. */
export const sha256: (text: string) => string =
  typeof oneShotHash === 'function' ? (text) => oneShotHash('sha256', text, 'hex') : (text) => createHash('sha256').update(text).digest('hex');

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
    sealed = seal(record.prev, body);
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
