// A service built with SSE (services/float_stats, module.json "sse": true) computes right:
// images/float.himg runs two sandboxes of it, each preempted every 2,000 instructions so the two
// engines run interleaved, and each prints exactly what the same program built natively prints --
// double-precision values and their IEEE-754 bits. SSE2 arithmetic is exactly specified, so a
// difference would be emulated FPU state lost or shared, not rounding (docs/guest-sdk.md, SSE).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootImage, type Booted } from './support/boot.ts';
import { consoleOf } from './support/kernel.ts';
import { runNative, type NativeRun } from './support/native-service.ts';

const scratch = mkdtempSync(join(tmpdir(), 'hic-float-'));
let booted: Booted;
let native: NativeRun;

beforeAll(async () => {
  [booted, native] = await Promise.all([bootImage('float'), runNative('float_stats', scratch, 'hic_main')]);
}, 300_000);
afterAll(() => {
  booted?.machine.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

describe('float_stats: SSE in a guest', () => {
  it('runs to its expected outcome, the two sandboxes interleaved', () => {
    expect(booted.deviations).toEqual([]);
    const firstA = consoleOf(booted.kernel, 'stats_a')[0]!.t;
    const lastB = consoleOf(booted.kernel, 'stats_b').at(-1)!.t;
    const exits = booted.kernel.events.of('exit').map((e) => e.sandbox);
    expect(exits.sort()).toEqual(['stats_a', 'stats_b']);
    // Neither ran to its end before the other began: their console lines overlap in time.
    expect(firstA).toBeLessThan(lastB);
  });

  it('prints the values and bits the native build prints, in each sandbox', () => {
    expect(native.status).toBe(0);
    expect(native.lines).toHaveLength(9);
    expect(native.lines[4]).toMatch(/^stddev +\d+ e-6 {2}bits [0-9a-f]{16}$/);
    expect(consoleOf(booted.kernel, 'stats_a').map((l) => l.text)).toEqual(native.lines);
    expect(consoleOf(booted.kernel, 'stats_b').map((l) => l.text)).toEqual(native.lines);
  });
});
