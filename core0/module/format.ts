// The .hicmod container: layout constants, the decoded types, and the decoder. The normative
// description is docs/hicmod-format.md; this file and hicmod-toolchain/hicmod/encode.ts implement
// it. Decoding checks every field (bounds, ordering, reserved zeros, W^X, sizes) and refuses with
// a ModuleError; it never trusts a length without checking it against what is really there.
//
// The signature block is decoded here as bytes only; verify.ts decides whether to believe it.

import semver from 'semver';
import { decodeConfig, decodeRecords, type ConfigField, type RecordType } from './config-records.ts';
import { fail } from './errors.ts';

export const MAGIC = Uint8Array.of(0x48, 0x49, 0x43, 0x4d, 0x4f, 0x44, 0x1a, 0x0a); // "HICMOD" SUB LF
export const FORMAT_VERSION = 1;
export const HEADER_SIZE = 64;
export const SECTION_ENTRY_SIZE = 16;
export const PAGE = 4096;
/** No module is larger than this, in file or in memory. */
export const MAX_FILE = 64 << 20;
export const MAX_IMAGE = 64 << 20;
export const MAX_COUNT = 65536;

export const SECTION = { META: 1, SEGMENTS: 2, IMAGE: 3, RELOCS: 4, IMPORTS: 5, EXPORTS: 6 } as const;
export type SectionName = keyof typeof SECTION;
export const SECTION_ORDER: readonly SectionName[] = ['META', 'SEGMENTS', 'IMAGE', 'RELOCS', 'IMPORTS', 'EXPORTS'];

export const META = {
  NAME: 1, VERSION: 2, UUID: 3, KIND: 4, DEPENDENCY: 5, PROTOCOL: 6, STATE_SCHEMA: 7, MEMORY: 8, CPU: 9, CAPABILITY: 10,
  CONFIG: 11, RECORD: 12, BUILD: 13,
} as const;
const REPEATABLE: ReadonlySet<number> = new Set([META.DEPENDENCY, META.PROTOCOL, META.CAPABILITY, META.CONFIG, META.RECORD, META.BUILD]);
/** A build setting (tag 13): a key from this list, one space, a value of printable ASCII. */
const BUILD_SETTING = /^(buildFrom|define|cflag|include|source|werror|sse) [\x21-\x7e]{1,255}$/;

export const SEGMENT_KIND = { text: 1, rodata: 2, data: 3, bss: 4 } as const;
export type SegmentKind = keyof typeof SEGMENT_KIND;
export const PERM = { R: 1, W: 2, X: 4 } as const;
export const SEGMENT_ENTRY_SIZE = 24;

export const RELOC = { IMAGE: 1, IMPORT: 2 } as const;
export const RELOC_ENTRY_SIZE = 24;

export const EXPORT_KIND = { function: 1, data: 2 } as const;

export type ModuleKind = 'service' | 'library';
export const NAME_PATTERN = /^[a-z][a-z0-9_]{0,31}$/;

export interface Dependency {
  readonly name: string;
  /** A semver range, e.g. ">= 1.1.0" or "= 2.0.0". */
  readonly range: string;
}

export interface ModuleMetadata {
  readonly name: string;
  readonly version: string;
  /** 36-character canonical form. */
  readonly uuid: string;
  readonly kind: ModuleKind;
  readonly dependencies: readonly Dependency[];
  /** State-migration protocol versions spoken, "major.minor". */
  readonly protocols: readonly string[];
  readonly stateSchema: number;
  /** Memory the module asks for, bytes. */
  readonly memory: number;
  /** CPU share asked for, per mille of one core. */
  readonly cpuPermille: number;
  readonly capabilities: readonly string[];
  /** The service's configuration fields, in page order (config-records.ts). */
  readonly config: readonly ConfigField[];
  /** The record types it may emit; type id = 1 + index. */
  readonly records: readonly RecordType[];
  /** How it was built, where that departs from the defaults ("define N=1", "sse true", ...);
   * absent for a module built the default way. Informational: the kernel acts on none of it. */
  readonly build?: readonly string[];
}

export interface Segment {
  readonly kind: SegmentKind;
  readonly writable: boolean;
  readonly executable: boolean;
  /** Offset in the module image; page-aligned. */
  readonly offset: number;
  readonly memSize: number;
  /** Bytes taken from the IMAGE section; the rest of memSize is zero. */
  readonly fileOffset: number;
  readonly fileSize: number;
}

