// One machine under the debugger: an image assembled the one way (system/run-image.ts) with the
// debugger attached to its kernel's run loop (RunObserver). It installs the session's
// breakpoints as CPU hooks, runs towards a goal (the next breakpoint, an instruction of a thread,
// an event, a syscall, a virtual time) and stops there, between two instructions or two scheduler
// steps, so the run goes on later exactly as if it had never stopped.
//
// It also keeps the run's coordinates, which is what replay (replay.ts) steers by: how many
// instructions each thread has executed. A position is "thread T about to execute its (n+1)-th
// instruction" or "just after event #s": a fresh machine of the same image reaches the same
// position in the same state, because the machine is deterministic.

import type { StampedEvent } from '../../core0/events.ts';
import type { RunObserver } from '../../core0/kernel.ts';
import type { Sandbox } from '../../core0/objects/sandbox.ts';
import type { Thread } from '../../core0/objects/thread.ts';
import type { DebugHook, StopReason, SyscallFrame } from '../../emulator/types.ts';
import type { Manifest } from '../manifest.ts';
import { ReplayPacer, replayVerdict } from '../recording/replay.ts';
import { System, type RunResult, type SystemOptions } from '../run-image.ts';
import { eventMatches, type Breakpoint, type BreakpointTable } from './breakpoints.ts';
import { ExprError, type EvalContext, type Value } from './expr.ts';
import { describeMigration, describeSyscall, endpointMatches, endpointOf, eventContext, eventLine, migrationHit, migrationNames, readGuest, syscallEntry, syscallNames } from './hits.ts';
import { goalFor, type Goal, type Position, type RecordedHit, type Stop } from './position.ts';
import type { MigrationNames } from './migration.ts';
import { CheckpointStore, type Checkpoint, type CheckpointSubject } from './checkpoint.ts';
import { ModuleTable } from './modules.ts';

export type { Goal, Position, RecordedHit, Stop } from './position.ts';
export { goalFor } from './position.ts';
export { eventLine, readGuest } from './hits.ts';

export interface MachineConfig {
  readonly manifest: Manifest;
  readonly options: SystemOptions;
  readonly repoRoot: string;
  readonly migration: MigrationNames;
  /** Machine instructions between checkpoints (0: none; default DEFAULT_CHECKPOINT_INTERVAL). */
  readonly checkpointInterval?: number;
  /** Sees each event of the machine the user is looking at (not of replays while they run). */
  readonly output?: (e: StampedEvent) => void;
}

const hex = (n: number | bigint) => '0x' + n.toString(16);

/**
 * Machine instructions between checkpoints: going back re-executes at most this many (about a
 * second of emulation on a loaded machine); see docs/debugger.md for the measurements.
 */
export const DEFAULT_CHECKPOINT_INTERVAL = 50_000_000;

/** What the machine counts of its run: part of a checkpoint, like the machine itself. */
interface RunTrack {
  lastThread: Thread | undefined;
  result: RunResult | undefined;
  eventStop: number | undefined;
  current: Thread | undefined;
  runStart: number;
  /** Instructions the whole machine has executed. */
  executed: number;
  /** Machine instructions at which the next checkpoint is due. */
  nextCheckpoint: number;
}

export class DebugMachine implements RunObserver {
  readonly modules: ModuleTable;
  /** Instructions each thread has executed, by thread id. */
  readonly counts = new Map<number, number>();
  /** Breakpoints neither installed nor stopping (replaying to a position). */
  quiet = false;
  /** When set, hits are recorded here instead of stopping the machine. */
  recorder: ((h: RecordedHit) => void) | undefined;
  /** Checkpoints of this machine's run, when the configuration asks for them. */
  readonly checkpoints: CheckpointStore | undefined;
  private readonly track: RunTrack = { lastThread: undefined, result: undefined, eventStop: undefined, current: undefined, runStart: 0, executed: 0, nextCheckpoint: 0 };
  private goal: Goal = { kind: 'breakpoints' };
  private stops: Stop[] = [];
  private interruptRequested = false;
  private checkpointDue = false;
  private observing = false;
  private pauseAtFirstRun = false;
  private readonly prepared = new Map<Sandbox, Map<number, DebugHook[]>>();

