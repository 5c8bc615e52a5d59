// The debugger's commands, one table for every front end: the REPL and scripted mode
// (cli/debug.ts) and gdb's `monitor` (gdb/). Each command parses its own words, acts on the
// session, and answers with text for people and a value for `--json`.

import type { Sandbox } from '../../core0/objects/sandbox.ts';
import type { Thread } from '../../core0/objects/thread.ts';
import { DEBUG_REGISTERS, type DebugRegister } from '../../emulator/types.ts';
import { ReplayPacer } from '../recording/replay.ts';
import { BreakpointError } from './breakpoints.ts';
import type { CheckpointStore } from './checkpoint.ts';
import { ExprError } from './expr.ts';
import { eventLine, type Stop } from './machine.ts';
import { DebugError, type DebugSession } from './session.ts';
import { describeRecord } from './migration.ts';
import { connectionTable, decode, dwarfOf, formatValue, locate, PrintError, sizeOf } from './print.ts';
import * as v from './views.ts';

export interface CommandResult {
  readonly text: string;
  readonly json: unknown;
  /** Set by run-control commands: where the machine stopped. */
  readonly stop?: Stop;
  readonly quit?: boolean;
}

export interface Command {
  readonly name: string;
  readonly aliases: readonly string[];
  readonly usage: string;
  readonly help: string;
  /** What tab completion offers for the next word. */
  readonly complete?: (s: DebugSession) => string[];
  run(s: DebugSession, args: string[]): Promise<CommandResult> | CommandResult;
}

const hex = (n: number | bigint) => '0x' + n.toString(16);
const ok = (text: string, json: unknown = { text }): CommandResult => ({ text, json });

/** `450ms`, `1.5s`, `20us`, `300ns` or a bare number of nanoseconds. */
export function parseTime(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s)?$/.exec(s);
  if (!m) throw new DebugError('DEBUG_USAGE', `cannot read '${s}' as a virtual time (e.g. 450ms, 1.5s, 2000ns)`);
  const scale = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9 }[m[2] ?? 'ns']!;
  return Math.round(Number(m[1]) * scale);
}

function number(s: string | undefined, what: string, dflt?: number): number {
  if (s === undefined) {
    if (dflt === undefined) throw new DebugError('DEBUG_USAGE', `missing ${what}`);
    return dflt;
  }
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 0) throw new DebugError('DEBUG_USAGE', `${what}: expected a whole number, got '${s}'`);
  return n;
}

function thread(s: DebugSession): Thread {
  const t = s.currentThread();
  if (!t) throw new DebugError('DEBUG_USAGE', 'no thread yet: nothing has run (use `thread N` once threads exist)');
  if (t.state === 'dead' || t.sandbox.state !== 'live') throw new DebugError('DEBUG_NOT_POSSIBLE', `thread ${t.label} has ended`);
  return t;
}

function sandbox(s: DebugSession, name: string | undefined): Sandbox {
  if (name === undefined) return thread(s).sandbox;
  const sb = s.kernel.sandbox(name);
  if (!sb) throw new DebugError('DEBUG_USAGE', `no sandbox '${name}' (have ${s.kernel.liveSandboxes.map((x) => x.name).join(', ')})`);
  if (sb.state !== 'live') throw new DebugError('DEBUG_NOT_POSSIBLE', `sandbox ${name} has ended`);
  return sb;
}

/** An address: a number, a register ($rip or rip), or a location (symbol, who:symbol). */
function address(s: DebugSession, spec: string): number {
  const reg = spec.replace(/^\$/, '');
  if ((DEBUG_REGISTERS as readonly string[]).includes(reg)) return Number(thread(s).sandbox.cpu.debug.registers(thread(s).handle)[reg as DebugRegister]);
  const r = s.machine.modules.resolve(spec);
  if (typeof r === 'string') throw new DebugError('DEBUG_USAGE', r);
  return r[0]!.address;
}

