// The guest SDK's build settings and the build's error messages (docs/guest-sdk.md), in a scratch
// copy of services/: module.json's cflags, include, sources, werror and sse, each used once right
// and refused several ways with the field named; the settings recorded in the signed metadata
// (and absent for a module built the default way); and the errors a porter meets, each with its
// true cause: thread-local storage, a 32-bit absolute address, a function no library has, an image
// larger than module.json's memory, a header a guest does not have.

import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeModule } from '../core0/module/format.ts';
import { buildService } from '../hicmod-toolchain/build.ts';
import { buildModule } from '../hicmod-toolchain/hicmod/module-build.ts';
import { parseSpec } from '../hicmod-toolchain/hicmod/spec.ts';

const REPO = join(import.meta.dirname, '..');
const scratch = mkdtempSync(join(tmpdir(), 'hic-sdk-build-'));
const root = join(scratch, 'repo');
const out = join(scratch, 'out');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const write = (file: string, text: string) => {
  mkdirSync(dirname(join(root, file)), { recursive: true });
  writeFileSync(join(root, file), text);
};
let uuid = 0;
/** A service of one or more files; module.json gets the given fields. */
function service(name: string, fields: object, files: Record<string, string>): void {
  const id = (++uuid).toString(16).padStart(12, '0');
  write(`services/${name}/module.json`, JSON.stringify({ name, version: '1.0.0', uuid: `0b7c2f4e-5a6d-4e8f-9a1b-${id}`, kind: 'service', memory: 262144, capabilities: ['debug_log'], ...fields }));
  for (const [file, text] of Object.entries(files)) write(`services/${name}/${file}`, text);
}
const spec = (fields: object) => () => parseSpec('services/x/module.json', JSON.stringify({ name: 'x', version: '1.0.0', uuid: '0b7c2f4e-5a6d-4e8f-9a1b-2c3d4e5f6a7b', kind: 'service', ...fields }));

beforeAll(() => {
  for (const d of ['include', 'runtime', 'hello', 'ipc_lib']) cpSync(join(REPO, 'services', d), join(root, 'services', d), { recursive: true });
});

describe('module.json build settings', () => {
  it.each([
    ['-fPIC', 'modules need -mcmodel=large and absolute relocations'],
    ['-mcmodel=small', 'modules need -mcmodel=large'],
    ['-I/usr/include', 'use "include" for directories inside the service'],
    ['-DX=1', 'use "defines"'],
    ['-msse4.2', 'use "sse"; the guest CPU is baseline x86-64'],
    ['-march=native', 'use "sse"; the guest CPU is baseline x86-64'],
    ['-fstack-protector-strong', 'it needs run-time support a sandbox does not have'],
    ['-ftls-model=local-exec', 'thread-local storage is not supported'],
    ['-g0', "debug information is the build's own"],
    ['-lm', 'the build links'],
    ['-Wno-error', 'use "werror"'],
  ])('refuses the cflag %s: %s', (flag, why) => {
    expect(spec({ cflags: ['-O3', flag] })).toThrow(`services/x/module.json: cflags[1]: ${flag} is not allowed: ${why}`);
  });

  it('refuses malformed settings, naming the field', () => {
    expect(spec({ cflags: ['O2'] })).toThrow(`cflags[0]: expected one gcc flag starting with '-', got "O2"`);
    expect(spec({ cflags: '-O2' })).toThrow('cflags: expected a list of strings');
    expect(spec({ include: ['../other'] })).toThrow('include[0]: expected a relative path inside the service directory');
    expect(spec({ sources: ['/etc'] })).toThrow('sources[0]: expected a relative path inside the service directory');
    expect(spec({ werror: 'no' })).toThrow('werror: expected true or false, got "no"');
    expect(spec({ sse: 1 })).toThrow('sse: expected true or false, got 1');
  });

  it('werror: a warning stops the build by default, and is only printed with werror false', () => {
    const code = '#include <stdio.h>\nint hic_main(void) { int unused = 1; return 0; }\n';
    service('warned', {}, { 'warned.c': code });
    expect(() => buildService(root, 'warned', { outDir: out })).toThrow(/unused variable 'unused' \[-Werror=unused-variable\]/);
    service('warned', { werror: false }, { 'warned.c': code });
    expect(buildService(root, 'warned', { outDir: out }).rebuilt).toBe(true);
  }, 60_000);

  it('sources, include and defines: only the files named are built, headers found, macros set', () => {
    service('picked', { sources: ['lib/used.c', 'main.c'], include: ['api'], defines: { ANSWER: 42 }, cflags: ['-O1'] }, {
      'lib/used.c': '#include "api.h"\nint used(void) { return ANSWER; }\n',
      'lib/broken.c': 'this is not C\n',
      'api/api.h': 'int used(void);\n',
      'main.c': '#include "api.h"\nint hic_main(void) { return used(); }\n',
    });
    const built = buildModule(root, 'picked', { outDir: out });
    expect(built.content.meta.build).toEqual(['define ANSWER=42', 'cflag -O1', 'include api', 'source lib/used.c', 'source main.c']);
    // Recorded in the signed metadata: the decoder gives them back.
    expect(decodeModule(built.unsigned).meta.build).toEqual(built.content.meta.build);
    service('picked', { sources: ['lib/missing.c'] }, {});
    expect(() => buildService(root, 'picked', { outDir: out })).toThrow('services/picked/module.json: sources[0]: services/picked/lib/missing.c does not exist');
    service('picked', { sources: ['api'] }, {});
    expect(() => buildService(root, 'picked', { outDir: out })).toThrow('sources[0]: services/picked/api is no .c file and no directory holding one');
    service('picked', { include: ['nowhere'] }, {});
    expect(() => buildService(root, 'picked', { outDir: out })).toThrow('services/picked/module.json: include[0]: services/picked/nowhere is not a directory');
  }, 60_000);

  it('a module built the default way records nothing, so its bytes do not change', () => {
    const hello = buildModule(root, 'hello', { outDir: out });
    expect(hello.content.meta.build).toBeUndefined();
    expect(decodeModule(hello.unsigned).meta).not.toHaveProperty('build');
  }, 60_000);
});

