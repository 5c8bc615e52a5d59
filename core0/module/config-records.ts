// What a service declares about its own interface in its signed metadata: its configuration
// (named, typed fields with defaults, which Core-0 places in a read-only page at start) and the
// record types it may emit through the `record` syscall (named, typed fields, which Core-0 decodes
// into events). One declaration, written in module.json, signed with the module, read by the
// manifest's validation, the loader and the record verb alike (docs/configuration.md).
//
// The META fields that carry them (tags 11 and 12, docs/hicmod-format.md) are decoded here, as
// strictly as the rest of the format: every count, name, type and bound is checked.

import { fail } from './errors.ts';
import type { Reader } from './format.ts';

/** Field types; every value is one 64-bit word in a config page or a record. */
export const FIELD_TYPES = ['u64', 'i64', 'bool', 'duration', 'size', 'enum'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];
/** Type codes in the format: 1 + the index above. */
export const typeCode = (t: FieldType): number => FIELD_TYPES.indexOf(t) + 1;

/** A field name, a record name or an enum value: also a C identifier once prefixed. */
export const DECL_NAME = /^[a-z][a-z0-9_]{0,31}$/;

export const LIMITS = {
  /** Config fields: 8 bytes each, so the page is at most 1 KiB of a 4 KiB page. */
  configFields: 128,
  recordTypes: 64,
  recordFields: 32,
  enumValues: 64,
  docBytes: 1024,
} as const;

export const U64_MAX = (1n << 64n) - 1n;
export const I64_MIN = -(1n << 63n);
export const I64_MAX = (1n << 63n) - 1n;

export interface FieldHead {
  readonly name: string;
  readonly type: FieldType;
  /** For an enum: its values, whose index is the word. Empty for every other type. */
  readonly values: readonly string[];
  readonly doc: string;
}

export interface ConfigField extends FieldHead {
  /** The value a manifest that does not name the field gets, and the bounds one that does must keep. */
  readonly default: bigint;
  readonly min: bigint;
  readonly max: bigint;
}

/**
 * `audits`: a bool field whose true value puts the record in the audit log as well as the event
 * log (Kernel.auditedRecord). Declared in the signed metadata, so what a service can make
 * Core-0 audit is fixed when it is signed; which of its records is the service's own policy.
 *
 * `journals`: a bool field whose true value makes the record durable: written to the machine's
 * journal in its data directory before the record call returns (Kernel.journaledRecord,
 * system/state/). The Module Manager's steps are what a boot after a crash of the host recovers
 * from; which records commit a step is its policy, that it may commit any is signed.
 */
export interface RecordField extends FieldHead {
  readonly audits?: true;
  readonly journals?: true;
}

/** The field head's flag byte (docs/hicmod-format.md), on a record's bool field: bit 0 `audits`, bit 1 `journals`. */
export const FIELD_AUDITS = 0x01;
export const FIELD_JOURNALS = 0x02;

export interface RecordType {
  readonly name: string;
  readonly doc: string;
  readonly fields: readonly RecordField[];
}

/** The widest range a type allows: what min and max default to. */
export function typeRange(type: FieldType, values: readonly string[]): { min: bigint; max: bigint } {
  switch (type) {
    case 'i64': return { min: I64_MIN, max: I64_MAX };
    case 'bool': return { min: 0n, max: 1n };
    case 'enum': return { min: 0n, max: BigInt(values.length - 1) };
    default: return { min: 0n, max: U64_MAX };
  }
}

/** The word as the type reads it: i64 is two's complement, the rest unsigned. */
export const signedAs = (type: FieldType, word: bigint): bigint => (type === 'i64' ? BigInt.asIntN(64, word) : word);

