// The status line of a long `hic boot` on a terminal: virtual time, wall time, speed (over the
// last second), real-time lag, traffic totals and the phase, redrawn a few times a second below
// the run's event lines (log-update does the terminal work). Off when stdout is not a terminal
// and under --quiet: then nothing here writes anything.

import { createLogUpdate } from 'log-update';
import { formatTime } from '../emulator/clock.ts';
import type { LiveMachine, LiveStatus } from '../system/live.ts';

const REDRAW_MS = 250;

export interface ProgressLine {
  /** Writes a line of the run's output above the status line. */
  print(line: string): void;
  /** Removes the status line for good. */
  stop(): void;
}

/** A status line for `live`, or a plain printer when stdout is not a terminal or `quiet`. */
export function progressLine(live: LiveMachine, options: { readonly quiet?: boolean; readonly stream?: NodeJS.WriteStream } = {}): ProgressLine {
  const out = options.stream ?? process.stdout;
  if (options.quiet || !out.isTTY) return { print: (line) => void out.write(line + '\n'), stop: () => {} };
  const draw = createLogUpdate(out, { showCursor: true });
  const samples: { wall: number; virtual: number }[] = [];
  const render = () => {
    const s = live.status();
    samples.push({ wall: s.wallMs, virtual: s.virtualNs });
    while (samples.length > 1 && s.wallMs - samples[0]!.wall > 1000) samples.shift();
    const first = samples[0]!;
    const speed = s.wallMs > first.wall ? (s.virtualNs - first.virtual) / 1e6 / (s.wallMs - first.wall) : s.speed;
    draw(statusText(s, speed));
  };
  const timer = setInterval(render, REDRAW_MS);
  timer.unref();
  return {
    print(line) {
      draw.clear();
      out.write(line + '\n');
    },
    stop() {
      clearInterval(timer);
      draw.clear();
    },
  };
}

const mb = (bytes: number) => (bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`);

export function statusText(s: LiveStatus, speed: number): string {
  const parts = [
    `virtual ${formatTime(s.virtualNs)}`,
    `wall ${(s.wallMs / 1000).toFixed(1)}s`,
    `speed ${speed.toFixed(2)}×`,
    ...(s.realtime ? [`lag ${(s.lagNs / 1e6).toFixed(0)} ms`] : []),
    ...(s.traffic ? [`traffic ${s.traffic.connections} conns (${s.traffic.closed} done${s.traffic.failed ? `, ${s.traffic.failed} failed` : ''}), ${mb(s.traffic.bytes)}`] : []),
    ...(s.tap ? [`tap ${s.tap.name} in ${s.tap.toGuest} out ${s.tap.toLinux}`] : []),
    s.phase,
  ];
  return parts.join(' · ');
}
