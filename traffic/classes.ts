// The traffic classes of the seed's step 3.1 and what each one does on the wire. A class is a
// behaviour, turned into a concrete plan per connection by that connection's own PRNG: which
// service it talks to, how many exchanges of what size, and how they are spaced in virtual time.
// Echo services (db, vpn, ws) return every byte, so their plans carry sizes; HTTP plans carry
// request paths and the response is whatever the server sends.

import { badConfig } from './errors.ts';
import type { Prng } from './prng.ts';

export const TRAFFIC_CLASSES = ['idle', 'background', 'http', 'realtime', 'vpn', 'db', 'ws'] as const;
export type TrafficClass = (typeof TRAFFIC_CLASSES)[number];

/** Default mix of a run; any subset may be given, the rest count 0. */
export const DEFAULT_SHARES: Readonly<Record<TrafficClass, number>> = {
  idle: 0.1, background: 0.1, http: 0.35, realtime: 0.15, vpn: 0.1, db: 0.1, ws: 0.1,
};

/** 0 is served first: the order a migration should move connections in. */
export const CLASS_PRIORITY: Readonly<Record<TrafficClass, number>> = {
  realtime: 0, vpn: 1, db: 1, ws: 1, http: 2, idle: 3, background: 4,
};

export interface ServerPorts {
  readonly http: number;
  readonly db: number;
  readonly vpn: number;
  readonly ws: number;
}

export const DEFAULT_PORTS: ServerPorts = { http: 80, db: 5432, vpn: 1194, ws: 8080 };

/** One exchange: the request is sent `afterNs` after the previous one (echo) or after its response (HTTP). */
export interface Exchange {
  readonly afterNs: number;
  /** Echo: bytes sent. */
  readonly size: number;
  /** HTTP: the request path. */
  readonly path?: string;
}

export interface SessionPlan {
  readonly kind: 'echo' | 'http';
  readonly service: keyof ServerPorts;
  readonly exchanges: readonly Exchange[];
  /** How long to stay open after the last exchange before closing. */
  readonly holdNs: number;
}

const MS = 1_000_000;

/** Periodic exchanges filling `lifeNs`: a steady rate, as real-time and tunnel traffic has. */
function periodic(rng: Prng, periodNs: number, lifeNs: number, size: () => number): Exchange[] {
  const n = Math.max(1, Math.floor(lifeNs / periodNs));
  return Array.from({ length: n }, (_, i) => ({ afterNs: i === 0 ? rng.between(0, periodNs) : periodNs, size: size() }));
}

/**
 * The plan of one connection of class `cls`. `durationNs` is the run's length: persistent classes
 * live most of it, the others finish well inside it.
 */
export function planFor(cls: TrafficClass, rng: Prng, durationNs: number, connId: number): SessionPlan {
  const life = (lo: number, hi: number) => rng.between(lo * durationNs, hi * durationNs);
  switch (cls) {
    case 'idle':
      return { kind: 'http', service: 'http', exchanges: [], holdNs: life(0.3, 0.6) };
    case 'background': {
      // Bulk transfers at a low rate: a few large uploads echoed back.
      const n = rng.int(2, 4);
      const exchanges = Array.from({ length: n }, () => ({ afterNs: life(0.05, 0.15), size: rng.int(8, 40) * 1024 }));
      return { kind: 'echo', service: 'db', exchanges, holdNs: rng.between(1 * MS, 10 * MS) };
    }
    case 'http': {
      const n = rng.int(2, 6);
      const exchanges = Array.from({ length: n }, (_, i) => ({
        afterNs: rng.between(2 * MS, 30 * MS),
        size: 0,
        path: rng.chance(0.2) ? `/bulk/${rng.int(4, 24) * 1024}` : `/item/${connId}/${i}`,
      }));
      return { kind: 'http', service: 'http', exchanges, holdNs: rng.between(1 * MS, 20 * MS) };
    }
    case 'realtime':
      return { kind: 'echo', service: 'ws', exchanges: periodic(rng, 10 * MS, life(0.3, 0.5), () => rng.int(48, 192)), holdNs: 1 * MS };
    case 'vpn':
      return { kind: 'echo', service: 'vpn', exchanges: periodic(rng, 40 * MS, life(0.55, 0.7), () => rng.int(64, 1400)), holdNs: 5 * MS };
    case 'db': {
      const n = Math.max(2, Math.floor((0.6 * durationNs) / (40 * MS)));
      const exchanges = Array.from({ length: n }, () => ({ afterNs: rng.between(10 * MS, 70 * MS), size: rng.int(80, 600) }));
      return { kind: 'echo', service: 'db', exchanges, holdNs: 5 * MS };
    }
    case 'ws':
      return { kind: 'echo', service: 'ws', exchanges: periodic(rng, rng.between(30 * MS, 80 * MS), life(0.5, 0.7), () => rng.int(16, 480)), holdNs: 5 * MS };
  }
}

/**
 * Exactly `n` classes in the proportions of `shares` (largest remainder), in a seeded order so
 * that the classes are interleaved over the run rather than started in blocks.
 */
export function assignClasses(n: number, shares: Partial<Record<TrafficClass, number>>, rng: Prng): TrafficClass[] {
  const total = TRAFFIC_CLASSES.reduce((s, c) => s + Math.max(0, shares[c] ?? 0), 0);
  if (!(total > 0)) badConfig('class shares must include a positive share');
  const exact = TRAFFIC_CLASSES.map((c) => ({ c, x: (n * Math.max(0, shares[c] ?? 0)) / total }));
  const counts = new Map(exact.map(({ c, x }) => [c, Math.floor(x)]));
  let left = n - [...counts.values()].reduce((s, k) => s + k, 0);
  // Ties in the remainder go to the class listed first, so the split never depends on sort stability.
  const byRemainder = [...exact].sort((a, b) => b.x - Math.floor(b.x) - (a.x - Math.floor(a.x)) || TRAFFIC_CLASSES.indexOf(a.c) - TRAFFIC_CLASSES.indexOf(b.c));
  for (const { c } of byRemainder) {
    if (left-- <= 0) break;
    counts.set(c, counts.get(c)! + 1);
  }
  return rng.shuffle(TRAFFIC_CLASSES.flatMap((c) => Array<TrafficClass>(counts.get(c)!).fill(c)));
}