  private constructor(
    readonly system: System,
    private readonly config: MachineConfig,
    private readonly table: BreakpointTable,
  ) {
    this.modules = new ModuleTable(config.repoRoot, system.machine.frames);
    const interval = config.checkpointInterval ?? DEFAULT_CHECKPOINT_INTERVAL;
    this.checkpoints = interval > 0 ? new CheckpointStore(interval) : undefined;
  }

  get lastThread(): Thread | undefined {
    return this.track.lastThread;
  }

  get result(): RunResult | undefined {
    return this.track.result;
  }

  /** Assembles the image with the debugger watching from its first event, not yet run. */
  static async boot(config: MachineConfig, table: BreakpointTable, setup?: (m: DebugMachine) => void): Promise<DebugMachine> {
    let self: DebugMachine | undefined;
    const early: StampedEvent[] = [];
    const onEvent = (e: StampedEvent) => (self ? self.onEvent(e) : early.push(e));
    const system = await System.assemble(config.manifest, { ...config.options, onEvent });
    self = new DebugMachine(system, config, table);
    setup?.(self);
    for (const e of early) self.onEvent(e);
    self.observing = true;
    system.kernel.observe(self);
    return self;
  }

  get kernel() {
    return this.system.kernel;
  }

  /** Instructions the whole machine has executed. */
  get executed(): number {
    return this.track.executed;
  }

  count(t: Thread | number): number {
    return this.counts.get(typeof t === 'number' ? t : t.id) ?? 0;
  }

  /** Where the machine is now. */
  position(): Position {
    if (this.track.result) return { kind: 'end' };
    const p = this.kernel.pausedThread;
    if (p) return { kind: 'insn', thread: p.id, count: this.count(p) };
    if (this.track.eventStop !== undefined) return { kind: 'event', seq: this.track.eventStop };
    return { kind: 'start' };
  }

  /** The event that made the last stop, if an event did. */
  get stoppedAtEvent(): number | undefined {
    return this.track.eventStop;
  }

  /**
   * Stops before the next thread runs (a user's interrupt), where the run has a position to come
   * back to; or, `between` steps, at the run loop's next turn even when no thread is about to run
   * (a live machine idle until an outside input, which a debugger that never goes back attaches
   * to).
   */
  interrupt(between = false): void {
    this.interruptRequested = true;
    if (between) this.kernel.pause();
  }

  /** Runs until the goal or a breakpoint stops the machine, or it halts. */
  async go(goal: Goal): Promise<Stop> {
    if (this.track.result) return { reason: 'halt', breakpoints: [], summary: 'the machine has halted', position: { kind: 'end' } };
    this.goal = goal;
    this.stops = [];
    this.track.eventStop = undefined;
    this.syncHooks();
    const p = this.kernel.pausedThread;
    if (p) p.sandbox.cpu.debug.resumePast(Number(p.sandbox.cpu.debug.registers(p.handle).rip));
    // A live machine owes the wall clock nothing for the time the debugger held it.
    this.system.pacer?.release();
    try {
      return await this.advanceToStop();
    } finally {
      this.system.pacer?.hold();
    }
  }

  private async advanceToStop(): Promise<Stop> {
    for (;;) {
      const r = await this.system.advance();
      if (r === 'paused' && this.checkpointDue) this.takeCheckpoint();
      if (r === 'paused' && this.stops.length === 0 && this.interruptRequested && !this.kernel.pausedThread) {
        this.interruptRequested = false;
        this.stops.push({ reason: 'interrupt', breakpoints: [], summary: 'interrupted between two scheduler steps' });
      }
      if (r !== 'paused') {
        this.track.result = this.system.finish(r);
        const replay = this.system.pacer instanceof ReplayPacer ? `\n${replayVerdict(this.system, this.track.result).line}` : '';
        const out = (this.track.result.deviations.length === 0 ? 'outcome: as expected' : this.track.result.deviations.map((d) => `outcome DEVIATES: ${d}`).join('\n')) + replay;
        this.stops.push({ reason: 'halt', breakpoints: [], summary: `machine halted (${r}) at ${this.system.machine.clock.now} ns; event log sha256 ${this.track.result.logHash.slice(0, 16)}\n${out}`, detail: { halt: r, deviations: this.track.result.deviations, logHash: this.track.result.logHash } });
        return this.merge();
      }
      if (this.stops.length > 0) return this.merge();
    }
  }

