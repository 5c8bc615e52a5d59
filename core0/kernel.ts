// Core-0: sandboxes, threads, the syscall trap, and the run loop. Mechanism only — which
// sandboxes exist and what they run is decided by whoever drives the kernel (boot.ts for images).
//
// A sandbox that faults or exits is torn down after its CPU has returned from the run (never from
// inside its own trap), its frames go back to the pool zeroed, and every other sandbox keeps
// running: the host process never fails because of what a guest does.

import type { Machine, StopReason, SyscallFrame, TrapAction } from '../emulator/types.ts';
import { AuditLog } from './audit.ts';
import { EventLog } from './events.ts';
import { ModuleError } from './module/errors.ts';
import { placeModule } from './module/loader.ts';
import { ModuleRegistry } from './module/registry.ts';
import type { TrustStore, VerifiedModule } from './module/verify.ts';
import { PAGE, Sandbox } from './objects/sandbox.ts';
import { Thread } from './objects/thread.ts';
import { Err, Right } from './abi/abi.ts';
import { cancelWait } from './ipc.ts';
import { ObjectServices } from './object-services.ts';
import { destroyCapability, originalCapability, type Capability } from './objects/capability.ts';
import { SandboxControl } from './objects/sandbox.ts';
import { MmioRegion } from './objects/mmio-region.ts';
import { Scheduler } from './scheduler.ts';
import { dispatch, type Outcome, type SyscallContext } from './syscalls.ts';

export interface SandboxSpec {
  readonly name: string;
  readonly quotaBytes: number;
  /** Instructions per time slice (the CPU share); default 100,000. */
  readonly budget?: number;
  readonly mappingLimit?: number;
}

export interface StartSpec {
  readonly stackBytes: number;
  readonly arg: number;
}

export class KernelError extends Error {
  constructor(readonly code: 'SANDBOX_EXISTS' | 'QUOTA_EXCEEDED' | 'NO_MEMORY' | 'MAPPING_LIMIT' | 'BAD_SPEC', message: string) {
    super(message);
  }
}

export type HaltReason = 'idle' | 'timeLimit';

export const DEFAULT_BUDGET = 100_000;
/** Page-table frames are tagged apart from the sandbox's own frames: they are the kernel's. */
export const TABLE_TAG = 0x4000_0000;

export interface KernelOptions {
  /** The roots module signatures must chain to. */
  readonly trust: TrustStore;
  /** Where security-relevant events are recorded, hash-chained (default: in memory). */
  readonly audit?: AuditLog;
}

/** Event kinds the audit log records: who exists, who may do what, what runs, what was refused. */
const AUDITED: ReadonlySet<string> = new Set([
  'boot', 'sandboxCreated', 'sandboxDestroyed', 'sandboxSuspended', 'sandboxResumed', 'fault',
  'capTransferred', 'capRevoked', 'endpointRegistered', 'endpointSwitched', 'irqRouted', 'channelGranted',
  'moduleVerified', 'moduleRejected', 'moduleLoaded', 'libraryLoaded', 'libraryUnloaded',
]);

/** Capabilities a sandbox starts with, in this slot order: registry (slot 0), IRQ lines, device windows, sandbox controls, channels. */
export interface InitialCaps {
  /** Rights on the service registry (default R|W: look up and register; G also switches aliases). */
  readonly registry?: number;
  readonly irqs?: readonly number[];
  /** Device register windows it may map: device name and rights (R, or R|W). */
  readonly mmio?: readonly { readonly device: string; readonly rights: number }[];
  /** Sandboxes this one may suspend, resume and destroy. */
  readonly control?: readonly string[];
  /**
   * Channels: endpoints Core-0 creates by name, the first time a sandbox lists one, and shares
   * only with the sandboxes that list it (rights R: receive on it, W: call and send on it). The
   * migration control channel of a rolling update is one (docs/migration-protocol.md).
   */
  readonly channels?: readonly { readonly name: string; readonly rights: number }[];
}