export type Relocation =
  | { readonly kind: 'image'; readonly site: number; readonly addend: number }
  | { readonly kind: 'import'; readonly site: number; readonly index: number; readonly addend: number };

export interface Import {
  readonly module: string;
  readonly symbol: string;
}

export interface Export {
  readonly name: string;
  readonly kind: keyof typeof EXPORT_KIND;
  readonly offset: number;
  readonly size: number;
}

export interface ModuleContent {
  readonly meta: ModuleMetadata;
  readonly segments: readonly Segment[];
  readonly image: Uint8Array;
  readonly relocations: readonly Relocation[];
  readonly imports: readonly Import[];
  readonly exports: readonly Export[];
}

export interface DecodedModule extends ModuleContent {
  /** Bytes [0, signedLength) are what the module hash covers. */
  readonly signedLength: number;
  /** The signature block, undecoded; empty for an unsigned module. */
  readonly signature: Uint8Array;
  /** Total pages of the loaded image. */
  readonly pages: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A cursor over little-endian bytes that refuses to read past its end. */
export class Reader {
  private readonly view: DataView;
  pos = 0;
  constructor(readonly bytes: Uint8Array, private readonly what: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number): void {
    if (this.pos + n > this.bytes.length) fail('TRUNCATED', `${this.what}: needs ${n} bytes at ${this.pos}, has ${this.bytes.length - this.pos}`);
  }
  u8(): number { this.need(1); return this.view.getUint8(this.pos++); }
  u16(): number { this.need(2); const v = this.view.getUint16(this.pos, true); this.pos += 2; return v; }
  u32(): number { this.need(4); const v = this.view.getUint32(this.pos, true); this.pos += 4; return v; }
  u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail('TOO_LARGE', `${this.what}: value ${v} at ${this.pos - 8} is absurd`);
    return Number(v);
  }
  /** A full 64-bit word, for values that are not sizes or counts (config defaults and bounds). */
  u64Word(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
  i64(): number {
    this.need(8);
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) fail('TOO_LARGE', `${this.what}: value ${v} is absurd`);
    return Number(v);
  }
  take(n: number): Uint8Array { this.need(n); const b = this.bytes.subarray(this.pos, this.pos + n); this.pos += n; return b; }
  string(): string {
    const n = this.u16();
    const b = this.take(n);
    try {
      return utf8.decode(b);
    } catch (e) {
      // The fatal decoder's one refusal (Node names it by code); anything else is not the file's fault.
      if ((e as { code?: unknown }).code !== 'ERR_ENCODING_INVALID_ENCODED_DATA') throw e;
      return fail('BAD_METADATA', `${this.what}: a string at ${this.pos - n} is not UTF-8`);
    }
  }
  zero(n: number, field: string): void {
    if (this.take(n).some((b) => b !== 0)) fail('BAD_HEADER', `${this.what}: reserved ${field} is not zero`);
  }
  end(): void {
    if (this.pos !== this.bytes.length) fail('BAD_SECTION', `${this.what}: ${this.bytes.length - this.pos} trailing bytes`);
  }
}

