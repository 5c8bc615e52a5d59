// Going backwards by deterministic re-execution. A position (machine.ts) names a moment of the
// run by what the run itself counts — thread T about to execute its (n+1)-th instruction, or just
// after event #s — never by wall time, so a fresh machine of the same image, run with the
// breakpoints off and the position as its goal, stops in the state the first machine was in.
//
//   reachPosition   boot a fresh machine and run it to the position
//   lastHitBefore   replay up to now with the breakpoints recording instead of stopping, and
//                   return the last hit: where reverse-continue goes
//
// Each costs one run from boot to the position; what it cost is returned (ReplayStats).

import type { BreakpointTable } from './breakpoints.ts';
import { DebugMachine, goalFor, type MachineConfig, type Position, type RecordedHit, type Stop } from './machine.ts';

export interface ReplayStats {
  /** Wall milliseconds to get the machine to the position. */
  readonly wallMs: number;
  /** Instructions re-executed. */
  readonly instructions: number;
  /** Where re-execution started: a checkpoint (at that many machine instructions) or boot. */
  readonly from: { readonly checkpoint: number } | 'boot';
  /** Wall milliseconds spent restoring the checkpoint (the rest is re-execution). */
  readonly restoreMs?: number;
  /** For reverse-continue: wall milliseconds of the search that found the hit. */
  readonly searchMs?: number;
}

/** A fresh machine stopped at `position`, with the breakpoints armed again for what follows. */
export async function reachPosition(config: MachineConfig, table: BreakpointTable, position: Position): Promise<{ machine: DebugMachine; stop: Stop; stats: ReplayStats }> {
  const wall = performance.now();
  const machine = await DebugMachine.boot(config, table, (m) => (m.quiet = true));
  try {
    const goal = goalFor(position);
    let stop: Stop = { reason: 'start', breakpoints: [], summary: 'back at the start: the image is assembled, nothing has run', position: { kind: 'start' } };
    if (goal) stop = await machine.go(goal);
    machine.quiet = false;
    machine.breakpointsChanged();
    return { machine, stop, stats: { wallMs: performance.now() - wall, instructions: machine.executed, from: 'boot' } };
  } catch (e) {
    machine.dispose();
    throw e;
  }
}

function samePosition(a: Position, b: Position): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'insn' && b.kind === 'insn') return a.thread === b.thread && a.count === b.count;
  if (a.kind === 'event' && b.kind === 'event') return a.seq === b.seq;
  return true;
}

/**
 * The machine at `position`: restored from its own latest checkpoint at or before it and
 * re-executed from there, or — with no usable checkpoint — a fresh machine run from boot.
 */
export async function moveTo(machine: DebugMachine, config: MachineConfig, table: BreakpointTable, position: Position): Promise<{ machine: DebugMachine; stop: Stop; stats: ReplayStats }> {
  const cp = machine.checkpoints?.latestAtOrBefore(position);
  if (cp) {
    const wall = performance.now();
    machine.restoreCheckpoint(cp);
    const restoreMs = performance.now() - wall;
    const stop = await machine.replayTo(position);
    return { machine, stop, stats: { wallMs: performance.now() - wall, instructions: machine.executed - cp.executed, from: { checkpoint: cp.executed }, restoreMs } };
  }
  return reachPosition(config, table, position);
}

/**
 * The last breakpoint hit strictly before `now`, searched backwards one checkpoint interval at
 * a time: restore a checkpoint, replay to where the previous window began with the breakpoints
 * recording, and stop at the first window that had a hit. The machine is left anywhere; the
 * caller moves it to the hit.
 */
export async function findLastHit(machine: DebugMachine, config: MachineConfig, table: BreakpointTable, now: Position): Promise<{ hit: RecordedHit | undefined; wallMs: number }> {
  const store = machine.checkpoints;
  const first = store?.latestAtOrBefore(now);
  if (!store || !first) return lastHitBefore(config, table, now);
  const wall = performance.now();
  const counts = new Map(table.all.map((b) => [b.id, b.hits]));
  let upto: Position = now;
  try {
    for (let i = store.list.indexOf(first); i >= 0; i--) {
      const cp = store.list[i]!;
      machine.restoreCheckpoint(cp);
      const hits: RecordedHit[] = [];
      machine.recorder = (h) => hits.push(h);
      try {
        const goal = goalFor(upto);
        if (goal) await machine.go(goal);
      } finally {
        machine.recorder = undefined;
      }
      while (hits.length > 0 && samePosition(hits[hits.length - 1]!.position, now)) hits.pop();
      if (hits.length > 0) return { hit: hits[hits.length - 1], wallMs: performance.now() - wall };
      upto = cp.position;
    }
    return { hit: undefined, wallMs: performance.now() - wall };
  } finally {
    for (const b of table.all) b.hits = counts.get(b.id) ?? b.hits;
  }
}

/** The last breakpoint hit strictly before `now`, found by a replay from boot that records every hit. */
export async function lastHitBefore(config: MachineConfig, table: BreakpointTable, now: Position): Promise<{ hit: RecordedHit | undefined; wallMs: number }> {
  const wall = performance.now();
  const hits: RecordedHit[] = [];
  // Hit counts belong to the session's own run; the search must not add to them.
  const counts = new Map(table.all.map((b) => [b.id, b.hits]));
  const machine = await DebugMachine.boot(config, table, (m) => (m.recorder = (h) => hits.push(h)));
  try {
    const goal = goalFor(now);
    if (goal) await machine.go(goal);
  } finally {
    machine.dispose();
    for (const b of table.all) b.hits = counts.get(b.id) ?? b.hits;
  }
  while (hits.length > 0 && samePosition(hits[hits.length - 1]!.position, now)) hits.pop();
  return { hit: hits[hits.length - 1], wallMs: performance.now() - wall };
}
