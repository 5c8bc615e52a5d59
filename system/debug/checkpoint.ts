// Checkpoints of a machine under the debugger, so going backwards re-executes from the nearest
// earlier checkpoint instead of from boot. A checkpoint is taken where the run loop is paused
// before a thread's run (nothing in flight) and holds:
//
//   - every JavaScript object of the machine and kernel, restored in place (heap-snapshot.ts):
//     physical memory page by page (shared with the previous checkpoint where unchanged), the
//     kernel's objects, queues, timers and logs, the devices, the traffic generator;
//   - what lives in Unicorn instead: every thread's registers (CpuDebug.saveRegisters), and the
//     engines' memory maps, rebuilt from the restored page tables.
//
// Engines of sandboxes destroyed after a checkpoint are kept (CpuDebug.retain) so the
// checkpoint can bring them back; engines created after it are closed when it is restored.

import type { Cpu, EngineMapping, SavedRegisters } from '../../emulator/types.ts';
import { CpuDebugPort } from '../../emulator/cpu-debug.ts';
import { Disassembler } from '../../emulator/disasm.ts';
import { HeapSnapshot } from './heap-snapshot.ts';
import type { Position } from './machine.ts';

export interface Checkpoint {
  /** Where it was taken: before a thread's run. */
  readonly position: Extract<Position, { kind: 'insn' }>;
  /** Instructions each thread had executed, and the machine in all. */
  readonly counts: ReadonlyMap<number, number>;
  readonly executed: number;
  /** Events emitted before it. */
  readonly events: number;
  readonly heap: HeapSnapshot;
  readonly cpus: readonly { readonly cpu: Cpu; readonly registers: SavedRegisters }[];
  /** Bytes it holds of its own: pages and buffers, and (estimated) object contents, not shared with an earlier checkpoint. */
  readonly bytes: number;
  /** Wall milliseconds it took. */
  readonly takeMs: number;
}

/** What the machine under the debugger lends the store. */
export interface CheckpointSubject {
  /** The objects whose contents a checkpoint keeps. */
  roots(): unknown[];
  /** Objects never saved nor descended into (the debugger's own). */
  isDebuggerState(o: object): boolean;
  /** The CPUs of the sandboxes alive now. */
  liveCpus(): Cpu[];
}

export class CheckpointStore {
  readonly list: Checkpoint[] = [];

  constructor(
    /** Machine instructions between checkpoints. */
    readonly interval: number,
    /** At most this many are kept: past it, the one whose neighbours are closest goes, so older stretches thin out. */
    readonly limit = 64,
  ) {}

  get bytes(): number {
    return this.list.reduce((n, c) => n + c.bytes, 0);
  }

  take(subject: CheckpointSubject, position: Checkpoint['position'], counts: ReadonlyMap<number, number>, executed: number, events: number): Checkpoint {
    const wall = performance.now();
    const skip = (o: object) => subject.isDebuggerState(o) || o instanceof Disassembler || o instanceof CpuDebugPort;
    // Kept in run order; the one before shares its unchanged pages and objects with this one.
    let at = this.list.length;
    while (at > 0 && this.list[at - 1]!.executed > executed) at--;
    const previous = this.list[at - 1]?.heap;
    const heap = HeapSnapshot.take(subject.roots(), { skip, ...(previous ? { previous } : {}) });
    const cpus = subject.liveCpus().map((cpu) => ({ cpu, registers: cpu.debug.saveRegisters() }));
    const cp: Checkpoint = { position, counts: new Map(counts), executed, events, heap, cpus, bytes: heap.ownBytes + heap.ownEntryBytes, takeMs: performance.now() - wall };
    this.list.splice(at, 0, cp);
    while (this.list.length > this.limit) {
      let drop = 1;
      for (let i = 2; i < this.list.length - 1; i++) {
        const gap = (j: number) => this.list[j + 1]!.executed - this.list[j - 1]!.executed;
        if (gap(i) < gap(drop)) drop = i;
      }
      for (const c of this.list.splice(drop, 1)[0]!.cpus) c.registers.free();
    }
    return cp;
  }

  /** The latest checkpoint at or before `p`, judged by what the run itself counts. */
  latestAtOrBefore(p: Position): Checkpoint | undefined {
    for (let i = this.list.length - 1; i >= 0; i--) {
      const c = this.list[i]!;
      if (p.kind === 'insn' && (c.counts.get(p.thread) ?? 0) <= p.count) return c;
      if (p.kind === 'event' && c.events <= p.seq) return c;
      if (p.kind === 'start' && c.executed === 0) return c;
    }
    return undefined;
  }

  /** Puts the machine back as it was at `cp`. */
  restore(subject: CheckpointSubject, cp: Checkpoint): void {
    const kept = new Set(cp.cpus.map((c) => c.cpu));
    // Engines made after the checkpoint have nothing to come back to.
    for (const cpu of subject.liveCpus()) {
      if (kept.has(cpu)) continue;
      cpu.debug.retain = false;
      cpu.destroy();
    }
    const before: EngineMapping[] = cp.cpus.map((c) => c.cpu.debug.engineMapping());
    cp.heap.restore();
    cp.cpus.forEach((c, i) => c.cpu.debug.restoreRegisters(c.registers, before[i]!));
  }

  /** Checkpoints after `executed` describe a future that will no longer happen (the user changed the state). */
  dropAfter(executed: number): void {
    while (this.list.length > 0 && this.list[this.list.length - 1]!.executed > executed) {
      for (const c of this.list.pop()!.cpus) c.registers.free();
    }
  }

  dispose(): void {
    this.dropAfter(-1);
  }
}
