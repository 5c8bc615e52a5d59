// How the report's numbers read, the same on the page and in the terminal: virtual instants as the
// console prints them, durations in the unit that suits them, shares as percentages.

import { formatTime } from '../../emulator/clock.ts';
import type { Phase, Resource, UpdateReport } from './schema.ts';

/** A virtual instant, as the console stamps events: "0.450000s". */
export const instant = (ns: number): string => formatTime(ns);

const trim = (x: number, digits: number) => x.toFixed(digits).replace(/\.?0+$/, '');

/** A virtual duration in its natural unit: "850 ns", "412.38 µs", "5 ms", "24 h". */
export function duration(ns: number): string {
  if (ns < 1e3) return `${ns} ns`;
  if (ns < 1e6) return `${trim(ns / 1e3, 2)} µs`;
  if (ns < 1e9) return `${trim(ns / 1e6, 3)} ms`;
  if (ns < 60e9) return `${trim(ns / 1e9, 3)} s`;
  if (ns < 3600e9) return `${trim(ns / 60e9, 2)} min`;
  return `${trim(ns / 3600e9, 2)} h`;
}

/** A share as a percentage: 0.9627 → "96.27 %". */
export const percent = (share: number): string => `${trim(share * 100, 2)} %`;

/** Wall milliseconds of a phase, when the report has them. */
export function wallSpan(p: Phase): string | undefined {
  if (p.wallStartMs === undefined || p.wallEndMs === undefined) return undefined;
  return `${trim(p.wallEndMs - p.wallStartMs, 1)} ms`;
}

export const resource = (r: Resource): string => `${r.kind} ${trim(r.amount, 3)} ${r.unit}`;

/** The rate limit as the policy means it: 0 is no limit. */
export const rateLimit = (perS: number): string => (perS === 0 ? 'off' : `${perS} connections/s`);

/** The policy's stage plan: "idle 30 % → http 60 % → …". */
export const stagePlan = (r: UpdateReport): string => r.policy.stages.map((s) => `${s.class} ${percent(s.upTo)}`).join(' → ');

/** How a rollback window ended, in words. */
export const WINDOW_WORDS: Record<NonNullable<UpdateReport['window']>['state'], string> = {
  open: 'open, the Monitor watching',
  expired: 'expired with no rollback',
  superseded: 'closed by the next request',
  rollback: 'a rollback verdict, and an update back to the previous version',
};
