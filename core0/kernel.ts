// Core-0's front: the kernel object its drivers hold (system/ for images, the tests, the
// benchmarks), the run loop and the host's timers. Mechanism only — which sandboxes exist and
// what they run is decided by whoever drives the kernel. The parts live beside it:
//
//   lifecycle.ts  spawn, load, initial capabilities, control, destroy
//   trap.ts       the syscall trap: dispatch, then resume the guest or stop its engine
//   syscalls.ts   the table of every syscall and its verb
//
// A sandbox that faults or exits is torn down after its CPU has returned from the run (never from
// inside its own trap), its frames go back to the pool zeroed, and every other sandbox keeps
// running: the host process never fails because of what a guest does.

import { crashDump } from './crash-dump.ts';
import type { Fault } from '../emulator/fault.ts';
import type { Machine, StopReason, SyscallFrame } from '../emulator/types.ts';
import { AuditLog } from './audit.ts';
import { EventLog, type EventLogOptions, type KernelEvent } from './events.ts';
import { fetchModule, reserve, spawnRequested, unloadable } from './module-loader.ts';
import { ModuleRegistry } from './module/registry.ts';
import type { ModuleSource } from './module/source.ts';
import type { TrustStore, VerifiedModule } from './module/verify.ts';
import { ObjectServices } from './object-services.ts';
import { originalCapability, type Capability } from './objects/capability.ts';
import { MmioRegion } from './objects/mmio-region.ts';
import { PAGE, type Sandbox } from './objects/sandbox.ts';
import type { Thread } from './objects/thread.ts';
import { Right } from './abi/abi.ts';
import type { Pacer } from './pacer.ts';
import { Scheduler } from './scheduler.ts';
import type { Outcome } from './syscalls.ts';
import { control, destroy, KernelError, shutdown, spawn, spawnHost, type InitialCaps, type SandboxSpec, type StartSpec } from './lifecycle.ts';
import { liveSandboxes, TABLE_TAG, type DestroyReason, type KernelState } from './state.ts';
import { trapFor } from './trap.ts';

export { DEFAULT_BUDGET, KernelError, type InitialCaps, type KernelErrorCode, type SandboxSpec, type StartSpec } from './lifecycle.ts';
export { TABLE_TAG } from './state.ts';
export type { Pacer } from './pacer.ts';

/** Why a run ended: no thread left, the time limit, or the host's quit (through its pacer). */
export type HaltReason = 'idle' | 'timeLimit' | 'quit';

/**
 * What a debugger sees of the run loop (system/debug/). It is told of every run of a thread on its
 * CPU, and may pause the loop (Kernel.pause) only where nothing is in flight, so a paused and
 * resumed run gives the same event log as one that never stopped.
 */
export interface RunObserver {
  /** Before t runs for at most `budget` instructions; true pauses the loop first, with t about to run. */
  beforeRun(t: Thread, budget: number): boolean;
  afterRun(t: Thread, stop: StopReason): void;
}

/** Wall time the kernel runs before it gives the host's event loop a turn. */
export const DEFAULT_SLICE_MS = 20;

export interface RunOptions {
  /** Wall milliseconds between turns of the host's event loop (default 20; Infinity: never). */
  readonly sliceMs?: number;
  /**
   * The host's hold on the run (pacer.ts): how far virtual time may go, a wait between slices,
   * and the one place outside inputs enter. Without one the machine runs as fast as it can.
   */
  readonly pacer?: Pacer;
}

const yieldToHost = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface KernelOptions {
  /** The roots module signatures must chain to. */
  readonly trust: TrustStore;
  /** Where security-relevant events are recorded, hash-chained (default: in memory). */
  readonly audit?: AuditLog;
  /** How much of the event log stays in memory (EventLogOptions.retain; default all). */
  readonly events?: EventLogOptions;
  /** The trusted repository guests holding the loader fetch from (module_query, module_spawn); none: NOT_FOUND. */
  readonly repository?: ModuleSource;
}

/**
 * Event kinds the audit log records: who exists, who may do what, what runs, what was refused.
 * And a guest's record that its signed declaration marks for the audit log (auditedRecord).
 */
