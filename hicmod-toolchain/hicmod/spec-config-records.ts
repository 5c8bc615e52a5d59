// The `config` and `records` sections of a module.json: a service's configuration fields and the
// record types it emits (core0/module/config-records.ts), as a person writes them. Read here into
// the declarations that go, signed, into the module's metadata and, as C, into the header the
// service includes (module-header.ts). Every mistake names the file and the field.
//
//   "config": {
//     "mode":  { "type": "enum", "values": ["update", "abort"], "default": "update", "doc": "…" },
//     "start": { "type": "duration", "default": "450ms", "max": "1h" },
//     "calls": "u64"                                   (type only: default 0, no bounds)
//   },
//   "records": {
//     "result": { "doc": "…", "fields": { "migrated": "u64", "ok": { "type": "bool", "doc": "…" } } }
//   }
//
// A record's bool field may say `"audits": true`: a record whose field is true goes to the audit
// log as well (core0/kernel.ts); or `"journals": true`: such a record is written to the machine's
// journal, durably, before the call returns (system/state/).

import { DECL_NAME, FIELD_TYPES, LIMITS, typeRange, type ConfigField, type FieldHead, type FieldType, type RecordField, type RecordType } from '../../core0/module/config-records.ts';
import { parseValue } from '../../core0/module/values.ts';
import { C_KEYWORDS, cMember } from './module-header.ts';

type Bad = (field: string, detail: string) => never;
type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function keys(o: Obj, allowed: readonly string[], at: string, bad: Bad): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) bad(`${at}.${k}`, `unknown field (allowed: ${allowed.join(', ')})`);
}

/** A field's type, enum values and doc, from "u64" or { type, values?, doc? }. */
function fieldHead(name: string, v: unknown, at: string, extra: readonly string[], bad: Bad): FieldHead {
  if (!DECL_NAME.test(name)) bad(at, `"${name}" is not a field name ([a-z][a-z0-9_]*, at most 32)`);
  if (C_KEYWORDS.has(name)) bad(at, `"${name}" is a C keyword; the field becomes a struct member in hic/module.h`);
  const o: Obj = typeof v === 'string' ? { type: v } : isObject(v) ? v : bad(at, 'expected a type name or an object with "type"');
  keys(o, ['type', 'values', 'doc', ...extra], at, bad);
  const type = o.type as FieldType;
  if (!FIELD_TYPES.includes(type)) bad(`${at}.type`, `expected one of ${FIELD_TYPES.join(', ')}, got ${JSON.stringify(o.type)}`);
  let values: string[] = [];
  if (type === 'enum') {
    const list = o.values;
    if (!Array.isArray(list) || list.length === 0 || list.length > LIMITS.enumValues) bad(`${at}.values`, `an enum needs a list of 1 to ${LIMITS.enumValues} value names`);
    values = (list as unknown[]).map((x, i) => {
      if (typeof x !== 'string' || !DECL_NAME.test(x)) bad(`${at}.values[${i}]`, `"${String(x)}" is not a value name ([a-z][a-z0-9_]*)`);
      return x as string;
    });
    if (new Set(values).size !== values.length) bad(`${at}.values`, 'a value is listed twice');
  } else if (o.values !== undefined) {
    bad(`${at}.values`, `only an enum has values, not a ${type}`);
  }
  const doc = o.doc ?? '';
  if (typeof doc !== 'string' || Buffer.byteLength(doc) > LIMITS.docBytes) bad(`${at}.doc`, `expected a string of at most ${LIMITS.docBytes} bytes`);
  return { name, type, values, doc: doc as string };
}

/** Two fields whose struct members would share a name (`start` as a duration is `start_ns`). */
function distinctMembers(fields: readonly FieldHead[], at: string, bad: Bad): void {
  const seen = new Map<string, string>();
  for (const f of fields) {
    const m = cMember(f);
    const other = seen.get(m);
    if (other !== undefined) bad(`${at}.${f.name}`, `its C member ${m} is also ${other}'s`);
    seen.set(m, f.name);
  }
}

