// A module's symbols for the debugger. The .hicmod carries none: they come from the service's
// relocatable object, build/services/<dir>.o, which the build keeps beside the module with its
// whole symbol table and DWARF. Every function and object is placed at its offset in the module
// image exactly as the link step lays the module out (hicmod-toolchain/link.ts layoutSections),
// so offset + load base is its address in the machine.
//
// The object found is checked against the module that was loaded: the loader copies the segments
// byte for byte before relocating, so the object's text must match the image's text wherever no
// relocation was applied (tests/debug-symbols.test.ts). A stale object is refused, not trusted.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseElf, SHF, SHN, STB, STT, type ElfFile } from '../../hicmod-toolchain/elf.ts';
import { layoutSections } from '../../hicmod-toolchain/link.ts';

export interface ModuleSymbol {
  readonly name: string;
  /** Offset in the module image. */
  readonly offset: number;
  readonly size: number;
  readonly kind: 'function' | 'data';
  readonly global: boolean;
}

/** One section of the object, in ELF order, and where the module image has it (allocated ones). */
export interface ObjectSection {
  readonly index: number;
  readonly name: string;
  readonly alloc: boolean;
  readonly size: number;
  /** Image offset; undefined for a section that is not loaded (empty, or not allocated). */
  readonly offset: number | undefined;
}

export interface ModuleDebugInfo {
  readonly module: string;
  readonly version: string;
  /** Absolute path of the relocatable object (what gdb loads). */
  readonly object: string;
  readonly elf: ElfFile;
  /** Image offset of each loaded section, by ELF index. */
  readonly placed: ReadonlyMap<number, number>;
  /** Functions and objects, by offset. */
  readonly symbols: readonly ModuleSymbol[];
  readonly sections: readonly ObjectSection[];
  /** The image's text segment bytes as the object has them, before relocation. */
  readonly text: { readonly offset: number; readonly bytes: Uint8Array };
}

/** The service directory whose module.json names this module and version. */
function serviceDirectory(repoRoot: string, name: string, version: string): string | undefined {
  const services = join(repoRoot, 'services');
  for (const dir of readdirSync(services).sort()) {
    const spec = join(services, dir, 'module.json');
    if (!existsSync(spec)) continue;
    try {
      const s = JSON.parse(readFileSync(spec, 'utf8')) as { name?: unknown; version?: unknown };
      if (s.name === name && s.version === version) return dir;
    } catch {
      // a broken module.json is the build's to report, not the debugger's
    }
  }
  return undefined;
}

const cache = new Map<string, { mtime: number; info: ModuleDebugInfo }>();

/** The debug information of a module version built in this workspace, or undefined if it has none. */
export function moduleDebugInfo(repoRoot: string, name: string, version: string): ModuleDebugInfo | undefined {
  const dir = serviceDirectory(repoRoot, name, version);
  if (!dir) return undefined;
  const object = join(repoRoot, 'build', 'services', `${dir}.o`);
  if (!existsSync(object)) return undefined;
  const mtime = statSync(object).mtimeMs;
  const hit = cache.get(object);
  if (hit && hit.mtime === mtime && hit.info.module === name) return hit.info;
  const elf = parseElf(new Uint8Array(readFileSync(object)));
  const { placed, segments, chunks } = layoutSections(elf);
  const symbols: ModuleSymbol[] = [];
  for (const s of elf.symbols) {
    if (s.type !== STT.FUNC && s.type !== STT.OBJECT) continue;
    if (s.shndx === SHN.UNDEF || s.shndx >= SHN.LORESERVE) continue;
    const at = placed.get(s.shndx);
    if (at === undefined || !s.name) continue;
    symbols.push({ name: s.name, offset: at + Number(s.value), size: Number(s.size), kind: s.type === STT.FUNC ? 'function' : 'data', global: s.binding !== STB.LOCAL });
  }
  symbols.sort((a, b) => a.offset - b.offset || a.name.localeCompare(b.name));
  const sections = elf.sections.filter((s) => s.index > 0).map((s) => ({
    index: s.index, name: s.name, alloc: (s.flags & SHF.ALLOC) !== 0, size: s.size, offset: placed.get(s.index),
  }));
  const textSegment = segments.find((s) => s.kind === 'text');
  const text = { offset: textSegment?.offset ?? 0, bytes: textSegment ? chunks[segments.indexOf(textSegment)]! : new Uint8Array(0) };
  const info: ModuleDebugInfo = { module: name, version, object, elf, placed, symbols, sections, text };
  cache.set(object, { mtime, info });
  return info;
}

/** The function or object containing `offset`, and how far into it. */
export function symbolAt(info: ModuleDebugInfo, offset: number): { symbol: ModuleSymbol; delta: number } | undefined {
  let lo = 0;
  let hi = info.symbols.length - 1;
  let best: ModuleSymbol | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = info.symbols[mid]!;
    if (s.offset <= offset) {
      best = s;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  // Prefer a function that contains the offset over a zero-sized label at the same place.
  if (!best) return undefined;
  const candidates = info.symbols.filter((s) => s.offset <= offset && offset < s.offset + Math.max(s.size, 1));
  const pick = candidates.find((s) => s.kind === 'function') ?? candidates[0];
  if (pick) return { symbol: pick, delta: offset - pick.offset };
  return best.kind === 'function' && best.size === 0 ? { symbol: best, delta: offset - best.offset } : undefined;
}

/** Symbols by name: a global one first, then locals (static functions) in offset order. */
export function symbolsNamed(info: ModuleDebugInfo, name: string): ModuleSymbol[] {
  return info.symbols.filter((s) => s.name === name).sort((a, b) => Number(b.global) - Number(a.global) || a.offset - b.offset);
}

/**
 * Whether the module loaded at some base is the one this object was linked into: its text bytes,
 * read from the machine, equal the object's wherever no relocation wrote an address.
 */
export function matchesLoadedText(info: ModuleDebugInfo, loaded: Uint8Array): boolean {
  const { offset, bytes } = info.text;
  if (loaded.length < bytes.length) return false;
  const relocated = new Uint8Array(bytes.length);
  for (const r of info.elf.relocations) {
    const base = info.placed.get(r.target);
    if (base === undefined) continue;
    const at = base + r.offset - offset;
    if (at >= 0 && at < bytes.length) relocated.fill(1, at, Math.min(bytes.length, at + 8));
  }
  for (let i = 0; i < bytes.length; i++) if (!relocated[i] && bytes[i] !== loaded[i]) return false;
  return true;
}
