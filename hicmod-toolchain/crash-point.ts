// Deterministic kill points, for testing that a rebuild killed at any moment leaves the workspace's
// repository whole. Every step that changes a file on disk calls crashPoint() first or after;
// with HIC_CRASH_AT=N in the environment the process kills itself with SIGKILL — no cleanup, no
// exit handlers, exactly like `kill -9` — when it reaches the Nth point. HIC_CRASH_TRACE=<file>
// appends the name of every point reached, so a test can count them and pick where to kill.
// Without those variables a crash point costs one comparison.

import { appendFileSync } from 'node:fs';

const killAt = Number.parseInt(process.env.HIC_CRASH_AT ?? '', 10);
const trace = process.env.HIC_CRASH_TRACE;
let reached = 0;

export function crashPoint(what: string): void {
  if (!trace && !(killAt > 0)) return;
  reached++;
  if (trace) appendFileSync(trace, `${reached} ${what}\n`);
  if (reached === killAt) process.kill(process.pid, 'SIGKILL');
}
