// Watches each test file's event loop: the longest stretch it was blocked, written to
// build/test-results/event-loop/<file>.json. Vitest's worker talks to its runner over an RPC with
// a fixed 60 s timeout, so a test that holds the loop that long fails the run with every test
// green; the kernel runs in slices to prevent it (Kernel.run), and this is how that is measured.
// A measurement, not an assertion: wall time depends on the machine and its load.

import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, expect } from 'vitest';

const histogram = monitorEventLoopDelay({ resolution: 10 });

beforeAll(() => histogram.enable());

afterAll(() => {
  histogram.disable();
  const file = expect.getState().testPath ?? 'unknown';
  const dir = join(import.meta.dirname, '..', '..', 'build', 'test-results', 'event-loop');
  mkdirSync(dir, { recursive: true });
  const ms = (ns: number) => Math.round(ns / 1e4) / 100;
  writeFileSync(join(dir, `${basename(file)}.json`), JSON.stringify({ file: basename(file), longestBlockMs: ms(histogram.max), p99Ms: ms(histogram.percentile(99)) }) + '\n');
});
