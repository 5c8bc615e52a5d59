// The toolchain's link step: a relocatable ELF object (what `ld -r` makes of a service) becomes
// module content — segments laid out page by page, symbols resolved to image offsets, every
// R_X86_64_64 relocation turned into "store base + offset here" (image) or "store the address of
// this import here" (import), and the exports listed. The kernel's loader applies the relocations
// once it knows the real load address; nothing here depends on where the module will live.
// A 32-bit PC-relative reference between two places of the image (R_X86_64_PC32/PLT32, as in
// libgcc's helpers, which are not built with -mcmodel=large) is resolved here once and for all:
// the image is loaded in one piece, so the distance is the same wherever it lands. Everything
// else is refused by name, with its real cause (thread-local storage, position-independent code).
//
// Section groups, in this order and each starting on a page: text (ALLOC+EXEC), rodata (ALLOC),
// data (ALLOC+WRITE), bss (ALLOC+WRITE, NOBITS). Anything else (notes, comments, unwind tables:
// the debugger unwinds with .debug_frame) is not loaded.

import { ET, R_X86_64, SHF, SHN, SHT, STB, STT, isGotRelocation, isTlsRelocation, parseElf, relocationName, type ElfFile, type ElfSection, type ElfSymbol } from './elf.ts';
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
  if (!(s.flags & SHF.ALLOC) || s.size === 0 || s.name === '.eh_frame') return undefined;
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
  const deps = meta.dependencies.map((d) => d.name).join(', ') || 'none';
  /** Writes a value the link step resolves itself into the image bytes (little-endian). */
  const patch = (site: number, value: bigint, bytes: 4 | 8) => {
    const seg = segments.findIndex((g) => site >= g.offset && site + bytes <= g.offset + g.fileSize);
    if (seg < 0) throw new LinkError('BAD_LAYOUT', `${name}: a relocation at image offset 0x${site.toString(16)} is outside the initialised image`);
    const chunk = chunks[segments.slice(0, seg).filter((g) => g.fileSize > 0).length]!;
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (bytes === 4) view.setInt32(site - segments[seg]!.offset, Number(value), true);
    else view.setBigInt64(site - segments[seg]!.offset, value, true);
  };
  for (const r of elf.relocations) {
    const base = placed.get(r.target);
    if (base === undefined) continue; // relocations of sections that are not loaded (debug info, unwind tables)
    const sym = elf.symbols[r.symbol];
    if (!sym) throw new LinkError('UNRESOLVED_SYMBOL', `${name}: relocation at ${elf.sections[r.target]?.name}+0x${r.offset.toString(16)} names symbol ${r.symbol}, which does not exist`);
    const where = `${relocationName(r.type)} at ${elf.sections[r.target]?.name}+0x${r.offset.toString(16)} against '${symbolName(elf, sym)}'`;
    if (isTlsRelocation(r.type) || sym.type === STT.TLS) {
      throw new LinkError('UNSUPPORTED_RELOCATION', `${name}: ${where}: thread-local storage (_Thread_local, __thread) is not supported in a sandbox; make it an ordinary global (docs/guest-sdk.md)`);
    }
    if (isGotRelocation(r.type)) {
      throw new LinkError('UNSUPPORTED_RELOCATION', `${name}: ${where}: position-independent code (through a GOT or PLT) is not supported; modules are built with -fno-pic -mcmodel=large, so this comes from assembly or a precompiled object`);
    }
    const pcRelative = r.type === R_X86_64.PC32 || r.type === R_X86_64.PLT32;
    if (r.type !== R_X86_64._64 && !pcRelative) {
      throw new LinkError('UNSUPPORTED_RELOCATION', `${name}: ${where}: only 64-bit absolute addresses (R_X86_64_64, from -mcmodel=large) and 32-bit PC-relative references inside the module are supported`);
    }
    const site = base + r.offset;
    if (sym.shndx === SHN.UNDEF) {
      const from = input.provider(sym.name);
      if (!from || !meta.dependencies.some((d) => d.name === from)) {
        if (sym.binding === STB.WEAK && r.type === R_X86_64._64) {
          // An undefined weak reference is null, as a static link would make it.
          patch(site, BigInt.asIntN(64, r.addend), 8);
          continue;
        }
        throw new LinkError('UNRESOLVED_SYMBOL', `${name}: ${where} needs '${sym.name}', which neither the service, the HIC C library, libgcc nor a dependency (${deps}) defines${unresolvedHint(sym.name)}`);
      }
      if (pcRelative) throw new LinkError('UNSUPPORTED_RELOCATION', `${name}: ${where}: '${sym.name}' is in library ${from}, loaded at its own address; a reference into a library must be a 64-bit absolute address (-mcmodel=large)`);
      const key = `${from}.${sym.name}`;
      if (!importIndex.has(key)) {
        importIndex.set(key, imports.length);
        imports.push({ module: from, symbol: sym.name });
      }
      if (r.addend !== 0n) throw new LinkError('UNSUPPORTED_RELOCATION', `${name}: ${where} adds ${r.addend} to import '${sym.name}'`);
      relocations.push({ kind: 'import', site, index: importIndex.get(key)!, addend: 0 });
      continue;
    }
    const at = sym.shndx === SHN.ABS ? undefined : placed.get(sym.shndx);
    if (at === undefined) throw new LinkError('UNRESOLVED_SYMBOL', `${name}: ${where} refers to '${sym.name || '(section)'}' in section ${sym.shndx}, which is not loaded`);
    const target = at + Number(sym.value) + Number(r.addend);
    if (pcRelative) {
      // S + A - P: both ends are image offsets, so the distance is final. Images are at most
      // 64 MiB (MAX_IMAGE), well inside the 32-bit range; checked all the same.
      const distance = target - site;
      if (distance < -(2 ** 31) || distance >= 2 ** 31) throw new LinkError('BAD_LAYOUT', `${name}: ${where} spans ${distance} bytes, more than 32 bits reach`);
      patch(site, BigInt(distance), 4);
      continue;
    }
    relocations.push({ kind: 'image', site, addend: target });
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

function symbolName(elf: ElfFile, sym: ElfSymbol): string {
  if (sym.name) return sym.name;
  return sym.type === STT.SECTION ? (elf.sections[sym.shndx]?.name ?? `section ${sym.shndx}`) : `symbol ${sym.index}`;
}

/** Why a symbol is missing, where the name says it. */
function unresolvedHint(symbol: string): string {
  if (symbol === '__tls_get_addr' || symbol.startsWith('__emutls')) return ': thread-local storage is not supported in a sandbox (docs/guest-sdk.md)';
  if (symbol.startsWith('__stack_chk')) return ': the stack protector needs TLS, which a sandbox does not have; do not build with -fstack-protector';
  if (symbol.startsWith('__')) return ': a compiler helper that gcc\'s libgcc.a (linked) does not have either';
  return ': docs/guest-sdk.md lists what the HIC C library has (no files, threads, signals or sockets)';
}
