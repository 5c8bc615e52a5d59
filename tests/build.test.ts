// Tests for hicmod-toolchain/build.ts: every service builds into one relocatable x86-64 object
// the kernel loader can take (defined _start and hic_main, only R_X86_64_64 relocations, nothing
// left undefined), builds are reproducible and incremental, and compile errors are BuildErrors.
// A service of several files in subdirectories is linked into one object that loads and runs,
// and a change to any of its files -- or to the directory it is built from -- rebuilds it.

import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kernel } from '../core0/kernel.ts';
import { UnicornMachine } from '../emulator/machine.ts';
import { readSpec } from '../hicmod-toolchain/hicmod/spec.ts';
import { signModule } from '../hicmod-toolchain/hicmod/sign.ts';
import { BuildError, buildAll, buildService, listServices, type BuildResult } from '../hicmod-toolchain/build.ts';
import { builtWorkspace } from './support/boot.ts';
import { offThread } from './support/off-thread.ts';
import { EM_X86_64, ET, findGlobal, findSection, parseElf, R_X86_64, SHF, SHN, STT } from '../hicmod-toolchain/elf.ts';
import { linkModule } from '../hicmod-toolchain/link.ts';
import { makePki, type TestPki } from './support/pki.ts';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The part of elfy's output we compare against (elfy has no type declarations). */
interface ElfyFile {
  body: { sections: { name: string; size: number; off: number; link: number; info: number }[] };
}
const elfy = createRequire(import.meta.url)('elfy') as { parse(bytes: Buffer): ElfyFile };

