// Destroying a busy sandbox: reaper holds the control capability for echo and destroys it while
// rpc_client is in the middle of 100,000 calls. echo must end with reason 'destroyed', the client's
// call in flight (or its next one) must fail with PEER_GONE rather than hang, and every frame echo
// owned must go back to the pool.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Err } from '../core0/abi/abi.ts';
import { consoleOf, recordsOf, rpcSummary } from './support/kernel.ts';
import { stage } from './support/boot.ts';
import { type System, type RunResult } from '../system/run-image.ts';

const DESTROY_AT_NS = 200_000; // 0.2 ms: a few hundred calls into the client's run

const image = {
  label: 'tests/sandbox-destroy.test.ts',
  image: {
    'hic-image': 1,
    name: 'sandbox-destroy',
    machine: { memory: '32MiB' },
    sandboxes: [
      { name: 'echo', module: 'echo', quota: '256KiB', stack: '16KiB', config: { version: 1 } },
      { name: 'rpc_client', module: 'rpc_client', quota: '256KiB', stack: '16KiB', config: { calls: 100_000 } },
      { name: 'reaper', module: 'reaper', quota: '128KiB', stack: '16KiB', config: { at: DESTROY_AT_NS, action: 'destroy' }, caps: { control: ['echo'] } },
    ],
    run: { until: '10s' },
    expect: { exits: { reaper: 0, rpc_client: Err.PEER_GONE } },
  },
};

let staged: System;
let done: RunResult;
/** Frames still tagged with echo's id when its sandboxDestroyed event was emitted. */
let echoFramesLeft = -1;

beforeAll(async () => {
  staged = await stage(image);
  const { kernel, machine } = staged;
  const id = kernel.sandbox('echo')!.id;
  kernel.events.subscribe((e) => {
    if (e.kind === 'sandboxDestroyed' && e.sandbox === 'echo') echoFramesLeft = machine.frames.runsOf(id).length;
  });
  done = await staged.run();
});
afterAll(() => staged.machine.dispose());

describe('destroying a busy sandbox', () => {
  it('reaper destroyed echo; the client stopped with PEER_GONE; nothing faulted', () => {
    expect(done.deviations).toEqual([]);
    expect(done.halt).toBe('idle');
    expect(done.outcome.exits.echo).toBeUndefined();
  });

  it('echo was destroyed (not exited) at the reaper\'s time, returning its frames', () => {
    const gone = staged.kernel.events.of('sandboxDestroyed').find((e) => e.sandbox === 'echo')!;
    expect(gone.reason).toBe('destroyed');
    expect(gone.t).toBeGreaterThanOrEqual(DESTROY_AT_NS);
    expect(gone.framesReturned).toBeGreaterThan(0);
    expect(echoFramesLeft).toBe(0);
    const reaper = consoleOf(staged.kernel, 'reaper').map((l) => l.text);
    expect(reaper.some((l) => l.startsWith('reaper: destroyed the sandbox'))).toBe(true);
  });

  it('the client was mid-run: some calls answered, then one failed with the error code logged', () => {
    const sum = rpcSummary(staged.kernel)!;
    expect(sum.answered).toBeGreaterThan(0);
    expect(sum.answered).toBeLessThan(100_000);
    expect(sum.answered + sum.lost).toBe(100_000);
    expect(sum).toMatchObject({ duplicated: 0, bad: 0 });
    const failed = recordsOf(staged.kernel, 'rpc_client', 'call_failed');
    expect(failed).toEqual([{ call: sum.answered + 1, error: Err.PEER_GONE, t: expect.any(Number) }]);
    expect(failed[0]!.t).toBeGreaterThanOrEqual(staged.kernel.events.of('sandboxDestroyed').find((e) => e.sandbox === 'echo')!.t);
  });

  it('every frame is back in the pool after shutdown', () => {
    expect(staged.machine.frames.accounting().allocated).toBe(0);
  });
});