export class Kernel {
  readonly events: EventLog;
  readonly modules: ModuleRegistry;
  readonly objects: ObjectServices;
  readonly audit: AuditLog;
  private readonly scheduler = new Scheduler();
  /** Host-side events in virtual time (devices, scenario steps), in (time, order) order. */
  private readonly timers: { at: number; seq: number; fn: () => void }[] = [];
  private timerSeq = 0;
  /** The capability roots of the machine's device windows, by device name. */
  private readonly mmioRoots = new Map<string, Capability>();
  private readonly sandboxes = new Map<string, Sandbox>();
  /** The roots of the channels Core-0 created, by name (InitialCaps.channels). */
  private readonly channels = new Map<string, Capability>();
  private nextSandboxId = 1;
  private nextThreadId = 1;

  constructor(readonly machine: Machine, options: KernelOptions) {
    this.events = new EventLog(() => machine.clock.now);
    this.audit = options.audit ?? AuditLog.inMemory();
    this.events.subscribe((e) => {
      if (!AUDITED.has(e.kind)) return;
      const { t, seq: _seq, kind, ...fields } = e;
      this.audit.append({ t, kind, ...fields });
    });
    this.modules = new ModuleRegistry(machine.frames, options.trust, this.events);
    this.objects = new ObjectServices({
      clock: machine.clock,
      frames: machine.frames,
      events: this.events,
      scheduler: this.scheduler,
      sandboxById: (id) => [...this.sandboxes.values()].find((s) => s.id === id && s.state === 'live'),
      control: (target, op, by) => this.control(target, op, by),
    });
    for (const d of machine.devices) {
      this.mmioRoots.set(d.device.name, originalCapability(new MmioRegion(d), Right.R | Right.W));
      d.device.raise = () => this.raiseIrq(d.irq);
    }
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
    return this.sandboxes.get(name);
  }

  get liveSandboxes(): Sandbox[] {
    return [...this.sandboxes.values()].filter((s) => s.state === 'live');
  }

  /**
   * Creates a sandbox and starts a verified service module in it, or changes nothing. The
   * module's dependencies must be loaded; image pages, an unmapped guard page and the stack are one
   * contiguous run; the image is relocated against its real address and every import resolved to
   * a shared library; each segment is mapped with its own protection (W^X), the libraries it uses
   * read-execute; the first thread starts at the entry of its `_service_entry` table. On any
   * refusal the sandbox, its frames and its mappings are gone again and only an audit event says
   * what happened.
   */
  spawn(spec: SandboxSpec & StartSpec & { readonly caps?: InitialCaps }, m: VerifiedModule): Sandbox {
    const quotaPages = Math.floor(spec.quotaBytes / PAGE);
    const budget = spec.budget ?? DEFAULT_BUDGET;
    const refuse = (e: unknown): never => {
      const code = (e as { code?: string }).code ?? 'INTERNAL';
      this.events.emit({ kind: 'moduleRejected', source: `${m.meta.name} ${m.meta.version} for ${spec.name}`, code, reason: (e as Error).message });
      throw e;
    };
    if (this.sandboxes.get(spec.name)?.state === 'live') refuse(new KernelError('SANDBOX_EXISTS', `a sandbox named ${spec.name} already runs`));
    if (!(quotaPages > 0) || !(Number.isInteger(budget) && budget > 0)) refuse(new KernelError('BAD_SPEC', `bad quota or budget for ${spec.name}`));
    try {
      this.modules.checkDependencies(m.meta);
    } catch (e) {
      refuse(e);
    }

    const id = this.nextSandboxId++;
    const s = new Sandbox(id, spec.name, quotaPages, budget, this.machine.createCpu(TABLE_TAG | id, spec.mappingLimit), this.machine.frames);
    let t: Thread;
    let placedAt: { base: number; entry: number; stackTop: number };
    try {
      this.grantInitial(s, spec.caps ?? {});
      ({ t, placedAt } = this.load(s, m, spec));
    } catch (e) {
      s.teardown();
      refuse((e as { code?: string }).code === 'MAPPING_LIMIT' ? new KernelError('MAPPING_LIMIT', `${s.name}: ${(e as Error).message}`) : e);
      throw e; // unreachable: refuse throws
    }
    this.sandboxes.set(spec.name, s);
    this.modules.install(m);
    this.events.emit({ kind: 'sandboxCreated', sandbox: s.name, id, quota: quotaPages * PAGE });
    this.events.emit({ kind: 'moduleLoaded', sandbox: s.name, module: m.meta.name, version: m.meta.version, base: placedAt.base, pages: m.pages, entry: placedAt.entry, sha384: m.hash });
    this.events.emit({ kind: 'threadStarted', sandbox: s.name, thread: t.id, entry: placedAt.entry, stackTop: placedAt.stackTop });
    this.scheduler.makeRunnable(t);
    return s;
  }

