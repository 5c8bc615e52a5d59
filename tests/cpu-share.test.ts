// A sandbox's signed CPU share, enforced (core0/scheduler.ts): three guests spinning without a
// syscall beside an IPC client and its server. Round robin gave each spinner a whole budget slice
// for every call the pair made, and the client's 2000 calls took 240 ms of virtual time instead of
// 0.69 ms. With shares, each spinner runs ahead of the pair only until it has used its 50 ‰ of the
// period (0.5 ms), then waits behind whoever is within theirs.

import { describe, expect, it } from 'vitest';
import { SHARE_PERIOD_NS } from '../core0/scheduler.ts';
import { bootImage } from './support/boot.ts';

const pair = [
  { name: 'server', module: 'ipc_bench_server', quota: '256KiB', stack: '64KiB' },
  { name: 'client', module: 'ipc_bench_client', quota: '512KiB', stack: '64KiB', config: { calls: 2000 } },
];
const spinners = [0, 1, 2].map((i) => ({ name: `spin${i}`, module: 'rogue', quota: '256KiB', stack: '16KiB', config: { attack: 'spin' } }));

async function clientDone(sandboxes: object[]): Promise<number> {
  const run = await bootImage({ label: 'cpu-share.himg', image: { 'hic-image': 1, name: 'cpu-share', machine: { memory: '64MiB' }, sandboxes, run: { until: '10ms' }, expect: { exits: { client: 0 } } } });
  run.system.dispose();
  expect(run.deviations).toEqual([]);
  return run.kernel.events.all.find((e) => e.kind === 'exit' && e.sandbox === 'client')!.t;
}

describe('CPU shares under contention', () => {
  it('three spinners beside an IPC pair take their shares of the period from it, no more', async () => {
    const alone = await clientDone(pair);
    const beside = await clientDone([...pair, ...spinners]);
    const shares = 3 * (50 / 1000) * SHARE_PERIOD_NS; // rogue's signed 50 ‰ each
    expect(beside).toBeGreaterThan(alone); // they did run: the CPU is shared, not withheld
    expect(beside - alone).toBeLessThanOrEqual(shares + 100_000); // a slice's worth of slack
  }, 60_000);
});
