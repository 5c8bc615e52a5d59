// The one reader of DWARF's encodings in the debugger: little-endian fixed-size fields, LEB128
// numbers, C strings and blocks. Guest objects are relocatable, so a field a relocation writes
// (a string or abbreviation offset, a CIE pointer, a code or variable address) holds 0 in the
// file and its value in the relocation (RELA): the reader returns the relocated value wherever
// there is one. dwarf-info.ts (.debug_info) and dwarf-frame.ts (.debug_frame) walk their records
// with it.

import type { ElfFile, ElfSection } from '../../hicmod-toolchain/elf.ts';

const SHF_ALLOC = 0x2;
const NONE: ReadonlyMap<number, number> = new Map();

/**
 * The value of every relocated field of a debug section, by its offset in the section. A field
 * against a loaded section is an image offset (placed: section index → offset in the image); one
 * against a section the image does not load is an offset in that section (a string table, the
 * section itself); one against an allocated section the image left out has no value and is
 * skipped.
 */
export function relocatedFields(elf: ElfFile, section: ElfSection, placed: ReadonlyMap<number, number>): Map<number, number> {
  const fields = new Map<number, number>();
  for (const r of elf.relocations) {
    if (r.target !== section.index) continue;
    const sym = elf.symbols[r.symbol];
    if (!sym) continue;
    let base = placed.get(sym.shndx);
    if (base === undefined) {
      const of = elf.sections.find((s) => s.index === sym.shndx);
      if (of && (of.flags & SHF_ALLOC) !== 0) continue;
      base = 0;
    }
    fields.set(r.offset, base + Number(sym.value) + Number(r.addend));
  }
  return fields;
}

export class DwarfReader {
  constructor(
    readonly bytes: Uint8Array,
    public at = 0,
    /** Relocated fields of the section, by offset (relocatedFields). */
    private readonly fields: ReadonlyMap<number, number> = NONE,
  ) {}

  /** The relocated value of the field at `offset`, if a relocation writes it. */
  relocated(offset: number): number | undefined {
    return this.fields.get(offset);
  }

  private view(): DataView {
    return new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }

  u8(): number {
    return this.bytes[this.at++]!;
  }

  u16(): number {
    const v = this.view().getUint16(this.at, true);
    this.at += 2;
    return v;
  }

  /** Relocated when a relocation writes it. */
  u32(): number {
    const v = this.fields.get(this.at) ?? this.view().getUint32(this.at, true);
    this.at += 4;
    return v;
  }

  /** Relocated when a relocation writes it. */
  u64(): number {
    const v = this.fields.get(this.at) ?? Number(this.view().getBigUint64(this.at, true));
    this.at += 8;
    return v;
  }

  uleb(): number {
    let v = 0;
    let mul = 1;
    for (;;) {
      const byte = this.u8();
      v += (byte & 0x7f) * mul;
      mul *= 128;
      if (!(byte & 0x80)) return v;
    }
  }

  sleb(): number {
    let v = 0;
    let mul = 1;
    let byte: number;
    do {
      byte = this.u8();
      v += (byte & 0x7f) * mul;
      mul *= 128;
    } while (byte & 0x80);
    return byte & 0x40 ? v - mul : v;
  }

  cstring(): string {
    const end = this.bytes.indexOf(0, this.at);
    const s = new TextDecoder().decode(this.bytes.subarray(this.at, end));
    this.at = end + 1;
    return s;
  }

  /** The next n bytes, copied, with any relocated address inside (DW_OP_addr) written in. */
  block(n: number): Uint8Array {
    const start = this.at;
    this.at += n;
    const out = this.bytes.slice(start, this.at);
    for (let i = 0; i + 8 <= n; i++) {
      const r = this.fields.get(start + i);
      if (r !== undefined) new DataView(out.buffer).setBigUint64(i, BigInt(r), true);
    }
    return out;
  }
}

/** A NUL-terminated string at `at` of a string table (.debug_str, .debug_line_str). */
export function stringAt(table: Uint8Array, at: number): string {
  return new TextDecoder().decode(table.subarray(at, table.indexOf(0, at)));
}
