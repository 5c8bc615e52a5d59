// Core-0: sandboxes, threads, the syscall trap, and the run loop. Mechanism only — which
// sandboxes exist and what they run is decided by whoever drives the kernel (boot.ts for images).
//
// A sandbox that faults or exits is torn down after its CPU has returned from the run (never from
// inside its own trap), its frames go back to the pool zeroed, and every other sandbox keeps
// running: the host process never fails because of what a guest does.

import type { Machine, StopReason, SyscallFrame, TrapAction } from '../emulator/types.ts';
import { EventLog } from './events.ts';
import { ModuleError } from './module/errors.ts';
import { placeModule } from './module/loader.ts';
import { ModuleRegistry } from './module/registry.ts';
import type { TrustStore, VerifiedModule } from './module/verify.ts';
import { PAGE, Sandbox } from './objects/sandbox.ts';
import { Thread } from './objects/thread.ts';
import { Scheduler } from './scheduler.ts';
import { dispatch, type SyscallContext } from './syscalls.ts';

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
}

export class Kernel {
  readonly events: EventLog;
  readonly modules: ModuleRegistry;
  private readonly scheduler = new Scheduler();
  private readonly sandboxes = new Map<string, Sandbox>();
  private nextSandboxId = 1;
  private nextThreadId = 1;

  constructor(readonly machine: Machine, options: KernelOptions) {
    this.events = new EventLog(() => machine.clock.now);
    this.modules = new ModuleRegistry(machine.frames, options.trust, this.events);
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
  spawn(spec: SandboxSpec & StartSpec, m: VerifiedModule): Sandbox {
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
      ({ t, placedAt } = this.load(s, m, spec));
    } catch (e) {
      s.teardown();
      refuse((e as { code?: string }).code === 'MAPPING_LIMIT' ? new KernelError('MAPPING_LIMIT', `${s.name}: ${(e as Error).message}`) : e);
      throw e; // unreachable: refuse throws
    }
    this.sandboxes.set(spec.name, s);
    this.modules.install(m);
    this.events.emit({ kind: 'sandboxCreated', sandbox: s.name, id, quota: quotaPages * PAGE });
    this.events.emit({ kind: 'moduleLoaded', sandbox: s.name, module: m.meta.name, version: m.meta.version, base: placedAt.base, pages: m.pages, entry: placedAt.entry, hash: m.hash });
    this.events.emit({ kind: 'threadStarted', sandbox: s.name, thread: t.id, entry: placedAt.entry, stackTop: placedAt.stackTop });
    this.scheduler.makeRunnable(t);
    return s;
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
      this.scheduler.wake(clock.now);
      if (clock.now >= until) return this.halt('timeLimit');
      const t = this.scheduler.next();
      if (!t) {
        const wake = this.scheduler.earliestWake();
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

  /** Ends a sandbox: its threads stop, its frames return to the pool. */
  destroy(s: Sandbox, reason: 'exit' | 'fault' | 'shutdown'): void {
    if (s.state !== 'live') return;
    for (const t of s.threads) {
      this.scheduler.remove(t);
      t.state = 'dead';
    }
    const framesReturned = s.teardown();
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
    const clock = this.machine.clock;
    const events = this.events;
    const ctx: SyscallContext = {
      thread: t,
      sandbox: t.sandbox,
      get now() {
        return clock.now;
      },
      console(text) {
        events.emit({ kind: 'console', sandbox: t.sandbox.name, text });
      },
    };
    return (frame) => this.trap(t, ctx, frame);
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
    }
    return 'stop';
  }
}