  dispose(): void {
    // Engines kept for checkpoints go now; the live ones go with the machine.
    const live = new Set(this.kernel.liveSandboxes.map((s) => s.cpu));
    const all = new Set([...this.kernel.threads.map((t) => t.sandbox.cpu), ...[...this.prepared.keys()].map((s) => s.cpu), ...(this.checkpoints?.list.flatMap((c) => c.cpus.map((x) => x.cpu)) ?? [])]);
    this.checkpoints?.dispose();
    for (const cpu of all) {
      cpu.debug.retain = false;
      if (!live.has(cpu)) cpu.debug.release();
    }
    this.system.dispose();
  }

  // --- checkpoints --------------------------------------------------------------------------------

  /**
   * Where the next checkpoint is due: an interval after the last one at or before now, moved on
   * past any the store already holds (a replay through checkpointed ground takes none again).
   */
  private planCheckpoint(): void {
    const store = this.checkpoints!;
    const at = this.executed;
    let next = 0;
    for (const c of store.list) {
      // The list is in run order: the last one at or before now, then each later one that falls
      // before the point due pushes it on.
      if (c.executed <= at || c.executed <= next) next = c.executed + store.interval;
    }
    this.track.nextCheckpoint = next;
  }

  private takeCheckpoint(): void {
    this.checkpointDue = false;
    const t = this.kernel.pausedThread;
    if (!t || !this.checkpoints) return;
    for (const s of this.kernel.liveSandboxes) s.cpu.debug.retain = true;
    this.checkpoints.take(this.subject(), { kind: 'insn', thread: t.id, count: this.count(t) }, this.counts, this.executed, this.kernel.events.all.length);
    this.planCheckpoint();
  }

  private subject(): CheckpointSubject {
    return {
      roots: () => [this.system, this.counts, this.modules, this.track],
      isDebuggerState: (o) => o === this || o === this.table || o === this.config || o === this.prepared || o === this.checkpoints,
      liveCpus: () => this.kernel.liveSandboxes.map((s) => s.cpu),
    };
  }

  /** Puts the machine back to a checkpoint of its own (breakpoint hooks are installed anew as threads run). */
  restoreCheckpoint(cp: Checkpoint): void {
    for (const s of new Set([...this.prepared.keys(), ...this.kernel.liveSandboxes])) if (s.state === 'live' || this.prepared.has(s)) s.cpu.debug.removeAll();
    for (const c of cp.cpus) c.cpu.debug.removeAll();
    this.prepared.clear();
    this.checkpoints!.restore(this.subject(), cp);
    this.planCheckpoint();
    this.stops = [];
    this.interruptRequested = this.checkpointDue = false;
  }

  /** Runs quietly (breakpoints off) to an earlier-or-later position of this run, then arms them again. */
  async replayTo(p: Position): Promise<Stop> {
    const goal = goalFor(p);
    this.quiet = true;
    try {
      if (!goal) return { reason: 'start', breakpoints: [], summary: 'back at the start: the image is assembled, nothing has run', position: this.position() };
      return await this.go(goal);
    } finally {
      this.quiet = false;
      this.breakpointsChanged();
    }
  }

  private merge(): Stop {
    const all = this.stops;
    this.stops = [];
    const first = all[0]!;
    const bps = [...new Set(all.flatMap((s) => s.breakpoints))];
    const summary = all.map((s) => s.summary).join('\n');
    const details = all.filter((s) => s.detail).map((s) => s.detail!);
    return {
      reason: first.reason, breakpoints: bps, ...(first.thread !== undefined ? { thread: first.thread, sandbox: first.sandbox! } : {}),
      summary, ...(details.length ? { detail: details.length === 1 ? details[0]! : { stops: details } } : {}), position: this.position(),
    };
  }

  // --- the run loop's observer ------------------------------------------------------------------