/** After a run-control command: the stop, and the instruction the current thread is at. */
function stopped(s: DebugSession, stop: Stop): CommandResult {
  let text = stop.summary;
  const t = s.finished ? undefined : s.currentThread();
  if (t && t.state !== 'dead' && t.sandbox.state === 'live' && stop.reason !== 'halt') {
    const rip = Number(t.sandbox.cpu.debug.registers(t.handle).rip);
    const d = v.disassemblyView(s.machine, t, rip, 1);
    text += `\n${d.text.replace(/^=> /, `=> [${t.label}] `)}`;
  }
  return { text, json: { stop }, stop };
}

const run = (fn: (s: DebugSession, args: string[]) => Promise<Stop>) => async (s: DebugSession, args: string[]) => stopped(s, await fn(s, args));

export const COMMANDS: readonly Command[] = [
  { name: 'help', aliases: ['h', '?'], usage: 'help [COMMAND]', help: 'list the commands, or explain one', run: (_s, a) => help(a[0]) },
  { name: 'continue', aliases: ['c', 'cont'], usage: 'continue', help: 'run until a breakpoint, a watchpoint or the end of the run', run: run((s) => s.continue()) },
  { name: 'stepi', aliases: ['si'], usage: 'stepi [N]', help: 'execute N instructions (default 1) of the current thread; other threads run as the scheduler says', run: run((s, a) => s.stepInstructions(number(a[0], 'N', 1), s.currentThread()?.id)) },
  { name: 'step-syscall', aliases: ['ss'], usage: 'step-syscall', help: 'run to the next syscall of any thread, stopping before it is handled', run: run((s) => s.stepSyscall()) },
  { name: 'step-event', aliases: ['se'], usage: 'step-event', help: 'run to the next kernel event (capability transfer, endpoint switch, console line, …)', run: run((s) => s.stepEvent()) },
  { name: 'until', aliases: ['u'], usage: 'until TIME', help: 'run until virtual time TIME (450ms, 1.5s, ns): stops at the first scheduler step at or after it', run: run((s, a) => s.until(parseTime(a[0] ?? ''))) },
  { name: 'reverse-stepi', aliases: ['rsi'], usage: 'reverse-stepi [N]', help: 'go back N instructions (default 1) of the current thread, by re-running the image to that point', run: run((s, a) => s.reverseStepInstructions(number(a[0], 'N', 1), s.currentThread()?.id)) },
  { name: 'reverse-continue', aliases: ['rc'], usage: 'reverse-continue', help: 'go back to the last breakpoint or watchpoint hit before now', run: run((s) => s.reverseContinue()) },
  { name: 'reverse-step-event', aliases: ['rse'], usage: 'reverse-step-event', help: 'go back to the kernel event before now', run: run((s) => s.reverseStepEvent()) },
  { name: 'restart', aliases: [], usage: 'restart', help: 'a fresh machine at the start (breakpoints kept)', run: run((s) => s.restart()) },
  {
    name: 'break', aliases: ['b'], usage: 'break LOCATION | syscall NAME | ipc ENDPOINT | mig OP | event KIND | record MODULE.TYPE  [in SANDBOX] [if COND]',
    help: 'stop at guest code (0x…, symbol, sandbox:symbol, module@version:symbol+off); before a syscall; at a send/call/recv on an endpoint (channel name, cap://… or #id); at a migration call or its reply (HELLO, EXPORT_STATE, CONN_OUT, CONN_IN, …, or *); at a kernel event (capTransferred, capRevoked, endpointSwitched, irqRouted, input, … or cap, switch, irq, *); at a typed record a guest emits (migctl.step, migctl.*, *.step). COND: registers, arg0…arg5, sandbox, event fields, record fields, op/conn/status for migration, mem8/16/32/64(addr)',
    complete: () => ['syscall', 'ipc', 'mig', 'event', 'record'],
    run: (s, a) => addBreak(s, 'break', a),
  },
  { name: 'watch', aliases: [], usage: 'watch LOCATION [LENGTH] [if COND]', help: 'stop after guest code writes to [LOCATION, +LENGTH) (default 8 bytes)', run: (s, a) => addBreak(s, 'watch', a) },
  { name: 'rwatch', aliases: [], usage: 'rwatch LOCATION [LENGTH] [if COND]', help: 'stop after guest code reads [LOCATION, +LENGTH)', run: (s, a) => addBreak(s, 'rwatch', a) },
  { name: 'awatch', aliases: [], usage: 'awatch LOCATION [LENGTH] [if COND]', help: 'stop after guest code reads or writes [LOCATION, +LENGTH)', run: (s, a) => addBreak(s, 'awatch', a) },
  { name: 'breakpoints', aliases: ['info-breakpoints', 'ib'], usage: 'breakpoints', help: 'list breakpoints and watchpoints with their hit counts', run: (s) => {
    const rows = s.breakpoints.all.map((b) => ({ id: b.id, enabled: b.enabled, hits: b.hits, text: b.text }));
    return ok(rows.map((b) => `${String(b.id).padStart(3)}  ${b.enabled ? 'on ' : 'off'}  ${String(b.hits).padStart(5)} hits  ${b.text}`).join('\n') || '(no breakpoints)', rows);
  } },
  { name: 'delete', aliases: ['d'], usage: 'delete [N]', help: 'delete breakpoint N, or all of them', run: (s, a) => {
    if (!s.breakpoints.delete(a[0] === undefined ? undefined : number(a[0], 'N'))) throw new DebugError('DEBUG_USAGE', `no breakpoint ${a[0]}`);
    return ok(a[0] === undefined ? 'all breakpoints deleted' : `breakpoint ${a[0]} deleted`);
  } },
  { name: 'disable', aliases: [], usage: 'disable N', help: 'keep breakpoint N but do not stop at it', run: (s, a) => toggle(s, a[0], false) },
  { name: 'enable', aliases: [], usage: 'enable N', help: 'stop at breakpoint N again', run: (s, a) => toggle(s, a[0], true) },
  { name: 'threads', aliases: ['info-threads'], usage: 'threads', help: 'every thread: state, instructions executed, where it is, what it waits for', run: (s) => v.threadsView(s.machine, s.currentThread()) },
  { name: 'thread', aliases: ['t'], usage: 'thread [N]', help: 'select thread N for stepping and inspection (no N: show the current one)', run: (s, a) => {
    if (a[0] !== undefined) {
      const id = number(a[0], 'N');
      if (!s.kernel.threads.some((t) => t.id === id)) throw new DebugError('DEBUG_USAGE', `no thread ${id}`);
      s.selected = id;
    }
    const t = s.currentThread();
    return ok(t ? `current thread ${t.id} (${t.label}, ${t.state})` : 'no current thread', t ? { id: t.id, label: t.label } : null);
  } },
  { name: 'registers', aliases: ['regs', 'info-registers', 'r'], usage: 'registers [REG…]', help: 'the current thread\'s registers', run: (s, a) => {
    const view = v.registersView(thread(s));
    if (a.length === 0) return view;
    const lines = view.text.split('\n').filter((l) => a.includes(l.split(/\s+/)[0]!.replace(/^\$/, '')));
    return ok(lines.join('\n'), view.json);
  } },
  { name: 'set', aliases: [], usage: 'set REG VALUE', help: 'writes a register of the current thread (the run then differs from the recorded one)', run: (s, a) => {
    const reg = (a[0] ?? '').replace(/^\$/, '');
    if (!(DEBUG_REGISTERS as readonly string[]).includes(reg) || a[1] === undefined) throw new DebugError('DEBUG_USAGE', `usage: set REG VALUE (REG one of ${DEBUG_REGISTERS.join(' ')})`);
    const t = thread(s);
    t.sandbox.cpu.debug.setRegister(t.handle, reg as DebugRegister, BigInt.asUintN(64, BigInt(a[1])));
    s.stateChanged();
    return ok(`${reg} = ${hex(BigInt.asUintN(64, BigInt(a[1])))}`);
  } },
  { name: 'disassemble', aliases: ['disas', 'x/i'], usage: 'disassemble [LOCATION] [N]', help: 'N instructions (default 10) from LOCATION (default rip), with symbols', run: (s, a) => {
    const t = thread(s);
    const at = a[0] === undefined ? Number(t.sandbox.cpu.debug.registers(t.handle).rip) : address(s, a[0]);
    return v.disassemblyView(s.machine, t, at, number(a[1], 'N', 10));
  } },
  { name: 'memory', aliases: ['x', 'mem'], usage: 'memory LOCATION [LENGTH] [SANDBOX]', help: 'hex dump of guest memory as a sandbox maps it (default 64 bytes, the current sandbox)', run: (s, a) => {
    if (!a[0]) throw new DebugError('DEBUG_USAGE', 'usage: memory LOCATION [LENGTH] [SANDBOX]');
    const sb = sandbox(s, a[2]);
    const length = number(a[1], 'LENGTH', 64);
    if (length > 65536) throw new DebugError('DEBUG_USAGE', 'at most 65536 bytes at a time');
    return v.memoryView(sb, address(s, a[0]), length);
  } },
  { name: 'backtrace', aliases: ['bt', 'where'], usage: 'backtrace', help: 'the current thread\'s call stack, unwound with the module\'s call-frame information', run: (s) => v.backtraceView(s.machine, thread(s)) },
  { name: 'sandboxes', aliases: ['sb'], usage: 'sandboxes', help: 'every sandbox: module, load address, memory, threads', run: (s) => v.sandboxesView(s.kernel, s.machine) },
  { name: 'modules', aliases: ['info-sharedlibrary'], usage: 'modules', help: 'loaded modules and libraries, their load addresses and whether symbols were found', run: (s) => v.modulesView(s.machine) },
  { name: 'pagetable', aliases: ['pt'], usage: 'pagetable [SANDBOX]', help: 'a sandbox\'s page table, as runs of pages', run: (s, a) => v.pageTableView(s.machine, sandbox(s, a[0])) },
  { name: 'caps', aliases: ['cspace'], usage: 'caps [SANDBOX]', help: 'a sandbox\'s capability table: slot, type, rights, object, where it came from', run: (s, a) => v.capsView(s.kernel, sandbox(s, a[0])) },
  { name: 'endpoints', aliases: ['ep'], usage: 'endpoints', help: 'IPC endpoints with their holders and waiting senders and receivers; registry aliases', run: (s) => v.endpointsView(s.kernel) },
  { name: 'scheduler', aliases: ['sched'], usage: 'scheduler', help: 'the run queue, sleepers, blocked threads, virtual time', run: (s) => v.schedulerView(s.kernel, s.machine) },
  { name: 'events', aliases: ['ev'], usage: 'events [N] [around SEQ]', help: 'the last N kernel events (default 20)', run: (s, a) => v.eventsView(s.kernel, number(a[0], 'N', 20), a[1] === 'around' ? number(a[2], 'SEQ') : undefined) },
  { name: 'print', aliases: ['p'], usage: 'print [WHO:]VARIABLE[.member|[index]…]', help: 'a global or static variable of a sandbox\'s module, with its C type (DWARF): print netstack:stack.conn_count', run: (s, a) => printVariable(s, a[0]) },
  { name: 'connections', aliases: ['conns'], usage: 'connections [SANDBOX] [ID]', help: 'a netstack instance\'s live TCP connections, read from its connection table field by field, as the migration record shows them', run: (s, a) => connections(s, a) },
  { name: 'migration', aliases: ['mig', 'package'], usage: 'migration', help: 'the migration call or reply stopped at, decoded: its connection package with the connection-record schema', run: (s) => migrationView(s.lastStop) },
  { name: 'status', aliases: ['info', 'position'], usage: 'status', help: 'where the machine is: position, virtual time, the last stop, the last replay', run: (s) => status(s) },
  { name: 'quit', aliases: ['q', 'exit'], usage: 'quit', help: 'leave the debugger', run: () => ({ text: '', json: null, quit: true }) },
];

