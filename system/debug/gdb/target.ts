// What the gdb stub tells gdb about the target, as the XML documents gdb reads with qXfer: the
// register layout (target.xml: the features gdb's amd64 support requires, in the order of the
// `g` packet), the loaded modules as libraries, and the threads.

import type { Thread } from '../../../core0/objects/thread.ts';
import type { DebugRegister } from '../../../emulator/types.ts';
import type { LoadedModule } from '../modules.ts';

export interface GdbRegister {
  readonly name: string;
  readonly bits: number;
  readonly type: string;
  readonly feature: 'core' | 'sse' | 'segments';
  readonly group?: string;
  /** Where HIC has it; undefined: the guest has no such state (x87, SSE), reported unavailable. */
  readonly value?: DebugRegister;
}

const gpr = (name: DebugRegister, type = 'int64'): GdbRegister => ({ name, bits: 64, type, feature: 'core', value: name });
const seg = (name: DebugRegister): GdbRegister => ({ name, bits: 32, type: 'int32', feature: 'core', value: name });

/** In `g` packet order; the index is gdb's register number. */
export const REGISTERS: readonly GdbRegister[] = [
  ...(['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi'] as const).map((r) => gpr(r)),
  gpr('rbp', 'data_ptr'), gpr('rsp', 'data_ptr'),
  ...(['r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const).map((r) => gpr(r)),
  gpr('rip', 'code_ptr'),
  { name: 'eflags', bits: 32, type: 'i386_eflags', feature: 'core', value: 'rflags' },
  ...(['cs', 'ss', 'ds', 'es', 'fs', 'gs'] as const).map(seg),
  ...Array.from({ length: 8 }, (_, i) => ({ name: `st${i}`, bits: 80, type: 'i387_ext', feature: 'core' as const })),
  ...['fctrl', 'fstat', 'ftag', 'fiseg', 'fioff', 'foseg', 'fooff', 'fop'].map((name) => ({ name, bits: 32, type: 'int', feature: 'core' as const, group: 'float' })),
  ...Array.from({ length: 16 }, (_, i) => ({ name: `xmm${i}`, bits: 128, type: 'vec128', feature: 'sse' as const })),
  { name: 'mxcsr', bits: 32, type: 'i386_mxcsr', feature: 'sse', group: 'vector' },
  { name: 'fs_base', bits: 64, type: 'int', feature: 'segments', value: 'fs_base' },
  { name: 'gs_base', bits: 64, type: 'int', feature: 'segments', value: 'gs_base' },
];

const EFLAGS = ['CF:0', ':1', 'PF:2', 'AF:4', 'ZF:6', 'SF:7', 'TF:8', 'IF:9', 'DF:10', 'OF:11', 'NT:14', 'RF:16', 'VM:17', 'AC:18', 'VIF:19', 'VIP:20', 'ID:21'];
const MXCSR = ['IE:0', 'DE:1', 'ZE:2', 'OE:3', 'UE:4', 'PE:5', 'DAZ:6', 'IM:7', 'DM:8', 'ZM:9', 'OM:10', 'UM:11', 'PM:12', 'FZ:15'];
const flags = (id: string, fields: string[]) =>
  `<flags id="${id}" size="4">${fields.map((f) => {
    const [n, b] = f.split(':');
    return `<field name="${n}" start="${b}" end="${b}"/>`;
  }).join('')}</flags>`;

const VECTORS = [['v4f', 'ieee_single', 4], ['v2d', 'ieee_double', 2], ['v16i8', 'int8', 16], ['v8i16', 'int16', 8], ['v4i32', 'int32', 4], ['v2i64', 'int64', 2]] as const;

function feature(name: string, which: GdbRegister['feature'], types: string): string {
  const regs = REGISTERS.map((r, i) => ({ r, i })).filter(({ r }) => r.feature === which);
  return `<feature name="${name}">${types}${regs.map(({ r, i }) => `<reg name="${r.name}" bitsize="${r.bits}" type="${r.type}" regnum="${i}"${r.group ? ` group="${r.group}"` : ''}/>`).join('')}</feature>`;
}

export function targetXml(): string {
  const vec128 = VECTORS.map(([id, type, count]) => `<vector id="${id}" type="${type}" count="${count}"/>`).join('') +
    `<union id="vec128">${VECTORS.map(([id]) => `<field name="${id.replace(/^v(\d+)([a-z])(\d*)$/, (_m, n: string, k: string, w: string) => `v${n}_${k === 'f' ? 'float' : k === 'd' ? 'double' : `int${w}`}`)}" type="${id}"/>`).join('')}<field name="uint128" type="uint128"/></union>`;
  return '<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target version="1.0"><architecture>i386:x86-64</architecture>' +
    feature('org.gnu.gdb.i386.core', 'core', flags('i386_eflags', EFLAGS)) +
    feature('org.gnu.gdb.i386.sse', 'sse', vec128 + flags('i386_mxcsr', MXCSR)) +
    feature('org.gnu.gdb.i386.segments', 'segments', '') +
    '</target>';
}

const attr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/**
 * Each loaded module as the relocatable object it was built from, with every allocated section
 * at the address it has in the machine (gdb relocates a library's allocated sections in order).
 * Modules without an object are left out: gdb would have nothing to read.
 */
export function librariesXml(modules: readonly LoadedModule[]): string {
  const libs = modules.filter((m) => m.info).map((m) => {
    const sections = m.info!.sections.filter((s) => s.alloc).map((s) => `<section address="0x${(m.base + (s.offset ?? 0)).toString(16)}"/>`).join('');
    return `<library name="${attr(m.info!.object)}">${sections}</library>`;
  });
  return `<library-list>${libs.join('')}</library-list>`;
}

export function threadsXml(threads: readonly Thread[]): string {
  return `<?xml version="1.0"?><threads>${threads.map((t) => `<thread id="${t.id.toString(16)}" name="${attr(t.label)}">${attr(`${t.sandbox.name}, ${t.state}`)}</thread>`).join('')}</threads>`;
}
