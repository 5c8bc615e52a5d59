// Tests for hicmod-toolchain/build.ts: every service builds into one relocatable x86-64 object
// the kernel loader can take (defined _start and hic_main, only R_X86_64_64 relocations, nothing
// left undefined), builds are reproducible and incremental, and compile errors are BuildErrors.

import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSpec } from '../hicmod-toolchain/hicmod/spec.ts';
import { BuildError, buildAll, buildService, listServices, type BuildResult } from '../hicmod-toolchain/build.ts';
import { EM_X86_64, ET, findGlobal, findSection, parseElf, R_X86_64, SHF, SHN, STT } from '../hicmod-toolchain/elf.ts';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The part of elfy's output we compare against (elfy has no type declarations). */
interface ElfyFile {
  body: { sections: { name: string; size: number; off: number; link: number; info: number }[] };
}
const elfy = createRequire(import.meta.url)('elfy') as { parse(bytes: Buffer): ElfyFile };

const scratch = mkdtempSync(join(tmpdir(), 'hic-build-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let first: BuildResult[] = [];
beforeAll(() => {
  first = buildAll(repoRoot, { outDir: join(scratch, 'a'), quiet: true });
}, 120_000);

describe('buildAll', () => {
  it('builds every service directory, template included, and not runtime or include', () => {
    const names = first.map((r) => r.name);
    expect(names).toEqual(listServices(repoRoot));
    expect(names).toEqual(expect.arrayContaining(['hello', 'rogue', 'template']));
    expect(names).not.toContain('runtime');
    expect(names).not.toContain('include');
    expect(first.every((r) => r.rebuilt)).toBe(true);
  });

  it('produces objects the loader can take', () => {
    for (const { name, object } of first) {
      const elf = parseElf(readFileSync(object));
      expect(elf.header.type, name).toBe(ET.REL);
      expect(elf.header.machine, name).toBe(EM_X86_64);
      const spec = readSpec(repoRoot, name);
      if (spec.meta.kind === 'library') {
        // A library is its own code only: no runtime, no entry, nothing undefined.
        expect(findGlobal(elf, '_start'), name).toBeUndefined();
        expect(elf.symbols.filter((s) => s.index > 0 && s.shndx === SHN.UNDEF), name).toEqual([]);
        for (const e of spec.exports) expect(findGlobal(elf, e), `${name}: ${e}`).toBeDefined();
        continue;
      }

      for (const sym of ['_start', 'hic_main']) {
        const s = findGlobal(elf, sym);
        expect(s, `${name}: ${sym}`).toBeDefined();
        expect(s!.type, `${name}: ${sym}`).toBe(STT.FUNC);
      }
      // _start is the first code of the image: offset 0 of .text.
      const start = findGlobal(elf, '_start')!;
      expect(elf.sections[start.shndx]!.name, name).toBe('.text');
      expect(start.value, name).toBe(0n);

      // -mcmodel=large: every relocation of loaded code and data is an absolute 64-bit one (the
      // DWARF sections, which are not loaded, also have 32-bit offsets between themselves).
      const loaded = elf.relocations.filter((r) => (elf.sections[r.target]!.flags & SHF.ALLOC) !== 0);
      expect(loaded.length, name).toBeGreaterThan(0);
      const types = new Set(loaded.map((r) => r.type));
      expect([...types], name).toEqual([R_X86_64._64]);

      // The runtime is linked in, so only symbols of the libraries the service depends on stay
      // undefined — they become imports.
      const libraryExports = spec.meta.dependencies.flatMap((d) => readSpec(repoRoot, d.name).exports);
      const undefinedSymbols = elf.symbols.filter((s) => s.index > 0 && s.shndx === SHN.UNDEF).map((s) => s.name);
      expect(undefinedSymbols.filter((u) => !libraryExports.includes(u)), name).toEqual([]);
      expect(findSection(elf, '.text')!.size, name).toBeGreaterThan(0);
    }
  });

  it('agrees with the elfy package on section names, sizes, offsets and links', () => {
    for (const { name, object } of first) {
      const bytes = readFileSync(object);
      const ours = parseElf(bytes).sections.map((s) => ({ name: s.name, size: s.size, off: s.offset, link: s.link, info: s.info }));
      const theirs = elfy.parse(bytes).body.sections.map((s) => ({ name: s.name, size: s.size, off: s.off, link: s.link, info: s.info }));
      expect(ours, name).toEqual(theirs);
    }
  });

  it('is reproducible: a fresh build elsewhere gives identical bytes', () => {
    const second = buildAll(repoRoot, { outDir: join(scratch, 'b'), quiet: true });
    expect(second.map((r) => r.name)).toEqual(first.map((r) => r.name));
    for (const [i, r] of second.entries()) {
      expect(r.rebuilt).toBe(true);
      expect(Buffer.compare(readFileSync(r.object), readFileSync(first[i]!.object)), r.name).toBe(0);
    }
  });

  it('skips a service whose stamp matches, and rebuilds it when forced', () => {
    const before = first.map((r) => statSync(r.object).mtimeMs);
    const again = buildAll(repoRoot, { outDir: join(scratch, 'a'), quiet: true });
    expect(again.map((r) => r.rebuilt)).toEqual(first.map(() => false));
    expect(again.map((r) => statSync(r.object).mtimeMs)).toEqual(before);

    const forced = buildService(repoRoot, 'hello', { outDir: join(scratch, 'a'), force: true });
    expect(forced.rebuilt).toBe(true);
  });
});

describe('buildService in a scratch copy of services/', () => {
  // A private copy, so these tests can edit and break sources without touching the tree.
  const root = join(scratch, 'repo');
  const out = join(scratch, 'repo-out');
  beforeAll(() => cpSync(join(repoRoot, 'services'), join(root, 'services'), { recursive: true }));

  it('rebuilds when a shared header changes, and only then', () => {
    expect(buildService(root, 'template', { outDir: out }).rebuilt).toBe(true);
    expect(buildService(root, 'template', { outDir: out }).rebuilt).toBe(false);
    const header = join(root, 'services', 'include', 'hic', 'runtime.h');
    writeFileSync(header, readFileSync(header, 'utf8') + '\n/* touched by a test */\n');
    expect(buildService(root, 'template', { outDir: out }).rebuilt).toBe(true);
    expect(buildService(root, 'template', { outDir: out }).rebuilt).toBe(false);
  }, 60_000);

  it('reports a compile error as BUILD_FAILED with the service name and gcc output', () => {
    mkdirSync(join(root, 'services', 'broken'));
    writeFileSync(join(root, 'services', 'broken', 'broken.c'), '#include "hic/runtime.h"\nint hic_main(uint64_t arg) { return undeclared; }\n');
    let error: unknown;
    try {
      buildService(root, 'broken', { outDir: out });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BuildError);
    const be = error as BuildError;
    expect(be.code).toBe('BUILD_FAILED');
    expect(be.message).toContain("service 'broken'");
    expect(be.message).toContain('services/broken/broken.c');
    expect(be.message).toContain("error: 'undeclared' undeclared");
  }, 60_000);

  it('refuses libc headers: only the freestanding ones are on the include path', () => {
    mkdirSync(join(root, 'services', 'libc'));
    writeFileSync(join(root, 'services', 'libc', 'libc.c'), '#include <stdio.h>\nint hic_main(unsigned long arg) { return (int)arg; }\n');
    expect(() => buildService(root, 'libc', { outDir: out })).toThrow(/stdio\.h/);
  }, 60_000);

  it('names an unknown service', () => {
    expect(() => buildService(root, 'nosuch', { outDir: out })).toThrow(expect.objectContaining({ code: 'BUILD_UNKNOWN_SERVICE' }));
  });
});
