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

import { createHash } from 'node:crypto';
import type { Fault } from '../emulator/types.ts';

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

export type KernelEvent =
  | { kind: 'boot'; image: string }
  | { kind: 'sandboxCreated'; sandbox: string; id: number; quota: number }
  | { kind: 'moduleVerified'; module: string; version: string; sha384: string; downgrade: boolean; provenance: ModuleProvenance }
  | { kind: 'moduleRejected'; source: string; code: string; reason: string; provenance?: { readonly source: string } }
  | { kind: 'libraryLoaded'; module: string; version: string; base: number; pages: number }
  | { kind: 'libraryUnloaded'; module: string; framesReturned: number }
  | { kind: 'moduleLoaded'; sandbox: string; module: string; version: string; base: number; pages: number; entry: number; sha384: string }
  | { kind: 'threadStarted'; sandbox: string; thread: number; entry: number; stackTop: number }
  | { kind: 'console'; sandbox: string; text: string }
  | { kind: 'fault'; sandbox: string; thread: number; fault: Fault; owner: string | null }
  | { kind: 'exit'; sandbox: string; status: number }
  | { kind: 'sandboxDestroyed'; sandbox: string; framesReturned: number; reason: 'exit' | 'fault' | 'shutdown' | 'destroyed' }
  | { kind: 'halt'; reason: 'idle' | 'timeLimit' }
  | { kind: 'endpointRegistered'; sandbox: string; name: string; alias: string; isDefault: boolean }
  | { kind: 'endpointSwitched'; alias: string; from: string; to: string; by: string }
  | { kind: 'capTransferred'; from: string; to: string; type: string; rights: number; moved: boolean }
  | { kind: 'capRevoked'; sandbox: string; type: string; revoked: number }
  | { kind: 'channelGranted'; channel: string; sandbox: string; rights: number }
  | { kind: 'irqRouted'; line: number; sandbox: string; bits: number; pending: number }
  | { kind: 'sandboxSuspended'; sandbox: string; by: string }
  | { kind: 'sandboxResumed'; sandbox: string; by: string };

export type StampedEvent = KernelEvent & { readonly t: number; readonly seq: number };

export class EventLog {
  private readonly events: StampedEvent[] = [];
  private readonly listeners: ((e: StampedEvent) => void)[] = [];

  constructor(private readonly now: () => number) {}

  emit(e: KernelEvent): void {
    const stamped = { t: this.now(), seq: this.events.length, ...e } as StampedEvent;
    this.events.push(stamped);
    for (const l of this.listeners) l(stamped);
  }

  subscribe(listener: (e: StampedEvent) => void): void {
    this.listeners.push(listener);
  }

  get all(): readonly StampedEvent[] {
    return this.events;
  }

  of<K extends KernelEvent['kind']>(kind: K): Extract<StampedEvent, { kind: K }>[] {
    return this.events.filter((e): e is Extract<StampedEvent, { kind: K }> => e.kind === kind);
  }

  /** One JSON object per line, keys in emission order; `provenance` too unless left out. */
  toJsonLines(opts: { readonly provenance?: boolean } = {}): string {
    const keep = opts.provenance ?? true;
    return this.events.map((e) => JSON.stringify(keep ? e : withoutProvenance(e))).join('\n') + '\n';
  }

  /**
   * SHA-256 of the log without provenance: equal hashes mean identical runs, whichever build
   * supplied the modules.
   */
  hash(): string {
    return createHash('sha256').update(this.toJsonLines({ provenance: false })).digest('hex');
  }
}

function withoutProvenance(e: StampedEvent): object {
  if (!('provenance' in e)) return e;
  const { provenance: _p, ...run } = e;
  return run;
}
