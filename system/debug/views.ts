// What the debugger shows of a stopped machine. Each view reads the kernel and the machine — never
// changes them — and returns both a value for `--json` and the text the REPL prints: registers,
// disassembly with symbols, memory, the backtrace, sandboxes and threads, a sandbox's page table
// and capability table, endpoints and their queues, the scheduler's queues, and the event log.

import type { Kernel } from '../../core0/kernel.ts';
import { Alias, Endpoint, messageLabel } from '../../core0/objects/endpoint.ts';
import { IrqLine } from '../../core0/objects/irq-line.ts';
import { MemoryObject } from '../../core0/objects/memory-object.ts';
import { MmioRegion } from '../../core0/objects/mmio-region.ts';
import { Notification } from '../../core0/objects/notification.ts';
import { SandboxControl, type Sandbox } from '../../core0/objects/sandbox.ts';
import type { Thread } from '../../core0/objects/thread.ts';
import { DEBUG_REGISTERS } from '../../emulator/types.ts';
import { DWARF_REGS, unwindFrame, type FrameRegs } from './dwarf-frame.ts';
import { endpointName } from './hits.ts';
import { eventLine, readGuest, type DebugMachine } from './machine.ts';

export interface View {
  readonly json: unknown;
  readonly text: string;
}

const hex = (n: number | bigint, width = 0) => '0x' + n.toString(16).padStart(width, '0');
const rights = (r: number) => ['R', 'W', 'G'].filter((_, i) => r & (1 << i)).join('') || '-';

export function registersView(t: Thread): View {
  const regs = t.sandbox.cpu.debug.registers(t.handle);
  const json = Object.fromEntries(DEBUG_REGISTERS.map((r) => [r, hex(regs[r])]));
  const text = DEBUG_REGISTERS.map((r) => `${r.padEnd(8)} ${hex(regs[r], 16)}  ${regs[r] < 0x1_0000_0000n ? regs[r].toString() : ''}`.trimEnd()).join('\n');
  return { json: { thread: t.id, sandbox: t.sandbox.name, registers: json }, text };
}

/** `count` instructions from `address` in t's address space, the one at rip marked. */
export function disassemblyView(m: DebugMachine, t: Thread, address: number, count: number): View {
  const space = t.sandbox.cpu.space;
  const rip = Number(t.sandbox.cpu.debug.registers(t.handle).rip);
  const span = Math.min(16 * count, 4096 - (address % 4096) + 4096);
  const bytes = space.view(address, span) ?? space.view(address, 4096 - (address % 4096));
  if (!bytes) return { json: { address, error: 'not mapped' }, text: `${hex(address)}: not mapped in ${t.sandbox.name}` };
  const insns = m.system.machine.disassemble(bytes, address, count);
  const rows = insns.map((i) => ({ address: hex(i.address), symbol: m.modules.symbolName(i.address) ?? null, bytes: Buffer.from(i.bytes).toString('hex'), text: i.text, current: i.address === rip }));
  const text = rows.map((r) => `${r.current ? '=>' : '  '} ${r.address}${r.symbol ? ` <${r.symbol}>` : ''}:\t${r.text}`).join('\n');
  return { json: { sandbox: t.sandbox.name, instructions: rows }, text };
}

