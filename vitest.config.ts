// Tests run in forked processes (koffi and Unicorn engines stay out of worker threads) with room
// for guest runs; timings are never asserted — benchmarks measure, tests check behaviour.
//
// Two forks, one per core of the machine the suite is sized for (vitest's default is one fewer
// than the cores: a single fork here), and each fork runs file after file without re-importing
// the kernel, the toolchain and their native libraries for every one (isolate: false): that cost
// ~1.2 s of CPU per file, more than many files' tests. Every test builds its own machine, kernel
// and scratch directories, so nothing a file leaves behind is read by the next one.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    pool: 'forks',
    isolate: false,
    maxWorkers: 2,
    minWorkers: 1,
    setupFiles: ['tests/support/event-loop.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
