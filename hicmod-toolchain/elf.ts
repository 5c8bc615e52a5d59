// A reader for ELF64 little-endian x86-64 files, enough to load a service's relocatable object
// (build/services/<name>.o): header, sections, the symbol table and RELA relocations.
// Input is untrusted: every offset, size and index is checked before use, and any problem is an
// ElfError with a stable code and a message naming the field and where it is. No other
// exception escapes parseElf, whatever the bytes.

export type ElfErrorCode =
  | 'ELF_TRUNCATED' // the file ends before the ELF header or the section header table does
  | 'ELF_BAD_MAGIC' // not an ELF file at all
  | 'ELF_NOT_X86_64' // an ELF file, but not 64-bit little-endian x86-64
  | 'ELF_BAD_HEADER' // an inconsistent ELF header field (version, header sizes)
  | 'ELF_BAD_SECTION' // a section header that is out of range or inconsistent
  | 'ELF_BAD_SYMBOL' // a symbol table entry that is out of range
  | 'ELF_BAD_RELOCATION'; // a relocation entry that is out of range

export class ElfError extends Error {
  override readonly name = 'ElfError';
  constructor(
    readonly code: ElfErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const ET = { REL: 1, EXEC: 2, DYN: 3 } as const;
export const EM_X86_64 = 62;
export const SHT = { NULL: 0, PROGBITS: 1, SYMTAB: 2, STRTAB: 3, RELA: 4, NOBITS: 8, REL: 9 } as const;
export const SHF = { WRITE: 0x1, ALLOC: 0x2, EXECINSTR: 0x4, MERGE: 0x10, STRINGS: 0x20, INFO_LINK: 0x40 } as const;
export const SHN = { UNDEF: 0, LORESERVE: 0xff00, ABS: 0xfff1, COMMON: 0xfff2, XINDEX: 0xffff } as const;
export const STB = { LOCAL: 0, GLOBAL: 1, WEAK: 2 } as const;
export const STT = { NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3, FILE: 4, COMMON: 5, TLS: 6 } as const;
export const R_X86_64 = { NONE: 0, _64: 1, PC32: 2, PLT32: 4, _32: 10, _32S: 11, PC64: 24 } as const;

/** The x86-64 psABI's relocation names (table 4.9 and the TLS supplement), for messages. */
const RELOCATION_NAMES = [
  'NONE', '64', 'PC32', 'GOT32', 'PLT32', 'COPY', 'GLOB_DAT', 'JUMP_SLOT', 'RELATIVE', 'GOTPCREL', '32', '32S', '16', 'PC16', '8', 'PC8',
  'DTPMOD64', 'DTPOFF64', 'TPOFF64', 'TLSGD', 'TLSLD', 'DTPOFF32', 'GOTTPOFF', 'TPOFF32', 'PC64', 'GOTOFF64', 'GOTPC32', 'GOT64',
  'GOTPCREL64', 'GOTPC64', 'GOTPLT64', 'PLTOFF64', 'SIZE32', 'SIZE64', 'GOTPC32_TLSDESC', 'TLSDESC_CALL', 'TLSDESC', 'IRELATIVE',
  'RELATIVE64', undefined, undefined, 'GOTPCRELX', 'REX_GOTPCRELX',
];

/** "R_X86_64_TPOFF32 (23)", or the number alone for a type the psABI does not name. */
export function relocationName(type: number): string {
  const n = RELOCATION_NAMES[type];
  return n ? `R_X86_64_${n} (${type})` : `relocation type ${type}`;
}

/** Thread-local storage relocations: DTPMOD64 .. TPOFF32, and the TLS descriptors. */
export const isTlsRelocation = (type: number): boolean => (type >= 16 && type <= 23) || (type >= 34 && type <= 36);
/** Relocations through a GOT or PLT: position-independent code. */
export const isGotRelocation = (type: number): boolean => [3, 6, 7, 9, 25, 26, 27, 28, 29, 30, 31, 41, 42].includes(type);

export interface ElfHeader {
  readonly type: number; // ET_*
  readonly machine: number;
  readonly entry: bigint;
  readonly flags: number;
  readonly shoff: number;
  readonly shnum: number;
  readonly shstrndx: number;
}

export interface ElfSection {
  readonly index: number;
  readonly name: string;
  readonly type: number; // SHT_*
  readonly flags: number; // SHF_*; bits above 32 are rejected, none are defined for x86-64
  readonly addr: bigint;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly addralign: number;
  readonly entsize: number;
  /** The section's bytes (a view into the input); empty for SHT_NULL and SHT_NOBITS. */
  readonly data: Uint8Array;
}

export interface ElfSymbol {
  readonly index: number;
  readonly name: string;
  readonly value: bigint;
  readonly size: bigint;
  readonly type: number; // STT_*
  readonly binding: number; // STB_*
  readonly visibility: number; // STV_* (low bits of st_other)
  /** Section index, or SHN.UNDEF / SHN.ABS / SHN.COMMON. */
  readonly shndx: number;
}

export interface ElfRelocation {
  /** Index of the SHT_RELA section holding this entry. */
  readonly relaSection: number;
  /** Index of the section the relocation patches (the RELA section's sh_info). */
  readonly target: number;
  readonly offset: number;
  readonly type: number; // R_X86_64_*
  readonly symbol: number; // index into ElfFile.symbols
  readonly addend: bigint;
}

export interface ElfFile {
  readonly header: ElfHeader;
  readonly sections: readonly ElfSection[];
  /** From .symtab; empty when the file has none. Index 0 is the null symbol. */
  readonly symbols: readonly ElfSymbol[];
  /** From every SHT_RELA section, in section order. */
  readonly relocations: readonly ElfRelocation[];
}

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const RELA_SIZE = 24;

/** Bytes patched by the relocation types whose width we know; others must just start inside. */
const RELOC_WIDTH: ReadonlyMap<number, number> = new Map([
  [R_X86_64._64, 8], [R_X86_64.PC32, 4], [R_X86_64.PLT32, 4], [R_X86_64._32, 4], [R_X86_64._32S, 4], [R_X86_64.PC64, 8],
]);

const utf8 = new TextDecoder();
const hex = (n: number | bigint): string => '0x' + n.toString(16);

/** True when [offset, offset+size) lies inside a file of fileLen bytes. BigInt, so the sum of two
 * attacker-chosen 64-bit fields cannot wrap or lose precision. */
function inFile(offset: bigint, size: bigint, fileLen: number): boolean {
  return offset + size <= BigInt(fileLen);
}

/** Reads a NUL-terminated name from a string table; both tests are needed, for the index and for
 * a table whose last string is not terminated. */
function readString(table: { index: number; size: number; data: Uint8Array }, index: number, code: ElfErrorCode, where: string): string {
  if (index >= table.size) {
    throw new ElfError(code, `${where}: name index ${index} is outside string table [${table.index}] (${table.size} bytes)`);
  }
  const end = table.data.indexOf(0, index);
  if (end < 0) throw new ElfError(code, `${where}: name at index ${index} of string table [${table.index}] is not NUL-terminated`);
  return utf8.decode(table.data.subarray(index, end));
}

export function parseElf(bytes: Uint8Array): ElfFile {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = bytes.byteLength;

  // Identification: magic first, so a short non-ELF file reads as "not ELF" rather than "truncated".
  const magic = [0x7f, 0x45, 0x4c, 0x46];
  for (let i = 0; i < Math.min(len, 4); i++) {
    if (bytes[i] !== magic[i]) throw new ElfError('ELF_BAD_MAGIC', `not an ELF file: byte ${i} is ${hex(bytes[i]!)}, want ${hex(magic[i]!)}`);
  }
  if (len < EHDR_SIZE) throw new ElfError('ELF_TRUNCATED', `file is ${len} bytes, shorter than the ${EHDR_SIZE}-byte ELF64 header`);
  if (bytes[4] !== 2) throw new ElfError('ELF_NOT_X86_64', `EI_CLASS is ${bytes[4]}, want 2 (64-bit)`);
  if (bytes[5] !== 1) throw new ElfError('ELF_NOT_X86_64', `EI_DATA is ${bytes[5]}, want 1 (little-endian)`);
  if (bytes[6] !== 1) throw new ElfError('ELF_BAD_HEADER', `EI_VERSION is ${bytes[6]}, want 1`);

  const machine = view.getUint16(18, true);
  if (machine !== EM_X86_64) throw new ElfError('ELF_NOT_X86_64', `e_machine is ${machine}, want ${EM_X86_64} (x86-64)`);
  const version = view.getUint32(20, true);
  if (version !== 1) throw new ElfError('ELF_BAD_HEADER', `e_version is ${version}, want 1`);
  const ehsize = view.getUint16(52, true);
  if (ehsize !== EHDR_SIZE) throw new ElfError('ELF_BAD_HEADER', `e_ehsize is ${ehsize}, want ${EHDR_SIZE}`);

  const phoff = view.getBigUint64(32, true);
  const phentsize = view.getUint16(54, true);
  const phnum = view.getUint16(56, true);
  if (phnum > 0 && !inFile(phoff, BigInt(phnum) * BigInt(phentsize), len)) {
    throw new ElfError('ELF_TRUNCATED', `program header table (${phnum} x ${phentsize} bytes at ${hex(phoff)}) extends past the end of the ${len}-byte file`);
  }

  const shoffBig = view.getBigUint64(40, true);
  const shentsize = view.getUint16(58, true);
  let shnum = view.getUint16(60, true);
  let shstrndx = view.getUint16(62, true);
  if (shoffBig === 0n && shnum !== 0) throw new ElfError('ELF_BAD_HEADER', `e_shoff is 0 but e_shnum is ${shnum}`);
  if (shoffBig !== 0n) {
    if (shentsize !== SHDR_SIZE) throw new ElfError('ELF_BAD_HEADER', `e_shentsize is ${shentsize}, want ${SHDR_SIZE}`);
    if (!inFile(shoffBig, BigInt(SHDR_SIZE), len)) {
      throw new ElfError('ELF_TRUNCATED', `section header 0 at e_shoff ${hex(shoffBig)} extends past the end of the ${len}-byte file`);
    }
  }
  const shoff = Number(shoffBig); // safe: checked to lie inside the file
  // Extended numbering: with 0xff00 or more sections the real count and string table index live
  // in section header 0.
  if (shoff !== 0 && shnum === 0) {
    const count = view.getBigUint64(shoff + 32, true);
    if (count > BigInt(len)) throw new ElfError('ELF_TRUNCATED', `section header 0 gives ${count} sections, more than the file can hold`);
    shnum = Number(count);
  }
  if (shstrndx === SHN.XINDEX && shoff !== 0) shstrndx = view.getUint32(shoff + 40, true);
  if (!inFile(shoffBig, BigInt(shnum) * BigInt(SHDR_SIZE), len)) {
    throw new ElfError('ELF_TRUNCATED', `section header table (${shnum} x ${SHDR_SIZE} bytes at ${hex(shoff)}) extends past the end of the ${len}-byte file`);
  }
  if (shnum > 0 && shstrndx >= shnum) {
    throw new ElfError('ELF_BAD_SECTION', `e_shstrndx ${shstrndx} is not a section (there are ${shnum})`);
  }

  const header: ElfHeader = {
    type: view.getUint16(16, true), machine, entry: view.getBigUint64(24, true),
    flags: view.getUint32(48, true), shoff, shnum, shstrndx,
  };

  const raw = Array.from({ length: shnum }, (_, i) => readSectionHeader(view, bytes, shoff + i * SHDR_SIZE, i, shnum));

  // Names come last: they need the section-name string table, itself one of these sections.
  const names = shnum > 0 && shstrndx !== SHN.UNDEF ? raw[shstrndx]! : undefined;
  if (names && names.type !== SHT.STRTAB) throw new ElfError('ELF_BAD_SECTION', `e_shstrndx ${shstrndx} names a section of type ${names.type}, not SHT_STRTAB`);
  const sections: ElfSection[] = raw.map(({ nameIndex, ...s }) => ({
    ...s,
    name: names ? readString(names, nameIndex, 'ELF_BAD_SECTION', `section [${s.index}]`) : '',
  }));

  const symbols = readSymbols(view, sections);
  const relocations = readRelocations(view, sections, symbols.length);
  return { header, sections, symbols, relocations };
}

type RawSection = Omit<ElfSection, 'name'> & { nameIndex: number };

function readSectionHeader(view: DataView, bytes: Uint8Array, at: number, index: number, shnum: number): RawSection {
  const where = `section [${index}] (header at ${hex(at)})`;
  const bad = (msg: string) => new ElfError('ELF_BAD_SECTION', `${where}: ${msg}`);
  const type = view.getUint32(at + 4, true);
  const flags = view.getBigUint64(at + 8, true);
  if (flags > 0xffffffffn) throw bad(`sh_flags ${hex(flags)} has bits above 32 set`);
  const offset = view.getBigUint64(at + 24, true);
  const size = view.getBigUint64(at + 32, true);
  const link = view.getUint32(at + 40, true);
  const info = view.getUint32(at + 44, true);
  const addralign = view.getBigUint64(at + 48, true);
  const entsize = view.getBigUint64(at + 56, true);
  const inFileData = type !== SHT.NOBITS && type !== SHT.NULL;
  if (inFileData && !inFile(offset, size, view.byteLength)) {
    throw bad(`data (${hex(size)} bytes at ${hex(offset)}) extends past the end of the ${view.byteLength}-byte file`);
  }
  if (size > BigInt(Number.MAX_SAFE_INTEGER) || offset > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`size ${hex(size)} or offset ${hex(offset)} is implausibly large`);
  if (addralign > 1n << 32n || (addralign & (addralign - 1n)) !== 0n) throw bad(`sh_addralign ${addralign} is not a power of two`);
  if (entsize > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`sh_entsize ${hex(entsize)} is implausibly large`);
  if (link >= shnum && (type === SHT.SYMTAB || type === SHT.RELA || type === SHT.REL)) throw bad(`sh_link ${link} is not a section (there are ${shnum})`);
  return {
    index, nameIndex: view.getUint32(at, true), type, flags: Number(flags), addr: view.getBigUint64(at + 16, true),
    offset: Number(offset), size: Number(size), link, info, addralign: Number(addralign), entsize: Number(entsize),
    data: inFileData ? bytes.subarray(Number(offset), Number(offset + size)) : new Uint8Array(0),
  };
}

/** Checks that a table section holds whole entries of the expected size. */
function checkTable(s: ElfSection, entry: number, what: string): number {
  const where = `section [${s.index}] '${s.name}'`;
  if (s.entsize !== entry) throw new ElfError('ELF_BAD_SECTION', `${where}: ${what} sh_entsize is ${s.entsize}, want ${entry}`);
  if (s.size % entry !== 0) throw new ElfError('ELF_BAD_SECTION', `${where}: size ${s.size} is not a multiple of the ${entry}-byte ${what} entry`);
  return s.size / entry;
}

function readSymbols(view: DataView, sections: readonly ElfSection[]): ElfSymbol[] {
  const tables = sections.filter((s) => s.type === SHT.SYMTAB);
  if (tables.length === 0) return [];
  if (tables.length > 1) throw new ElfError('ELF_BAD_SECTION', `${tables.length} SHT_SYMTAB sections (${tables.map((t) => t.index).join(', ')}); ELF allows one`);
  const symtab = tables[0]!;
  const count = checkTable(symtab, SYM_SIZE, 'symbol');
  const strtab = sections[symtab.link]!; // link range checked with the header
  if (strtab.type !== SHT.STRTAB) throw new ElfError('ELF_BAD_SECTION', `section [${symtab.index}] '${symtab.name}': sh_link ${symtab.link} is not a string table`);
  if (symtab.info > count) throw new ElfError('ELF_BAD_SECTION', `section [${symtab.index}] '${symtab.name}': sh_info ${symtab.info} (first global) exceeds the ${count} symbols`);

  const symbols: ElfSymbol[] = [];
  for (let i = 0; i < count; i++) {
    const at = symtab.offset + i * SYM_SIZE;
    const where = `symbol ${i} (at ${hex(at)})`;
    const info = view.getUint8(at + 4);
    const shndx = view.getUint16(at + 6, true);
    const value = view.getBigUint64(at + 8, true);
    const name = readString(strtab, view.getUint32(at, true), 'ELF_BAD_SYMBOL', where);
    if (shndx === SHN.XINDEX) throw new ElfError('ELF_BAD_SYMBOL', `${where} '${name}': extended section indices (SHN_XINDEX) are not supported`);
    if (shndx >= SHN.LORESERVE && shndx !== SHN.ABS && shndx !== SHN.COMMON) {
      throw new ElfError('ELF_BAD_SYMBOL', `${where} '${name}': reserved section index ${hex(shndx)}`);
    }
    if (shndx < SHN.LORESERVE && shndx !== SHN.UNDEF) {
      const section = sections[shndx];
      if (!section) throw new ElfError('ELF_BAD_SYMBOL', `${where} '${name}': section index ${shndx} is not a section (there are ${sections.length})`);
      if (value > BigInt(section.size)) throw new ElfError('ELF_BAD_SYMBOL', `${where} '${name}': value ${hex(value)} is past the end of section [${shndx}] '${section.name}' (${hex(section.size)} bytes)`);
    }
    symbols.push({
      index: i, name, value, size: view.getBigUint64(at + 16, true),
      type: info & 0xf, binding: info >> 4, visibility: view.getUint8(at + 5) & 0x3, shndx,
    });
  }
  return symbols;
}

function readRelocations(view: DataView, sections: readonly ElfSection[], symbolCount: number): ElfRelocation[] {
  const relocations: ElfRelocation[] = [];
  for (const rela of sections) {
    const where = `section [${rela.index}] '${rela.name}'`;
    // x86-64 uses RELA only; silently skipping REL entries would load a broken image.
    if (rela.type === SHT.REL) throw new ElfError('ELF_BAD_SECTION', `${where}: SHT_REL relocations are not used on x86-64`);
    if (rela.type !== SHT.RELA) continue;
    const count = checkTable(rela, RELA_SIZE, 'relocation');
    if (sections[rela.link]!.type !== SHT.SYMTAB) throw new ElfError('ELF_BAD_SECTION', `${where}: sh_link ${rela.link} is not the symbol table`);
    const target = sections[rela.info];
    if (rela.info === 0 || !target) throw new ElfError('ELF_BAD_SECTION', `${where}: sh_info ${rela.info} is not a section to relocate`);
    if (target.type === SHT.NOBITS) throw new ElfError('ELF_BAD_SECTION', `${where}: relocates '${target.name}', which has no file data`);

    for (let i = 0; i < count; i++) {
      const at = rela.offset + i * RELA_SIZE;
      const entry = `${where} entry ${i} (at ${hex(at)})`;
      const offset = view.getBigUint64(at, true);
      const type = view.getUint32(at + 8, true);
      const symbol = view.getUint32(at + 12, true);
      if (symbol >= symbolCount) throw new ElfError('ELF_BAD_RELOCATION', `${entry}: symbol index ${symbol} is out of range (${symbolCount} symbols)`);
      const width = BigInt(RELOC_WIDTH.get(type) ?? 1);
      if (offset + width > BigInt(target.size)) {
        throw new ElfError('ELF_BAD_RELOCATION', `${entry}: offset ${hex(offset)} (type ${type}) is outside section [${target.index}] '${target.name}' (${hex(target.size)} bytes)`);
      }
      relocations.push({ relaSection: rela.index, target: rela.info, offset: Number(offset), type, symbol, addend: view.getBigInt64(at + 16, true) });
    }
  }
  return relocations;
}

/** The section with this name, or undefined. */
export function findSection(elf: ElfFile, name: string): ElfSection | undefined {
  return elf.sections.find((s) => s.name === name);
}

/** The defined global or weak symbol with this name, or undefined. */
export function findGlobal(elf: ElfFile, name: string): ElfSymbol | undefined {
  return elf.symbols.find((s) => s.name === name && s.binding !== STB.LOCAL && s.shndx !== SHN.UNDEF);
}
