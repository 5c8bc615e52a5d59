// Tests run in forked processes (koffi and Unicorn engines stay out of worker threads) with room
// for guest runs; timings are never asserted — benchmarks measure, tests check behaviour.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    pool: 'forks',
    setupFiles: ['tests/support/event-loop.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
