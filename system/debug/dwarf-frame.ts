// Call-frame information from a guest object's .debug_frame (DWARF 2-4 CFI), and the unwinder
// the debugger's backtrace uses. Guests are built -O2 without frame pointers; gcc's -g describes
// every frame instead (hicmod-toolchain/build.ts), and that costs the module nothing: the section
// is not loaded. The object is relocatable, so an FDE's code address and its CIE pointer are read
// through the section's relocations (dwarf-reader.ts).
//
// Only what gcc emits for x86-64 is interpreted; an FDE that uses anything else (expressions)
// ends the backtrace there rather than guessing.

import type { ElfFile } from '../../hicmod-toolchain/elf.ts';
import { DwarfReader, relocatedFields } from './dwarf-reader.ts';

/** DWARF register numbers of x86-64 (System V psABI), and the return-address column. */
export const DWARF_REGS = ['rax', 'rdx', 'rcx', 'rbx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;
const RA = 16;

type Rule = { kind: 'undefined' } | { kind: 'same' } | { kind: 'offset'; offset: number } | { kind: 'valOffset'; offset: number } | { kind: 'register'; reg: number };

interface Row {
  cfaReg: number;
  cfaOffset: number;
  rules: Map<number, Rule>;
}

interface Cie {
  readonly codeAlign: number;
  readonly dataAlign: number;
  readonly raReg: number;
  readonly initial: Uint8Array;
}

export interface Fde {
  /** Image offsets of the code it covers: [start, end). */
  readonly start: number;
  readonly end: number;
  readonly cie: Cie;
  readonly instructions: Uint8Array;
}

/** Every FDE of the object, with code addresses as image offsets (placed: section index → offset). */
export function readFrames(elf: ElfFile, placed: ReadonlyMap<number, number>): Fde[] {
  const section = elf.sections.find((s) => s.name === '.debug_frame');
  if (!section) return [];
  const fields = relocatedFields(elf, section, placed);
  const data = section.data;
  const cies = new Map<number, Cie>();
  const readCie = (at: number): Cie | undefined => {
    const hit = cies.get(at);
    if (hit) return hit;
    const r = new DwarfReader(data, at, fields);
    const length = r.u32();
    const end = r.at + length;
    if (r.u32() !== 0xffff_ffff) return undefined;
    const version = r.u8();
    const augmentation = r.cstring();
    if (augmentation !== '') return undefined; // gcc's .debug_frame has none
    if (version >= 4) r.at += 2; // address_size, segment_selector_size
    const codeAlign = r.uleb();
    const dataAlign = r.sleb();
    const raReg = version === 1 ? r.u8() : r.uleb();
    const cie = { codeAlign, dataAlign, raReg, initial: data.subarray(r.at, end) };
    cies.set(at, cie);
    return cie;
  };
  const fdes: Fde[] = [];
  let at = 0;
  while (at + 4 <= data.length) {
    const r = new DwarfReader(data, at, fields);
    const length = r.u32();
    if (length === 0 || length === 0xffff_ffff) break; // a terminator, or 64-bit DWARF (not emitted)
    const end = r.at + length;
    const idAt = r.at;
    const id = r.u32(); // relocated: the CIE's offset in the section
    if (id !== 0xffff_ffff && data[idAt] !== 0xff) {
      const cie = readCie(id);
      const start = r.relocated(r.at); // the code address has no value without its relocation
      r.at += 8;
      const range = r.u64();
      if (cie && start !== undefined) fdes.push({ start, end: start + range, cie, instructions: data.subarray(r.at, end) });
    }
    at = end;
  }
  return fdes.sort((a, b) => a.start - b.start);
}

/** The row of the CFI table in effect at image offset `pc` of this FDE, or undefined if unsupported. */
function rowAt(fde: Fde, pc: number): Row | undefined {
  const row: Row = { cfaReg: 7, cfaOffset: 8, rules: new Map() };
  const stack: Row[] = [];
  let initial = new Map<number, Rule>();
  const run = (code: Uint8Array, isInitial: boolean): boolean => {
    const r = new DwarfReader(code);
    let loc = fde.start;
    while (r.at < code.length) {
      const op = r.u8();
      const hi = op & 0xc0;
      const low = op & 0x3f;
      if (hi === 0x40) {
        loc += low * fde.cie.codeAlign;
        if (loc > pc) return true;
        continue;
      }
      if (hi === 0x80) {
        row.rules.set(low, { kind: 'offset', offset: r.uleb() * fde.cie.dataAlign });
        continue;
      }
      if (hi === 0xc0) {
        const rule = initial.get(low);
        if (rule) row.rules.set(low, rule);
        else row.rules.delete(low);
        continue;
      }
      switch (op) {
        case 0x00: break; // nop
        case 0x01: loc = r.u64(); if (loc > pc) return true; break; // set_loc (not emitted for .o)
        case 0x02: loc += r.u8() * fde.cie.codeAlign; if (loc > pc) return true; break;
        case 0x03: loc += r.u16() * fde.cie.codeAlign; if (loc > pc) return true; break;
        case 0x04: loc += r.u32() * fde.cie.codeAlign; if (loc > pc) return true; break;
        case 0x05: { const reg = r.uleb(); row.rules.set(reg, { kind: 'offset', offset: r.uleb() * fde.cie.dataAlign }); break; }
        case 0x06: { const reg = r.uleb(); const rule = initial.get(reg); if (rule) row.rules.set(reg, rule); else row.rules.delete(reg); break; }
        case 0x07: row.rules.set(r.uleb(), { kind: 'undefined' }); break;
        case 0x08: row.rules.set(r.uleb(), { kind: 'same' }); break;
        case 0x09: { const reg = r.uleb(); row.rules.set(reg, { kind: 'register', reg: r.uleb() }); break; }
        case 0x0a: stack.push({ cfaReg: row.cfaReg, cfaOffset: row.cfaOffset, rules: new Map(row.rules) }); break;
        case 0x0b: { const s = stack.pop(); if (!s) return false; row.cfaReg = s.cfaReg; row.cfaOffset = s.cfaOffset; row.rules = s.rules; break; }
        case 0x0c: row.cfaReg = r.uleb(); row.cfaOffset = r.uleb(); break;
        case 0x0d: row.cfaReg = r.uleb(); break;
        case 0x0e: row.cfaOffset = r.uleb(); break;
        case 0x11: { const reg = r.uleb(); row.rules.set(reg, { kind: 'offset', offset: r.sleb() * fde.cie.dataAlign }); break; }
        case 0x12: row.cfaReg = r.uleb(); row.cfaOffset = r.sleb() * fde.cie.dataAlign; break;
        case 0x13: row.cfaOffset = r.sleb() * fde.cie.dataAlign; break;
        case 0x14: { const reg = r.uleb(); row.rules.set(reg, { kind: 'valOffset', offset: r.uleb() * fde.cie.dataAlign }); break; }
        case 0x15: { const reg = r.uleb(); row.rules.set(reg, { kind: 'valOffset', offset: r.sleb() * fde.cie.dataAlign }); break; }
        case 0x2e: r.uleb(); break; // GNU_args_size
        default: return false; // expressions and anything gcc does not emit here
      }
      if (isInitial) continue;
    }
    return true;
  };
  if (!run(fde.cie.initial, true)) return undefined;
  initial = new Map(row.rules);
  if (!run(fde.instructions, false)) return undefined;
  return row;
}

/** The registers unwinding tracks, by DWARF number, as 64-bit values. */
export type FrameRegs = Map<number, bigint>;

/**
 * The caller's registers, given this frame's (pc as an image offset of this module) and a way to
 * read 8 bytes of guest memory; undefined when the frame cannot be unwound.
 */
export function unwindFrame(fde: Fde, pc: number, regs: FrameRegs, read64: (address: bigint) => bigint | undefined): { regs: FrameRegs; ra: bigint } | undefined {
  const row = rowAt(fde, pc);
  if (!row) return undefined;
  const base = regs.get(row.cfaReg);
  if (base === undefined) return undefined;
  const cfa = BigInt.asUintN(64, base + BigInt(row.cfaOffset));
  const next: FrameRegs = new Map(regs);
  next.set(7, cfa); // the caller's rsp is the CFA
  for (const [reg, rule] of row.rules) {
    if (reg === 7) continue;
    if (rule.kind === 'offset') {
      const v = read64(BigInt.asUintN(64, cfa + BigInt(rule.offset)));
      if (v === undefined) return undefined;
      next.set(reg, v);
    } else if (rule.kind === 'valOffset') next.set(reg, BigInt.asUintN(64, cfa + BigInt(rule.offset)));
    else if (rule.kind === 'register') {
      const v = regs.get(rule.reg);
      if (v === undefined) next.delete(reg);
      else next.set(reg, v);
    } else if (rule.kind === 'undefined') next.delete(reg);
  }
  const ra = next.get(fde.cie.raReg === RA ? RA : fde.cie.raReg);
  if (ra === undefined) return undefined;
  next.delete(RA);
  return { regs: next, ra };
}

/** The FDE covering image offset `pc`, by binary search. */
export function fdeAt(fdes: readonly Fde[], pc: number): Fde | undefined {
  let lo = 0;
  let hi = fdes.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const f = fdes[mid]!;
    if (pc < f.start) hi = mid - 1;
    else if (pc >= f.end) lo = mid + 1;
    else return f;
  }
  return undefined;
}
