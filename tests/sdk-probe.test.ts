// The guest C library inside a real sandbox: images/sdk-probe.himg runs services/sdk_probe, an
// ordinary C program over <stdio.h>, <string.h>, <stdlib.h>, <ctype.h> and libgcc, and the same
// program built natively against the host's C library prints what the guest must print, line for
// line (tests/support/native-service.ts). Then the guest-only part: malloc up to the quota, read
// from its typed record.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootImage, type Booted } from './support/boot.ts';
import { consoleOf, lastRecord } from './support/kernel.ts';
import { runNative, type NativeRun } from './support/native-service.ts';

const scratch = mkdtempSync(join(tmpdir(), 'hic-sdk-probe-'));
let booted: Booted;
let native: NativeRun;

beforeAll(async () => {
  [booted, native] = await Promise.all([bootImage('sdk-probe'), runNative('sdk_probe', scratch, 'hic_main')]);
}, 300_000);
afterAll(() => {
  booted?.machine.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

describe('sdk_probe: the guest C library against the host one', () => {
  it('runs to its expected outcome', () => {
    expect(booted.deviations).toEqual([]);
    expect(native.status).toBe(0);
  });

  it('prints every line the native build prints, in order, partial lines joined and the last flushed at exit', () => {
    const guest = consoleOf(booted.kernel, 'sdk_probe').map((l) => l.text);
    expect(native.lines.length).toBeGreaterThan(100);
    expect(guest).toEqual(native.lines);
    expect(guest).toContain('partial line joined');
    expect(guest.at(-1)).toBe('done');
  });

  it('malloc ends at the quota with NULL and ENOMEM, and free merges everything back', () => {
    const heap = lastRecord(booted.kernel, 'sdk_probe', 'heap');
    expect(heap).toMatchObject({ refused: true, reused: true });
    // 512 KiB of quota: the image, the stack and the probe's earlier blocks take part of it.
    expect(Number(heap!.allocated)).toBeGreaterThan(128 * 1024);
    expect(Number(heap!.allocated)).toBeLessThan(512 * 1024);
  });
});