  beforeRun(t: Thread, _budget: number): boolean {
    const cpu = t.sandbox.cpu;
    if (!this.prepared.has(t.sandbox)) this.prepare(t.sandbox);
    if (!this.checkpointDue && this.checkpoints && !this.recorder && this.executed >= this.track.nextCheckpoint) {
      const store = this.checkpoints;
      const at = this.executed;
      // A replay over ground already checkpointed (one run spanning the point due) takes none again.
      if (store.list.some((c) => c.executed > at - store.interval && c.executed <= at)) this.planCheckpoint();
      else {
        this.checkpointDue = true;
        this.track.current = t;
        return true; // taken by go() while the loop is paused here
      }
    }
    this.track.current = t;
    this.track.runStart = cpu.executed;
    if (this.interruptRequested || this.pauseAtFirstRun) {
      if (this.interruptRequested) this.stops.push({ reason: 'interrupt', breakpoints: [], thread: t.id, sandbox: t.sandbox.name, summary: `interrupted; ${t.label} runs next` });
      this.interruptRequested = this.pauseAtFirstRun = false;
      return true;
    }
    const g = this.goal;
    if (g.kind === 'time' && this.system.machine.clock.now >= g.at) {
      this.stops.push({ reason: 'time', breakpoints: [], thread: t.id, sandbox: t.sandbox.name, summary: `virtual time ${this.system.machine.clock.now} ns (asked for ${g.at}); ${t.label} runs next` });
      return true;
    }
    if (g.kind === 'insn' && g.thread === t.id) {
      const left = g.count - this.count(t);
      if (left <= 0) {
        this.stops.push(this.stepStop(t));
        return true;
      }
      cpu.debug.stopAtCount(cpu.executed + left);
    } else cpu.debug.stopAtCount(undefined);
    return false;
  }

  afterRun(t: Thread, stop: StopReason): void {
    const d = t.sandbox.cpu.executed - this.track.runStart;
    this.counts.set(t.id, this.count(t) + d);
    this.track.executed += d;
    this.track.lastThread = t;
    this.track.current = undefined;
    const g = this.goal;
    if (stop.kind === 'debug' && g.kind === 'insn' && g.thread === t.id && this.count(t) >= g.count) this.stops.push(this.stepStop(t));
  }

  private stepStop(t: Thread): Stop {
    const rip = Number(t.sandbox.cpu.debug.registers(t.handle).rip);
    return { reason: 'step', breakpoints: [], thread: t.id, sandbox: t.sandbox.name, summary: `${t.label} at ${this.modules.describe(rip)}, after ${this.count(t)} instructions of the thread` };
  }

  // --- hooks ------------------------------------------------------------------------------------

  /** Installs the hooks of the enabled breakpoints on a sandbox's CPU. */
  private prepare(s: Sandbox): void {
    this.prepared.set(s, new Map());
    this.installOn(s);
  }

  /** Reinstalls every hook: after a breakpoint changed, a module loaded, or a goal changed. */
  private syncHooks(): void {
    for (const s of [...this.prepared.keys()]) {
      if (s.state !== 'live') {
        this.prepared.delete(s);
        continue;
      }
      const installed = this.prepared.get(s)!;
      for (const hooks of installed.values()) for (const h of hooks) s.cpu.debug.remove(h);
      installed.clear();
      this.installOn(s);
    }
  }

  private installOn(s: Sandbox): void {
    const installed = this.prepared.get(s)!;
    const live = !this.quiet;
    const syscalls = live && this.table.all.some((b) => b.enabled && (b.spec.kind === 'syscall' || b.spec.kind === 'ipc' || b.spec.kind === 'mig'));
    s.cpu.debug.holdSyscall = syscalls || this.goal.kind === 'nextSyscall' ? (f) => this.onSyscall(s, f) : undefined;
    if (!live) return;
    for (const b of this.table.all) {
      if (!b.enabled) continue;
      const hooks: DebugHook[] = [];
      if (b.spec.kind === 'code') {
        const where = this.modules.resolve(b.spec.location);
        if (typeof where !== 'string') {
          for (const w of where) {
            if (w.module?.sandbox !== undefined && w.module.sandbox !== s.name) continue;
            hooks.push(s.cpu.debug.breakAt(w.address, () => this.onCode(b, w.address)));
          }
        }
      } else if (b.spec.kind === 'watch') {
        const where = this.modules.resolve(b.spec.location);
        if (typeof where !== 'string' && where[0]) {
          const at = where[0].address;
          const accesses = b.spec.access === 'access' ? (['read', 'write'] as const) : ([b.spec.access] as const);
          for (const a of accesses) hooks.push(s.cpu.debug.watch(at, b.spec.length, a, (x) => this.onWatch(b, x.write, x.address, x.size, x.value)));
        }
      }
      if (hooks.length) installed.set(b.id, hooks);
    }
  }

