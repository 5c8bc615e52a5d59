// Writes the .hicmod container (docs/hicmod-format.md) from module content. Canonical: the same
// content always gives the same bytes, which is what makes `hicmod build` reproducible.

import { FIELD_AUDITS, FIELD_JOURNALS, typeCode, type FieldHead } from '../../core0/module/config-records.ts';
import {
  EXPORT_KIND, FORMAT_VERSION, HEADER_SIZE, MAGIC, META, PERM, RELOC, SECTION, SECTION_ENTRY_SIZE, SECTION_ORDER, SEGMENT_KIND,
  type ModuleContent, type ModuleMetadata, type SectionName,
} from '../../core0/module/format.ts';

/** A little-endian byte builder. */
export class Writer {
  private chunks: Uint8Array[] = [];
  length = 0;
  private push(b: Uint8Array): this {
    this.chunks.push(b);
    this.length += b.length;
    return this;
  }
  private num(size: number, set: (v: DataView) => void): this {
    const b = new Uint8Array(size);
    set(new DataView(b.buffer));
    return this.push(b);
  }
  u8(v: number) { return this.num(1, (d) => d.setUint8(0, v)); }
  u16(v: number) { return this.num(2, (d) => d.setUint16(0, v, true)); }
  u32(v: number) { return this.num(4, (d) => d.setUint32(0, v, true)); }
  u64(v: number | bigint) { return this.num(8, (d) => d.setBigUint64(0, BigInt(v), true)); }
  i64(v: number) { return this.num(8, (d) => d.setBigInt64(0, BigInt(v), true)); }
  bytes(b: Uint8Array) { return this.push(b); }
  zeros(n: number) { return this.push(new Uint8Array(n)); }
  string(s: string) {
    const b = Buffer.from(s, 'utf8');
    if (b.length > 0xffff) throw new RangeError('string too long for the format');
    return this.u16(b.length).push(b);
  }
  done(): Uint8Array {
    return Buffer.concat(this.chunks);
  }
}

function encodeMeta(m: ModuleMetadata): Uint8Array {
  const w = new Writer();
  const field = (tag: number, value: Uint8Array) => w.u16(tag).u32(value.length).bytes(value);
  const str = (s: string) => new Writer().string(s).done();
  field(META.NAME, str(m.name));
  field(META.VERSION, str(m.version));
  field(META.UUID, Buffer.from(m.uuid.replace(/-/g, ''), 'hex'));
  field(META.KIND, Uint8Array.of(m.kind === 'service' ? 1 : 2));
  for (const d of m.dependencies) field(META.DEPENDENCY, new Writer().string(d.name).string(d.range).done());
  for (const p of m.protocols) {
    const [major, minor] = p.split('.').map(Number);
    field(META.PROTOCOL, new Writer().u16(major!).u16(minor!).done());
  }
  field(META.STATE_SCHEMA, new Writer().u32(m.stateSchema).done());
  field(META.MEMORY, new Writer().u64(m.memory).done());
  field(META.CPU, new Writer().u32(m.cpuPermille).done());
  for (const c of m.capabilities) field(META.CAPABILITY, str(c));
  for (const c of m.config) field(META.CONFIG, fieldHead(new Writer(), c).u64(BigInt.asUintN(64, c.default)).u64(BigInt.asUintN(64, c.min)).u64(BigInt.asUintN(64, c.max)).done());
  for (const r of m.records) {
    const rw = new Writer().string(r.name).string(r.doc).u16(r.fields.length);
    for (const f of r.fields) fieldHead(rw, f);
    field(META.RECORD, rw.done());
  }
  for (const b of m.build ?? []) field(META.BUILD, str(b));
  return w.done();
}

/** A declared field's name, type, enum values and doc (docs/hicmod-format.md, tags 11 and 12). */
function fieldHead(w: Writer, f: FieldHead & { readonly audits?: true; readonly journals?: true }): Writer {
  w.string(f.name).u8(typeCode(f.type)).u8((f.audits ? FIELD_AUDITS : 0) | (f.journals ? FIELD_JOURNALS : 0)).u16(f.values.length);
  for (const v of f.values) w.string(v);
  return w.string(f.doc);
}

function encodeSections(c: ModuleContent): Record<SectionName, Uint8Array> {
  const segs = new Writer().u32(c.segments.length);
  for (const s of c.segments) {
    segs.u8(SEGMENT_KIND[s.kind]).u8(PERM.R | (s.writable ? PERM.W : 0) | (s.executable ? PERM.X : 0)).zeros(2);
    segs.u32(s.offset).u32(s.memSize).u32(s.fileOffset).u32(s.fileSize).zeros(4);
  }
  const relocs = new Writer().u32(c.relocations.length);
  for (const r of c.relocations) {
    relocs.u32(r.site).u16(r.kind === 'image' ? RELOC.IMAGE : RELOC.IMPORT).zeros(2).u32(r.kind === 'import' ? r.index : 0).zeros(4).i64(r.addend);
  }
  const imports = new Writer().u32(c.imports.length);
  for (const i of c.imports) imports.string(i.module).string(i.symbol);
  const exports = new Writer().u32(c.exports.length);
  for (const e of c.exports) exports.string(e.name).u8(EXPORT_KIND[e.kind]).zeros(3).u32(e.offset).u32(e.size);
  return { META: encodeMeta(c.meta), SEGMENTS: segs.done(), IMAGE: c.image, RELOCS: relocs.done(), IMPORTS: imports.done(), EXPORTS: exports.done() };
}

const align8 = (n: number) => Math.ceil(n / 8) * 8;

/**
 * The signed region of a module: header, section table and sections. `signatureLength` is the
 * size of the signature block that will follow (0 for an unsigned module); the header records the
 * total, so it is covered by the module hash too.
 */
export function encodeModule(c: ModuleContent, signatureLength = 0): Uint8Array {
  const bodies = encodeSections(c);
  const table = new Writer();
  const body = new Writer();
  let at = align8(HEADER_SIZE + SECTION_ORDER.length * SECTION_ENTRY_SIZE);
  const start = at;
  for (const name of SECTION_ORDER) {
    const b = bodies[name];
    table.u32(SECTION[name]).u32(at).u32(b.length).zeros(4);
    body.bytes(b).zeros(align8(b.length) - b.length);
    at += align8(b.length);
  }
  const signedLength = at;
  const header = new Writer().bytes(MAGIC).u16(FORMAT_VERSION).u16(HEADER_SIZE).u16(SECTION_ORDER.length).u16(0);
  header.u32(signedLength).u32(signedLength + signatureLength);
  header.zeros(HEADER_SIZE - header.length);
  const out = new Writer().bytes(header.done()).bytes(table.done());
  out.zeros(start - out.length).bytes(body.done());
  return out.done();
}
