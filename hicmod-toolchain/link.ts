// The toolchain's link step: a relocatable ELF object (what `ld -r` makes of a service) becomes
// module content — segments laid out page by page, symbols resolved to image offsets, every
// R_X86_64_64 relocation turned into "store base + offset here" (image) or "store the address of
// this import here" (import), and the exports listed. The kernel's loader applies the relocations
// once it knows the real load address; nothing here depends on where the module will live.
//
// Section groups, in this order and each starting on a page: text (ALLOC+EXEC), rodata (ALLOC),
// data (ALLOC+WRITE), bss (ALLOC+WRITE, NOBITS). Anything else (notes, comments) is not loaded.

import { ET, R_X86_64, SHF, SHN, SHT, STB, STT, parseElf, type ElfFile, type ElfSection } from './elf.ts';
import { SERVICE_ENTRY } from '../core0/abi/abi.ts';
import type { Export, Import, ModuleContent, ModuleMetadata, Relocation, Segment, SegmentKind } from '../core0/module/format.ts';

const PAGE = 4096;

export type LinkErrorCode = 'NOT_RELOCATABLE' | 'UNRESOLVED_SYMBOL' | 'UNSUPPORTED_RELOCATION' | 'NO_ENTRY' | 'BAD_LAYOUT' | 'UNKNOWN_EXPORT';

export class LinkError extends Error {
  constructor(readonly code: LinkErrorCode, message: string) {
    super(message);
  }
}

function groupOf(s: ElfSection): SegmentKind | undefined {
  if (!(s.flags & SHF.ALLOC) || s.size === 0) return undefined;
  if (s.flags & SHF.EXECINSTR) return 'text';
  if (!(s.flags & SHF.WRITE)) return 'rodata';
  return s.type === SHT.NOBITS ? 'bss' : 'data';
}

const alignUp = (n: number, a: number) => (a > 1 ? Math.ceil(n / a) * a : n);

export interface LinkInput {
  readonly meta: ModuleMetadata;
  readonly elf: Uint8Array;
  /** Symbols to export besides the service entry table. */
  readonly exports: readonly string[];
  /** Which dependency provides an undefined symbol, if any (the libraries' export lists). */
  readonly provider: (symbol: string) => string | undefined;
}

export interface SectionLayout {
  /** Image offset of each loaded section, by ELF section index. */
  readonly placed: ReadonlyMap<number, number>;
  readonly segments: readonly Segment[];
  /** The segments' initialised bytes, in order. */
  readonly chunks: readonly Uint8Array[];
}

/** Where each loaded section of the object goes in the module image (also what the debugger's symbols use). */
export function layoutSections(elf: ElfFile): SectionLayout {
  const placed = new Map<number, number>();
  const segments: Segment[] = [];
  const chunks: Uint8Array[] = [];
  let cursor = 0;
  let fileBytes = 0;
  for (const kind of ['text', 'rodata', 'data', 'bss'] as const) {
    const members = elf.sections.filter((s) => groupOf(s) === kind);
    if (members.length === 0) continue;
    const start = cursor;
    for (const s of members) {
      cursor = alignUp(cursor, s.addralign);
      placed.set(s.index, cursor);
      cursor += s.size;
    }
    const used = cursor - start;
    cursor = alignUp(cursor, PAGE);
    const fileSize = kind === 'bss' ? 0 : used;
    if (fileSize > 0) {
      const bytes = new Uint8Array(fileSize);
      for (const s of members) if (s.type !== SHT.NOBITS) bytes.set(s.data, placed.get(s.index)! - start);
      chunks.push(bytes);
    }
    segments.push({ kind, writable: kind === 'data' || kind === 'bss', executable: kind === 'text', offset: start, memSize: cursor - start, fileOffset: fileBytes, fileSize });
    fileBytes += fileSize;
  }
  return { placed, segments, chunks };
}

export function linkModule(input: LinkInput): ModuleContent {
  const { meta } = input;
  const name = meta.name;
  const elf: ElfFile = parseElf(input.elf);
  if (elf.header.type !== ET.REL) throw new LinkError('NOT_RELOCATABLE', `${name}: expected a relocatable object (ET_REL), got type ${elf.header.type}`);

  const { placed, segments, chunks } = layoutSections(elf);
  if (!segments.some((s) => s.executable)) throw new LinkError('BAD_LAYOUT', `${name}: no code section`);

  const imports: Import[] = [];
  const importIndex = new Map<string, number>();
  const relocations: Relocation[] = [];
  for (const r of elf.relocations) {
    const base = placed.get(r.target);
    if (base === undefined) continue; // relocations of sections that are not loaded (debug info)
    const where = `relocation at ${elf.sections[r.target]?.name}+0x${r.offset.toString(16)}`;
    if (r.type !== R_X86_64._64) {
      throw new LinkError('UNSUPPORTED_RELOCATION', `${name}: ${where} has type ${r.type}; build with -mcmodel=large so every relocation is R_X86_64_64`);
    }
    const sym = elf.symbols[r.symbol];
    if (!sym) throw new LinkError('UNRESOLVED_SYMBOL', `${name}: ${where} names symbol ${r.symbol}, which does not exist`);
    const site = base + r.offset;
    if (sym.shndx === SHN.UNDEF) {
      const from = input.provider(sym.name);
      if (!from || !meta.dependencies.some((d) => d.name === from)) {
        throw new LinkError('UNRESOLVED_SYMBOL', `${name}: ${where} needs '${sym.name}', which no object and no dependency (${meta.dependencies.map((d) => d.name).join(', ') || 'none'}) defines`);
      }
      const key = `${from}.${sym.name}`;
      if (!importIndex.has(key)) {
        importIndex.set(key, imports.length);
        imports.push({ module: from, symbol: sym.name });
      }
      if (r.addend !== 0n) throw new LinkError('UNSUPPORTED_RELOCATION', `${name}: ${where} adds ${r.addend} to import '${sym.name}'`);
      relocations.push({ kind: 'import', site, index: importIndex.get(key)!, addend: 0 });
      continue;
    }
    const at = placed.get(sym.shndx);
    if (at === undefined) throw new LinkError('UNRESOLVED_SYMBOL', `${name}: ${where} refers to '${sym.name || '(section)'}' in section ${sym.shndx}, which is not loaded`);
    relocations.push({ kind: 'image', site, addend: at + Number(sym.value) + Number(r.addend) });
  }

  const wanted = [...(meta.kind === 'service' ? [SERVICE_ENTRY.symbol] : []), ...input.exports];
  const exports: Export[] = wanted.map((sname) => {
    const sym = elf.symbols.find((s) => s.name === sname && s.shndx !== SHN.UNDEF && (s.binding === STB.GLOBAL || s.binding === STB.WEAK));
    const at = sym ? placed.get(sym.shndx) : undefined;
    if (!sym || at === undefined) {
      throw new LinkError(sname === SERVICE_ENTRY.symbol ? 'NO_ENTRY' : 'UNKNOWN_EXPORT', `${name}: exports '${sname}', which the object does not define`);
    }
    return { name: sname, kind: sym.type === STT.FUNC ? 'function' : 'data', offset: at + Number(sym.value), size: Number(sym.size) };
  });

  return { meta, segments, image: Buffer.concat(chunks), relocations, imports, exports };
}
