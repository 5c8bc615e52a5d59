// Assembles x86-64 (Intel syntax) with GNU as into raw .text bytes: the test suite's guest
// snippets and the benchmarks' guest loops. Position-independent code only; no relocations.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Assembles the file at `source` into `binPath` (the .text bytes), with `--defsym` values. */
export function assembleFile(source: string, binPath: string, defsyms: Record<string, number> = {}): void {
  const object = binPath.replace(/\.bin$/, '') + '.o';
  const defs = Object.entries(defsyms).flatMap(([k, v]) => ['--defsym', `${k}=${v}`]);
  execFileSync('as', ['--64', ...defs, '-o', object, source]);
  execFileSync('objcopy', ['-O', 'binary', '-j', '.text', object, binPath]);
}

/** Assembles a snippet given as text; `.intel_syntax noprefix` and `.text` are implied. */
export function assemble(source: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'hic-asm-'));
  try {
    writeFileSync(join(dir, 'a.s'), `.intel_syntax noprefix\n.text\n${source}\n`);
    assembleFile(join(dir, 'a.s'), join(dir, 'a.bin'));
    return new Uint8Array(readFileSync(join(dir, 'a.bin')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