  private grantInitial(s: Sandbox, caps: InitialCaps): void {
    const give = (c: Capability | undefined, what: string) => {
      if (!c || s.cspace.insert(c) === 'NO_SLOT') throw new KernelError('BAD_SPEC', `${s.name}: cannot grant ${what}`);
    };
    give(this.objects.registryRoot.derive(caps.registry ?? Right.R | Right.W), 'the registry capability');
    for (const line of caps.irqs ?? []) give(this.objects.irqRoot(line).derive(Right.W), `IRQ ${line}`);
    for (const m of caps.mmio ?? []) {
      const root = this.mmioRoots.get(m.device);
      if (!root) throw new KernelError('BAD_SPEC', `${s.name}: the machine has no device ${m.device}`);
      give(root.derive(m.rights), `the ${m.device} registers`);
    }
    for (const name of caps.control ?? []) {
      const target = this.sandboxes.get(name);
      if (target?.state !== 'live') throw new KernelError('BAD_SPEC', `${s.name}: no live sandbox ${name} to control`);
      give(originalCapability(new SandboxControl(target)), `control of ${name}`);
    }
    for (const { name, rights } of caps.channels ?? []) {
      let root = this.channels.get(name);
      if (!root) this.channels.set(name, (root = this.objects.newEndpoint()));
      give(root.derive(rights), `channel ${name}`);
      this.events.emit({ kind: 'channelGranted', channel: name, sandbox: s.name, rights });
    }
  }

  /**
   * A sandbox for a TypeScript system service (Module Manager, Monitor): a capability space and
   * a scratch page for message structures, but no code of its own. Its calls go through the same
   * dispatch table as a guest's, with the same checks (host-client.ts); it is never scheduled.
   */
  spawnHost(name: string, caps: InitialCaps): { sandbox: Sandbox; thread: Thread; scratch: number; call: (frame: SyscallFrame) => Outcome } {
    if (this.sandboxes.get(name)?.state === 'live') throw new KernelError('SANDBOX_EXISTS', `a sandbox named ${name} already runs`);
    const id = this.nextSandboxId++;
    const s = new Sandbox(id, name, 16, 1, this.machine.createCpu(TABLE_TAG | id), this.machine.frames);
    try {
      this.grantInitial(s, caps);
    } catch (e) {
      s.teardown();
      throw e;
    }
    const scratch = s.allocate(2, { writable: true, executable: false });
    if (typeof scratch === 'string') throw new KernelError('NO_MEMORY', `${name}: no scratch page (${scratch})`);
    const t = new Thread(this.nextThreadId++, s, s.cpu.createThread(scratch, scratch + 8192 - 8, 0));
    t.state = 'blocked'; // never scheduled: the host calls in directly
    s.threads.add(t);
    this.sandboxes.set(name, s);
    this.events.emit({ kind: 'sandboxCreated', sandbox: name, id, quota: s.quotaPages * PAGE });
    const ctx = this.contextFor(t);
    return { sandbox: s, thread: t, scratch, call: (frame) => dispatch(ctx, frame) };
  }

