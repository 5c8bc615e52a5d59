// A debugging session: one image, its breakpoints, and the machine running it — which replay
// replaces with a fresh one whenever the user goes backwards. The REPL (cli/debug.ts) and the gdb
// stub (gdb/) drive the machine only through this class.
//
// Going backwards is deterministic re-execution: the machine cannot be run in reverse, but the
// same image always computes the same thing, so a fresh machine run to an earlier position is in
// exactly the state the first one was in there (replay.ts says how positions are found).

import type { StampedEvent } from '../../core0/events.ts';
import type { Thread } from '../../core0/objects/thread.ts';
import type { Manifest } from '../manifest.ts';
import type { SystemOptions } from '../run-image.ts';
import { BreakpointTable, parseBreakpoint, type Breakpoint } from './breakpoints.ts';
import { DebugMachine, type Goal, type MachineConfig, type Position, type Stop } from './machine.ts';
import { readMigrationNames } from './migration.ts';
import { findLastHit, moveTo, type ReplayStats } from './replay.ts';

export class DebugError extends Error {
  constructor(
    readonly code: 'DEBUG_USAGE' | 'DEBUG_NOT_POSSIBLE' | 'DEBUG_BUSY',
    message: string,
  ) {
    super(message);
  }
}

export interface SessionOptions {
  /** Sees each event of the machine the user looks at, as it happens. */
  readonly output?: (e: StampedEvent) => void;
  /** Machine instructions between checkpoints (0: none, going back re-runs from boot). */
  readonly checkpointInterval?: number;
  /**
   * The machine only goes forwards, and this says why (hic boot --gdb: a live machine's outside
   * world cannot be run again, and the boot's audit log and files keep what they were given).
   * Interrupts then stop it at once, even idle.
   */
  readonly forwardOnly?: string;
}

export class DebugSession {
  /** The thread stepping and inspection apply to, when the user chose one. */
  selected: number | undefined;
  lastStop: Stop = { reason: 'start', breakpoints: [], summary: 'the image is assembled; nothing has run yet', position: { kind: 'start' } };
  /** How the last backward move was made (for `info replay` and the benchmarks). */
  lastReplay: ReplayStats | undefined;
  private busy = false;

  private constructor(
    readonly config: MachineConfig,
    readonly breakpoints: BreakpointTable,
    public machine: DebugMachine,
    /** Why the machine cannot go back, when it cannot (SessionOptions.forwardOnly). */
    readonly forwardOnly: string | undefined,
  ) {
    this.breakpoints.onChange = () => this.machine.breakpointsChanged();
  }

  static async open(manifest: Manifest, options: SystemOptions, repoRoot: string, extra: SessionOptions = {}): Promise<DebugSession> {
    const config: MachineConfig = {
      manifest, options, repoRoot, migration: readMigrationNames(repoRoot),
      ...(extra.output ? { output: extra.output } : {}), ...(extra.checkpointInterval !== undefined ? { checkpointInterval: extra.checkpointInterval } : {}),
    };
    const table = new BreakpointTable();
    return new DebugSession(config, table, await DebugMachine.boot(config, table), extra.forwardOnly);
  }

  get kernel() {
    return this.machine.kernel;
  }

  get finished(): boolean {
    return this.machine.result !== undefined;
  }

  /** The selected thread, else the one stopped in its run, else the last one that ran. */
  currentThread(): Thread | undefined {
    const threads = this.kernel.threads;
    if (this.selected !== undefined) return threads.find((t) => t.id === this.selected);
    return this.kernel.pausedThread ?? this.machine.lastThread ?? threads.find((t) => t.state !== 'dead');
  }

  addBreakpoint(command: 'break' | 'watch' | 'rwatch' | 'awatch', args: string[]): { breakpoint: Breakpoint; where: string } {
    const { spec, condition, text } = parseBreakpoint(command, args);
    const b = this.breakpoints.add(spec, condition, text);
    let where = '';
    if (spec.kind === 'code' || spec.kind === 'watch') {
      const r = this.machine.modules.resolve(spec.location);
      where = typeof r === 'string' ? `pending: ${r}` : r.map((x) => this.machine.modules.describe(x.address)).join(', ');
    }
    return { breakpoint: b, where };
  }

  interrupt(): void {
    this.machine.interrupt(this.forwardOnly !== undefined);
  }

  // --- forward ------------------------------------------------------------------------------------

  continue(): Promise<Stop> {
    return this.forward({ kind: 'breakpoints' });
  }