const AUDITED: ReadonlySet<string> = new Set([
  'boot', 'sandboxCreated', 'sandboxDestroyed', 'sandboxSuspended', 'sandboxResumed', 'fault',
  'capTransferred', 'capRevoked', 'endpointRegistered', 'endpointSwitched', 'irqRouted', 'channelGranted',
  'moduleVerified', 'moduleRejected', 'moduleLoaded', 'libraryLoaded', 'libraryUnloaded',
  'reserved', 'reservationReleased', 'moduleSpawned', 'moduleMarked', 'moduleCollected', 'systemState',
]);

export class Kernel {
  readonly events: EventLog;
  readonly modules: ModuleRegistry;
  readonly objects: ObjectServices;
  readonly audit: AuditLog;
  /**
   * The host's durable storage for journaled records (journaledRecord): called while the record
   * call is in progress, before the record becomes an event; false refuses the record (the journal
   * is full) and nothing is recorded. Unset: no data directory, nothing is durable.
   */
  journal: ((e: Extract<KernelEvent, { kind: 'record' }>) => boolean) | undefined;
  private readonly state: KernelState;
  /** Host-side events in virtual time (devices, scenario steps), in (time, order) order. */
  private readonly timers: { at: number; seq: number; fn: () => void }[] = [];
  private timerSeq = 0;
  private readonly trap = (t: Thread) => trapFor(this.state, t);
  // The debugger's hold (RunObserver): a pause asked for, the thread on its CPU now, and a run a
  // debugger stopped part-way (its thread goes on first, with what is left of its budget).
  private observer: RunObserver | undefined;
  private pauseRequested = false;
  private running: Thread | undefined;
  private inflight: { readonly t: Thread; readonly left: number } | undefined;
  /** Turns of the run loop past the host's checks (pacer.ts): where a recorded input entered. */
  private turns = 0;

  constructor(readonly machine: Machine, options: KernelOptions) {
    this.events = new EventLog(() => machine.clock.now, options.events);
    this.audit = options.audit ?? AuditLog.inMemory();
    this.events.subscribe((e) => {
      if (!AUDITED.has(e.kind) && !(e.kind === 'record' && this.auditedRecord(e))) return;
      const { t, seq: _seq, kind, ...fields } = e;
      this.audit.admit({ t, kind, ...fields }); // limited per sandbox (audit/limiter.ts)
    });
    this.modules = new ModuleRegistry(machine.frames, options.trust, this.events);
    const scheduler = new Scheduler();
    const sandboxes = new Map<string, Sandbox>();
    this.objects = new ObjectServices({
      clock: machine.clock,
      frames: machine.frames,
      events: this.events,
      scheduler,
      sandboxById: (id) => [...sandboxes.values()].find((s) => s.id === id && s.state === 'live'),
      control: (target, op, by) => control(this.state, target, op, by),
      journaled: (e) => this.journaledRecord(e),
      commit: (e) => this.journal === undefined || this.journal(e),
      loader: {
        sandboxLive: (name) => sandboxes.get(name)?.state === 'live',
        fetchModule: (name, range, allowDowngrade) => fetchModule(this.state, name, range, allowDowngrade),
        moduleVerified: (f) => this.modules.verified(f.module, f.source),
        moduleRejected: (what, code, reason, from, by) =>
          this.events.emit({ kind: 'moduleRejected', source: what, code, reason, ...(by === undefined ? {} : { by }), ...(from === undefined ? {} : { provenance: { source: from } }) }),
        unloadable: (m) => unloadable(this.state, m),
        newReservation: (holder, pages) => reserve(this.state, holder, pages),
        spawnModule: (by, req) => spawnRequested(this.state, by, req, this.trap),
        installedVersion: (name) => this.modules.installedVersion(name)?.version,
        isBad: (name, version) => this.modules.isBad(name, version),
        mark: (name, version, bad, by) => this.modules.mark(name, version, bad, by),
        collect: (name, version, by) => {
          const runs = [...sandboxes.values()].some((s) => s.state === 'live' && s.module?.name === name && s.module.version === version);
          return runs ? 'INVALID_ARGUMENT' : this.modules.collect(name, version, by);
        },
        moduleHealth: (name, version) => {
          const live = [...sandboxes.values()].filter((s) => s.state === 'live' && s.module?.name === name && s.module.version === version);
          return {
            ...this.modules.health(name, version),
            running: live.length,
            memory: live.reduce((n, s) => n + s.usedPages * PAGE, 0),
            cpuNs: live.reduce((n, s) => n + s.cpu.cpuNs, 0),
          };
        },
      },
    });
    this.state = {
      machine, events: this.events, modules: this.modules, repository: options.repository, objects: this.objects, scheduler, sandboxes,
      mmioRoots: new Map(), channels: new Map(), ids: { sandbox: 1, thread: 1 },
    };
    for (const d of machine.devices) {
      this.state.mmioRoots.set(d.device.name, originalCapability(new MmioRegion(d), Right.R | Right.W));
      d.device.raise = () => this.raiseIrq(d.irq);
    }
  }

