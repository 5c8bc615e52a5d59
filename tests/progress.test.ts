// The status line of `hic boot` (cli/progress.ts): drawn on a terminal below the run's lines,
// never when stdout is not a terminal or under --quiet.

import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { progressLine, statusText } from '../cli/progress.ts';
import { LiveMachine } from '../system/live.ts';
import { stage } from './support/boot.ts';

/** A stream that records what is written, posing as a terminal or not. */
function sink(isTTY: boolean): NodeJS.WriteStream & { text: () => string } {
  const chunks: string[] = [];
  const s = new Writable({ write: (c: Buffer, _e, done) => (chunks.push(c.toString()), done()) }) as unknown as NodeJS.WriteStream & { text: () => string };
  Object.assign(s, { isTTY, columns: 160, rows: 40, text: () => chunks.join('') });
  return s;
}

describe('the status line', () => {
  it('shows virtual and wall time, speed, lag, traffic and phase on a terminal; nothing but the lines elsewhere', async () => {
    const system = await stage('netstack', { live: { realtime: false }, until: 200_000_000 });
    try {
      const live = new LiveMachine(system);
      const tty = sink(true);
      const pipe = sink(false);
      const quiet = sink(true);
      const lines = [progressLine(live, { stream: tty }), progressLine(live, { stream: pipe }), progressLine(live, { stream: quiet, quiet: true })];
      const ran = live.run();
      await new Promise((r) => setTimeout(r, 600));
      for (const p of lines) p.print('[   0.000000s] a line of the run');
      await ran;
      for (const p of lines) p.stop();
      expect(tty.text()).toMatch(/virtual \d+\.\d{6}s · wall \d+\.\ds · speed \d+\.\d\d× · traffic \d+ conns \(\d+ done\), [\d.]+ kB · running/);
      expect(tty.text()).toContain('\u001b['); // drawn and erased in place
      for (const s of [pipe, quiet]) expect(s.text()).toBe('[   0.000000s] a line of the run\n');
    } finally {
      system.dispose();
    }
  });

  it('in real time, the lag is part of it', () => {
    const text = statusText({ image: 'x', phase: 'stopped', realtime: true, virtualNs: 1_500_000_000, wallMs: 3000, speed: 0.5, lagNs: 1_499_000_000, maxLagNs: 1_500_000_000, sandboxes: 1, inputs: 0 }, 0.5);
    expect(text).toBe('virtual 1.500000s · wall 3.0s · speed 0.50× · lag 1499 ms · stopped');
  });
});