function help(name: string | undefined): CommandResult {
  if (name !== undefined) {
    const c = findCommand(name);
    if (!c) throw new DebugError('DEBUG_USAGE', `no command '${name}'`);
    return ok(`${c.usage}${c.aliases.length ? `   (also: ${c.aliases.join(', ')})` : ''}\n  ${c.help}`, { name: c.name, usage: c.usage, aliases: c.aliases, help: c.help });
  }
  const first = (h: string) => h.split(/[;:] /)[0]!;
  return ok(COMMANDS.map((c) => `${c.name.padEnd(19)} ${first(c.help)}`).join('\n') + '\n`help COMMAND` shows its arguments.', COMMANDS.map((c) => ({ name: c.name, usage: c.usage })));
}

export function findCommand(word: string): Command | undefined {
  return COMMANDS.find((c) => c.name === word || c.aliases.includes(word));
}

function addBreak(s: DebugSession, kind: 'break' | 'watch' | 'rwatch' | 'awatch', args: string[]): CommandResult {
  try {
    const { breakpoint: b, where } = s.addBreakpoint(kind, args);
    const what = kind === 'break' ? 'breakpoint' : 'watchpoint';
    return ok(`${what} ${b.id}: ${b.text}${where ? ` at ${where}` : ''}`, { id: b.id, text: b.text, where });
  } catch (e) {
    if (e instanceof BreakpointError || e instanceof ExprError) throw new DebugError('DEBUG_USAGE', e.message);
    throw e;
  }
}

