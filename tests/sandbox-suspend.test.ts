// Suspending a sandbox: reaper suspends hello (which sleeps 1 ms between ticks) before its first
// tick and resumes it 5 ms later. A suspended sandbox is not scheduled -- also not when the sleep
// it was in ends meanwhile -- so every tick comes after the resume, and hello still runs to its exit.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleOf } from './support/kernel.ts';
import { stage } from './support/boot.ts';
import { type System, type RunResult } from '../system/run-image.ts';

const SUSPEND_AT_NS = 500_000;
const SUSPEND_US = 5_000;

let staged: System;
let done: RunResult;

beforeAll(async () => {
  staged = await stage({
    label: 'tests/sandbox-suspend.test.ts',
    image: {
      'hic-image': 1,
      name: 'sandbox-suspend',
      machine: { memory: '32MiB' },
      sandboxes: [
        { name: 'hello', module: 'hello', quota: '1MiB', stack: '64KiB' },
        { name: 'reaper', module: 'reaper', quota: '128KiB', stack: '16KiB', config: { at: SUSPEND_AT_NS, action: 'suspend', suspend_for: `${SUSPEND_US}us` }, caps: { control: ['hello'] } },
      ],
      run: { until: '1s' },
      expect: { exits: { hello: 0, reaper: 0 } },
    },
  });
  done = await staged.run();
});
afterAll(() => staged?.machine.dispose());

describe('suspending a sleeping sandbox', () => {
  it('both run to their normal exit (the resume finds hello still there)', () => {
    expect(done.deviations).toEqual([]);
    expect(consoleOf(staged.kernel, 'reaper').map((l) => l.text)).not.toContainEqual(expect.stringMatching(/failed/));
  });

  it('the suspension is recorded, by reaper, at the time it asked for', () => {
    const suspended = staged.kernel.events.of('sandboxSuspended');
    expect(suspended).toEqual([expect.objectContaining({ sandbox: 'hello', by: 'reaper' })]);
    expect(suspended[0]!.t).toBeGreaterThanOrEqual(SUSPEND_AT_NS);
  });

  it('hello did not run while suspended: its sleep ended meanwhile, yet every tick comes after the resume', () => {
    const suspendedAt = staged.kernel.events.of('sandboxSuspended')[0]!.t;
    const ticks = consoleOf(staged.kernel, 'hello').filter((l) => l.text.startsWith('hello: tick'));
    expect(ticks).toHaveLength(3);
    expect(ticks.map((l) => l.t).filter((t) => t < suspendedAt + SUSPEND_US * 1000)).toEqual([]);
    expect(staged.kernel.events.of('sandboxResumed')).toEqual([expect.objectContaining({ sandbox: 'hello', by: 'reaper' })]);
  });
});