  /**
   * A guest's record is audited when its type declares a bool field `audits` (signed, in the
   * module's metadata: config-records.ts) and the record sets it: the Monitor's P0 and P1 alerts.
   * Core-0 knows neither alerts nor priorities; what a service may put in the audit log is fixed
   * when it is signed, which of its records go there is the service's policy, and how many is
   * bounded like everything else a sandbox makes the kernel audit: by its token bucket
   * (audit/limiter.ts, charged to the record's sandbox), so a guest that sets the field on every
   * record costs the log a bounded number of lines and one summary of what was suppressed.
   */
  private auditedRecord(e: Extract<KernelEvent, { kind: 'record' }>): boolean {
    return this.flagged(e, 'audits');
  }

  /**
   * A guest's record is journaled when its type declares a bool field `journals` and the record
   * sets it: the host's storage (system/state/) writes it to the machine's journal, durably,
   * while the record call is still in progress, so the guest knows a step committed when the
   * call returns. Core-0 knows no update, no step and no commit: the Module Manager's signed
   * declaration says which of its records may commit, and its policy which do.
   */
  journaledRecord(e: Extract<KernelEvent, { kind: 'record' }>): boolean {
    return this.flagged(e, 'journals');
  }

  private flagged(e: Extract<KernelEvent, { kind: 'record' }>, flag: 'audits' | 'journals'): boolean {
    const type = this.state.sandboxes.get(e.sandbox)?.module?.records.find((r) => r.name === e.type);
    return type?.fields.some((f) => f[flag] === true && e.fields[f.name] === true) ?? false;
  }

  // --- the host API: what TypeScript system services and devices use, with the same checks ---

  /** Repoints a registry alias (what a guest does with registry_switch and right G). */
  switchEndpoint(alias: string, to: string, by = 'host'): { from: string; to: string } {
    const r = this.objects.registry.switch(alias, to);
    if (typeof r === 'string') throw new KernelError('BAD_SPEC', `switch ${alias} → ${to}: ${r}`);
    this.objects.endpointSwitched(r.alias, r.from, r.to, by);
    return { from: r.from, to: r.to };
  }

  /** A device raises an interrupt line. */
  raiseIrq(line: number): void {
    this.objects.raiseIrq(line);
  }

  /** Runs fn when virtual time reaches `at` (a device raising an IRQ, a scenario step). */
  at(at: number, fn: () => void): void {
    const entry = { at, seq: this.timerSeq++, fn };
    let i = this.timers.length;
    while (i > 0 && this.timers[i - 1]!.at > at) i--;
    this.timers.splice(i, 0, entry);
  }

  sandbox(name: string): Sandbox | undefined {
    return this.state.sandboxes.get(name);
  }

  get liveSandboxes(): Sandbox[] {
    return liveSandboxes(this.state);
  }

  /** lifecycle.ts: a sandbox running a verified service module, or nothing and a KernelError. */
  spawn(spec: SandboxSpec & StartSpec & { readonly caps?: InitialCaps }, m: VerifiedModule): Sandbox {
    return spawn(this.state, spec, m, this.trap);
  }

  /** lifecycle.ts: a sandbox for a TypeScript system service, which calls the dispatch table directly. */
  spawnHost(name: string, caps: InitialCaps): { sandbox: Sandbox; thread: Thread; scratch: number; call: (frame: SyscallFrame) => Outcome } {
    return spawnHost(this.state, name, caps);
  }

  /** lifecycle.ts: ends a sandbox and everything it held. */
  destroy(s: Sandbox, reason: DestroyReason): void {
    destroy(this.state, s, reason);
  }

