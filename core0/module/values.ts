// Values of declared fields (config-records.ts): from what a person writes — a default in
// module.json, a value in an image manifest ("450ms", "1MiB", "abort", true, 20) — to the 64-bit
// word a guest reads, and from a word a guest wrote back to what an event carries. Pure, shared
// by the toolchain (defaults), system/ (manifest validation) and Core-0 (the config page, the
// record verb), so a value means the same everywhere.

import { typeRange, type ConfigField, type FieldHead, type FieldType } from './config-records.ts';

/** What a manifest or module.json may give for a field. */
export type ConfigInput = number | string | boolean | bigint;

/** A field's value in an event: bool as boolean, enum as its name, an integer as a number, or
 * as a decimal string when it is beyond 2^53 (where a JSON number would lose digits). */
export type FieldValue = number | string | boolean;

export const SIZE_UNITS: Readonly<Record<string, bigint>> = { B: 1n, KiB: 1n << 10n, MiB: 1n << 20n, GiB: 1n << 30n, TiB: 1n << 40n };
export const TIME_UNITS: Readonly<Record<string, bigint>> = { ns: 1n, us: 1000n, ms: 1000_000n, s: 1000_000_000n, min: 60_000_000_000n, h: 3600_000_000_000n };

const show = (v: unknown): string => (typeof v === 'bigint' ? String(v) : JSON.stringify(v));

/** An integer given as a JSON number (exact only up to 2^53) or as a string of decimal digits. */
function integer(v: unknown, signed: boolean): bigint | undefined {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return Number.isSafeInteger(v) && (signed || v >= 0) ? BigInt(v) : undefined;
  if (typeof v === 'string' && (signed ? /^-?\d{1,20}$/ : /^\d{1,20}$/).test(v)) return BigInt(v);
  return undefined;
}

/** "450ms", "1.5s", "64KiB": a decimal number and a unit, exactly (no rounding to the unit's grain). */
function withUnit(v: unknown, units: Readonly<Record<string, bigint>>): bigint | undefined {
  if (typeof v !== 'string') return integer(v, false);
  const m = /^(\d{1,20})(?:\.(\d{1,9}))?\s*([A-Za-z]+)$/.exec(v);
  const unit = m ? units[m[3]!] : undefined;
  if (!m || unit === undefined) return undefined;
  const frac = m[2] ?? '';
  const scaled = BigInt(m[1]!) * unit + (BigInt(frac || '0') * unit) / 10n ** BigInt(frac.length);
  // A fraction finer than the unit's grain ("1.5ns") is not a whole number of ns or bytes.
  return (BigInt(frac || '0') * unit) % 10n ** BigInt(frac.length) === 0n ? scaled : undefined;
}

function expected(type: FieldType, values: readonly string[]): string {
  switch (type) {
    case 'u64': return 'a non-negative integer';
    case 'i64': return 'an integer';
    case 'bool': return 'true or false';
    case 'duration': return `a duration like "450ms" (${Object.keys(TIME_UNITS).join(', ')}), or a number of ns`;
    case 'size': return `a size like "64KiB" (${Object.keys(SIZE_UNITS).join(', ')}), or a number of bytes`;
    case 'enum': return `one of ${values.join(', ')}`;
  }
}

/**
 * The word for `input` under a field's type and bounds, or a one-line reason (without the field's
 * name: the caller knows where it is and says so).
 */
export function parseValue(f: FieldHead & Partial<Pick<ConfigField, 'min' | 'max'>>, input: unknown): { word: bigint } | { error: string } {
  let v: bigint | undefined;
  switch (f.type) {
    case 'u64': v = integer(input, false); break;
    case 'i64': v = integer(input, true); break;
    case 'bool': v = input === true ? 1n : input === false ? 0n : undefined; break;
    case 'duration': v = withUnit(input, TIME_UNITS); break;
    case 'size': v = withUnit(input, SIZE_UNITS); break;
    case 'enum': {
      const i = typeof input === 'string' ? f.values.indexOf(input) : -1;
      if (i < 0) return { error: typeof input === 'string' ? `"${input}" is not one of ${f.values.join(', ')}` : `expected one of ${f.values.join(', ')}, got ${show(input)}` };
      v = BigInt(i);
    }
  }
  if (v === undefined) return { error: `expected ${expected(f.type, f.values)}, got ${show(input)}` };
  const range = typeRange(f.type, f.values);
  const [min, max] = [f.min ?? range.min, f.max ?? range.max];
  if (v < min || v > max) {
    const unit = f.type === 'duration' ? ' ns' : f.type === 'size' ? ' bytes' : '';
    return { error: `${show(input)} is outside [${min}, ${max}]${unit}` };
  }
  return { word: BigInt.asUintN(64, v) };
}

/** A config field's word as a person would write it again (for docs and `hicmod inspect`). */
export function describeWord(f: FieldHead, word: bigint): string {
  const v = wordValue(f, word);
  if (f.type === 'duration' && typeof v === 'number') return `${v} ns`;
  if (f.type === 'size' && typeof v === 'number') return `${v} bytes`;
  return String(v);
}

/**
 * The value a guest's word stands for, or undefined when the word is no value of the type (an
 * enum index past its values, a bool other than 0 or 1).
 */
export function wordValue(f: FieldHead, word: bigint): FieldValue | undefined {
  const n = f.type === 'i64' ? BigInt.asIntN(64, word) : BigInt.asUintN(64, word);
  switch (f.type) {
    case 'bool': return n === 0n ? false : n === 1n ? true : undefined;
    case 'enum': return n < BigInt(f.values.length) ? f.values[Number(n)] : undefined;
    default: return n >= -BigInt(Number.MAX_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : String(n);
  }
}

/**
 * A sandbox's configuration from named inputs: every key must be a declared field and every value
 * fit it; fields not named take their default. The words are in declaration order — the page's
 * layout. A refusal names the key it is about.
 */
export function resolveConfig(fields: readonly ConfigField[], input: Readonly<Record<string, unknown>>): { words: bigint[] } | { key: string; error: string } {
  for (const key of Object.keys(input)) {
    if (!fields.some((f) => f.name === key)) {
      const declared = fields.length ? `the module declares ${fields.map((f) => f.name).join(', ')}` : 'the module declares no configuration';
      return { key, error: `unknown field (${declared})` };
    }
  }
  const words: bigint[] = [];
  for (const f of fields) {
    if (!Object.hasOwn(input, f.name)) {
      words.push(BigInt.asUintN(64, f.default));
      continue;
    }
    const r = parseValue(f, input[f.name]);
    if ('error' in r) return { key: f.name, error: r.error };
    words.push(r.word);
  }
  return { words };
}

/** The config page's bytes: one little-endian word per field, in declaration order. */
export function encodeConfigPage(words: readonly bigint[]): Uint8Array {
  const bytes = new Uint8Array(words.length * 8);
  const view = new DataView(bytes.buffer);
  words.forEach((w, i) => view.setBigUint64(i * 8, w, true));
  return bytes;
}
