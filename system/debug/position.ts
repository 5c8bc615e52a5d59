// Where a run is, and where the debugger wants it to go. A position is named by what the run
// itself counts, never by wall time, so a fresh or restored machine of the same image reaches the
// same position in the same state (replay.ts, checkpoint.ts); a goal is what stops a run there.

export type Position =
  | { readonly kind: 'start' }
  | { readonly kind: 'insn'; readonly thread: number; readonly count: number }
  | { readonly kind: 'event'; readonly seq: number }
  | { readonly kind: 'end' };

export type Goal =
  | { readonly kind: 'breakpoints' }
  | { readonly kind: 'insn'; readonly thread: number; readonly count: number }
  | { readonly kind: 'event'; readonly seq: number }
  | { readonly kind: 'nextEvent' }
  | { readonly kind: 'nextSyscall' }
  | { readonly kind: 'time'; readonly at: number };

export type StopReasonName = 'start' | 'breakpoint' | 'watchpoint' | 'step' | 'event' | 'syscall' | 'interrupt' | 'time' | 'halt';

export interface Stop {
  readonly reason: StopReasonName;
  readonly breakpoints: readonly number[];
  readonly thread?: number;
  readonly sandbox?: string;
  readonly summary: string;
  readonly detail?: Readonly<Record<string, unknown>>;
  /** Where the machine stopped (filled in when the stop is returned). */
  readonly position?: Position;
}

/** The goal that stops a run at a position. */
export function goalFor(p: Position): Goal | undefined {
  switch (p.kind) {
    case 'insn':
      return { kind: 'insn', thread: p.thread, count: p.count };
    case 'event':
      return { kind: 'event', seq: p.seq };
    case 'start':
      return undefined;
    case 'end':
      return { kind: 'breakpoints' }; // quiet: runs to the halt
  }
}

/** A breakpoint hit seen while replaying without stopping (replay.ts's search for reverse-continue). */
export interface RecordedHit {
  readonly stop: Stop;
  readonly position: Position;
}
