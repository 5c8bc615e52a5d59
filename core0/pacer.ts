// What a host may hand Kernel.run to hold the machine to the outside world: the wall clock in
// real-time mode, an operator's stop and cont, and the outside inputs (frames from a TAP device,
// control commands). Core-0 never reads the wall clock for the machine's sake; it asks the pacer
// how far virtual time may go, waits on it between slices, and lets it deliver inputs at exactly
// one place — a slice boundary, where no guest instruction is in flight — at the virtual time
// the machine has then reached. system/realtime.ts implements it.
//
// Where a boundary falls is named by two things the run itself decides: the virtual time, and
// the number of turns of the run loop that have passed the host's checks (each turn that starts a
// scheduler step, an idle fast-forward to a wake-up or the run's end, or passes over a suspended
// thread; not an idle fast-forward the wall clock cut short, whose number depends on the host). Time alone is not
// enough: a turn need not advance it (a suspended thread passed over, a thread faulting at its
// first instruction), so two boundaries can share a time and differ in what came between. The
// turns a debugger adds (a run paused part-way, resumed) are not counted, so a recording's
// boundaries are found again under the debugger. A replay (system/recording/) is a pacer that
// ends a slice at each recorded (time, turn) and admits the same inputs there.

export interface Pacer {
  /**
   * The latest virtual time the machine may reach now (the wall clock's reading, in real-time
   * mode; unbounded otherwise). The machine starts no scheduler step at or past it, and its idle
   * fast-forward stops there. Asked at virtual time `now`, after `turn` turns.
   */
  horizon(now: number, turn: number): number;
  /**
   * Between two slices: resolves when the machine may go on — when the horizon has moved, the
   * machine's next wake-up (`wake`, virtual ns; undefined when only an outside input can wake it)
   * is due, or an input is waiting. Stopped by the operator, it resolves only after cont or quit.
   */
  pause(now: number, wake: number | undefined): Promise<void>;
  /**
   * At a slice boundary, at virtual time `now` after `turn` turns: every outside input waiting
   * enters the machine here (and nowhere else). Returns false when the host asks the run to end
   * (quit).
   */
  admit(now: number, turn: number): boolean;
}