const scratch = mkdtempSync(join(tmpdir(), 'hic-build-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let first: BuildResult[] = [];
beforeAll(async () => {
  first = await offThread<BuildResult[]>('hicmod-toolchain/build.ts', 'buildAll', repoRoot, { outDir: join(scratch, 'a'), quiet: true });
}, 300_000);

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
      // DWARF sections, which are not loaded, also have 32-bit offsets between themselves, and so
      // do the unwind tables of libgcc's helpers, which the link step does not load either).
      const loaded = elf.relocations.filter((r) => (elf.sections[r.target]!.flags & SHF.ALLOC) !== 0 && elf.sections[r.target]!.name !== '.eh_frame');
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

  it('is reproducible: the workspace\'s own build, made elsewhere, has identical bytes', () => {
    // build/services/, brought up to date as every test's workspace is, is a build of the same
    // sources in another directory: a second whole build here would only repeat it (it took a
    // tenth of the suite's CPU).
    builtWorkspace();
    for (const r of first) {
      const own = join(repoRoot, 'build', 'services', `${r.name}.o`);
      expect(Buffer.compare(readFileSync(own), readFileSync(r.object)), r.name).toBe(0);
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
    writeFileSync(join(root, 'services', 'broken', 'broken.c'), '#include "hic/runtime.h"\nint hic_main(void) { return undeclared; }\n');
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

  it('takes the guest C library\'s headers, never the host\'s, and names a header a guest does not have', () => {
    mkdirSync(join(root, 'services', 'libc'));
    writeFileSync(join(root, 'services', 'libc', 'libc.c'), '#include <stdio.h>\n#include <string.h>\nint hic_main(void) { return printf("%zu", strlen("x")) < 0; }\n');
    expect(buildService(root, 'libc', { outDir: out }).rebuilt).toBe(true);
    writeFileSync(join(root, 'services', 'libc', 'libc.c'), '#include <unistd.h>\nint hic_main(void) { return 0; }\n');
    expect(() => buildService(root, 'libc', { outDir: out })).toThrow(/unistd\.h is not one of the headers a HIC guest has .*docs\/guest-sdk\.md lists them/);
  }, 60_000);

  it('names an unknown service', () => {
    expect(() => buildService(root, 'nosuch', { outDir: out })).toThrow(expect.objectContaining({ code: 'BUILD_UNKNOWN_SERVICE' }));
  });
});

describe('a service of several files in subdirectories', () => {
  // Its own scratch copy of services/, with a fixture service whose parts reach each other across
  // files: a call, a table, a string and a function pointer in initialised data (a relocation in
  // one object against a symbol of another), a static of the same name in two files, and a macro
  // from module.json's defines that every file must see alike.
  const root = join(scratch, 'multi-repo');
  const out = join(scratch, 'multi-out');
  const dir = join(root, 'services', 'multi');
  const write = (file: string, text: string) => {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  };
  const spec = (fields: object) => JSON.stringify({ version: '1.0.0', uuid: '0b7c2f4e-5a6d-4e8f-9a1b-2c3d4e5f6a7b', kind: 'service', capabilities: ['debug_log'], ...fields });
  let pki: TestPki;

  /** Builds, links, signs and runs one service of the scratch tree; its exit status and console. */
  async function run(name: string): Promise<{ status: number | undefined; console: string[] }> {
    const { object } = buildService(root, name, { outDir: out });
    const content = linkModule({ meta: readSpec(root, name).meta, elf: new Uint8Array(readFileSync(object)), exports: [], provider: () => undefined });
    const machine = await UnicornMachine.create({ memoryBytes: 16 << 20 });
    try {
      const k = new Kernel(machine, { trust: pki.trust });
      k.spawn({ name, quotaBytes: 1 << 20, stackBytes: 65536 }, k.modules.verify(signModule(content, pki.keys, Date.parse('2026-11-27T12:00:00Z')), name));
      expect(await k.run()).toBe('idle');
      return { status: k.events.of('exit')[0]?.status, console: k.events.of('console').map((e) => e.text) };
    } finally {
      machine.dispose();
    }
  }

  beforeAll(async () => {
    pki = await makePki('HIC Build Test', { notBefore: new Date('2026-01-01T00:00:00Z') });
    cpSync(join(repoRoot, 'services', 'include'), join(root, 'services', 'include'), { recursive: true });
    cpSync(join(repoRoot, 'services', 'runtime'), join(root, 'services', 'runtime'), { recursive: true });
    write('services/multi/module.json', spec({ name: 'multi', defines: { MULTI_SCALE: 3 } }));
    write('services/multi/multi.c', [
      '#include "hic/runtime.h"', '#include "parts/parts.h"',
      'static int helper(void) { return 1; }',
      'int hic_main(void) {',
      '  hic_log("multi: %s %d %d", parts_name, parts_apply(parts_sum(3)) + helper(), parts_scale());',
      '  return parts_sum(3) * MULTI_SCALE;', '}', '',
    ].join('\n'));
    write('services/multi/parts/parts.h', [
      'extern const char parts_name[];', 'extern const int parts_table[];', 'extern int (*const parts_op)(int);',
      'int parts_sum(int n);', 'int parts_twice(int x);', 'int parts_scale(void);',
      'static inline int parts_apply(int x) { return parts_op(x); }', '',
    ].join('\n'));
    write('services/multi/parts/sum.c', [
      '#include "parts.h"',
      'static int helper(void) { return 10; }',
      'int parts_sum(int n) { int s = 0; for (int i = 0; i < n; i++) s += parts_table[i]; return s + helper(); }',
      'int parts_twice(int x) { return 2 * x; }', 'int parts_scale(void) { return MULTI_SCALE; }', '',
    ].join('\n'));
    write('services/multi/parts/deeper/table.c', [
      '#include "../parts.h"',
      'const char parts_name[] = "deep";', 'const int parts_table[] = {1, 2, 3, 4};', 'int (*const parts_op)(int) = parts_twice;', '',
    ].join('\n'));
  });

  it('is one object the loader takes, and it runs: calls, data and pointers cross the files', async () => {
    expect(listServices(root)).toContain('multi');
    const first = buildService(root, 'multi', { outDir: out });
    expect(first.rebuilt).toBe(true);
    const elf = parseElf(readFileSync(first.object));
    for (const sym of ['hic_main', 'parts_sum', 'parts_twice', 'parts_table', 'parts_name', 'parts_op']) expect(findGlobal(elf, sym), sym).toBeDefined();
    expect(elf.symbols.filter((s) => s.index > 0 && s.shndx === SHN.UNDEF)).toEqual([]);
    expect(new Set(elf.relocations.filter((r) => elf.sections[r.target]!.flags & SHF.ALLOC).map((r) => r.type))).toEqual(new Set([R_X86_64._64]));
    // 1 + 2 + 3 + 10 (sum.c's helper) = 16; twice that + 1 (multi.c's helper) = 33; 16 * MULTI_SCALE = 48.
    expect(await run('multi')).toEqual({ status: 48, console: ['multi: deep 33 3'] });
  }, 60_000);

  it('is reproducible: the same sources give the same bytes', () => {
    const again = buildService(root, 'multi', { outDir: join(scratch, 'multi-out-2') });
    expect(Buffer.compare(readFileSync(again.object), readFileSync(join(out, 'multi.o')))).toBe(0);
  }, 60_000);

  it('rebuilds when a file in a subdirectory changes, a source or a header, and only then', async () => {
    expect(buildService(root, 'multi', { outDir: out }).rebuilt).toBe(false);
    write('services/multi/parts/deeper/table.c', readFileSync(join(dir, 'parts', 'deeper', 'table.c'), 'utf8').replace('{1, 2, 3, 4}', '{4, 2, 3, 4}'));
    expect(buildService(root, 'multi', { outDir: out }).rebuilt).toBe(true);
    expect(buildService(root, 'multi', { outDir: out }).rebuilt).toBe(false);
    expect((await run('multi')).status).toBe((4 + 2 + 3 + 10) * 3);
    write('services/multi/parts/parts.h', readFileSync(join(dir, 'parts', 'parts.h'), 'utf8') + '/* touched by a test */\n');
    expect(buildService(root, 'multi', { outDir: out }).rebuilt).toBe(true);
    write('services/multi/parts/notes.txt', 'not a source, still part of the directory\n');
    expect(buildService(root, 'multi', { outDir: out }).rebuilt).toBe(true);
  }, 60_000);

  it('buildFrom: a second module built from its directory, with its own identity and defines, rebuilt when that directory changes', async () => {
    write('services/multi_next/module.json', spec({ name: 'multi', version: '1.1.0', buildFrom: 'multi', defines: { MULTI_SCALE: 5 } }));
    expect(listServices(root)).toContain('multi_next');
    expect(buildService(root, 'multi_next', { outDir: out }).rebuilt).toBe(true);
    expect(buildService(root, 'multi_next', { outDir: out }).rebuilt).toBe(false);
    expect(await run('multi_next')).toEqual({ status: (4 + 2 + 3 + 10) * 5, console: ['multi: deep 39 5'] });
    write('services/multi/parts/sum.c', readFileSync(join(dir, 'parts', 'sum.c'), 'utf8') + '/* touched by a test */\n');
    expect(buildService(root, 'multi_next', { outDir: out }).rebuilt).toBe(true);
  }, 60_000);

  it('rebuilds a service when a file it includes from another service directory changes', () => {
    write('services/includer/module.json', spec({ name: 'includer', uuid: '1b7c2f4e-5a6d-4e8f-9a1b-2c3d4e5f6a7b' }));
    write('services/includer/sub/includer.c', '#include "hic/runtime.h"\n#include "../../multi/parts/parts.h"\nint hic_main(void) { return 0; }\n');
    expect(buildService(root, 'includer', { outDir: out }).rebuilt).toBe(true);
    expect(buildService(root, 'includer', { outDir: out }).rebuilt).toBe(false);
    write('services/multi/parts/parts.h', readFileSync(join(dir, 'parts', 'parts.h'), 'utf8') + '/* touched again */\n');
    expect(buildService(root, 'includer', { outDir: out }).rebuilt).toBe(true);
  }, 60_000);

  it('refuses a buildFrom that names no service with sources, or a directory that has sources of its own', () => {
    write('services/nowhere/module.json', spec({ name: 'nowhere', buildFrom: 'nosuch' }));
    expect(() => buildService(root, 'nowhere', { outDir: out })).toThrow(expect.objectContaining({ code: 'BUILD_UNKNOWN_SERVICE' }));
    write('services/both/module.json', spec({ name: 'both', buildFrom: 'multi' }));
    write('services/both/both.c', 'int hic_main(void) { return 0; }\n');
    expect(() => buildService(root, 'both', { outDir: out })).toThrow(/services\/both\/both\.c is here too/);
  });

  it('refuses defines that are not integers or that take the build\'s own HIC_ prefix, naming the field', () => {
    write('services/badflags/module.json', spec({ name: 'badflags', defines: { HIC_MODULE_NAME: 1 } }));
    write('services/badflags/badflags.c', 'int hic_main(void) { return 0; }\n');
    expect(() => buildService(root, 'badflags', { outDir: out })).toThrow(/defines\.HIC_MODULE_NAME/);
    write('services/badflags/module.json', spec({ name: 'badflags', defines: { SIZE: '16' } }));
    expect(() => buildService(root, 'badflags', { outDir: out })).toThrow(/defines\.SIZE: expected an integer/);
  });
});