/** A hex dump of guest memory as `s` maps it. */
export function memoryView(s: Sandbox, address: number, length: number): View {
  const bytes = s.cpu.space.view(address, length);
  if (!bytes) return { json: { address, length, error: 'not mapped' }, text: `${hex(address)}+${length}: not mapped in ${s.name}` };
  const lines: string[] = [];
  for (let o = 0; o < bytes.length; o += 16) {
    const row = bytes.subarray(o, o + 16);
    const hx = Array.from(row, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${hex(address + o, 12)}  ${hx.padEnd(47)}  ${ascii}`);
  }
  return { json: { sandbox: s.name, address: hex(address), hex: Buffer.from(bytes).toString('hex') }, text: lines.join('\n') };
}

/** Frames of t's stack, unwound with each module's .debug_frame (guests keep no frame pointer). */
export function backtraceView(m: DebugMachine, t: Thread, limit = 64): View {
  const r = t.sandbox.cpu.debug.registers(t.handle);
  let regs: FrameRegs = new Map(DWARF_REGS.map((name, i) => [i, r[name]]));
  let pc = Number(r.rip);
  const frames: { level: number; pc: string; where: string; module: string | null }[] = [];
  let why = '';
  for (let level = 0; level < limit; level++) {
    const loc = m.modules.locate(pc);
    frames.push({ level, pc: hex(pc), where: m.modules.describe(pc), module: loc ? `${loc.module.module} ${loc.module.version}` : null });
    // A return address points after the call; the caller's frame is described at the call itself.
    const fi = m.modules.frameInfo(level === 0 ? pc : pc - 1);
    if (!fi) {
      why = loc ? 'no call-frame information here' : 'outside every module';
      break;
    }
    const up = unwindFrame(fi.fde, level === 0 ? fi.offset : fi.offset + 1, regs, (a) => readGuest(t.sandbox, a, 8));
    if (!up) {
      why = 'this frame cannot be unwound';
      break;
    }
    if (up.ra === 0n || !m.modules.moduleAt(Number(up.ra))) {
      why = up.ra === 0n ? '' : 'the return address leaves every module: the thread\'s first frame';
      break;
    }
    regs = up.regs;
    pc = Number(up.ra);
  }
  const text = frames.map((f) => `#${f.level}  ${f.where}${f.module ? `  (${f.module})` : ''}`).join('\n') + (why ? `\n(${why})` : '');
  return { json: { thread: t.id, frames, end: why || null }, text };
}

export function threadsView(m: DebugMachine, current: Thread | undefined): View {
  const rows = m.kernel.threads.map((t) => {
    const alive = t.state !== 'dead' && t.sandbox.state === 'live';
    const rip = alive ? Number(t.sandbox.cpu.debug.registers(t.handle).rip) : undefined;
    const w = t.waiting;
    const waiting = !w ? null : w.kind === 'wait' ? `wait on notification #${w.on.id}` : w.kind === 'reply' ? `reply from ${w.on.label}` : `${w.kind} on ${endpointName(m.kernel, w.on)}`;
    return { id: t.id, thread: t.label, state: t.state, instructions: m.count(t), rip: rip === undefined ? null : hex(rip), where: rip === undefined ? null : m.modules.describe(rip), waiting, current: t === current };
  });
  const text = rows.map((r) => `${r.current ? '*' : ' '} ${String(r.id).padStart(3)}  ${r.thread.padEnd(20)} ${r.state.padEnd(9)} ${String(r.instructions).padStart(11)} insns  ${r.where ?? ''}${r.waiting ? `  [${r.waiting}]` : ''}`).join('\n');
  return { json: rows, text };
}

export function sandboxesView(k: Kernel, m: DebugMachine): View {
  const rows = [...new Set(k.threads.map((t) => t.sandbox)), ...k.liveSandboxes].filter((s, i, a) => a.indexOf(s) === i).map((s) => {
    const mod = m.modules.all.filter((x) => x.sandbox === s.name).at(-1);
    return { id: s.id, name: s.name, state: s.state, suspended: s.suspended, module: mod ? `${mod.module} ${mod.version}` : null, base: mod ? hex(mod.base) : null, pages: s.usedPages, quotaPages: s.quotaPages, threads: [...s.threads].map((t) => t.id) };
  });
  const text = rows.map((r) => `${String(r.id).padStart(3)}  ${r.name.padEnd(16)} ${r.state}${r.suspended ? ' (suspended)' : ''}  ${r.module ?? ''} at ${r.base ?? '-'}  ${r.pages}/${r.quotaPages} pages  threads ${r.threads.join(',')}`).join('\n');
  return { json: rows, text };
}

/** The sandbox's page table as runs of pages with one protection onto contiguous frames. */
export function pageTableView(m: DebugMachine, s: Sandbox): View {
  const owner = (frame: number) => {
    const l = m.modules.moduleAt(frame * 4096);
    return l ? `${l.module} ${l.version}${l.sandbox ? '' : ' (library)'}` : '';
  };
  const runs: { va: number; pages: number; frame: number; writable: boolean; executable: boolean; module: string }[] = [];
  for (const [va, e] of s.cpu.space.pageTable()) {
    const last = runs.at(-1);
    const module = owner(e.frame);
    if (last && last.va + last.pages * 4096 === va && last.frame + last.pages === e.frame && last.writable === e.writable && last.executable === e.executable && last.module === module) last.pages++;
    else runs.push({ va, pages: 1, frame: e.frame, writable: e.writable, executable: e.executable, module });
  }
  const rows = runs.map((r) => ({ va: hex(r.va), end: hex(r.va + r.pages * 4096), pages: r.pages, frame: r.frame, flags: `r${r.writable ? 'w' : '-'}${r.executable ? 'x' : '-'}`, module: r.module || null }));
  const root = s.cpu.space instanceof Object && 'table' in s.cpu.space ? (s.cpu.space as { table: { root: number } }).table.root : undefined;
  const text = [`${s.name}: ${rows.length} runs, ${runs.reduce((n, r) => n + r.pages, 0)} pages mapped (virtual = physical)${root !== undefined ? `; PML4 in frame ${root}` : ''}`]
    .concat(rows.map((r) => `  ${r.va}-${r.end}  ${r.flags}  ${String(r.pages).padStart(5)} pages  frame ${r.frame}${r.module ? `  ${r.module}` : ''}`)).join('\n');
  return { json: { sandbox: s.name, runs: rows }, text };
}

function describeObject(k: Kernel, o: unknown): string {
  if (o instanceof Endpoint) return `endpoint ${endpointName(k, o)}${o.dead ? ' (dead)' : ''}: ${o.senders.length} senders, ${o.receivers.length} receivers waiting`;
  if (o instanceof Alias) {
    const to = o.resolve();
    return `alias ${o.name} -> ${k.objects.registry.target(o.name) ?? '?'}${to ? ` (${endpointName(k, to)})` : ''}`;
  }
  if (o instanceof MemoryObject) return `memory ${hex(o.address)} ${o.pages} pages`;
  if (o instanceof Notification) return `notification #${o.id} bits ${hex(o.bits)}, ${o.waiters.length} waiting`;
  if (o instanceof IrqLine) return `irq ${o.line}${o.route ? ` -> notification #${o.route.notification.id} bits ${hex(o.route.bits)}` : ' (unrouted)'}${o.masked ? ' masked' : ''}, ${o.pending} pending`;
  if (o instanceof MmioRegion) return `device ${o.attached.device.name} at ${hex(o.attached.base)}`;
  if (o instanceof SandboxControl) return `control of sandbox ${o.sandbox.name}`;
  return (o as { capType?: string }).capType === 'REGISTRY' ? 'the service registry' : String((o as { capType?: string }).capType);
}

export function capsView(k: Kernel, s: Sandbox): View {
  const rows = [...s.cspace.all()].map((c) => ({
    slot: c.slot, type: c.object.capType, rights: rights(c.rights), badge: c.badge, object: describeObject(k, c.object),
    mapped: c.mappedAt === undefined ? null : hex(c.mappedAt), from: c.parent?.holder ? (c.parent.holder.owner as Sandbox).name ?? 'core0' : 'core0',
  }));
  const text = [`${s.name}: ${rows.length} capabilities, ${s.cspace.free} free slots`]
    .concat(rows.map((r) => `  [${String(r.slot).padStart(2)}] ${r.type.padEnd(12)} ${r.rights.padEnd(3)} ${r.object}${r.badge ? ` badge ${r.badge}` : ''}${r.mapped ? ` mapped at ${r.mapped}` : ''}  (from ${r.from})`)).join('\n');
  return { json: { sandbox: s.name, caps: rows }, text };
}

/** Every endpoint some sandbox holds or the registry names, with the threads waiting on it. */
export function endpointsView(k: Kernel): View {
  const seen = new Map<Endpoint, Set<string>>();
  const note = (e: Endpoint, who: string) => (seen.get(e) ?? seen.set(e, new Set()).get(e)!).add(who);
  for (const [, c] of k.channels) if (c.object instanceof Endpoint) note(c.object, 'core0');
  for (const [, e] of k.objects.registry.listing().endpoints) note(e, 'registry');
  for (const s of k.liveSandboxes) for (const c of s.cspace.all()) if (c.object instanceof Endpoint) note(c.object, `${s.name}:${rights(c.rights)}`);
  const rows = [...seen].sort((a, b) => a[0].id - b[0].id).map(([e, holders]) => ({
    id: e.id, name: endpointName(k, e), dead: e.dead, holders: [...holders],
    senders: e.senders.map((w) => ({ thread: w.thread.label, label: messageLabel(w.message).toString(), call: w.replyTo !== undefined })),
    receivers: e.receivers.map((w) => w.thread.label),
  }));
  const aliases = k.objects.registry.listing().aliases.map(([alias, to]) => ({ alias, to }));
  const text = rows.map((r) => `#${r.id} ${r.name}${r.dead ? ' (dead)' : ''}  held by ${r.holders.join(', ')}` +
    (r.senders.length ? `\n    senders: ${r.senders.map((x) => `${x.thread} (label ${x.label}${x.call ? ', call' : ''})`).join(', ')}` : '') +
    (r.receivers.length ? `\n    receivers: ${r.receivers.join(', ')}` : '')).concat(aliases.map((a) => `alias ${a.alias} -> ${a.to}`)).join('\n');
  return { json: { endpoints: rows, aliases }, text };
}

export function schedulerView(k: Kernel, m: DebugMachine): View {
  const sched = k.scheduler;
  const run = sched.runnable.map((t) => t.label);
  const sleeping = sched.sleeping.map((t) => ({ thread: t.label, wakeAt: t.wakeAt, blocked: t.state === 'blocked' }));
  const blocked = k.threads.filter((t) => t.state === 'blocked' && !sched.sleeping.includes(t)).map((t) => t.label);
  const paused = k.pausedThread?.label ?? null;
  const text = [
    `virtual time ${k.machine.clock.now} ns; ${m.executed} instructions executed`,
    `on its CPU (stopped part-way, goes on first): ${paused ?? '-'}`,
    `run queue: ${run.join(' ') || '(empty)'}`,
    `sleeping / waiting with a deadline: ${sleeping.map((s) => `${s.thread}@${s.wakeAt}${s.blocked ? '(blocked)' : ''}`).join(' ') || '(none)'}`,
    `blocked without a deadline: ${blocked.join(' ') || '(none)'}`,
  ].join('\n');
  return { json: { now: k.machine.clock.now, executed: m.executed, paused, run, sleeping, blocked }, text };
}

/** The last `count` events (or those around `seq`). */
export function eventsView(k: Kernel, count: number, around?: number): View {
  const all = k.events.all;
  const end = around === undefined ? all.length : Math.min(all.length, around + Math.ceil(count / 2));
  const start = Math.max(0, end - count);
  const rows = all.slice(start, end);
  return { json: rows, text: rows.map((e) => `#${e.seq} ${eventLine(e)}`).join('\n') || '(no events yet)' };
}

export function modulesView(m: DebugMachine): View {
  const rows = m.modules.all.map((x) => ({ module: x.module, version: x.version, sandbox: x.sandbox ?? null, base: hex(x.base), pages: x.pages, object: x.info?.object ?? null, symbols: x.info?.symbols.length ?? 0, note: x.note ?? null }));
  const text = rows.map((r) => `${(r.sandbox ?? '(library)').padEnd(16)} ${r.module} ${r.version} at ${r.base} (${r.pages} pages)  ${r.symbols} symbols${r.note ? `  [${r.note}]` : ''}`).join('\n');
  return { json: rows, text };
}
