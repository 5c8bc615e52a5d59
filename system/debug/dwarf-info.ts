// Types and global variables from a guest object's DWARF (.debug_info, versions 4 and 5, 32-bit
// format, as gcc writes it): enough for the debugger to print a global by name — structures,
// unions, arrays, pointers, enumerations, base types — and to read the netstack's connection
// table by its C field names instead of fixed offsets. The object is relocatable, so every
// cross-section field (string offsets, abbreviation offsets, variable addresses) is read through
// the relocations (dwarf-reader.ts).

import type { ElfFile } from '../../hicmod-toolchain/elf.ts';
import { DwarfReader, relocatedFields, stringAt } from './dwarf-reader.ts';

export type DwarfType =
  | { readonly kind: 'base'; readonly name: string; readonly size: number; readonly signed: boolean; readonly bool: boolean }
  | { readonly kind: 'struct' | 'union'; readonly name: string; readonly size: number; readonly members: readonly { name: string; offset: number; type: () => DwarfType }[] }
  | { readonly kind: 'array'; readonly element: () => DwarfType; readonly counts: readonly number[] }
  | { readonly kind: 'pointer'; readonly size: number; readonly target: () => DwarfType | undefined }
  | { readonly kind: 'enum'; readonly name: string; readonly size: number; readonly values: ReadonlyMap<number, string> }
  | { readonly kind: 'void' };

export interface DwarfVariable {
  readonly name: string;
  /** Offset in the module image. */
  readonly offset: number;
  readonly type: () => DwarfType;
}

interface Die {
  readonly tag: number;
  readonly attrs: Map<number, number | string | Uint8Array>;
  readonly children: number[];
}

const TAG = { array: 0x01, enum: 0x04, member: 0x0d, pointer: 0x0f, cu: 0x11, struct: 0x13, typedef: 0x16, union: 0x17, subrange: 0x21, base: 0x24, const: 0x26, enumerator: 0x28, variable: 0x34, volatile: 0x35 };
const AT = { location: 0x02, name: 0x03, byteSize: 0x0b, upperBound: 0x2f, constValue: 0x1c, count: 0x37, memberLocation: 0x38, encoding: 0x3e, declaration: 0x3c, type: 0x49, specification: 0x47 };

export class DwarfInfo {
  private readonly dies = new Map<number, Die>();
  readonly variables = new Map<string, DwarfVariable>();
  private readonly structs = new Map<string, number>();
  private readonly types = new Map<number, DwarfType>();

  private constructor() {}

  /** The object's globals and types; empty when it has no .debug_info. */
  static read(elf: ElfFile, placed: ReadonlyMap<number, number>): DwarfInfo {
    const d = new DwarfInfo();
    const section = (name: string) => elf.sections.find((s) => s.name === name);
    const info = section('.debug_info');
    const abbrev = section('.debug_abbrev');
    if (!info || !abbrev) return d;
    const str = section('.debug_str')?.data ?? new Uint8Array(0);
    const lineStr = section('.debug_line_str')?.data ?? new Uint8Array(0);
    const c = new DwarfReader(info.data, 0, relocatedFields(elf, info, placed));
    while (c.at + 11 <= info.data.length) {
      const unitStart = c.at;
      const length = c.u32();
      const end = c.at + length;
      const version = c.u16();
      let abbrevAt: number;
      if (version >= 5) {
        const unitType = c.u8();
        c.u8(); // address size
        abbrevAt = c.u32();
        if (unitType !== 1) {
          c.at = end; // only full compilation units
          continue;
        }
      } else {
        abbrevAt = c.u32();
        c.u8();
      }
      const abbrevs = readAbbrevs(abbrev.data, abbrevAt);
      const stack: number[] = [];
      while (c.at < end) {
        const at = c.at;
        const code = c.uleb();
        if (code === 0) {
          stack.pop();
          continue;
        }
        const a = abbrevs.get(code);
        if (!a) break; // malformed: stop reading this unit
        const attrs = new Map<number, number | string | Uint8Array>();
        for (const [name, form, implicit] of a.attrs) {
          const v = readForm(c, form, implicit, unitStart, str, lineStr);
          if (v !== undefined) attrs.set(name, v);
        }
        const die: Die = { tag: a.tag, attrs, children: [] };
        d.dies.set(at, die);
        const parent = stack[stack.length - 1];
        if (parent !== undefined) d.dies.get(parent)!.children.push(at);
        if (die.tag === TAG.variable && parent !== undefined && d.dies.get(parent)!.tag === TAG.cu) d.noteVariable(die);
        if (die.tag === TAG.struct && typeof attrs.get(AT.name) === 'string' && !attrs.has(AT.declaration)) d.structs.set(attrs.get(AT.name) as string, at);
        if (a.children) stack.push(at);
      }
      c.at = end;
    }
    return d;
  }

  private noteVariable(die: Die): void {
    const loc = die.attrs.get(AT.location);
    const name = die.attrs.get(AT.name);
    const type = die.attrs.get(AT.type);
    // DW_OP_addr (0x03) followed by the relocated address: a static or global variable.
    if (!(loc instanceof Uint8Array) || loc[0] !== 0x03 || loc.length !== 9 || typeof name !== 'string' || typeof type !== 'number') return;
    const offset = Number(new DataView(loc.buffer, loc.byteOffset + 1, 8).getBigUint64(0, true));
    this.variables.set(name, { name, offset, type: () => this.type(type) });
  }