function uuidString(b: Uint8Array): string {
  const h = Buffer.from(b).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Header and section table: enough to find the signed region and the sections. */
export function decodeContainer(file: Uint8Array): { signedLength: number; sections: Map<SectionName, Uint8Array>; signature: Uint8Array } {
  if (file.length > MAX_FILE) fail('TOO_LARGE', `module is ${file.length} bytes; the limit is ${MAX_FILE}`);
  if (file.length < HEADER_SIZE) fail('TRUNCATED', `module is ${file.length} bytes; the header alone is ${HEADER_SIZE}`);
  const r = new Reader(file, 'header');
  if (!MAGIC.every((b, i) => r.u8() === b)) fail('BAD_MAGIC', 'not a .hicmod file (magic "HICMOD\\x1a\\n" missing)');
  const version = r.u16();
  if (version !== FORMAT_VERSION) fail('UNSUPPORTED_VERSION', `format version ${version}; this loader reads version ${FORMAT_VERSION}`);
  if (r.u16() !== HEADER_SIZE) fail('BAD_HEADER', `header size is not ${HEADER_SIZE}`);
  const count = r.u16();
  if (r.u16() !== 0) fail('BAD_HEADER', 'flags are not zero');
  const signedLength = r.u32();
  const fileLength = r.u32();
  r.zero(HEADER_SIZE - r.pos, 'header bytes');
  if (fileLength !== file.length) fail('TRUNCATED', `header says ${fileLength} bytes, file has ${file.length}`);
  if (count !== SECTION_ORDER.length) fail('BAD_HEADER', `${count} sections; version 1 has exactly ${SECTION_ORDER.length}`);
  const tableEnd = HEADER_SIZE + count * SECTION_ENTRY_SIZE;
  if (signedLength < tableEnd || signedLength > file.length) fail('BAD_HEADER', `signed length ${signedLength} outside [${tableEnd}, ${file.length}]`);

  const sections = new Map<SectionName, Uint8Array>();
  let next = tableEnd;
  for (const name of SECTION_ORDER) {
    const type = r.u32();
    const offset = r.u32();
    const size = r.u32();
    r.zero(4, 'section entry field');
    if (type !== SECTION[name]) fail('BAD_SECTION', `section ${sections.size} has type ${type}; expected ${SECTION[name]} (${name})`);
    // Sections follow each other in order, each 8-aligned, inside the signed region; both tests
    // needed, for the start and for the end (offset + size cannot wrap: both are below 2^32).
    if (offset % 8 !== 0 || offset < next || offset + size > signedLength) fail('BAD_SECTION', `${name} at [${offset}, +${size}) overlaps, is misaligned, or leaves the signed region`);
    if (file.subarray(next, offset).some((b) => b !== 0)) fail('BAD_SECTION', `padding before ${name} is not zero`);
    sections.set(name, file.subarray(offset, offset + size));
    next = offset + size;
  }
  if (file.subarray(next, signedLength).some((b) => b !== 0)) fail('BAD_SECTION', 'padding after the last section is not zero');
  return { signedLength, sections, signature: file.subarray(signedLength) };
}

function decodeMeta(b: Uint8Array): ModuleMetadata {
  const r = new Reader(b, 'META');
  const seen = new Map<number, Uint8Array[]>();
  let last = 0;
  while (r.pos < b.length) {
    const tag = r.u16();
    const len = r.u32();
    const value = r.take(len);
    if (tag < last || (tag === last && !REPEATABLE.has(tag))) fail('BAD_METADATA', `field ${tag} out of order or repeated`);
    if (!Object.values(META).includes(tag as never)) fail('BAD_METADATA', `unknown field ${tag}`);
    last = tag;
    seen.set(tag, [...(seen.get(tag) ?? []), value]);
  }
  const one = (tag: number, what: string): Uint8Array => seen.get(tag)?.[0] ?? fail('BAD_METADATA', `missing ${what}`);
  const str = (v: Uint8Array, what: string) => {
    const rr = new Reader(v, what);
    const s = rr.string();
    rr.end();
    return s;
  };
  const num = (v: Uint8Array, size: 1 | 4 | 8, what: string) => {
    if (v.length !== size) fail('BAD_METADATA', `${what} is ${v.length} bytes, not ${size}`);
    const rr = new Reader(v, what);
    return size === 1 ? rr.u8() : size === 4 ? rr.u32() : rr.u64();
  };
  const name = str(one(META.NAME, 'name'), 'name');
  if (!NAME_PATTERN.test(name)) fail('BAD_METADATA', `name "${name}" is not [a-z][a-z0-9_]{0,31}`);
  const version = str(one(META.VERSION, 'version'), 'version');
  if (semver.valid(version) !== version) fail('BAD_METADATA', `version "${version}" is not a semantic version`);
  const uuid = one(META.UUID, 'uuid');
  if (uuid.length !== 16) fail('BAD_METADATA', 'uuid is not 16 bytes');
  const kindCode = num(one(META.KIND, 'kind'), 1, 'kind');
  if (kindCode !== 1 && kindCode !== 2) fail('BAD_METADATA', `kind ${kindCode} is neither 1 (service) nor 2 (library)`);
  const dependencies = (seen.get(META.DEPENDENCY) ?? []).map((v) => {
    const rr = new Reader(v, 'dependency');
    const dep = { name: rr.string(), range: rr.string() };
    rr.end();
    if (!NAME_PATTERN.test(dep.name) || semver.validRange(dep.range) === null) fail('BAD_METADATA', `dependency "${dep.name} ${dep.range}" is malformed`);
    return dep;
  });
  const protocols = (seen.get(META.PROTOCOL) ?? []).map((v) => {
    if (v.length !== 4) fail('BAD_METADATA', 'protocol version is not 4 bytes');
    const rr = new Reader(v, 'protocol');
    return `${rr.u16()}.${rr.u16()}`;
  });
  const memory = num(one(META.MEMORY, 'memory'), 8, 'memory');
  if (memory > 1 << 30) fail('TOO_LARGE', `module asks for ${memory} bytes of memory`);
  const cpuPermille = num(one(META.CPU, 'cpu share'), 4, 'cpu share');
  if (cpuPermille < 1 || cpuPermille > 1000) fail('BAD_METADATA', `cpu share ${cpuPermille}‰ outside [1, 1000]`);
  const config = decodeConfig((seen.get(META.CONFIG) ?? []).map((v) => new Reader(v, 'config field')));
  const records = decodeRecords((seen.get(META.RECORD) ?? []).map((v) => new Reader(v, 'record type')));
  if (kindCode === 2 && (config.length > 0 || records.length > 0)) fail('BAD_METADATA', 'a library has no configuration and emits no records');
  const build = (seen.get(META.BUILD) ?? []).map((v) => {
    const setting = str(v, 'build setting');
    if (!BUILD_SETTING.test(setting)) fail('BAD_METADATA', `build setting ${JSON.stringify(setting)} is not "key value" with a known key`);
    return setting;
  });
  return {
    name,
    version,
    uuid: uuidString(uuid),
    kind: kindCode === 1 ? 'service' : 'library',
    dependencies,
    protocols,
    stateSchema: num(one(META.STATE_SCHEMA, 'state schema'), 4, 'state schema'),
    memory,
    cpuPermille,
    capabilities: (seen.get(META.CAPABILITY) ?? []).map((v) => str(v, 'capability')),
    config,
    records,
    ...(build.length > 0 ? { build } : {}),
  };
}

function counted<T>(b: Uint8Array, what: string, entry: (r: Reader, i: number) => T): T[] {
  const r = new Reader(b, what);
  const n = r.u32();
  if (n > MAX_COUNT) fail('TOO_LARGE', `${what}: ${n} entries`);
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(entry(r, i));
  r.end();
  return out;
}

const KIND_BY_CODE = new Map<number, SegmentKind>(Object.entries(SEGMENT_KIND).map(([k, v]) => [v, k as SegmentKind]));

function decodeSegments(b: Uint8Array, imageBytes: number): { segments: Segment[]; pages: number } {
  let end = 0;
  const segments = counted(b, 'SEGMENTS', (r, i) => {
    const kind = KIND_BY_CODE.get(r.u8()) ?? fail('BAD_SEGMENTS', `segment ${i}: unknown kind`);
    const perms = r.u8();
    r.zero(2, 'segment field');
    const s: Segment = { kind, writable: (perms & PERM.W) !== 0, executable: (perms & PERM.X) !== 0, offset: r.u32(), memSize: r.u32(), fileOffset: r.u32(), fileSize: r.u32() };
    r.zero(4, 'segment field');
    if (perms & ~7 || !(perms & PERM.R)) fail('BAD_SEGMENTS', `segment ${i} (${kind}): bad permissions ${perms}`);
    if (s.writable && s.executable) fail('BAD_SEGMENTS', `segment ${i} (${kind}) is writable and executable (W^X)`);
    if ((kind === 'text') !== s.executable || ((kind === 'data' || kind === 'bss') !== s.writable)) fail('BAD_SEGMENTS', `segment ${i}: permissions do not fit a ${kind} segment`);
    if (s.offset % PAGE !== 0 || s.memSize % PAGE !== 0 || s.memSize === 0) fail('BAD_SEGMENTS', `segment ${i} (${kind}) is not whole pages`);
    if (s.offset < end) fail('BAD_SEGMENTS', `segment ${i} (${kind}) at ${s.offset} overlaps the one before (ends ${end})`);
    if (s.fileSize > s.memSize || s.fileOffset + s.fileSize > imageBytes || (kind === 'bss' && s.fileSize !== 0)) fail('BAD_SEGMENTS', `segment ${i} (${kind}): file bytes [${s.fileOffset}, +${s.fileSize}) do not fit`);
    end = s.offset + s.memSize;
    if (end > MAX_IMAGE) fail('TOO_LARGE', `segments reach ${end} bytes; the limit is ${MAX_IMAGE}`);
    return s;
  });
  if (!segments.some((s) => s.kind === 'text')) fail('BAD_SEGMENTS', 'no text segment');
  return { segments, pages: end / PAGE };
}

function decodeRelocations(b: Uint8Array, segments: readonly Segment[], pages: number, imports: number): Relocation[] {
  return counted(b, 'RELOCS', (r, i) => {
    const site = r.u32();
    const kind = r.u16();
    r.zero(2, 'relocation field');
    const index = r.u32();
    r.zero(4, 'relocation field');
    const addend = r.i64();
    // The 8 bytes patched must lie in one segment's file bytes.
    if (!segments.some((s) => site >= s.offset && site + 8 <= s.offset + s.fileSize)) fail('RELOCATION_OUT_OF_IMAGE', `relocation ${i}: site ${site} is not inside a segment's initialised bytes`);
    if (kind === RELOC.IMAGE) {
      if (index !== 0) fail('BAD_RELOCATION', `relocation ${i}: image relocation with index ${index}`);
      if (addend < 0 || addend > pages * PAGE) fail('RELOCATION_OUT_OF_IMAGE', `relocation ${i}: target ${addend} is outside the image of ${pages * PAGE} bytes`);
      return { kind: 'image', site, addend };
    }
    if (kind === RELOC.IMPORT) {
      if (index >= imports) fail('BAD_RELOCATION', `relocation ${i}: import ${index} does not exist (${imports} imports)`);
      if (addend !== 0) fail('BAD_RELOCATION', `relocation ${i}: import relocations take no addend`);
      return { kind: 'import', site, index, addend };
    }
    return fail('BAD_RELOCATION', `relocation ${i}: unknown kind ${kind}`);
  });
}

/** Decodes a whole module. The caller verifies the signature first (verify.ts). */
export function decodeModule(file: Uint8Array): DecodedModule {
  const { signedLength, sections, signature } = decodeContainer(file);
  const section = (n: SectionName) => sections.get(n)!;
  const meta = decodeMeta(section('META'));
  const image = section('IMAGE');
  const { segments, pages } = decodeSegments(section('SEGMENTS'), image.length);
  const imports = counted(section('IMPORTS'), 'IMPORTS', (r, i) => {
    const imp = { module: r.string(), symbol: r.string() };
    if (!meta.dependencies.some((d) => d.name === imp.module)) fail('BAD_IMPORT', `import ${i} (${imp.module}.${imp.symbol}) names a module that is not a dependency`);
    if (imp.symbol.length === 0) fail('BAD_IMPORT', `import ${i} has no symbol name`);
    return imp;
  });
  const relocations = decodeRelocations(section('RELOCS'), segments, pages, imports.length);
  const kinds = new Map<number, Export['kind']>(Object.entries(EXPORT_KIND).map(([k, v]) => [v, k as Export['kind']]));
  const names = new Set<string>();
  const exports = counted(section('EXPORTS'), 'EXPORTS', (r, i) => {
    const name = r.string();
    const kind = kinds.get(r.u8()) ?? fail('BAD_EXPORT', `export ${i}: unknown kind`);
    r.zero(3, 'export field');
    const e: Export = { name, kind, offset: r.u32(), size: r.u32() };
    if (!name || names.has(name)) fail('BAD_EXPORT', `export ${i}: empty or duplicate name "${name}"`);
    names.add(name);
    const seg = segments.find((s) => e.offset >= s.offset && e.offset + e.size <= s.offset + s.memSize);
    if (!seg || (kind === 'function') !== seg.executable) fail('BAD_EXPORT', `export ${name} at ${e.offset} (+${e.size}) is not inside a ${kind === 'function' ? 'text' : 'data'} segment`);
    return e;
  });
  return { meta, segments, image, relocations, imports, exports, signedLength, signature, pages };
}