  /** Ends every sandbox, then unloads the libraries nobody uses any more. */
  shutdown(): void {
    shutdown(this.state);
  }

  /** Attaches a debugger (one at a time). */
  observe(observer: RunObserver | undefined): void {
    this.observer = observer;
  }

  /**
   * Asks the run loop to stop at its next clean point: a thread on its CPU now stops before its
   * next instruction (it goes on from there later); otherwise the loop stops before its next
   * step. Kernel.run then returns 'paused', and the next call goes on from there.
   */
  pause(): void {
    this.pauseRequested = true;
    this.running?.sandbox.cpu.debug.stop();
  }

  /** The thread a debugger stopped part-way through its run, which goes on first. */
  get pausedThread(): Thread | undefined {
    return this.inflight?.t;
  }

  /** Every thread, live or ended, in id order. */
  get threads(): Thread[] {
    return [...this.state.sandboxes.values()].flatMap((s) => [...s.threads]).sort((a, b) => a.id - b.id);
  }

  get scheduler(): Scheduler {
    return this.state.scheduler;
  }

  /** The roots of the channels Core-0 created, by name (manifest caps.channels). */
  get channels(): ReadonlyMap<string, Capability> {
    return this.state.channels;
  }

  /**
   * Runs until no thread is left or virtual time reaches `until`, giving the host's event loop back
   * every `sliceMs` of wall time (a control socket, a gdb client, a progress line and the test
   * runner's RPC all wait on it). The wall clock decides only *when* the host gets the loop back,
   * never what the machine does: a slice ends between two scheduler steps, where nothing in the
   * machine is in flight, so the same image gives the same event log whatever the slice length.
   * `sliceMs: Infinity` never yields (what the benchmarks compare against).
   *
   * With a pacer (pacer.ts) the host also holds virtual time to its horizon — the wall clock, in
   * real time — and outside inputs enter between slices, each recorded; with none entering, the
   * log is the one an unpaced run gives.
   */
  async run(until = Number.MAX_SAFE_INTEGER, options: RunOptions = {}): Promise<HaltReason | 'paused'> {
    const sliceMs = options.sliceMs ?? DEFAULT_SLICE_MS;
    const pacer = options.pacer;
    for (;;) {
      const end = performance.now() + sliceMs;
      const r = this.sealAudit(() => this.runSlice(until, () => performance.now() >= end, pacer));
      if (r !== 'slice') return r;
      if (!pacer) {
        await yieldToHost();
        continue;
      }
      await pacer.pause(this.machine.clock.now, this.nextWake());
      if (!pacer.admit(this.machine.clock.now, this.turns)) return this.halt('quit');
    }
  }

  /**
   * Scheduler steps until the machine halts, `sliceOver` says the host wants the loop back, a
   * debugger pauses it, or the machine reaches the pacer's horizon (it then waits for the wall
   * clock, or an input).
   */
  private runSlice(until: number, sliceOver: () => boolean, pacer: Pacer | undefined): HaltReason | 'slice' | 'paused' {
    const clock = this.machine.clock;
    for (;;) {
      if (this.pauseRequested) {
        this.pauseRequested = false;
        return 'paused';
      }
      if (this.inflight) {
        const { t, left } = this.inflight;
        this.inflight = undefined;
        this.runThread(t, left);
        continue;
      }
      while (this.timers.length > 0 && this.timers[0]!.at <= clock.now) this.timers.shift()!.fn();
      this.state.scheduler.wake(clock.now, (t) => this.objects.timedOut(t));
      if (clock.now >= until) return this.halt('timeLimit');
      if (sliceOver()) return 'slice';
      const horizon = pacer ? pacer.horizon(clock.now, this.turns) : Infinity;
      if (clock.now >= horizon) return 'slice';
      this.turns++;
      const t = this.state.scheduler.next(clock.now);
      if (t?.sandbox.suspended) continue; // stays runnable; resume queues it again
      if (!t) {
        const wake = this.nextWake();
        // Paced, a machine with sandboxes left waits for an outside input even with nothing due.
        if (wake === undefined && !(pacer && this.liveSandboxes.length > 0)) return this.halt('idle');
        const to = Math.min(wake ?? until, until);
        if (to > horizon) {
          // Idle only up to the wall clock. Not a turn: how often the wall clock stops an idle
          // machine depends on the host's timing, which a replay does not repeat.
          clock.fastForward(horizon);
          this.turns--;
          return 'slice';
        }
        clock.fastForward(to);
        if (to === until && (wake === undefined || wake > until)) return this.halt('timeLimit');
        continue;
      }
      this.runThread(t, t.sandbox.budget);
    }
  }