  /** A structure type by its tag name (`ns_conn` for struct ns_conn). */
  struct(name: string): DwarfType | undefined {
    const at = this.structs.get(name);
    return at === undefined ? undefined : this.type(at);
  }

  type(at: number | undefined): DwarfType {
    if (at === undefined) return { kind: 'void' };
    const hit = this.types.get(at);
    if (hit) return hit;
    const die = this.dies.get(at);
    if (!die) return { kind: 'void' };
    const name = (die.attrs.get(AT.name) as string | undefined) ?? '';
    const size = (die.attrs.get(AT.byteSize) as number | undefined) ?? 0;
    const ref = die.attrs.get(AT.type) as number | undefined;
    let t: DwarfType;
    switch (die.tag) {
      case TAG.base: {
        const enc = die.attrs.get(AT.encoding) as number;
        t = { kind: 'base', name, size, signed: enc === 0x05 || enc === 0x06 || enc === 0x0d, bool: enc === 0x02 };
        break;
      }
      case TAG.struct:
      case TAG.union:
        t = {
          kind: die.tag === TAG.struct ? 'struct' : 'union', name, size,
          members: die.children.map((m) => this.dies.get(m)!).filter((m) => m.tag === TAG.member).map((m) => ({
            name: (m.attrs.get(AT.name) as string | undefined) ?? '', offset: (m.attrs.get(AT.memberLocation) as number | undefined) ?? 0,
            type: () => this.type(m.attrs.get(AT.type) as number | undefined),
          })),
        };
        break;
      case TAG.array:
        t = {
          kind: 'array', element: () => this.type(ref),
          counts: die.children.map((s) => this.dies.get(s)!).filter((s) => s.tag === TAG.subrange).map((s) => {
            const count = s.attrs.get(AT.count);
            const upper = s.attrs.get(AT.upperBound);
            return typeof count === 'number' ? count : typeof upper === 'number' ? upper + 1 : 0;
          }),
        };
        break;
      case TAG.pointer:
        t = { kind: 'pointer', size: size || 8, target: () => (ref === undefined ? undefined : this.type(ref)) };
        break;
      case TAG.enum:
        t = { kind: 'enum', name, size, values: new Map(die.children.map((e) => this.dies.get(e)!).filter((e) => e.tag === TAG.enumerator).map((e) => [e.attrs.get(AT.constValue) as number, e.attrs.get(AT.name) as string])) };
        break;
      case TAG.typedef:
      case TAG.const:
      case TAG.volatile:
        t = this.type(ref);
        break;
      default:
        t = { kind: 'void' };
    }
    this.types.set(at, t);
    return t;
  }
}

function readAbbrevs(b: Uint8Array, at: number): Map<number, { tag: number; children: boolean; attrs: [number, number, number][] }> {
  const c = new DwarfReader(b, at);
  const out = new Map<number, { tag: number; children: boolean; attrs: [number, number, number][] }>();
  for (;;) {
    const code = c.uleb();
    if (code === 0) return out;
    const tag = c.uleb();
    const children = c.u8() === 1;
    const attrs: [number, number, number][] = [];
    for (;;) {
      const name = c.uleb();
      const form = c.uleb();
      if (name === 0 && form === 0) break;
      attrs.push([name, form, form === 0x21 ? c.sleb() : 0]);
    }
    out.set(code, { tag, children, attrs });
  }
}

/** One attribute value; references become section offsets; blocks stay bytes (addresses in them relocated). */
function readForm(c: DwarfReader, form: number, implicit: number, unit: number, str: Uint8Array, lineStr: Uint8Array): number | string | Uint8Array | undefined {
  const block = (n: number) => c.block(n);
  switch (form) {
    case 0x01: return c.u64(); // addr
    case 0x03: return block(c.u16());
    case 0x04: return block(c.u32());
    case 0x05: return c.u16();
    case 0x06: return c.u32();
    case 0x07: return c.u64();
    case 0x08: return c.cstring();
    case 0x09: case 0x18: return block(c.uleb()); // block, exprloc
    case 0x0a: return block(c.u8());
    case 0x0b: return c.u8();
    case 0x0c: return c.u8();
    case 0x0d: return c.sleb();
    case 0x0e: return stringAt(str, c.u32()); // strp
    case 0x0f: return c.uleb();
    case 0x10: return c.u32(); // ref_addr
    case 0x11: return unit + c.u8();
    case 0x12: return unit + c.u16();
    case 0x13: return unit + c.u32();
    case 0x14: return unit + c.u64();
    case 0x15: return unit + c.uleb();
    case 0x17: return c.u32(); // sec_offset
    case 0x19: return 1; // flag_present
    case 0x1f: return stringAt(lineStr, c.u32()); // line_strp
    case 0x20: return c.u64(); // ref_sig8
    case 0x21: return implicit;
    case 0x1a: case 0x22: case 0x23: case 0x1b: return c.uleb(); // strx, loclistx, rnglistx, addrx: indices
    case 0x1e: return block(16);
    case 0x25: case 0x29: return c.u8();
    case 0x26: case 0x2a: return c.u16();
    case 0x27: case 0x2b: return (c.at += 3), undefined;
    case 0x28: case 0x2c: return c.u32();
    case 0x1c: case 0x1d: return c.u32();
    default: throw new Error(`DWARF form 0x${form.toString(16)} is not read by this debugger`);
  }
}