  /** Claims, places, maps and makes the first thread; the caller tears down on a throw. */
  private load(s: Sandbox, m: VerifiedModule, spec: StartSpec): { t: Thread; placedAt: { base: number; entry: number; stackTop: number } } {
    const stackPages = Math.ceil(spec.stackBytes / PAGE);
    const total = m.pages + 1 + stackPages;
    const claimed = s.claim('image', total);
    if (typeof claimed === 'string') {
      throw new KernelError(claimed === 'QUOTA_EXCEEDED' ? 'QUOTA_EXCEEDED' : 'NO_MEMORY', `${s.name}: ${total} pages for ${m.meta.name} (${claimed})`);
    }
    const base = claimed.first * PAGE;
    const placed = placeModule(m, base, (imp) => this.modules.exportAddress(imp));
    if (placed.entry === undefined) throw new ModuleError('NOT_A_SERVICE', `${m.meta.name} ${m.meta.version} is a library, not a service`);
    this.machine.frames.view(base, placed.bytes.length).set(placed.bytes);
    for (const seg of placed.segments) s.cpu.space.map(seg.va, seg.va / PAGE, seg.pages, seg);
    for (const lib of this.modules.librariesOf(m.meta)) {
      for (const seg of lib.placed.segments) s.cpu.space.map(seg.va, seg.va / PAGE, seg.pages, seg);
    }
    const stackBase = base + (m.pages + 1) * PAGE;
    s.cpu.space.map(stackBase, stackBase / PAGE, stackPages, { writable: true, executable: false });
    const stackTop = stackBase + stackPages * PAGE - 8; // as if _start had been called
    const t = new Thread(this.nextThreadId++, s, s.cpu.createThread(placed.entry, stackTop, spec.arg));
    t.onSyscall = this.trapFor(t);
    s.threads.add(t);
    return { t, placedAt: { base, entry: placed.entry, stackTop } };
  }

  /** Runs until no thread is left or virtual time reaches `until`. */
  run(until = Number.MAX_SAFE_INTEGER): HaltReason {
    const clock = this.machine.clock;
    for (;;) {
      while (this.timers.length > 0 && this.timers[0]!.at <= clock.now) this.timers.shift()!.fn();
      this.scheduler.wake(clock.now, (t) => this.objects.timedOut(t));
      if (clock.now >= until) return this.halt('timeLimit');
      const t = this.scheduler.next();
      if (t?.sandbox.suspended) continue; // stays runnable; resume queues it again
      if (!t) {
        const times = [this.scheduler.earliestWake(), this.timers[0]?.at].filter((x): x is number => x !== undefined);
        const wake = times.length > 0 ? Math.min(...times) : undefined;
        if (wake === undefined) return this.halt('idle');
        if (wake > until) {
          clock.fastForward(until);
          return this.halt('timeLimit');
        }
        clock.fastForward(wake);
        continue;
      }
      this.step(t, t.sandbox.cpu.run(t.handle, t.sandbox.budget, t.onSyscall));
    }
  }

  /**
   * Ends a sandbox: its threads stop and leave every queue, callers waiting on its replies learn
   * the peer is gone, every capability it held is deleted (revoking what was derived from them,
   * everywhere), IRQ lines routed to it go pending, and its frames return to the pool.
   */
  destroy(s: Sandbox, reason: 'exit' | 'fault' | 'shutdown' | 'destroyed'): void {
    if (s.state !== 'live') return;
    for (const t of s.threads) {
      cancelWait(t);
      this.scheduler.remove(t);
      t.state = 'dead';
    }
    for (const other of this.liveSandboxes) {
      for (const t of other.threads) if (t.waiting?.kind === 'reply' && t.waiting.on.sandbox === s) this.objects.wake(t, -Err.PEER_GONE);
    }
    const owned = () => this.machine.frames.runsOf(s.id).reduce((n, [, count]) => n + count, 0);
    const before = owned();
    for (const c of [...s.cspace.all()]) if (c.live) destroyCapability(c);
    s.teardown();
    // Everything that carried its tag and is free now: regions, and memory objects nobody else holds.
    const framesReturned = before - owned();
    this.events.emit({ kind: 'sandboxDestroyed', sandbox: s.name, framesReturned, reason });
  }

  /** Ends every sandbox, then unloads the libraries nobody uses any more. */
  shutdown(): void {
    for (const s of this.liveSandboxes) this.destroy(s, 'shutdown');
    this.modules.unloadLibraries();
  }

