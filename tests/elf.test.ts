// Tests for hicmod-toolchain/elf.ts on a real service object (the template, built fresh): one
// parse that must succeed, and corrupted copies that must each fail with the exact ElfError code.
// Whatever the bytes, parseElf may only throw ElfError.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildService } from '../hicmod-toolchain/build.ts';
import { ElfError, findGlobal, findSection, parseElf, SHT, STB, type ElfErrorCode, type ElfFile } from '../hicmod-toolchain/elf.ts';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const scratch = mkdtempSync(join(tmpdir(), 'hic-elf-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let original: Uint8Array;
let elf: ElfFile;
beforeAll(() => {
  original = new Uint8Array(readFileSync(buildService(repoRoot, 'template', { outDir: scratch }).object));
  elf = parseElf(original);
}, 60_000);

/** A copy of the object with edit applied through a DataView. */
function corrupt(edit: (v: DataView, bytes: Uint8Array) => void): Uint8Array {
  const bytes = original.slice();
  edit(new DataView(bytes.buffer), bytes);
  return bytes;
}

/** The ElfError code parseElf throws for bytes; fails the test on success or a foreign error. */
function codeOf(bytes: Uint8Array): ElfErrorCode {
  try {
    parseElf(bytes);
  } catch (e) {
    if (e instanceof ElfError) return e.code;
    throw new Error(`parseElf threw a non-ElfError: ${String(e)}`);
  }
  throw new Error('parseElf accepted corrupted input');
}

const section = (name: string) => {
  const s = findSection(elf, name);
  if (!s) throw new Error(`template object has no ${name}`);
  return s;
};
const headerAt = (index: number) => elf.header.shoff + index * 64;

describe('parseElf on a valid object', () => {
  it('reads the header, sections, symbols and relocations', () => {
    expect(elf.header.shnum).toBe(elf.sections.length);
    expect(elf.sections[0]!.type).toBe(SHT.NULL);
    const text = section('.text');
    expect(text.type).toBe(SHT.PROGBITS);
    expect(text.data.length).toBe(text.size);
    expect(text.data.byteOffset - original.byteOffset).toBe(text.offset);

    const main = findGlobal(elf, 'hic_main')!;
    expect(main.binding).toBe(STB.GLOBAL);
    expect(elf.sections[main.shndx]).toBe(text);
    expect(elf.symbols[0]!.name).toBe('');

    const relaText = section('.rela.text');
    const fromText = elf.relocations.filter((r) => r.relaSection === relaText.index);
    expect(fromText.length).toBe(relaText.size / 24);
    expect(fromText.every((r) => r.target === text.index && r.offset + 8 <= text.size)).toBe(true);
  });
});

describe('parseElf on bad input', () => {
  it('rejects every proper prefix as ELF_TRUNCATED', () => {
    const codes = new Set<ElfErrorCode>();
    for (let n = 0; n < original.length; n++) codes.add(codeOf(original.subarray(0, n)));
    expect([...codes]).toEqual(['ELF_TRUNCATED']);
  });

  it('rejects a wrong magic', () => {
    expect(codeOf(corrupt((_, b) => (b[0] = 0x7e)))).toBe('ELF_BAD_MAGIC');
    expect(codeOf(new TextEncoder().encode('#!/bin/sh\necho not an object\n'.repeat(4)))).toBe('ELF_BAD_MAGIC');
  });

  it('rejects a 32-bit class, big-endian data and another machine', () => {
    expect(codeOf(corrupt((_, b) => (b[4] = 1)))).toBe('ELF_NOT_X86_64');
    expect(codeOf(corrupt((_, b) => (b[5] = 2)))).toBe('ELF_NOT_X86_64');
    expect(codeOf(corrupt((v) => v.setUint16(18, 3, true)))).toBe('ELF_NOT_X86_64'); // EM_386
  });

  it('rejects a section header table that starts past the end', () => {
    expect(codeOf(corrupt((v) => v.setBigUint64(40, BigInt(original.length), true)))).toBe('ELF_TRUNCATED');
    expect(codeOf(corrupt((v) => v.setBigUint64(40, 0xffffffffffffffc0n, true)))).toBe('ELF_TRUNCATED');
  });

  it('rejects a section whose data lies past the end, even when offset + size wraps', () => {
    const at = headerAt(section('.text').index);
    expect(codeOf(corrupt((v) => v.setBigUint64(at + 24, BigInt(original.length + 1), true)))).toBe('ELF_BAD_SECTION');
    expect(codeOf(corrupt((v) => {
      v.setBigUint64(at + 24, 0xffffffffffffff00n, true);
      v.setBigUint64(at + 32, 0x200n, true);
    }))).toBe('ELF_BAD_SECTION');
  });

  it('rejects a section name index out of range and a bad e_shstrndx', () => {
    const at = headerAt(section('.text').index);
    expect(codeOf(corrupt((v) => v.setUint32(at, section('.shstrtab').size, true)))).toBe('ELF_BAD_SECTION');
    expect(codeOf(corrupt((v) => v.setUint16(62, elf.sections.length, true)))).toBe('ELF_BAD_SECTION');
    expect(codeOf(corrupt((v) => v.setUint16(62, section('.text').index, true)))).toBe('ELF_BAD_SECTION');
  });

  it('rejects a symbol name index out of range', () => {
    const symtab = section('.symtab');
    const strtab = elf.sections[symtab.link]!;
    expect(codeOf(corrupt((v) => v.setUint32(symtab.offset + 24, strtab.size, true)))).toBe('ELF_BAD_SYMBOL');
    expect(codeOf(corrupt((v) => v.setUint32(symtab.offset + 24, 0xffffffff, true)))).toBe('ELF_BAD_SYMBOL');
  });

  it('rejects a symbol in a section that does not exist', () => {
    const main = findGlobal(elf, 'hic_main')!;
    const at = section('.symtab').offset + main.index * 24;
    expect(codeOf(corrupt((v) => v.setUint16(at + 6, elf.sections.length, true)))).toBe('ELF_BAD_SYMBOL');
  });

  it('rejects a relocation symbol index out of range', () => {
    const at = section('.rela.text').offset;
    expect(codeOf(corrupt((v) => v.setUint32(at + 12, elf.symbols.length, true)))).toBe('ELF_BAD_RELOCATION');
  });

  it('rejects a relocation that patches bytes outside its section', () => {
    const at = section('.rela.text').offset;
    const last = BigInt(section('.text').size - 7); // an 8-byte patch here ends one byte past the end
    expect(codeOf(corrupt((v) => v.setBigUint64(at, last, true)))).toBe('ELF_BAD_RELOCATION');
    expect(codeOf(corrupt((v) => v.setBigUint64(at, 0xfffffffffffffffcn, true)))).toBe('ELF_BAD_RELOCATION');
  });

  it('rejects a relocation section with a bad entry size or target', () => {
    const at = headerAt(section('.rela.text').index);
    expect(codeOf(corrupt((v) => v.setBigUint64(at + 56, 16n, true)))).toBe('ELF_BAD_SECTION');
    expect(codeOf(corrupt((v) => v.setUint32(at + 44, elf.sections.length, true)))).toBe('ELF_BAD_SECTION');
    expect(codeOf(corrupt((v) => v.setUint32(at + 40, section('.text').index, true)))).toBe('ELF_BAD_SECTION');
  });

  it('throws only ElfError for randomly corrupted headers', () => {
    // Deterministic xorshift, so a failure reproduces.
    let x = 0x9e3779b9;
    const rand = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x >>> 0;
    };
    const tableStart = elf.header.shoff;
    for (let i = 0; i < 2000; i++) {
      const bytes = original.slice();
      for (let k = 0; k < 4; k++) {
        // Hit the ELF header, the section header table and the symbol/relocation tables alike.
        const region = rand() % 3;
        const at = region === 0 ? rand() % 64 : region === 1 ? tableStart + (rand() % (original.length - tableStart)) : rand() % original.length;
        bytes[at] = rand() & 0xff;
      }
      try {
        parseElf(bytes);
      } catch (e) {
        if (!(e instanceof ElfError)) throw new Error(`case ${i}: non-ElfError ${String(e)}`);
      }
    }
  });
});