function toggle(s: DebugSession, id: string | undefined, on: boolean): CommandResult {
  if (!s.breakpoints.enable(number(id, 'N'), on)) throw new DebugError('DEBUG_USAGE', `no breakpoint ${id}`);
  return ok(`breakpoint ${id} ${on ? 'enabled' : 'disabled'}`);
}

function migrationView(stop: Stop): CommandResult {
  const details = stop.detail ? ((stop.detail as { stops?: unknown[] }).stops ?? [stop.detail]) : [];
  const migs = details.map((d) => (d as { migration?: Record<string, unknown> }).migration).filter((m) => m !== undefined);
  if (migs.length === 0) throw new DebugError('DEBUG_NOT_POSSIBLE', 'the last stop was not at a migration call or reply (break mig OP)');
  const text = stop.summary.split('\n').filter((l) => /migration|package/.test(l)).join('\n');
  return ok(text, migs.length === 1 ? migs[0] : migs);
}

/** The module a `who:` prefix names (default: the current thread's sandbox), with its DWARF. */
function moduleFor(s: DebugSession, who: string | undefined) {
  const name = who ?? thread(s).sandbox.name;
  const m = s.machine.modules.modulesOf(name).find((x) => x.sandbox !== undefined) ?? s.machine.modules.modulesOf(name)[0];
  if (!m) throw new DebugError('DEBUG_USAGE', `no sandbox or module named '${name}'`);
  const d = dwarfOf(m);
  if (!d) throw new DebugError('DEBUG_NOT_POSSIBLE', `${m.module} ${m.version} has no debug information here${m.note ? ` (${m.note})` : ''}`);
  return { m, d };
}

