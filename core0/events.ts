// The event log: everything observable that happens in a run, in order, stamped with virtual
// time. Two runs of the same image give the same log, so its hash is the determinism check, and
// the CLI, the tests and (later) the debugger all read the system through it.
//
// Events carry only values derived from the run itself — never host paths, wall time or
// addresses of host memory — or the hash would differ between machines. What a build decided
// rather than the run — who signed a module, when, with which certificate, where its file lay —
// rides in an event's `provenance`, which the terminal and the audit log show and the hash leaves
// out: two clean builds of the same sources (each with its own freshly generated keys and its own
// signing times) run identically, so they must hash identically.

import type { CrashDump } from './crash-dump.ts';
import { createHash, type Hash } from 'node:crypto';
import type { Fault } from '../emulator/types.ts';
import type { FieldValue } from './module/values.ts';

/** Where a verified module came from, as its signature and the source that handed it over say. */
export interface ModuleProvenance {
  /** The signer certificate's subject and SHA-256 fingerprint. */
  readonly signer: string;
  readonly signerFingerprint: string;
  /** The time the timestamp authority signed, ISO 8601. */
  readonly signedAt: string;
  /** The source's label for the file: a repository path or a file name. */
  readonly source: string;
}

/** An interrupted update as the journal's last committed step left it (system/state/recover.ts). */
export interface StateRecovery {
  readonly update: number;
  readonly service: string;
  readonly from: string;
  readonly to: string;
  /** The last commit the journal holds: none (undone), the switch (finished), or the rollback's decision (the rollback finished). */
  readonly committed: 'none' | 'switch' | 'rollback';
  /** The version that boots. */
  readonly boots: string;
  /** The version a committed rollback marks bad, or null. */
  readonly markedBad: string | null;
}

export type KernelEvent =
  | { kind: 'boot'; image: string }
  /** The wall-clock date (UTC, YYYY-MM-DD) a boot judged repository expiry at: an input, recorded. */
  | { kind: 'wallClock'; date: string }
  | { kind: 'sandboxCreated'; sandbox: string; id: number; quota: number }
  /** `build`: how the module was built where that departs from the defaults (its signed metadata). */
  | { kind: 'moduleVerified'; module: string; version: string; sha384: string; downgrade: boolean; build: readonly string[]; provenance: ModuleProvenance }
  /**
   * What a boot found in its data directory (system/state/) and did with it: `boot` 'image' for the
   * image's own versions (a fresh install), 'installed' for what the machine had installed; the
   * versions that boot, by module; the bad marks restored; an update the host's death interrupted,
   * and how it was finished or undone; the rollback window a completed update still had open.
   */
  | { kind: 'systemState'; boot: 'image' | 'installed'; versions: Readonly<Record<string, string>>; bad: readonly string[]; /** versions collected (module_collect), kept out of a boot of what is installed */ collected?: readonly string[]; recovered: StateRecovery | null; windowClosed: number | null; journal: number }
  /** A version marked bad in the installed-state store (module_mark), or the mark cleared. */
  | { kind: 'moduleMarked'; module: string; version: string; bad: boolean; by: string }
  /** A version collected from what this machine may load (module_collect, seed 步骤4.3). */
  | { kind: 'moduleCollected'; module: string; version: string; by: string }
  | { kind: 'moduleRejected'; source: string; code: string; reason: string; by?: string; provenance?: { readonly source: string } }
  | { kind: 'libraryLoaded'; module: string; version: string; base: number; pages: number }
  | { kind: 'libraryUnloaded'; module: string; framesReturned: number }
  /** `config`: the values the sandbox was started with, defaults included, as its page holds them. */
  | { kind: 'moduleLoaded'; sandbox: string; module: string; version: string; base: number; pages: number; entry: number; sha384: string; config: Readonly<Record<string, FieldValue>> }
  /** `config`: the address the first thread finds in rdi (its configuration page), or 0. */
  | { kind: 'threadStarted'; sandbox: string; thread: number; entry: number; stackTop: number; config: number }
  | { kind: 'console'; sandbox: string; text: string }
  /** Console output over the sandbox's rate limit (console-budget.ts), counted instead of kept. */
  | { kind: 'consoleDropped'; sandbox: string; lines: number; bytes: number }
  /** A typed record a guest emitted (the record syscall), decoded against its module's declaration. */
  | { kind: 'record'; sandbox: string; module: string; type: string; fields: Readonly<Record<string, FieldValue>> }
  /** `stack`: present when the address is in the thread's stack guard page -- a stack overflow;
   * the stack's bounds, [base, top). */
  | { kind: 'fault'; sandbox: string; thread: number; fault: Fault; owner: string | null; stack?: { base: number; top: number }; dump?: CrashDump }
  | { kind: 'exit'; sandbox: string; status: number }
  | { kind: 'sandboxDestroyed'; sandbox: string; framesReturned: number; reason: 'exit' | 'fault' | 'shutdown' | 'destroyed' }
  | { kind: 'halt'; reason: 'idle' | 'timeLimit' | 'quit' }
  /** Something from outside entered the machine at a slice boundary (core0/pacer.ts): a frame from a TAP device (base64), a control command (its JSON arguments). */
  | { kind: 'input'; source: 'tap' | 'control'; what: string; data: string }
  | { kind: 'endpointRegistered'; sandbox: string; name: string; alias: string; isDefault: boolean }
  | { kind: 'endpointSwitched'; alias: string; from: string; to: string; by: string }
  | { kind: 'capTransferred'; from: string; to: string; type: string; rights: number; moved: boolean }
  | { kind: 'capRevoked'; sandbox: string; type: string; revoked: number }
  | { kind: 'channelGranted'; channel: string; sandbox: string; rights: number }
  | { kind: 'irqRouted'; line: number; sandbox: string; bits: number; pending: number }
  | { kind: 'sandboxSuspended'; sandbox: string; by: string }
  | { kind: 'sandboxResumed'; sandbox: string; by: string }
  /** The operator's channel (system/update/operator.ts) queued an update request for the Module Manager; `policy` as JSON. */
  | { kind: 'updateRequested'; id: number; service: string; to: string; allowDowngrade: boolean; clearBad: boolean; policy: string; /** a configuration change: the firewall's new table (to is '') */ rules?: readonly string[] }
  /** ... and delivered it: the Module Manager was waiting for a request. */
  | { kind: 'updateDelivered'; id: number }
  /**
   * The operator's message to the Monitor, queued (system/update/monitor-channel.ts): a rollback
   * confirmed or vetoed (`id`, the update), or a maintenance silence over [from, until) in
   * virtual ns (until 0: lifted). Fields that do not apply are 0.
   */
  | { kind: 'operatorMessage'; to: 'monitor'; what: 'confirm' | 'veto' | 'silence'; id: number; from: number; until: number }

  /** Frames set aside from the pool by a sandbox holding the loader (module_reserve), and their return. */
  | { kind: 'reserved'; by: string; bytes: number }
  | { kind: 'reservationReleased'; by: string; bytes: number }
  /** A sandbox holding the loader started a module in a new sandbox (module_spawn). */
  | { kind: 'moduleSpawned'; by: string; sandbox: string; module: string; version: string };