  stepInstructions(n = 1, thread?: number): Promise<Stop> {
    const t = this.threadFor(thread);
    return this.forward({ kind: 'insn', thread: t.id, count: this.machine.count(t) + n });
  }

  stepSyscall(): Promise<Stop> {
    return this.forward({ kind: 'nextSyscall' });
  }

  stepEvent(): Promise<Stop> {
    return this.forward({ kind: 'nextEvent' });
  }

  until(ns: number): Promise<Stop> {
    return this.forward({ kind: 'time', at: ns });
  }

  // --- backward -----------------------------------------------------------------------------------

  /** Back n instructions of a thread: a fresh machine run to just before its (count - n + 1)-th. */
  reverseStepInstructions(n = 1, thread?: number): Promise<Stop> {
    const t = this.threadFor(thread);
    const count = this.machine.count(t) - n;
    if (count < 0) throw new DebugError('DEBUG_NOT_POSSIBLE', `${t.label} has executed only ${this.machine.count(t)} instructions`);
    return this.backward({ kind: 'insn', thread: t.id, count });
  }

  /** Back to the last event before now (or before the event stopped at). */
  reverseStepEvent(): Promise<Stop> {
    const at = this.machine.stoppedAtEvent;
    const seq = at !== undefined ? at - 1 : this.kernel.events.all.length - 1;
    if (seq < 0) throw new DebugError('DEBUG_NOT_POSSIBLE', 'no event before this point');
    return this.backward({ kind: 'event', seq });
  }

  /** Back to the last breakpoint hit before now. */
  async reverseContinue(): Promise<Stop> {
    this.mayGoBack();
    return this.exclusive(async () => {
      const now = this.machine.position();
      const found = await findLastHit(this.machine, this.config, this.breakpoints, now);
      if (!found.hit) {
        const stop = await this.replace(await moveTo(this.machine, this.config, this.breakpoints, { kind: 'start' }));
        this.lastStop = { ...stop, summary: 'no breakpoint hit before this point: back at the start, nothing has run' };
        return this.lastStop;
      }
      const stop = await this.replace(await moveTo(this.machine, this.config, this.breakpoints, found.hit.position));
      this.lastReplay = { ...this.lastReplay!, searchMs: found.wallMs };
      this.lastStop = { ...found.hit.stop, position: stop.position };
      return this.lastStop;
    });
  }

  /** The user changed registers or memory: the run from here on is not the recorded one. */
  stateChanged(): void {
    this.machine.checkpoints?.dropAfter(this.machine.executed);
  }

  /** A fresh machine at the start. */
  restart(): Promise<Stop> {
    return this.backward({ kind: 'start' });
  }

  dispose(): void {
    this.machine.dispose();
  }

  // --- internals ----------------------------------------------------------------------------------

  private threadFor(id: number | undefined): Thread {
    const t = id !== undefined ? this.kernel.threads.find((x) => x.id === id) : this.currentThread();
    if (!t) throw new DebugError('DEBUG_USAGE', id !== undefined ? `no thread ${id}` : 'no thread to step: nothing has run yet and no thread is selected');
    if (t.state === 'dead') throw new DebugError('DEBUG_NOT_POSSIBLE', `thread ${t.label} has ended`);
    return t;
  }

  private forward(goal: Goal): Promise<Stop> {
    return this.exclusive(async () => {
      if (this.finished) throw new DebugError('DEBUG_NOT_POSSIBLE', 'the machine has halted; go back (reverse-*, restart) to run again');
      this.lastStop = await this.machine.go(goal);
      return this.lastStop;
    });
  }

  private mayGoBack(): void {
    if (this.forwardOnly !== undefined) throw new DebugError('DEBUG_NOT_POSSIBLE', this.forwardOnly);
  }

  private backward(position: Position): Promise<Stop> {
    this.mayGoBack();
    return this.exclusive(async () => this.replace(await moveTo(this.machine, this.config, this.breakpoints, position)));
  }

  private async replace(r: { machine: DebugMachine; stop: Stop; stats: ReplayStats }): Promise<Stop> {
    const old = this.machine;
    this.machine = r.machine;
    if (old !== r.machine) old.dispose();
    this.lastReplay = r.stats;
    this.lastStop = r.stop;
    return r.stop;
  }

  /** One run-control command at a time: the REPL and a gdb client may both ask. */
  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.busy) throw new DebugError('DEBUG_BUSY', 'the machine is running; interrupt it first');
    this.busy = true;
    try {
      return await fn();
    } finally {
      this.busy = false;
    }
  }
}