  /** Called by the table: breakpoints changed while the machine is stopped. */
  breakpointsChanged(): void {
    this.syncHooks();
  }

  private onEvent(e: StampedEvent): void {
    if (!this.quiet && !this.recorder) this.config.output?.(e);
    if (this.modules.onEvent(e) && this.observing) this.syncHooks();
    if (e.kind === 'sandboxDestroyed') for (const s of this.prepared.keys()) if (s.name === e.sandbox && s.state !== 'live') this.prepared.delete(s);
    const stops: Stop[] = [];
    const g = this.goal;
    if ((g.kind === 'event' && e.seq === g.seq) || g.kind === 'nextEvent') stops.push({ reason: 'event', breakpoints: [], summary: `event #${e.seq}: ${eventLine(e)}`, detail: { event: e } });
    if (!this.quiet) {
      for (const b of [...this.table.active('event'), ...this.table.active('record')]) {
        if ((b.spec.kind !== 'event' && b.spec.kind !== 'record') || !eventMatches(b.spec, e)) continue;
        const verdict = this.check(b, eventContext(e));
        if (verdict !== false) stops.push({ reason: 'breakpoint', breakpoints: [b.id], summary: `breakpoint ${b.id}, event #${e.seq}: ${eventLine(e)}${verdict === true ? '' : `\n  ${verdict}`}`, detail: { event: e } });
      }
    }
    if (stops.length === 0) return;
    if (this.recorder) {
      for (const s of stops) if (s.breakpoints.length) this.recorder({ stop: s, position: { kind: 'event', seq: e.seq } });
      if (!stops.some((s) => s.breakpoints.length === 0)) return;
    }
    this.stops.push(...stops);
    this.track.eventStop ??= e.seq;
    if (e.kind === 'halt') return; // the run is over anyway
    if (this.observing) this.kernel.pause();
    else this.pauseAtFirstRun = true;
  }

  private onSyscall(s: Sandbox, frame: SyscallFrame): boolean {
    const t = this.track.current;
    if (!t || t.sandbox !== s) return false;
    const entry = syscallEntry(frame);
    const stops: Stop[] = [];
    const where = () => `${t.label} at ${this.modules.describe(Number(s.cpu.debug.registers(t.handle).rip))}`;
    if (this.goal.kind === 'nextSyscall') stops.push({ reason: 'syscall', breakpoints: [], thread: t.id, sandbox: s.name, summary: `syscall ${describeSyscall(entry)} in ${where()}`, detail: { syscall: entry } });
    if (!this.quiet) {
      for (const b of this.table.active('syscall')) {
        if (b.spec.kind !== 'syscall' || b.spec.nr !== entry.nr || (b.spec.sandbox && b.spec.sandbox !== s.name)) continue;
        const v = this.check(b, this.threadContext(t, syscallNames(entry)));
        if (v !== false) stops.push({ reason: 'breakpoint', breakpoints: [b.id], thread: t.id, sandbox: s.name, summary: `breakpoint ${b.id}, syscall ${describeSyscall(entry)} in ${where()}${v === true ? '' : `\n  ${v}`}`, detail: { syscall: entry } });
      }
      const ipc = this.table.active('ipc');
      const ep = ipc.length ? endpointOf(s, entry) : undefined;
      for (const b of ipc) {
        if (b.spec.kind !== 'ipc' || !ep || !endpointMatches(this.kernel, b.spec.endpoint, ep) || (b.spec.sandbox && b.spec.sandbox !== s.name)) continue;
        const v = this.check(b, this.threadContext(t, syscallNames(entry)));
        if (v !== false) stops.push({ reason: 'breakpoint', breakpoints: [b.id], thread: t.id, sandbox: s.name, summary: `breakpoint ${b.id}, ${entry.name} on ${b.spec.endpoint} in ${where()}${v === true ? '' : `\n  ${v}`}`, detail: { syscall: entry } });
      }
      const mig = this.table.active('mig');
      const m = mig.length ? migrationHit(this.kernel, this.config.migration, t, entry) : undefined;
      for (const b of mig) {
        if (b.spec.kind !== 'mig' || !m || (b.spec.op !== '*' && b.spec.op !== m.op)) continue;
        const v = this.check(b, this.threadContext(t, { ...syscallNames(entry), ...migrationNames(m) }));
        if (v !== false) stops.push({ reason: 'breakpoint', breakpoints: [b.id], thread: t.id, sandbox: s.name, summary: `breakpoint ${b.id}, ${describeMigration(m)}${v === true ? '' : `\n  ${v}`}`, detail: { migration: { ...m, message: { ...m.message, payload: undefined } } } });
      }
    }
    return this.hit(t, stops, -1);
  }

