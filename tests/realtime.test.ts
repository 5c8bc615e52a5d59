// Real time and the input gate (system/realtime.ts, core0/pacer.ts): the machine never runs
// ahead of the wall clock, idle fast-forward included; without outside input a real-time run is
// the deterministic run, event for event; inputs enter only at slice boundaries, in order, each
// recorded with the virtual time it entered at; stop freezes virtual time, quit ends the run.

import { describe, expect, it } from 'vitest';
import { HostPacer, type OutsideInput } from '../system/realtime.ts';
import { bootImage, stage } from './support/boot.ts';

/** One sandbox that sleeps until 300 ms of virtual time, then waits 20 ms for an IRQ and exits. */
const sleeper = {
  label: 'sleeper',
  image: {
    'hic-image': 1,
    name: 'sleeper',
    machine: { memory: '32MiB' },
    sandboxes: [{ name: 'h', module: 'irq_handler', quota: '128KiB', stack: '16KiB', config: { bind_at: '300ms' }, caps: { irqs: [16] } }],
    run: { until: '2s' },
    expect: { exits: { h: 0 } },
  },
};

const input = (what: string, applied: string[]): OutsideInput => ({ source: 'control', what, data: '{}', apply: (now) => void applied.push(`${what}@${now}`) });

describe('the pacer, with a wall clock the test moves', () => {
  it('the horizon is the wall time since the run began, and stops while stopped', () => {
    let wall = 1000;
    const pacer = new HostPacer({ realtime: true, record: () => {}, wallMs: () => wall });
    expect(pacer.horizon()).toBe(0); // the first reading starts the run's wall clock
    wall += 5;
    expect(pacer.horizon()).toBe(5_000_000);
    pacer.stopAt(5_000_000);
    wall += 100;
    expect(pacer.horizon()).toBe(5_000_000);
    pacer.cont(); // the 100 ms stopped are not owed
    expect(pacer.horizon()).toBe(5_000_000);
    wall += 1;
    expect(pacer.horizon()).toBe(6_000_000);
  });

  it('without real time there is no horizon', () => {
    const pacer = new HostPacer({ realtime: false, record: () => {} });
    expect(pacer.horizon()).toBe(Infinity);
    pacer.stopAt(42);
    expect(pacer.horizon()).toBe(42);
  });

  it('measures lag at each pause: wall minus virtual time', async () => {
    let wall = 0;
    const pacer = new HostPacer({ realtime: true, record: () => {}, wallMs: () => wall });
    pacer.horizon();
    wall = 50;
    await pacer.pause(20_000_000, undefined); // behind: 30 ms
    expect(pacer.lag).toEqual({ lastNs: 30_000_000, maxNs: 30_000_000 });
    wall = 60;
    await pacer.pause(59_000_000, undefined);
    expect(pacer.lag).toEqual({ lastNs: 1_000_000, maxNs: 30_000_000 });
  });

  it('admits inputs only in admit(), in order, each recorded before it is applied', () => {
    const recorded: string[] = [];
    const applied: string[] = [];
    const pacer = new HostPacer({ realtime: false, record: (e) => void recorded.push(`${e.source}:${e.what}:${e.data}`) });
    pacer.submit(input('stop', applied));
    pacer.submit({ source: 'tap', what: 'frame', data: 'AAEC', apply: (now) => void applied.push(`frame@${now}`) });
    expect(applied).toEqual([]);
    expect(pacer.admit(7)).toBe(true);
    expect(recorded).toEqual(['control:stop:{}', 'tap:frame:AAEC']);
    expect(applied).toEqual(['stop@7', 'frame@7']);
    expect(pacer.admitted).toBe(2);
    expect(pacer.admit(8)).toBe(true); // nothing new
    expect(applied).toHaveLength(2);
    pacer.submit({ ...input('quit', applied), apply: () => pacer.quit() });
    expect(pacer.admit(9)).toBe(false);
  });

  it('a stopped pause waits for an input, and none from a polled source', async () => {
    const pacer = new HostPacer({ realtime: true, record: () => {} });
    let polled = 0;
    pacer.addSource(() => void polled++);
    pacer.horizon();
    pacer.stopAt(0);
    let woke = false;
    const paused = pacer.pause(0, 1).then(() => (woke = true));
    await new Promise((r) => setTimeout(r, 30));
    expect(woke).toBe(false);
    expect(polled).toBe(0);
    pacer.submit(input('cont', []));
    await paused;
    expect(woke).toBe(true);
  });
});

describe('a real-time run', () => {
  it('never fast-forwards past the wall clock, and gives the deterministic run event for event', async () => {
    const fast = await bootImage(sleeper);
    fast.system.dispose();
    const system = await stage(sleeper, { live: { realtime: true } });
    const boundaries: { now: number; horizon: number }[] = [];
    const pause = system.pacer!.pause.bind(system.pacer!);
    system.pacer!.pause = (now, wake) => {
      boundaries.push({ now, horizon: system.pacer!.horizon() });
      return pause(now, wake);
    };
    try {
      const began = performance.now();
      const result = await system.run();
      const wallNs = (performance.now() - began) * 1e6;
      expect(result.deviations).toEqual([]);
      expect(result.logHash).toBe(fast.logHash);
      // Asleep until 300 ms: without real time that is one jump; with it, the wall clock's pace.
      expect(system.machine.clock.now).toBeGreaterThan(300_000_000);
      expect(wallNs).toBeGreaterThanOrEqual(system.machine.clock.now);
      expect(boundaries.length).toBeGreaterThan(10);
      expect(boundaries.filter((b) => b.now > b.horizon)).toEqual([]);
    } finally {
      system.dispose();
    }
  });

  it('quit ends the run at the next boundary, recorded', async () => {
    const system = await stage(sleeper, { live: { realtime: true } });
    try {
      setTimeout(() => system.pacer!.submit({ source: 'control', what: 'quit', data: '{}', apply: () => system.pacer!.quit() }), 20);
      const result = await system.run();
      expect(result.halt).toBe('quit');
      const inputs = system.kernel.events.of('input');
      expect(inputs).toMatchObject([{ source: 'control', what: 'quit' }]);
      expect(system.kernel.events.of('halt')).toMatchObject([{ reason: 'quit', t: inputs[0]!.t }]);
      expect(inputs[0]!.t).toBeLessThan(300_000_000);
    } finally {
      system.dispose();
    }
  });
});
