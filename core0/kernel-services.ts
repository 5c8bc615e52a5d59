// What the syscall verbs (core0/verbs/) and the IPC mechanics (ipc.ts) may ask of the kernel:
// the one boundary between decoding a guest's request and the kernel state it changes. Verbs
// reach the kernel only through this interface (as `c.k`), so what they can do is listed here
// and nowhere else; ObjectServices (object-services.ts) implements it for the Kernel.
//
// Nothing here returns an error by throwing: a refusal is an error name (ErrName) the verb turns
// into the guest's -code, and a throw out of any of these is a kernel bug.

import type { EventLog, KernelEvent } from './events.ts';
import type { FetchedModule, FetchRefusal, SpawnRequest } from './module-loader.ts';
import type { ModuleError } from './module/errors.ts';
import type { VerifiedModule } from './module/verify.ts';
import type { Capability, ErrName } from './objects/capability.ts';
import type { Alias } from './objects/endpoint.ts';
import type { IrqLine } from './objects/irq-line.ts';
import type { Notification } from './objects/notification.ts';
import type { Sandbox } from './objects/sandbox.ts';
import type { ServiceRegistry } from './objects/service-registry.ts';
import type { Thread, Waiting } from './objects/thread.ts';

/** What sandbox control asks the kernel to do to a sandbox. */
export type ControlOp = 'suspend' | 'resume' | 'destroy';

/**
 * What sandbox control tells the calling thread: a result for it, or that it stops because it
 * acted on its own sandbox (destroying it is an exit; suspending it, a yield that is not resumed).
 */
export type ControlResult = number | { readonly kind: 'exit'; readonly status: number } | { readonly kind: 'yield' };

export interface KernelServices {
  // --- time and events ---------------------------------------------------------------------------

  /** Virtual time in ns: what time_now returns and what timeouts count from. */
  readonly now: number;
  /** Where capability transfers, registrations, switches and IRQ routes are recorded (and audited). */
  readonly events: EventLog;

  // --- blocking and waking (IPC, notifications) ---------------------------------------------------

  /** Parks t until wake(); with timeoutNs > 0 it is woken with TIMEOUT at now + timeoutNs. */
  block(t: Thread, waiting: Waiting, timeoutNs: number): void;
  /** Wakes a blocked thread with its result; true if it runs next (Scheduler.wakeUp). */
  wake(t: Thread, result: number): boolean;

  // --- new kernel objects: each returns the original capability, for the caller to insert --------

  newEndpoint(): Capability;
  newNotification(): Capability;
  /** Zeroed frames charged to s's quota, or why not (QUOTA_EXCEEDED, NO_MEMORY). */
  newMemory(s: Sandbox, pages: number): Capability | ErrName;

  // --- the service registry -----------------------------------------------------------------------

  readonly registry: ServiceRegistry;
  /** The capability a server registered a name with: clients' capabilities derive from it. */
  readonly registered: Map<string, Capability>;
  /** The root capability of an alias, held by no sandbox: lookups of the alias derive from it. */
  aliasCapability(a: Alias): Capability;
  /** Records a registry switch someone made (a guest with right G, or the host). */
  endpointSwitched(alias: string, from: string, to: string, by: string): void;

  // --- interrupts ---------------------------------------------------------------------------------

  /** Routes the line to n with these bits; a raise pending behind the mask follows at once. */
  bindIrq(line: IrqLine, n: Notification, bits: bigint, by: string): void;
  /** The handler is done with the last interrupt: unmask, or deliver the next pending one. */
  ackIrq(line: IrqLine): void;

  // --- sandbox control ----------------------------------------------------------------------------

  /** Suspends, resumes or destroys a live sandbox on behalf of thread `by`. */
  control(target: Sandbox, op: ControlOp, by: Thread): ControlResult;
  /** Whether a live sandbox has this name (host sandboxes included). */
  sandboxLive(name: string): boolean;

  // --- records ------------------------------------------------------------------------------------

  /** Whether a record commits a step: its type's `journals` field is set (Kernel.journaledRecord). */
  journaled(e: Extract<KernelEvent, { kind: 'record' }>): boolean;
  /**
   * Makes a committing record durable before it becomes an event. False when the journal refused
   * it (full): the record must leave no trace. True without a journal (nothing is durable).
   */
  commit(e: Extract<KernelEvent, { kind: 'record' }>): boolean;

  // --- the module loader (module-loader.ts) -------------------------------------------------------

  /**
   * The newest module of the trusted repository satisfying `range`, verified as a boot verifies;
   * NOT_FOUND when there is none (or no repository); a refusal carries the ModuleError saying why.
   * Nothing is recorded: the caller records the verdict (moduleVerified, moduleRejected).
   */
  fetchModule(name: string, range: string, allowDowngrade?: boolean): FetchedModule | 'NOT_FOUND' | FetchRefusal;
  /** Records a fetched module as verified (the moduleVerified event). */
  moduleVerified(f: FetchedModule): void;
  /** Records a refused module request: what was asked, the code and why; `fetchedFrom` the repository's label; `by` the sandbox that asked, whose audit budget it is charged to. */
  moduleRejected(what: string, code: string, reason: string, fetchedFrom?: string, by?: string): void;
  /** Why a verified module could not be started now (a library, dependencies, imports), or undefined. */
  unloadable(m: VerifiedModule): ModuleError | undefined;
  /** Frames set aside for `holder` as one run (a RESERVATION capability), or NO_MEMORY. */
  newReservation(holder: Sandbox, pages: number): Capability | ErrName;
  /** Starts a request the verb checked; a sandbox-control capability on it, or why not (then nothing changed). */
  spawnModule(by: Sandbox, req: SpawnRequest): Capability | ErrName;
  /** The newest version of module `name` started on this machine so far, if any (what rollback protection compares with). */
  installedVersion(name: string): string | undefined;
  /** Whether that version is marked bad (module_mark). */
  isBad(name: string, version: string): boolean;
  /** Marks a version bad or clears the mark, recorded as moduleMarked; or why not (nothing changed). */
  mark(name: string, version: string, bad: boolean, by: string): true | 'NOT_FOUND' | 'NO_MEMORY';
  /** Collects a version no live sandbox runs, recorded as moduleCollected; or why not (nothing changed). */
  collect(name: string, version: string, by: string): true | 'NOT_FOUND' | 'NO_MEMORY' | 'INVALID_ARGUMENT';
  /** What Core-0 has seen of that version since boot: sandboxes started, ended by a fault, live
   * now, and the live ones' memory in bytes and CPU in virtual ns (module_health). */
  moduleHealth(name: string, version: string): { started: number; faults: number; running: number; memory: number; cpuNs: number };
}
