// Sealing a flat record -- every field a JSON scalar, as nearly every kernel record is and every
// record AuditLog defers -- through the layout of its shape, worked out once per kind and set of
// keys: which members come before "hash" in canonical order and which after, each with its key
// already written. The generic encoder (chain.ts) sorts the keys, copies the record and splits it
// around "hash" for every record it seals; here a record costs a string per value, its hash and
// its frozen copy. The bytes are the generic encoder's, byte for byte: tests/audit-shapes.test.ts
// compares the two for every kind of record the kernel writes, and a log either wrote verifies
// with the same parseLine.

import { reordered, sha256, type AuditEntry, type AuditRecord } from './chain.ts';

/** Where a member's value comes from: the entry, or the two fields the log adds. */
const FROM_ENTRY = 0;
const SEQ = 1;
const PREV = 2;

interface Member {
  readonly key: string;
  readonly from: number;
  /** `"key":`, after a comma unless it is the first of its run. */
  readonly head: string;
}

/** How the body of records of one shape is written. */
interface Shape {
  /** The entry's own keys in its order: what an entry must have to take this shape. */
  readonly keys: readonly string[];
  /** The body's members (the entry's, seq and prev) in canonical order, before "hash" and after it. */
  readonly before: readonly Member[];
  readonly after: readonly Member[];
  /** The entry's keys other than t and kind, in its order: the middle of the sealed record. */
  readonly fields: readonly string[];
}

/** A kind's records come in one or two shapes; past this many, a kind is sealed the generic way. */
const SHAPES_PER_KIND = 8;
const shapesByKind = new Map<string, Shape[]>();

export interface SealedFlat {
  readonly hash: string;
  readonly line: string;
  readonly record: AuditRecord;
}

/**
 * seal() of chain.ts for a flat entry at `seq` after `prev`, with the record as the log keeps it
 * (frozen; seq, t, kind, the entry's other fields in its order, prev, hash). Undefined when the
 * entry cannot take a shape: the caller seals it the generic way.
 */
export function sealFlat(entry: AuditEntry, seq: number, prev: string): SealedFlat | undefined {
  const shape = shapeOf(entry);
  if (!shape) return undefined;
  // The run after "hash" is never empty ("kind", "prev", "seq" and "t" sort after it); the run
  // before it is whatever the entry's keys put there, perhaps nothing.
  const head = members(shape.before, entry, seq, prev);
  const tail = members(shape.after, entry, seq, prev);
  const opening = head === '' ? '{' : '{' + head + ',';
  const hash = sha256(prev + opening + tail + '}');
  const record: Record<string, unknown> = { seq, t: entry.t, kind: entry.kind };
  for (const k of shape.fields) record[k] = entry[k];
  record.prev = prev;
  record.hash = hash;
  return { hash, line: opening + '"hash":"' + hash + '",' + tail + '}', record: Object.freeze(record) as AuditRecord };
}

/** A run of members as JSON, without braces. A scalar's JSON is String(v) but for strings (ECMA-262 SerializeJSONProperty). */
function members(run: readonly Member[], entry: AuditEntry, seq: number, prev: string): string {
  let out = '';
  for (const m of run) {
    const v = m.from === SEQ ? seq : m.from === PREV ? prev : entry[m.key];
    out += m.head + (typeof v === 'string' ? JSON.stringify(v) : String(v));
  }
  return out;
}

function shapeOf(entry: AuditEntry): Shape | undefined {
  const keys = Object.keys(entry);
  let known = shapesByKind.get(entry.kind);
  if (known) {
    for (const s of known) if (sameKeys(s.keys, keys)) return s;
    if (known.length >= SHAPES_PER_KIND) return undefined;
  }
  // Keys a plain object would not keep in order, or at all: chain.ts writes those member by member.
  if (keys.some(reordered)) return undefined;
  const s = makeShape(keys);
  if (!known) shapesByKind.set(entry.kind, (known = []));
  known.push(s);
  return s;
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function makeShape(keys: readonly string[]): Shape {
  // Default sort compares UTF-16 code units, as chain.ts's canonical order does.
  const body = [...keys, 'seq', 'prev'].sort();
  const run = (names: string[]): Member[] =>
    names.map((key, i) => ({ key, from: key === 'seq' ? SEQ : key === 'prev' ? PREV : FROM_ENTRY, head: (i === 0 ? '' : ',') + JSON.stringify(key) + ':' }));
  return {
    keys: [...keys],
    before: run(body.filter((k) => k < 'hash')),
    after: run(body.filter((k) => k > 'hash')),
    fields: keys.filter((k) => k !== 't' && k !== 'kind'),
  };
}
