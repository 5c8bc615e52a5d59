// The kernel's run loop gives the host's event loop a turn between slices: a control socket, a
// gdb client, a progress line and the test runner's own RPC all need it while a machine runs.
// These tests watch the loop from the host side while a spinning guest keeps the CPU busy.

import { describe, expect, it } from 'vitest';
import { stage } from './support/boot.ts';

/** Runs images/spin.himg (a guest that never yields, 50 ms virtual) with a host timer ticking beside it. */
async function spinWithTicks(sliceMs: number): Promise<{ ticks: number; logHash: string }> {
  const system = await stage('spin', { sliceMs });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    const { logHash, deviations } = await system.run();
    expect(deviations).toEqual([]);
    return { ticks, logHash };
  } finally {
    clearInterval(timer);
    system.dispose();
  }
}

describe('the run loop', () => {
  it('lets host timers run while a guest spins, and the run is the same as one that never yields', async () => {
    const sliced = await spinWithTicks(5);
    const blocking = await spinWithTicks(Infinity);
    // With slices of 5 ms, a 1 ms host timer fires during a run of over a second of wall time;
    // without them it cannot fire at all until the run is over.
    expect(sliced.ticks).toBeGreaterThan(0);
    expect(blocking.ticks).toBe(0);
    expect(sliced.logHash).toBe(blocking.logHash);
  });

  it('a run can only be run once', async () => {
    const system = await stage('hello');
    try {
      await system.run();
      await expect(system.run()).rejects.toThrow(/already run/);
    } finally {
      system.dispose();
    }
  });
});
