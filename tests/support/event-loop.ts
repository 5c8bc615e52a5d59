// Watches each test file's event loop: the longest stretch it was blocked, written to
// build/test-results/event-loop/<file>.json. Vitest's worker talks to its runner over an RPC with
// a fixed 60 s timeout, so a test that holds the loop that long fails the run with every test
// green; the kernel runs in slices to prevent it (Kernel.run), and this is how that is measured.
// A measurement, not an assertion: wall time depends on the machine and its load.

import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, expect } from 'vitest';

/** A 10 ms ticker: the longest gap between two ticks is the longest stretch the loop was held. */
const TICK_MS = 10;
let last = performance.now();
let longest = 0;
const ticker = setInterval(() => {
  const now = performance.now();
  longest = Math.max(longest, now - last - TICK_MS);
  last = now;
}, TICK_MS);
ticker.unref();


afterAll(async () => {
  // One more turn of the loop, so a block in the last test is seen by the ticker.
  await new Promise((resolve) => setTimeout(resolve, 2 * TICK_MS));
  clearInterval(ticker);
  const file = expect.getState().testPath ?? 'unknown';
  const dir = join(import.meta.dirname, '..', '..', 'build', 'test-results', 'event-loop');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${basename(file)}.json`), JSON.stringify({ file: basename(file), longestBlockMs: Math.round(longest) }) + '\n');
});