export type StampedEvent = KernelEvent & { readonly t: number; readonly seq: number };

export interface EventLogOptions {
  /**
   * How many of the latest events stay in memory for `all` and `of` (default: every one). The
   * hash always covers the whole log, and a subscriber (a file, the terminal) sees every event, so
   * a long run keeps memory bounded without losing anything it writes out.
   */
  readonly retain?: number;
}

export class EventLog {
  private events: StampedEvent[] = [];
  private readonly listeners: ((e: StampedEvent) => void)[] = [];
  private count = 0;
  private readonly retain: number;
  /**
   * A bounded log hashes its events as they come (the ones it drops are gone); a whole one hashes
   * what it holds when asked. The whole log keeps no hash state of its own, so a debugger's
   * checkpoint (plain objects, restored in place) restores everything the hash depends on.
   */
  private readonly running: Hash | undefined;

  constructor(
    private readonly now: () => number,
    options: EventLogOptions = {},
  ) {
    this.retain = options.retain ?? Infinity;
    this.running = this.retain === Infinity ? undefined : createHash('sha256');
  }

  emit(e: KernelEvent): void {
    const stamped = { t: this.now(), seq: this.count++, ...e } as StampedEvent;
    this.running?.update(eventLine(stamped));
    this.events.push(stamped);
    // Dropped in chunks, so the array is not shifted on every event.
    if (this.events.length > this.retain + 1024) this.events = this.events.slice(this.events.length - this.retain);
    for (const l of this.listeners) l(stamped);
  }

  subscribe(listener: (e: StampedEvent) => void): void {
    this.listeners.push(listener);
  }

  /** Events emitted so far, retained or not. */
  get length(): number {
    return this.count;
  }

  /** The events still in memory: all of them unless `retain` bounds the log. */
  get all(): readonly StampedEvent[] {
    return this.events;
  }

  of<K extends KernelEvent['kind']>(kind: K): Extract<StampedEvent, { kind: K }>[] {
    return this.events.filter((e): e is Extract<StampedEvent, { kind: K }> => e.kind === kind);
  }

  /** The retained events, one JSON object per line, keys in emission order; `provenance` too unless left out. */
  toJsonLines(opts: { readonly provenance?: boolean } = {}): string {
    const keep = opts.provenance ?? true;
    return this.events.map((e) => eventLine(e, keep)).join('');
  }

  /**
   * SHA-256 of the whole log without provenance — each event as one JSON line — computed as the
   * events come: equal hashes mean identical runs, whichever build supplied the modules.
   */
  hash(): string {
    if (this.running) return this.running.copy().digest('hex');
    const h = createHash('sha256');
    for (const e of this.events) h.update(eventLine(e));
    return h.digest('hex');
  }
}

/** One event as the line a log file holds (and the hash covers, with provenance left out). */
export function eventLine(e: StampedEvent, provenance = false): string {
  return JSON.stringify(provenance ? e : withoutProvenance(e)) + '\n';
}

function withoutProvenance(e: StampedEvent): object {
  if (!('provenance' in e)) return e;
  const { provenance: _p, ...run } = e;
  return run;
}
