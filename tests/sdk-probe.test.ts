// The guest C library inside a real sandbox: images/sdk-probe.himg runs services/sdk_probe, an
// ordinary C program over <stdio.h>, <string.h>, <stdlib.h>, <ctype.h> and libgcc, and the same
// program built natively against the host's C library prints what the guest must print, line for
// line (tests/support/native-service.ts). Then the guest-only part: malloc up to the quota, read
// from its typed record. And a recursion without end, stopped by the stack's guard page and
// reported as the stack overflow it is, with the stack's bounds.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderEvent } from '../cli/render.ts';
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

describe('a stack overflow', () => {
  it('is named as one, with the stack\'s bounds, when the guard page stops it; other faults carry no stack', async () => {
    const image = {
      'hic-image': 1, name: 'overflow', machine: { memory: '16MiB' },
      sandboxes: [{ name: 'deep', module: 'sdk_probe', quota: '256KiB', stack: '16KiB', config: { mode: 'overflow' } }],
      run: { until: '1s' },
    };
    const run = await bootImage({ label: 'overflow.himg', image });
    try {
      const faults = run.kernel.events.of('fault');
      expect(faults).toHaveLength(1);
      const f = faults[0]!;
      const started = run.kernel.events.of('threadStarted')[0]!;
      // The stack is 16 KiB; the guard page is the one below it; rsp started 8 below its top.
      expect(f.stack).toEqual({ base: started.stackTop + 8 - 16384, top: started.stackTop + 8 });
      expect(f.fault.kind).toBe('writeUnmapped');
      expect(f.fault.address).toBeGreaterThanOrEqual(f.stack!.base - 4096);
      expect(f.fault.address).toBeLessThan(f.stack!.base);
      expect(renderEvent(f)).toContain(`STACK OVERFLOW: writeUnmapped address 0x${f.fault.address.toString(16)}`);
      expect(renderEvent(f)).toContain(`in the guard page below its stack [0x${f.stack!.base.toString(16)}, 0x${f.stack!.top.toString(16)}) of 16 KiB`);
    } finally {
      run.machine.dispose();
    }
    // The probe's own run faulted nowhere; a fault elsewhere (isolation.test.ts's rogue guests) has no stack field.
    expect(booted.kernel.events.of('fault')).toEqual([]);
  }, 120_000);
});
