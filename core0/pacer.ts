// What a host may hand Kernel.run to hold the machine to the outside world: the wall clock in
// real-time mode, an operator's stop and cont, and the outside inputs (frames from a TAP device,
// control commands). Core-0 never reads the wall clock for the machine's sake; it asks the pacer
// how far virtual time may go, waits on it between slices, and lets it deliver inputs at exactly
// one place — a slice boundary, where no guest instruction is in flight — at the virtual time
// the machine has then reached. The pacer records each input with that time: what a replay
// needs is a pacer whose horizon is the next recorded input's time, so the machine stops there
// and the same input enters. (For the record/replay issue to check step for step: the loop
// tests the horizon before each step, and a step always advances virtual time; the one loop
// turn that does not — passing over a suspended sandbox's thread — could put a live boundary
// one turn later than the replay's.) system/realtime.ts implements it.

export interface Pacer {
  /**
   * The latest virtual time the machine may reach now (the wall clock's reading, in real-time
   * mode; unbounded otherwise). The machine starts no scheduler step at or past it, and its idle
   * fast-forward stops there.
   */
  horizon(): number;
  /**
   * Between two slices: resolves when the machine may go on — when the horizon has moved, the
   * machine's next wake-up (`wake`, virtual ns; undefined when only an outside input can wake it)
   * is due, or an input is waiting. Stopped by the operator, it resolves only after cont or quit.
   */
  pause(now: number, wake: number | undefined): Promise<void>;
  /**
   * At a slice boundary, at virtual time `now`: every outside input waiting enters the machine
   * here (and nowhere else). Returns false when the host asks the run to end (quit).
   */
  admit(now: number): boolean;
}
