// The layers of the tree (docs/architecture.md), checked on every import: each layer imports only
// from the layers below it, and core0/ sees the machine only through its interfaces.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './support/boot.ts';

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(REPO, dir))) {
    const path = join(dir, name);
    if (statSync(join(REPO, path)).isDirectory()) out.push(...sources(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** Every relative import of a file, as a path from the repository root. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(REPO, file), 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]!);
  return specs.map((s) => relative(REPO, resolve(REPO, dirname(file), s)));
}

const LAYERS: Record<string, (target: string) => boolean> = {
  emulator: (t) => t.startsWith('emulator/'),
  core0: (t) => t.startsWith('core0/') || t === 'emulator/types.ts' || t === 'emulator/fault.ts',
  traffic: (t) => t.startsWith('traffic/') || t.startsWith('emulator/net/'),
  // The toolchain writes what the kernel reads: the module format and the guest ABI.
  'hicmod-toolchain': (t) => t.startsWith('hicmod-toolchain/') || t.startsWith('core0/module/') || t.startsWith('core0/abi/') || t.startsWith('emulator/'),
  system: (t) => !t.startsWith('cli/') && !t.startsWith('bench/') && !t.startsWith('tests/'),
  bench: (t) => !t.startsWith('cli/') && !t.startsWith('tests/'),
};

describe('layers', () => {
  for (const [layer, allowed] of Object.entries(LAYERS)) {
    it(`${layer}/ imports only from the layers below it`, () => {
      const files = sources(layer);
      expect(files.length).toBeGreaterThan(0);
      const wrong = files.flatMap((f) => importsOf(f).filter((t) => !allowed(t)).map((t) => `${f} → ${t}`));
      expect(wrong).toEqual([]);
    });
  }
});