function printVariable(s: DebugSession, spec: string | undefined): CommandResult {
  if (!spec) throw new DebugError('DEBUG_USAGE', 'usage: print [WHO:]VARIABLE[.member|[index]…]');
  const colon = spec.indexOf(':');
  const { m, d } = moduleFor(s, colon >= 0 ? spec.slice(0, colon) : undefined);
  try {
    const place = locate(d, m.base, colon >= 0 ? spec.slice(colon + 1) : spec);
    const size = Math.min(sizeOf(place.type), 1 << 20);
    const bytes = s.machine.system.machine.frames.view(place.address, size);
    const value = decode(place.type, bytes, 0);
    return { text: `${spec} @ ${hex(place.address)} = ${formatValue(value)}`, json: { address: hex(place.address), value } };
  } catch (e) {
    if (e instanceof PrintError) throw new DebugError('DEBUG_USAGE', e.message);
    throw e;
  }
}

function connections(s: DebugSession, args: string[]): CommandResult {
  const { m, d } = moduleFor(s, args[0]);
  let rows;
  try {
    rows = connectionTable(d, m.base, (address, length) => s.machine.system.machine.frames.view(address, length));
  } catch (e) {
    if (e instanceof PrintError) throw new DebugError('DEBUG_NOT_POSSIBLE', `${m.sandbox ?? m.module}: ${e.message}`);
    throw e;
  }
  if (args[1] !== undefined) rows = rows.filter((r) => r.id === number(args[1], 'ID'));
  const text = rows.length === 0 ? `${m.sandbox}: ${args[1] !== undefined ? `no connection ${args[1]}` : 'no live connections'}` : [`${m.sandbox} (${m.module} ${m.version}): ${rows.length} connection${rows.length === 1 ? '' : 's'}`, ...rows.map((r) => `  ${describeRecord(r)}`)].join('\n');
  return { text, json: rows };
}