/** `config`: fields in the order written, which is the order of the config page's words. */
export function parseConfig(raw: unknown, bad: Bad): ConfigField[] {
  if (raw === undefined) return [];
  if (!isObject(raw)) return bad('config', 'expected an object of field name → declaration');
  const entries = Object.entries(raw);
  if (entries.length > LIMITS.configFields) bad('config', `${entries.length} fields; at most ${LIMITS.configFields}`);
  const fields = entries.map(([name, v]): ConfigField => {
    const at = `config.${name}`;
    const h = fieldHead(name, v, at, ['default', 'min', 'max'], bad);
    const o: Obj = isObject(v) ? v : {};
    const range = typeRange(h.type, h.values);
    const bound = (k: 'min' | 'max', dflt: bigint): bigint => {
      if (o[k] === undefined) return dflt;
      if (h.type === 'bool' || h.type === 'enum') bad(`${at}.${k}`, `a ${h.type} has no bounds`);
      const r = parseValue(h, o[k]);
      return 'error' in r ? bad(`${at}.${k}`, r.error) : h.type === 'i64' ? BigInt.asIntN(64, r.word) : r.word;
    };
    const min = bound('min', range.min);
    const max = bound('max', range.max);
    if (min > max) bad(at, `min ${min} is above max ${max}`);
    let dflt = 0n; // zero, false, the first enum value
    if (o.default !== undefined) {
      const r = parseValue({ ...h, min, max }, o.default);
      if ('error' in r) bad(`${at}.default`, r.error);
      else dflt = h.type === 'i64' ? BigInt.asIntN(64, r.word) : r.word;
    } else if (dflt < min || dflt > max) {
      bad(`${at}.default`, `needed: the zero value is outside [${min}, ${max}]`);
    }
    return { ...h, default: dflt, min, max };
  });
  distinctMembers(fields, 'config', bad);
  return fields;
}

/** `records`: record types in the order written; a type's id is 1 + its position. */
export function parseRecords(raw: unknown, bad: Bad): RecordType[] {
  if (raw === undefined) return [];
  if (!isObject(raw)) return bad('records', 'expected an object of record name → { doc, fields }');
  const entries = Object.entries(raw);
  if (entries.length > LIMITS.recordTypes) bad('records', `${entries.length} record types; at most ${LIMITS.recordTypes}`);
  return entries.map(([name, v]) => {
    const at = `records.${name}`;
    if (!DECL_NAME.test(name)) bad(at, `"${name}" is not a record name ([a-z][a-z0-9_]*, at most 32)`);
    if (!isObject(v)) return bad(at, 'expected { "doc": …, "fields": { … } }');
    keys(v, ['doc', 'fields'], at, bad);
    const doc = v.doc ?? '';
    if (typeof doc !== 'string' || Buffer.byteLength(doc) > LIMITS.docBytes) bad(`${at}.doc`, `expected a string of at most ${LIMITS.docBytes} bytes`);
    const fields = v.fields ?? {};
    if (!isObject(fields)) return bad(`${at}.fields`, 'expected an object of field name → type');
    const list = Object.entries(fields);
    if (list.length === 0 || list.length > LIMITS.recordFields) bad(`${at}.fields`, `${list.length} fields; a record has 1 to ${LIMITS.recordFields}`);
    const heads = list.map(([f, t]): RecordField => {
      const h: RecordField = fieldHead(f, t, `${at}.fields.${f}`, ['audits', 'journals'], bad);
      const flag = (key: 'audits' | 'journals', does: string): boolean => {
        const v = isObject(t) ? t[key] : undefined;
        if (v === undefined || v === false) return false;
        if (v !== true) bad(`${at}.fields.${f}.${key}`, 'expected true or false');
        if (h.type !== 'bool') bad(`${at}.fields.${f}.${key}`, `only a bool field ${does} its record (when true), not a ${h.type}`);
        return true;
      };
      const audits = flag('audits', 'audits');
      const journals = flag('journals', 'journals');
      return { ...h, ...(audits ? { audits: true as const } : {}), ...(journals ? { journals: true as const } : {}) };
    });
    distinctMembers(heads, `${at}.fields`, bad);
    return { name, doc: doc as string, fields: heads };
  });
}
