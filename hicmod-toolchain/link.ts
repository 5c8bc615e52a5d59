// The toolchain's link step: a relocatable ELF object (ET_REL, what `ld -r` makes of a service)
// becomes a module image — segments laid out page by page, symbols resolved to image offsets,
// and every R_X86_64_64 relocation turned into "store the absolute address of image offset T
// here", which the kernel's loader applies once it knows the real load address.
//
// Section groups, in this order and each starting on a page: text (ALLOC+EXEC), rodata (ALLOC),
// data (ALLOC+WRITE), bss (ALLOC+WRITE, NOBITS). Anything else (notes, comments) is not loaded.

import { createHash } from 'node:crypto';
import { ET, R_X86_64, SHF, SHN, SHT, parseElf, type ElfFile, type ElfSection } from './elf.ts';
import type { ModuleImage, Relocation, SegmentSpec } from '../core0/loader.ts';

const PAGE = 4096;

export type LinkErrorCode = 'NOT_RELOCATABLE' | 'UNRESOLVED_SYMBOL' | 'UNSUPPORTED_RELOCATION' | 'NO_ENTRY' | 'BAD_LAYOUT';

export class LinkError extends Error {
  constructor(readonly code: LinkErrorCode, message: string) {
    super(message);
  }
}

type Group = SegmentSpec['name'];

function groupOf(s: ElfSection): Group | undefined {
  if (!(s.flags & SHF.ALLOC) || s.size === 0) return undefined;
  if (s.flags & SHF.EXECINSTR) return 'text';
  if (!(s.flags & SHF.WRITE)) return 'rodata';
  return s.type === SHT.NOBITS ? 'bss' : 'data';
}

const alignUp = (n: number, a: number) => (a > 1 ? Math.ceil(n / a) * a : n);

export function linkModule(name: string, bytes: Uint8Array, entrySymbol = '_start'): ModuleImage {
  const elf: ElfFile = parseElf(bytes);
  if (elf.header.type !== ET.REL) throw new LinkError('NOT_RELOCATABLE', `${name}: expected a relocatable object (ET_REL), got type ${elf.header.type}`);

  // Place sections: offset of each loaded section in the image.
  const placed = new Map<number, number>();
  const segments: SegmentSpec[] = [];
  let cursor = 0;
  for (const group of ['text', 'rodata', 'data', 'bss'] as const) {
    const members = elf.sections.filter((s) => groupOf(s) === group);
    if (members.length === 0) continue;
    const start = cursor;
    for (const s of members) {
      cursor = alignUp(cursor, s.addralign);
      placed.set(s.index, cursor);
      cursor += s.size;
    }
    cursor = alignUp(cursor, PAGE);
    segments.push({ name: group, offset: start, pages: (cursor - start) / PAGE, writable: group === 'data' || group === 'bss', executable: group === 'text' });
  }
  if (!segments.some((s) => s.executable)) throw new LinkError('BAD_LAYOUT', `${name}: no code section`);

  const bssStart = segments.find((s) => s.name === 'bss')?.offset ?? cursor;
  const image = new Uint8Array(bssStart);
  for (const s of elf.sections) {
    const at = placed.get(s.index);
    if (at !== undefined && s.type !== SHT.NOBITS) image.set(s.data, at);
  }

  const symbolOffset = (index: number, where: string): number => {
    const sym = elf.symbols[index];
    if (!sym) throw new LinkError('UNRESOLVED_SYMBOL', `${name}: ${where} names symbol ${index}, which does not exist`);
    if (sym.shndx === SHN.UNDEF) throw new LinkError('UNRESOLVED_SYMBOL', `${name}: ${where} needs '${sym.name}', which no object defines`);
    const at = placed.get(sym.shndx);
    if (at === undefined) throw new LinkError('UNRESOLVED_SYMBOL', `${name}: ${where} refers to '${sym.name || '(section)'}' in section ${sym.shndx}, which is not loaded`);
    return at + Number(sym.value);
  };

  const relocations: Relocation[] = [];
  for (const r of elf.relocations) {
    const base = placed.get(r.target);
    if (base === undefined) continue; // relocations of sections that are not loaded (debug info)
    const where = `relocation at ${elf.sections[r.target]?.name}+0x${r.offset.toString(16)}`;
    if (r.type !== R_X86_64._64) {
      throw new LinkError('UNSUPPORTED_RELOCATION', `${name}: ${where} has type ${r.type}; build with -mcmodel=large so every relocation is R_X86_64_64`);
    }
    relocations.push({ site: base + r.offset, target: symbolOffset(r.symbol, where) + Number(r.addend) });
  }

  const entrySym = elf.symbols.find((s) => s.name === entrySymbol && s.shndx !== SHN.UNDEF);
  if (!entrySym) throw new LinkError('NO_ENTRY', `${name}: no symbol '${entrySymbol}'`);

  return {
    name,
    pages: cursor / PAGE,
    segments,
    bytes: image,
    relocations,
    entry: symbolOffset(entrySym.index, 'entry'),
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}