function status(s: DebugSession): CommandResult {
  const k = s.kernel;
  const pos = s.machine.position();
  const last = k.events.all.at(-1);
  const json = {
    position: pos, time: k.machine.clock.now, executed: s.machine.executed, finished: s.finished, lastStop: s.lastStop.summary,
    lastEvent: last ?? null, replay: s.lastReplay ?? null, breakpoints: s.breakpoints.all.length,
  };
  const pacer = s.machine.system.pacer;
  const recorded = pacer instanceof ReplayPacer ? { file: pacer.recording.file, ...pacer.progress, divergence: pacer.divergence ?? null } : undefined;
  const where = pos.kind === 'insn' ? `thread ${pos.thread} before its instruction ${pos.count + 1}`
    : pos.kind === 'event' ? `just after event #${pos.seq}`
    : pos.kind === 'start' && s.machine.executed > 0 ? 'between two scheduler steps' // an interrupt of a forward-only session
    : pos.kind;
  const text = [
    `image ${s.config.manifest.name}; ${where}; virtual time ${k.machine.clock.now} ns; ${s.machine.executed} instructions executed${s.finished ? '; the run has ended' : ''}`,
    `last event: ${last ? `#${last.seq} ${eventLine(last)}` : '(none)'}`,
    s.lastReplay ? `last replay: ${s.lastReplay.instructions} instructions re-executed from ${s.lastReplay.from === 'boot' ? 'boot' : `the checkpoint at ${s.lastReplay.from.checkpoint}`} in ${s.lastReplay.wallMs.toFixed(0)} ms${s.lastReplay.searchMs !== undefined ? ` (after a ${s.lastReplay.searchMs.toFixed(0)} ms search)` : ''}` : '',
    s.machine.checkpoints ? checkpointLine(s.machine.checkpoints) : 'checkpoints: off',
    recorded ? `recording ${recorded.file}: ${recorded.admitted} of ${recorded.of} boundaries with outside inputs reached${recorded.divergence ? `; ${recorded.divergence}` : ''}` : '',
  ].filter(Boolean).join('\n');
  return ok(text, { ...json, recording: recorded ?? null });
}

function checkpointLine(c: CheckpointStore): string {
  const n = c.list.length;
  const ms = n ? c.list.reduce((t, x) => t + x.takeMs, 0) / n : 0;
  return `checkpoints: ${n}, every ${c.interval} instructions, holding ${(c.bytes / 1048576).toFixed(1)} MiB; ${ms.toFixed(0)} ms each to take`;
}

/** Splits a command line into words; a quoted string is one word, quotes kept (conditions compare strings). */
export function words(line: string): string[] {
  return [...line.matchAll(/"[^"]*"|'[^']*'|\S+/g)].map((m) => m[0]);
}

/** Runs one command line. */
export async function execute(s: DebugSession, line: string): Promise<CommandResult> {
  const [first, ...rest] = words(line.trim());
  if (!first) return ok('', null);
  // gdb's two-word forms: `info registers`, `info threads`, `info breakpoints`.
  const name = first === 'info' && rest[0] ? `info-${rest.shift()}` : first;
  const c = findCommand(name);
  if (!c) throw new DebugError('DEBUG_USAGE', `unknown command '${first}' (help lists them)`);
  return c.run(s, rest);
}
