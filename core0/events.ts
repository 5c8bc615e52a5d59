// The event log: everything observable that happens in a run, in order, stamped with virtual
// time. Two runs of the same image give the same log, so its hash is the determinism check, and
// the CLI, the tests and (later) the debugger all read the system through it.
//
// Events carry only values derived from the run itself — never host paths, wall time or
// addresses of host memory — or the hash would differ between machines.

import { createHash } from 'node:crypto';
import type { Fault } from '../emulator/types.ts';

export type KernelEvent =
  | { kind: 'boot'; image: string }
  /** The wall-clock date (UTC, YYYY-MM-DD) a boot judged repository expiry at: an input, recorded. */
  | { kind: 'wallClock'; date: string }
  | { kind: 'sandboxCreated'; sandbox: string; id: number; quota: number }
  | { kind: 'moduleVerified'; module: string; version: string; sha384: string; signer: string; signedAt: string; downgrade: boolean }
  | { kind: 'moduleRejected'; source: string; code: string; reason: string }
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

  /** One JSON object per line, keys in emission order. */
  toJsonLines(): string {
    return this.events.map((e) => JSON.stringify(e)).join('\n') + '\n';
  }

  /** SHA-256 of toJsonLines(): equal hashes mean identical runs. */
  hash(): string {
    return createHash('sha256').update(this.toJsonLines()).digest('hex');
  }
}