/** A field head, and its flag byte (checked by the caller: only a record's bool field has one). */
function head(r: Reader, what: string): FieldHead & { readonly flags: number } {
  const name = r.string();
  const code = r.u8();
  const flags = r.u8();
  const count = r.u16();
  const type = FIELD_TYPES[code - 1] ?? fail('BAD_METADATA', `${what} "${name}": unknown type ${code}`);
  if (!DECL_NAME.test(name)) fail('BAD_METADATA', `${what}: name "${name}" is not [a-z][a-z0-9_]{0,31}`);
  if ((type === 'enum') !== count > 0) fail('BAD_METADATA', `${what} "${name}": ${count} enum values for type ${type}`);
  if (count > LIMITS.enumValues) fail('TOO_LARGE', `${what} "${name}": ${count} enum values`);
  const values: string[] = [];
  for (let i = 0; i < count; i++) {
    const v = r.string();
    if (!DECL_NAME.test(v) || values.includes(v)) fail('BAD_METADATA', `${what} "${name}": enum value "${v}" is malformed or repeated`);
    values.push(v);
  }
  const doc = r.string();
  if (Buffer.byteLength(doc) > LIMITS.docBytes) fail('TOO_LARGE', `${what} "${name}": doc of ${Buffer.byteLength(doc)} bytes`);
  return { name, type, values, doc, flags };
}

function unique(names: readonly string[], what: string): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) fail('BAD_METADATA', `${what} "${n}" is declared twice`);
    seen.add(n);
  }
}

/** The CONFIG fields (tag 11), in declaration order: that order is the page's layout. */
export function decodeConfig(entries: readonly Reader[]): ConfigField[] {
  if (entries.length > LIMITS.configFields) fail('TOO_LARGE', `${entries.length} config fields; at most ${LIMITS.configFields}`);
  const fields = entries.map((r) => {
    const { flags, ...h } = head(r, 'config field');
    if (flags !== 0) fail('BAD_METADATA', `config field "${h.name}": reserved byte is not zero`);
    const [dflt, min, max] = [r.u64Word(), r.u64Word(), r.u64Word()].map((w) => signedAs(h.type, w)) as [bigint, bigint, bigint];
    r.end();
    const range = typeRange(h.type, h.values);
    if (min < range.min || max > range.max || min > max) fail('BAD_METADATA', `config field "${h.name}": bounds [${min}, ${max}] do not fit a ${h.type}`);
    if (dflt < min || dflt > max) fail('BAD_METADATA', `config field "${h.name}": default ${dflt} outside [${min}, ${max}]`);
    return { ...h, default: dflt, min, max };
  });
  unique(fields.map((f) => f.name), 'config field');
  return fields;
}

/** The RECORD types (tag 12), in declaration order: type id = 1 + position. */
export function decodeRecords(entries: readonly Reader[]): RecordType[] {
  if (entries.length > LIMITS.recordTypes) fail('TOO_LARGE', `${entries.length} record types; at most ${LIMITS.recordTypes}`);
  const records = entries.map((r) => {
    const name = r.string();
    const doc = r.string();
    const count = r.u16();
    if (!DECL_NAME.test(name)) fail('BAD_METADATA', `record type: name "${name}" is not [a-z][a-z0-9_]{0,31}`);
    if (count === 0) fail('BAD_METADATA', `record type "${name}" has no fields`);
    if (count > LIMITS.recordFields) fail('TOO_LARGE', `record type "${name}": ${count} fields; at most ${LIMITS.recordFields}`);
    if (Buffer.byteLength(doc) > LIMITS.docBytes) fail('TOO_LARGE', `record type "${name}": doc of ${Buffer.byteLength(doc)} bytes`);
    const fields: RecordField[] = [];
    for (let i = 0; i < count; i++) {
      const { flags, ...h } = head(r, `record ${name} field`);
      if (flags & ~(FIELD_AUDITS | FIELD_JOURNALS) || (flags !== 0 && h.type !== 'bool')) {
        fail('BAD_METADATA', `record ${name} field "${h.name}": flags ${flags} (only a bool field may audit, bit 0, or journal, bit 1)`);
      }
      fields.push({ ...h, ...(flags & FIELD_AUDITS ? { audits: true as const } : {}), ...(flags & FIELD_JOURNALS ? { journals: true as const } : {}) });
    }
    r.end();
    unique(fields.map((f) => f.name), `record ${name} field`);
    return { name, doc, fields };
  });
  unique(records.map((t) => t.name), 'record type');
  return records;
}