describe('what a porter meets, with the true cause', () => {
  const linkError = (name: string, fields: object, code: string) => {
    service(name, fields, { [`${name}.c`]: code });
    return () => buildModule(root, name, { outDir: out });
  };

  it('thread-local storage: named as such, with the relocation by name', () => {
    const build = linkError('tls', {}, '_Thread_local int counter;\nint hic_main(void) { return ++counter; }\n');
    expect(build).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_RELOCATION' }));
    expect(build).toThrow(/R_X86_64_TPOFF32 \(23\) at \.text\+0x[0-9a-f]+ against 'counter': thread-local storage \(_Thread_local, __thread\) is not supported in a sandbox/);
  }, 60_000);

  it('a 32-bit absolute address (from assembly): named, and what is supported said', () => {
    const build = linkError('abs32', {}, 'int table[4];\nint hic_main(void) { int v; __asm__("movl $table, %0" : "=r"(v)); return v; }\n');
    expect(build).toThrow(/R_X86_64_32 \(10\) at \.text\+0x[0-9a-f]+ against 'table': only 64-bit absolute addresses \(R_X86_64_64, from -mcmodel=large\) and 32-bit PC-relative references inside the module are supported/);
  }, 60_000);

  it('a function neither the C library, libgcc nor a dependency has: says where it looked', () => {
    const build = linkError('needsfile', {}, 'void *fopen(const char *, const char *);\nint hic_main(void) { return fopen("x", "r") != 0; }\n');
    expect(build).toThrow(/needs 'fopen', which neither the service, the HIC C library, libgcc nor a dependency \(none\) defines: docs\/guest-sdk\.md lists what the HIC C library has/);
  }, 60_000);

  it('libgcc is linked: __int128 division and a popcount build and need nothing more', () => {
    const built = linkError('helpers', {}, 'unsigned __int128 n = 1000;\nint hic_main(void) { return (int)(n / 7) + __builtin_popcountll((unsigned long long)n); }\n')();
    expect(built.content.imports).toEqual([]);
  }, 60_000);

  it('an image larger than module.json\'s memory: both sizes named', () => {
    const build = linkError('toobig', { memory: 65536 }, 'char big[128 * 1024] = {1};\nint hic_main(void) { return big[0]; }\n');
    expect(build).toThrow(expect.objectContaining({ code: 'BUILD_MEMORY_EXCEEDED' }));
    expect(build).toThrow(/services\/toobig\/module\.json: memory: 65536 bytes \(64 KiB\) is less than the \d+ bytes \([\d.]+ KiB\) the module needs before its stack: an image of [\d.]+ KiB \(text [\d.]+ KiB, rodata [\d.]+ KiB, data 128 KiB, bss [\d.]+ KiB\), a guard page and at least one stack page/);
  }, 60_000);
});