  /** Which sandbox owns the frame behind a physical (= virtual) address, for fault reports. */
  private ownerOf(address: number): string | null {
    const tag = this.machine.frames.ownerOf(Math.floor(address / PAGE)); // 0 when out of range
    for (const s of this.sandboxes.values()) if (s.id === tag) return s.name;
    const lib = this.modules.libraryAt(address);
    if (lib) return `${lib} (shared library)`;
    return tag !== 0 && tag !== 0xffff_ffff && (tag & TABLE_TAG) !== 0 ? 'core0' : null;
  }

  /** Sandbox control, from a guest's capability or the host. */
  private control(target: Sandbox, op: 'suspend' | 'resume' | 'destroy', by: Thread): number | { kind: 'exit'; status: number } | { kind: 'yield' } {
    if (op === 'destroy') {
      if (target === by.sandbox) return { kind: 'exit', status: 0 };
      this.destroy(target, 'destroyed');
      return 0;
    }
    if (op === 'suspend' && !target.suspended) {
      target.suspended = true;
      for (const t of target.threads) if (t.state === 'runnable') this.scheduler.remove(t);
      this.events.emit({ kind: 'sandboxSuspended', sandbox: target.name, by: by.sandbox.name });
    } else if (op === 'resume' && target.suspended) {
      target.suspended = false;
      for (const t of target.threads) {
        if (t.state !== 'runnable') continue;
        this.scheduler.remove(t); // it may still sit in the queue from a wake-up while suspended
        this.scheduler.makeRunnable(t);
      }
      this.events.emit({ kind: 'sandboxResumed', sandbox: target.name, by: by.sandbox.name });
    }
    // Suspending itself: the calling thread stops here and is not scheduled until resumed.
    return target === by.sandbox && op === 'suspend' ? { kind: 'yield' } : 0;
  }

  private halt(reason: HaltReason): HaltReason {
    this.events.emit({ kind: 'halt', reason });
    return reason;
  }

  /** After a run: put the thread where its stop reason says. */
  private step(t: Thread, stop: StopReason): void {
    switch (stop.kind) {
      case 'budget':
        this.scheduler.makeRunnable(t);
        return;
      case 'trap':
        if (t.state === 'exiting') this.destroy(t.sandbox, 'exit');
        return; // yield and sleep already queued the thread
      case 'fault':
        this.events.emit({ kind: 'fault', sandbox: t.sandbox.name, thread: t.id, fault: stop.fault, owner: this.ownerOf(stop.fault.address) });
        this.destroy(t.sandbox, 'fault');
        return;
    }
  }

  /**
   * The thread's syscall handler, made once when the thread starts: the trap path allocates
   * nothing per call (it runs for every syscall, ~0.3 µs in all).
   */
  private trapFor(t: Thread): (frame: SyscallFrame) => TrapAction {
    const ctx = this.contextFor(t);
    return (frame) => this.trap(t, ctx, frame);
  }

  private contextFor(t: Thread): SyscallContext {
    const clock = this.machine.clock;
    const events = this.events;
    return {
      thread: t,
      sandbox: t.sandbox,
      k: this.objects,
      get now() {
        return clock.now;
      },
      console(text) {
        events.emit({ kind: 'console', sandbox: t.sandbox.name, text });
      },
    };
  }

  /** Inside the CPU's syscall trap: dispatch, then resume the guest or stop the engine. */
  private trap(t: Thread, ctx: SyscallContext, frame: SyscallFrame): TrapAction {
    const out = dispatch(ctx, frame);
    if (typeof out === 'number') {
      frame.setResult(out);
      return 'continue';
    }
    switch (out.kind) {
      case 'yield':
        frame.setResult(0);
        this.scheduler.makeRunnable(t);
        break;
      case 'sleep':
        frame.setResult(0);
        this.scheduler.sleep(t, out.until);
        break;
      case 'exit':
        t.state = 'exiting';
        this.events.emit({ kind: 'exit', sandbox: t.sandbox.name, status: out.status });
        break;
      case 'block':
        break; // parked by the verb; woken with its result
      case 'handoff':
        frame.setResult(0);
        this.scheduler.stepAside(t);
        break;
    }
    return 'stop';
  }
}
