// Same image, same event log, bit for bit: the property regression images and stepping back in
// the debugger rest on. Each image boots twice on fresh machines, the second time with the kernel
// giving the host's event loop a turn fifty times as often: where the slices fall must not matter.
// images/migration.himg is checked the same way where it is booted anyway, in migration.test.ts
// (the rolling update, twice): a boot of it costs more than all the others here together.

import { describe, expect, it } from 'vitest';
import { bootImage } from './support/boot.ts';

async function logOf(image: string, sliceMs: number): Promise<{ hash: string; lines: string }> {
  const run = await bootImage(image, { sliceMs });
  try {
    return { hash: run.logHash, lines: run.kernel.events.toJsonLines() };
  } finally {
    run.machine.dispose();
  }
}

describe('determinism', () => {
  for (const image of ['hello', 'rogue', 'spin', 'ipc', 'memgrant', 'mmio', 'netstack', 'audit-flood']) {
    it(`${image}: two boots give the same event log, whatever the run's slice length`, async () => {
      const a = await logOf(image, 20);
      const b = await logOf(image, 0.4);
      expect(b.lines).toBe(a.lines);
      expect(b.hash).toBe(a.hash);
      expect(a.lines.length).toBeGreaterThan(200);
    }, 300_000);
  }

  it('virtual time advances with work and sleeps, not with the host', async () => {
    const run = await bootImage('hello');
    const ticks = run.kernel.events.of('console').filter((e) => e.text.includes('tick')).map((e) => e.t);
    run.machine.dispose();
    expect(ticks).toHaveLength(3);
    // Each tick follows a 1 ms sleep; the rest is the charge for syscalls.
    for (let i = 1; i < ticks.length; i++) expect(ticks[i]! - ticks[i - 1]!).toBeGreaterThanOrEqual(1_000_000);
  });
});
