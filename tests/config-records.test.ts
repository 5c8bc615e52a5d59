// A service's declarations -- its configuration fields and record types -- from module.json to
// the signed metadata and the generated C header: module.json mistakes named by file and field,
// the META encoding round trip, every malformed declaration refused by the decoder, and the
// header the service compiles against.

import { describe, expect, it } from 'vitest';
import type { ConfigField, FieldType, RecordType } from '../core0/module/config-records.ts';
import { decodeModule } from '../core0/module/format.ts';
import { encodeModule } from '../hicmod-toolchain/hicmod/encode.ts';
import { generateModuleHeader } from '../hicmod-toolchain/hicmod/module-header.ts';
import { rawServiceModule } from '../hicmod-toolchain/hicmod/raw.ts';
import { parseSpec, readSpec, SpecError } from '../hicmod-toolchain/hicmod/spec.ts';
import { assemble } from '../hicmod-toolchain/asm.ts';
import { REPO } from './support/boot.ts';
import { refusal } from './support/refusal.ts';

const FILE = 'services/x/module.json';
const base = { name: 'x', version: '1.0.0', uuid: '11111111-2222-4333-8444-555555555555', kind: 'service' };

function specError(extra: object): string {
  try {
    parseSpec(FILE, JSON.stringify({ ...base, ...extra }));
  } catch (e) {
    if (e instanceof SpecError) return e.message;
    throw e;
  }
  throw new Error('module.json was accepted');
}

describe('module.json', () => {
  it('reads config fields in the order written, with defaults, bounds and docs; record types likewise', () => {
    const { meta } = readSpec(REPO, 'migctl');
    expect(meta.config).toEqual([
      expect.objectContaining({ name: 'mode', type: 'enum', values: ['update', 'abort', 'refusals'], default: 0n, min: 0n, max: 2n }),
      expect.objectContaining({ name: 'start', type: 'duration', values: [], default: 450_000_000n, min: 0n, max: (1n << 64n) - 1n }),
      expect.objectContaining({ name: 'linger', type: 'duration', default: 0n, max: 1_000_000_000n }),
    ]);
    expect(meta.records.map((r) => r.name)).toEqual(['step', 'snapshot', 'migrated', 'aborted', 'refusal', 'refusals_done']);
    expect(meta.records[1]!.fields.map((f) => [f.name, f.type])).toEqual([
      ['bytes', 'size'], ['shards', 'u64'], ['connections', 'u64'], ['source_schema', 'u64'], ['target_schema', 'u64'], ['export', 'duration'], ['import', 'duration'],
    ]);
  });

  it.each([
    ['an unknown type', { config: { mode: { type: 'float' } } }, 'config.mode.type: expected one of u64, i64, bool, duration, size, enum, got "float"'],
    ['an enum without values', { config: { mode: { type: 'enum' } } }, 'config.mode.values: an enum needs a list of 1 to 64 value names'],
    ['an enum value twice', { config: { mode: { type: 'enum', values: ['a', 'a'] } } }, 'config.mode.values: a value is listed twice'],
    ['values on a u64', { config: { n: { type: 'u64', values: ['a'] } } }, 'config.n.values: only an enum has values, not a u64'],
    ['a default that is not a value', { config: { mode: { type: 'enum', values: ['update', 'abort'], default: 'abrt' } } }, 'config.mode.default: "abrt" is not one of update, abort'],
    ['a default outside the bounds', { config: { n: { type: 'u64', min: 1, max: 9, default: 10 } } }, 'config.n.default: 10 is outside [1, 9]'],
    ['bounds that leave out zero, and no default', { config: { n: { type: 'u64', min: 1 } } }, 'config.n.default: needed: the zero value is outside [1, 18446744073709551615]'],
    ['min above max', { config: { n: { type: 'u64', min: 9, max: 1 } } }, 'config.n: min 9 is above max 1'],
    ['bounds on a bool', { config: { b: { type: 'bool', max: 1 } } }, 'config.b.max: a bool has no bounds'],
    ['an unknown key in a field', { config: { n: { type: 'u64', unit: 'ms' } } }, 'config.n.unit: unknown field (allowed: type, values, doc, default, min, max)'],
    ['a field named like a C keyword', { records: { r: { fields: { case: 'u64' } } } }, 'records.r.fields.case: "case" is a C keyword; the field becomes a struct member in hic/module.h'],
    ['two fields that are one C member', { config: { start: 'duration', start_ns: 'u64' } }, "config.start_ns: its C member start_ns is also start's"],
    ['a record with no fields', { records: { r: { fields: {} } } }, 'records.r.fields: 0 fields; a record has 1 to 32'],
    ['a record name that is not a name', { records: { 'Result!': { fields: { n: 'u64' } } } }, 'records.Result!: "Result!" is not a record name ([a-z][a-z0-9_]*, at most 32)'],
    ['audits on a u64', { records: { r: { fields: { n: { type: 'u64', audits: true } } } } }, 'records.r.fields.n.audits: only a bool field audits its record (when true), not a u64'],
    ['audits that is not a boolean', { records: { r: { fields: { a: { type: 'bool', audits: 'yes' } } } } }, 'records.r.fields.a.audits: expected true or false'],
    ['audits on a config field', { config: { a: { type: 'bool', audits: true } } }, 'config.a.audits: unknown field (allowed: type, values, doc, default, min, max)'],
    ['configuration on a library', { kind: 'library', config: { n: 'u64' } }, 'config: a library has no configuration and emits no records'],
  ])('refuses %s, naming the file and the field', (_what, extra, message) => {
    expect(specError(extra)).toBe(`${FILE}: ${message}`);
  });
});