  /**
   * Runs a slice, then seals the audit records it admitted (AuditLog.flush): before the host's
   * event loop gets a turn — which is when sockets answer and the run's end is seen — and also
   * when the slice ends in a throw, so a crash of the host leaves the records before it written.
   */
  private sealAudit<R>(slice: () => R): R {
    let r: R;
    try {
      r = slice();
    } catch (e) {
      try {
        this.audit.flush();
      } catch {
        // the slice's own failure is the one to report
      }
      throw e;
    }
    this.audit.flush();
    return r;
  }

  /** When a sleeping thread or a host timer is next due, or undefined if none is. */
  private nextWake(): number | undefined {
    const times = [this.state.scheduler.earliestWake(), this.timers[0]?.at].filter((x): x is number => x !== undefined);
    return times.length > 0 ? Math.min(...times) : undefined;
  }

  /** One run of t on its CPU, seen by the debugger if one is attached. */
  private runThread(t: Thread, budget: number): void {
    const o = this.observer;
    if (!o) return this.step(t, t.sandbox.cpu.run(t.handle, budget, t.onSyscall));
    if (o.beforeRun(t, budget)) {
      this.inflight = { t, left: budget };
      this.pauseRequested = true;
      return;
    }
    const cpu = t.sandbox.cpu;
    const before = cpu.executed;
    this.running = t;
    let stop: StopReason;
    try {
      stop = cpu.run(t.handle, budget, t.onSyscall);
    } finally {
      this.running = undefined;
    }
    o.afterRun(t, stop);
    if (stop.kind === 'debug') {
      this.inflight = { t, left: budget - (cpu.executed - before) };
      this.pauseRequested = true;
      return;
    }
    this.step(t, stop);
  }

  private halt(reason: HaltReason): HaltReason {
    this.events.emit({ kind: 'halt', reason });
    return reason;
  }

  /** After a run: put the thread where its stop reason says. */
  private step(t: Thread, stop: StopReason): void {
    switch (stop.kind) {
      case 'budget':
        this.state.scheduler.makeRunnable(t);
        return;
      case 'trap':
        if (t.state === 'exiting') destroy(this.state, t.sandbox, 'exit');
        return; // yield and sleep already queued the thread
      case 'fault':
        this.events.emit({
          kind: 'fault', sandbox: t.sandbox.name, thread: t.id, fault: stop.fault, owner: this.ownerOf(stop.fault.address), ...stackOverflow(t, stop.fault),
          dump: crashDump(this.machine, t.sandbox.cpu, t.handle, stop.fault),
        });
        if (t.sandbox.module) this.modules.faulted(t.sandbox.module.name, t.sandbox.module.version);
        destroy(this.state, t.sandbox, 'fault');
        return;
      case 'debug':
        throw new Error('Kernel.step: a debug stop with no debugger attached');
    }
  }

  /** Which sandbox owns the frame behind a physical (= virtual) address, for fault reports. */
  private ownerOf(address: number): string | null {
    const tag = this.machine.frames.ownerOf(Math.floor(address / PAGE)); // 0 when out of range
    for (const s of this.state.sandboxes.values()) if (s.id === tag) return s.name;
    const lib = this.modules.libraryAt(address);
    if (lib) return `${lib} (shared library)`;
    return tag !== 0 && tag !== 0xffff_ffff && (tag & TABLE_TAG) !== 0 ? 'core0' : null;
  }
}

/** A read or write in the thread's guard page is its stack overflowing: named so, with the stack's
 * bounds (the field is absent otherwise, so other faults' events are unchanged). */
function stackOverflow(t: Thread, fault: Fault): { stack?: { base: number; top: number } } {
  const s = t.stack;
  const access = fault.kind.startsWith('read') || fault.kind.startsWith('write');
  return s && access && fault.address >= s.guard && fault.address < s.base ? { stack: { base: s.base, top: s.top } } : {};
}