  private onCode(b: Breakpoint, address: number): boolean {
    const t = this.track.current;
    if (!t) return false;
    const v = this.check(b, this.threadContext(t, {}));
    if (v === false) return false;
    return this.hit(t, [{ reason: 'breakpoint', breakpoints: [b.id], thread: t.id, sandbox: t.sandbox.name, summary: `breakpoint ${b.id}, ${t.label} at ${this.modules.describe(address)}${v === true ? '' : `\n  ${v}`}` }], -1);
  }

  private onWatch(b: Breakpoint, write: boolean, address: number, size: number, value: bigint): boolean {
    const t = this.track.current;
    if (!t) return false;
    const v = this.check(b, this.threadContext(t, { address: BigInt(address), size: BigInt(size), value, write }));
    if (v === false) return false;
    const what = write ? `write of ${hex(value)} (${size} B)` : `read (${size} B)`;
    const rip = Number(t.sandbox.cpu.debug.registers(t.handle).rip);
    // Forwards the stop is after the access; a replay searching backwards (reverse-continue)
    // places the hit before the instruction that made it, where reverse execution meets it.
    return this.hit(t, [{ reason: 'watchpoint', breakpoints: [b.id], thread: t.id, sandbox: t.sandbox.name, summary: `watchpoint ${b.id}: ${what} at ${this.modules.describe(address)} by ${t.label}, before ${this.modules.describe(rip)}${v === true ? '' : `\n  ${v}`}`, detail: { access: { write, address, size, value: value.toString() } } }], this.recorder ? -1 : 0);
  }

  /** Records or keeps the stops of a hit inside t's run; `adjust` places it before (-1) or after (0) the counted instruction. */
  private hit(t: Thread, stops: Stop[], adjust: number): boolean {
    if (stops.length === 0) return false;
    if (this.recorder) {
      const count = this.count(t) + (t.sandbox.cpu.executed - this.track.runStart) + adjust;
      for (const s of stops) if (s.breakpoints.length) this.recorder({ stop: s, position: { kind: 'insn', thread: t.id, count } });
      stops = stops.filter((s) => s.breakpoints.length === 0);
      if (stops.length === 0) return false;
    }
    this.stops.push(...stops);
    return true;
  }

  /** true: stop; false: the condition says no; a string: stop, and say why (the condition failed to evaluate). */
  private check(b: Breakpoint, ctx: EvalContext): boolean | string {
    let ok: boolean | string = true;
    if (b.condition) {
      try {
        ok = b.condition.test(ctx);
      } catch (e) {
        if (!(e instanceof ExprError)) throw e;
        ok = `condition '${b.condition.source}' failed: ${e.message}`;
      }
    }
    if (ok !== false) b.hits++;
    return ok;
  }

  private threadContext(t: Thread, extra: Record<string, Value>): EvalContext {
    let regs: Record<string, bigint> | undefined;
    return {
      lookup: (name) => {
        if (name in extra) return extra[name];
        if (name === 'sandbox') return t.sandbox.name;
        if (name === 'thread') return BigInt(t.id);
        regs ??= t.sandbox.cpu.debug.registers(t.handle);
        return regs[name];
      },
      read: (address, size) => readGuest(t.sandbox, address, size),
    };
  }
}
