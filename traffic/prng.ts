// The traffic generator's only source of randomness: xoshiro128** seeded through splitmix32, all
// in 32-bit integer math. Never Math.random and never a clock — a run is a pure function of its
// seed and of the times its caller hands in, which is what lets update and rollback tests replay
// the exact same traffic. `fork` gives each connection (or stream) its own sequence, so one
// connection's choices do not shift when another is added or reacts to a lost frame.

import { badConfig } from './errors.ts';

/** The murmur3 finaliser: a bijection on uint32 that spreads every input bit over the output. */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** A uint32 hash of a list of integers (each taken modulo 2^32). */
export function hash32(...words: number[]): number {
  let h = 0x243f6a88;
  for (const w of words) h = mix32((h ^ w) + 0x9e3779b9);
  return h;
}

/** A seed as a uint32: strings by their UTF-16 units, numbers by both 32-bit halves. */
export function seedKey(seed: number | string): number {
  if (typeof seed === 'string') return hash32(...Array.from(seed, (c) => c.charCodeAt(0)), seed.length);
  if (!Number.isSafeInteger(seed)) badConfig(`seed ${seed} is not a safe integer or a string`);
  return hash32(seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0);
}

export class Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** `key` is a uint32 from seedKey or hash32. */
  constructor(readonly key: number) {
    let z = key >>> 0;
    const next = () => {
      z = (z + 0x9e3779b9) >>> 0;
      return mix32(z);
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    // xoshiro's one forbidden state; splitmix32 of consecutive values never yields it, but be sure.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  static fromSeed(seed: number | string): Prng {
    return new Prng(seedKey(seed));
  }

  /** An independent sequence named by `labels`; the same labels always give the same sequence. */
  fork(...labels: number[]): Prng {
    return new Prng(hash32(this.key, ...labels));
  }

  /** The next uint32 (xoshiro128**). */
  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 2 ** 32;
  }

  /** A uniform integer in [lo, hi], both inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  /** A uniform real in [lo, hi), rounded to an integer (virtual nanoseconds stay integers). */
  between(lo: number, hi: number): number {
    return Math.round(lo + this.float() * (hi - lo));
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  /** Fisher–Yates, in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
