// How much a sandbox may write to the console: a burst, refilled at a steady rate in virtual
// time (so the limit, and what it drops, is the same on every run). A guest that prints without
// end can no longer grow the host's memory or flood the terminal: what exceeds the budget is
// counted, and reported as one consoleDropped event when output resumes or the sandbox ends.

/** Bytes a sandbox may write at once, and per second of virtual time after that. */
export const CONSOLE_BURST_BYTES = 256 * 1024;
export const CONSOLE_BYTES_PER_SECOND = 1024 * 1024;

export class ConsoleBudget {
  private tokens = CONSOLE_BURST_BYTES;
  private last = 0;
  private droppedLines = 0;
  private droppedBytes = 0;

  /**
   * Whether `bytes` more may be written at virtual time `now`. When output resumes after drops,
   * `dropped` first says how much was lost since.
   */
  take(now: number, bytes: number, dropped: (lines: number, bytes: number) => void): boolean {
    this.tokens = Math.min(CONSOLE_BURST_BYTES, this.tokens + ((now - this.last) * CONSOLE_BYTES_PER_SECOND) / 1e9);
    this.last = now;
    if (bytes > this.tokens) {
      this.droppedLines++;
      this.droppedBytes += bytes;
      return false;
    }
    this.tokens -= bytes;
    this.flush(dropped);
    return true;
  }

  /** Reports drops not yet reported (output resumed, or the sandbox ends). */
  flush(dropped: (lines: number, bytes: number) => void): void {
    if (this.droppedLines === 0) return;
    dropped(this.droppedLines, this.droppedBytes);
    this.droppedLines = 0;
    this.droppedBytes = 0;
  }
}
