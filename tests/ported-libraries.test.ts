// Two outside C libraries, sources and headers unchanged, as HIC services (services/blake2,
// services/aes; where each came from is in their README.md): each image's expected outcome is
// that the library's own test passes every published vector (exit 0), and each guest's console
// is what the same files built natively with the host's gcc and C library print.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootImage, type Booted } from './support/boot.ts';
import { consoleOf } from './support/kernel.ts';
import { runNative, type NativeRun } from './support/native-service.ts';

const scratch = mkdtempSync(join(tmpdir(), 'hic-ported-'));
const boots: Record<string, Booted> = {};
const natives: Record<string, NativeRun> = {};

beforeAll(async () => {
  const [blake2, aes, b, s, a] = await Promise.all([
    bootImage('blake2'),
    bootImage('aes'),
    runNative('blake2', scratch, 'main'),
    runNative('blake2s', scratch, 'main'),
    runNative('aes', scratch, 'main'),
  ]);
  Object.assign(boots, { blake2, aes });
  Object.assign(natives, { blake2b: b, blake2s: s, aes: a });
}, 600_000);
afterAll(() => {
  for (const b of Object.values(boots)) b.machine.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

describe('BLAKE2 reference implementation (images/blake2.himg)', () => {
  it('passes every known answer of its own self-test, in BLAKE2b and in BLAKE2s', () => {
    expect(boots.blake2!.deviations).toEqual([]);
    expect(boots.blake2!.kernel.events.of('exit').map((e) => [e.sandbox, e.status]).sort()).toEqual([['blake2b', 0], ['blake2s', 0]]);
  });

  it('prints what the same files print natively', () => {
    for (const variant of ['blake2b', 'blake2s']) {
      expect(natives[variant]!.status, variant).toBe(0);
      expect(natives[variant]!.lines, variant).toEqual(['ok']);
      expect(consoleOf(boots.blake2!.kernel, variant).map((l) => l.text), variant).toEqual(natives[variant]!.lines);
    }
  });
});

describe("gnulib's Rijndael (images/aes.himg)", () => {
  it("passes gnulib's test: 10,000 chained AES-128 blocks each way, the published result", () => {
    expect(boots.aes!.deviations).toEqual([]);
    expect(boots.aes!.kernel.events.of('exit')).toEqual([expect.objectContaining({ sandbox: 'aes', status: 0 })]);
  });

  it('prints what the same files print natively (nothing, when every block matches)', () => {
    expect(natives.aes!.status).toBe(0);
    expect(consoleOf(boots.aes!.kernel, 'aes').map((l) => l.text)).toEqual(natives.aes!.lines);
  });
});
