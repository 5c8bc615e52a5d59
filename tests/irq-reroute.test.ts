// Rerouting an interrupt line under a stream: the host raises line 5 every 100 µs, 1000 times.
// irq_handler h1 binds the line at start; h2 binds it halfway through, taking it over. Each
// interrupt must be handled exactly once, by one of them: the line keeps its mask and pending
// count across the reroute. And when a handler dies holding an unacknowledged interrupt, the
// line must not stay masked for the handler that binds it next.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastRecord } from './support/kernel.ts';
import { stage } from './support/boot.ts';
import { type System, type RunResult } from '../system/run-image.ts';

const LINE = 5;
const RAISES = 1000;
const PERIOD_NS = 100_000;
const TAKEOVER_NS = (RAISES / 2) * PERIOD_NS + 30_000; // between raises 500 and 501, mid-stream

const image = {
  label: 'tests/irq-reroute.test.ts',
  image: {
    'hic-image': 1,
    name: 'irq-reroute',
    machine: { memory: '32MiB' },
    sandboxes: [
      { name: 'h1', module: 'irq_handler', quota: '128KiB', stack: '16KiB', caps: { irqs: [LINE] } },
      { name: 'h2', module: 'irq_handler', quota: '128KiB', stack: '16KiB', config: { bind_at: TAKEOVER_NS }, caps: { irqs: [LINE] } },
    ],
    run: { until: '1s' },
    expect: { exits: { h1: 0, h2: 0 } },
  },
};

let staged: System;
let done: RunResult;
const handled = (name: string) => lastRecord(staged.kernel, name, 'handled')?.interrupts as number | undefined;

beforeAll(async () => {
  staged = await stage(image);
  for (let i = 1; i <= RAISES; i++) staged.kernel.at(i * PERIOD_NS, () => staged.kernel.raiseIrq(LINE));
  done = await staged.run();
});
afterAll(() => staged?.machine.dispose());

describe('IRQ reroute under an interrupt stream', () => {
  it('both handlers ran to their normal exit', () => {
    expect(done.deviations).toEqual([]);
    expect(done.halt).toBe('idle');
  });

  it('every interrupt was handled exactly once, by h1 before the takeover and h2 after', () => {
    const h1 = handled('h1')!;
    const h2 = handled('h2')!;
    expect(h1).toBeGreaterThan(0);
    expect(h2).toBeGreaterThan(0);
    expect(h1 + h2).toBe(RAISES);
    // The takeover falls between raise 500 and 501, and h1 acknowledges long before the next one.
    expect(h1).toBe(RAISES / 2);
  });

  it('the line was routed twice, the second time by h2 at the takeover time', () => {
    const routed = staged.kernel.events.of('irqRouted');
    expect(routed.map((e) => [e.line, e.sandbox])).toEqual([
      [LINE, 'h1'],
      [LINE, 'h2'],
    ]);
    expect(routed[1]!.t).toBeGreaterThanOrEqual(TAKEOVER_NS);
  });

  it('the line counted every raise as delivered', () => {
    const line = staged.kernel.objects.irqLine(LINE)!;
    expect(line.raised).toBe(RAISES);
    expect(line.delivered).toBe(RAISES);
    expect(line.pending).toBe(0);
  });
});

describe('a handler destroyed while it holds an interrupt', () => {
  it('does not leave the line masked: the next handler gets the interrupts raised after', async () => {
    const STREAM = 20;
    const DIES_AT = 10; // h1 is destroyed right after raise 10 was delivered to it, unacknowledged
    const takeover = 15 * PERIOD_NS + 30_000; // h2 binds between raises 15 and 16
    const s = await stage({
      label: 'tests/irq-reroute.test.ts#death',
      image: {
        ...image.image,
        name: 'irq-handler-death',
        sandboxes: [
          { name: 'h1', module: 'irq_handler', quota: '128KiB', stack: '16KiB', caps: { irqs: [LINE] } },
          { name: 'h2', module: 'irq_handler', quota: '128KiB', stack: '16KiB', config: { bind_at: takeover }, caps: { irqs: [LINE] } },
        ],
        expect: { exits: { h2: 0 } },
      },
    });
    try {
      const k = s.kernel;
      for (let i = 1; i <= STREAM; i++) {
        k.at(i * PERIOD_NS, () => {
          k.raiseIrq(LINE);
          if (i === DIES_AT) k.destroy(k.sandbox('h1')!, 'destroyed');
        });
      }
      const done = await s.run();
      expect(done.deviations).toEqual([]);
      expect(k.events.of('sandboxDestroyed').find((e) => e.sandbox === 'h1')?.reason).toBe('destroyed');
      const line = k.objects.irqLine(LINE)!;
      expect(line.raised).toBe(STREAM);
      // Raises 11..20 came after h1 was gone: every one must reach h2 (raise 10 may be lost with h1).
      expect(lastRecord(k, 'h2', 'handled')?.interrupts).toBeGreaterThanOrEqual(STREAM - DIES_AT);
      expect(line.pending).toBe(0);
      expect(line.masked).toBe(false);
    } finally {
      s.machine.dispose();
    }
  });
});