const tiny = (config: readonly ConfigField[], records: readonly RecordType[] = []) =>
  rawServiceModule({ name: 'tiny', version: '1.0.0', uuid: '11111111-2222-4333-8444-555555555555', config, records }, assemble('mov eax, 4\nxor edi, edi\nsyscall'));
const u64 = (name: string, over: Partial<ConfigField> = {}): ConfigField => ({ name, type: 'u64', values: [], doc: '', default: 0n, min: 0n, max: (1n << 64n) - 1n, ...over });
const rec = (name: string, fields: RecordType['fields']): RecordType => ({ name, doc: '', fields });

describe('the signed metadata (META tags 11 and 12)', () => {
  it('round-trips every declaration of every service', () => {
    for (const name of ['migctl', 'rogue', 'netstack', 'eth_driver', 'frame_sink', 'template', 'monitor']) {
      const { meta } = readSpec(REPO, name);
      const decoded = decodeModule(encodeModule(tiny(meta.config, meta.records))).meta;
      expect({ config: decoded.config, records: decoded.records }).toEqual({ config: meta.config, records: meta.records });
    }
  });

  it("keeps a record's audits flag, on the bool field that has it", () => {
    const { meta } = readSpec(REPO, 'monitor');
    const alert = decodeModule(encodeModule(tiny([], meta.records))).meta.records.find((r) => r.name === 'alert')!;
    expect(alert.fields.filter((f) => f.audits).map((f) => [f.name, f.type])).toEqual([['audit', 'bool']]);
  });

  it('keeps a signed bound and default of an i64', () => {
    const f: ConfigField = { name: 'offset', type: 'i64', values: [], doc: 'd', default: -5n, min: -(1n << 63n), max: 7n };
    expect(decodeModule(encodeModule(tiny([f]))).meta.config).toEqual([f]);
  });

  it.each([
    ['an unknown field type', tiny([u64('n', { type: 'float' as FieldType })]), /unknown type 0/],
    ['a default outside its bounds', tiny([u64('n', { min: 1n, max: 9n, default: 10n })]), /default 10 outside \[1, 9\]/],
    ['a bool bounded [0, 5]', tiny([u64('b', { type: 'bool', max: 5n })]), /bounds \[0, 5\] do not fit a bool/],
    ['an enum with no values', tiny([u64('e', { type: 'enum', max: 0n })]), /0 enum values for type enum/],
    ['values on a u64', tiny([u64('n', { values: ['a'] })]), /1 enum values for type u64/],
    ['an enum value twice', tiny([u64('e', { type: 'enum', values: ['a', 'a'], max: 1n })]), /enum value "a" is malformed or repeated/],
    ['a field name that is not a name', tiny([u64('N-1')]), /name "N-1" is not/],
    ['a config field twice', tiny([u64('n'), u64('n')]), /config field "n" is declared twice/],
    ['a record with no fields', tiny([], [rec('r', [])]), /record type "r" has no fields/],
    ['a record type twice', tiny([], [rec('r', [u64('n')]), rec('r', [u64('n')])]), /record type "r" is declared twice/],
    ['a record field twice', tiny([], [rec('r', [u64('n'), u64('n')])]), /record r field "n" is declared twice/],
    ['the audits flag on a u64 record field', tiny([], [rec('r', [{ ...u64('n'), audits: true } as RecordType['fields'][number]])]), /record r field "n": flags 1 \(only a bool field may audit/],
    ['the audits flag on a config field', tiny([{ ...u64('b', { type: 'bool', max: 1n }), audits: true } as ConfigField]), /config field "b": reserved byte is not zero/],
  ])('refuses %s (BAD_METADATA)', (_what, content, message) => {
    const e = refusal(() => decodeModule(encodeModule(content)));
    expect(e.code).toBe('BAD_METADATA');
    expect(e.message).toMatch(message);
  });

  it('refuses more config fields than fit the page it promises', () => {
    const many = Array.from({ length: 129 }, (_, i) => u64(`f${i}`));
    expect(refusal(() => decodeModule(encodeModule(tiny(many)))).code).toBe('TOO_LARGE');
  });

  it('refuses configuration or records on a library', () => {
    const lib = { ...tiny([u64('n')]), meta: { ...tiny([u64('n')]).meta, kind: 'library' as const } };
    expect(refusal(() => decodeModule(encodeModule(lib))).message).toMatch(/a library has no configuration/);
  });
});

describe('hic/module.h', () => {
  it('is stamped as generated, and declares the config struct, its enum values, the records and their emit helpers', () => {
    const h = generateModuleHeader(readSpec(REPO, 'migctl'), 'services/migctl/module.json');
    expect(h.split('\n')[0]).toBe('/* GENERATED from services/migctl/module.json by hicmod-toolchain/hicmod/module-header.ts -- edit module.json, not this file. */');
    expect(h).toContain('#define MIGCTL_MODE_ABORT 1');
    expect(h).toMatch(/struct migctl_config \{\n {2}uint64_t mode; [^\n]*\n {2}uint64_t start_ns; [^\n]*default 450000000 ns \*\/\n {2}uint64_t linger_ns;/);
    expect(h).toContain('_Static_assert(sizeof(struct migctl_config) == 24, "one 64-bit word per field");');
    expect(h).toContain('static inline const struct migctl_config *hic_config(void) {');
    expect(h).toContain('#define MIGCTL_RECORD_REFUSAL 5');
    expect(h).toContain('#define MIGCTL_REFUSAL_WHAT_UNKNOWN_CALL 12');
    expect(h).toContain('static inline int64_t migctl_emit_refusal(const struct migctl_record_refusal *r) {\n  return hic_record(MIGCTL_RECORD_REFUSAL, r, sizeof *r);\n}');
  });

  it('declares an i64 as int64_t, and no configuration struct where none is declared', () => {
    const rogue = generateModuleHeader(readSpec(REPO, 'rogue'), 'services/rogue/module.json');
    expect(rogue).toContain('  int64_t last_error;');
    expect(rogue).toContain('  uint64_t page_bytes;');
    const web = generateModuleHeader(readSpec(REPO, 'web_server'), 'services/web_server/module.json');
    expect(web).not.toContain('struct web_server_config');
    expect(web).not.toContain('hic_config(void)');
    expect(web).toContain('/* No configuration: module.json declares none, and _start receives 0. */');
  });

  it('cannot have a doc string end its comment early', () => {
    const spec = parseSpec(FILE, JSON.stringify({ ...base, config: { n: { type: 'u64', doc: 'ends */ here' } } }));
    expect(generateModuleHeader(spec, FILE)).toContain('ends * / here');
  });
});
