// The netstack's protocol core (services/netstack/core/) on the host. The core is pure C with no
// I/O, so it is compiled natively together with a C driver (tests/support/netstack-core/) that
// feeds it crafted frames and checks every frame it emits -- one scenario per case, each check a
// line of output. Then it is compiled again with the guest flags, to prove it stays freestanding.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '..');
const CORE = join(REPO, 'services', 'netstack', 'core');
const DRIVER = join(REPO, 'tests', 'support', 'netstack-core');

/** The driver's scenarios, in its order (main.c); the first case fails if the lists drift. */
const SCENARIOS = [
  'arp', 'icmp', 'udp', 'bad-input', 'crc32',
  'handshake', 'data', 'dup-ooo', 'fin-passive', 'fin-active', 'rst', 'dupack-retransmit',
  'migrate', 'frozen',
];

const ENV = { ...process.env, LC_ALL: 'C', ASAN_OPTIONS: 'detect_leaks=0' };

function cFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.c')).sort().map((f) => join(dir, f));
}

function gcc(args: readonly string[]): void {
  execFileSync('gcc', args, { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** AddressSanitizer and UBSan see what the checks cannot (a read past a buffer, an overflow);
 * used when this gcc has their runtimes. */
function sanitizerFlags(dir: string): string[] {
  const flags = ['-fsanitize=address,undefined', '-fno-sanitize-recover=all'];
  const probe = join(dir, 'probe.c');
  writeFileSync(probe, 'int main(void) { return 0; }\n');
  return spawnSync('gcc', [...flags, probe, '-o', join(dir, 'probe')], { env: ENV }).status === 0 ? flags : [];
}

describe('netstack core, native with the C driver', () => {
  let dir = '';
  let driver = '';
  const run = (arg: string) => spawnSync(driver, [arg], { encoding: 'utf8', env: ENV });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'netstack-core-'));
    driver = join(dir, 'driver');
    const warnings = ['-std=c11', '-O1', '-g', '-Wall', '-Wextra', '-Werror'];
    gcc([...warnings, ...sanitizerFlags(dir), `-I${CORE}`, ...cFiles(CORE), ...cFiles(DRIVER), '-o', driver]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the driver runs exactly the scenarios listed here', () => {
    expect(run('--list').stdout.trim().split('\n')).toEqual(SCENARIOS);
  });

  it.each(SCENARIOS)('scenario %s: every check passes', (name) => {
    const r = run(name);
    const output = `${r.stdout}${r.stderr}`;
    expect(r.stdout.split('\n').filter((l) => l.startsWith('not ok')), output).toEqual([]);
    expect(r.status, output).toBe(0);
    expect(r.stdout, output).toMatch(/^ok - /m);
  });
});

describe('netstack core, freestanding', () => {
  // The guest compile flags (hicmod-toolchain/build.ts): no libc headers, no SSE, no red zone.
  const guestFlags = () => [
    '-ffreestanding', '-fno-pic', '-mcmodel=large', '-mno-red-zone', '-mgeneral-regs-only',
    '-fno-builtin', '-fno-stack-protector', '-fno-common', '-fno-asynchronous-unwind-tables',
    '-O2', '-std=c11', '-Wall', '-Wextra', '-Werror',
    '-nostdinc', '-isystem', execFileSync('gcc', ['-print-file-name=include'], { encoding: 'utf8' }).trim(),
  ];

  it('compiles with the guest flags and needs nothing but memcpy, memset and memcmp', () => {
    const dir = mkdtempSync(join(tmpdir(), 'netstack-core-guest-'));
    try {
      const flags = guestFlags();
      const objects = cFiles(CORE).map((src) => {
        const obj = join(dir, `${basename(src, '.c')}.o`);
        gcc([...flags, '-c', src, '-o', obj]);
        return obj;
      });
      const core = join(dir, 'core.o');
      execFileSync('ld', ['-r', '-m', 'elf_x86_64', '-o', core, ...objects]);
      const undefinedSymbols = execFileSync('nm', ['-u', core], { encoding: 'utf8', env: ENV })
        .split('\n')
        .map((line) => line.trim().split(/\s+/).pop() ?? '')
        .filter((sym) => sym !== '');
      expect(undefinedSymbols.filter((sym) => !['memcpy', 'memset', 'memcmp'].includes(sym))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
