// The Monitor's policy core (services/monitor/core/) on the host. The core is pure C with no I/O,
// clock or floating point, so it is compiled natively, with AddressSanitizer and UBSan where gcc
// has them, together with a C driver (tests/support/monitor-core/) that runs one scenario per case:
// the fixed-point baseline against exact arithmetic, the 3-sigma band at its edges, each row of the
// seed's §4.2 matrix just short of and just past its threshold, the §4.3 rules and §4.1 levels, the
// confidence score, operator confirmation, partial rollback, alert suppression, root-cause
// classification, and two healthy hours that raise nothing. Each check is a line of output. Then
// the core is compiled again with the guest flags: it must need nothing at all from outside and
// keep no state of its own (no data section), so the Monitor service links it as it is.

import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const execFileAsync = promisify(execFile);

const REPO = join(import.meta.dirname, '..');
const CORE = join(REPO, 'services', 'monitor', 'core');
const DRIVER = join(REPO, 'tests', 'support', 'monitor-core');

/** The driver's scenarios, in its order (main.c); the first case fails if the lists drift. */
const SCENARIOS = [
  'welford', 'band', 'min-band', 'detect-refusals', 'trend', 'cost',
  'row-crash-loop', 'row-error-rate', 'row-critical-function', 'row-performance', 'row-migration', 'row-leak',
  'rules-and-levels', 'score', 'confirm', 'partial', 'reason', 'decide-refusals',
  'alerts', 'silence', 'alert-refusals', 'classify', 'healthy',
];

const ENV = { ...process.env, LC_ALL: 'C', ASAN_OPTIONS: 'detect_leaks=0' };

function cFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.c')).sort().map((f) => join(dir, f));
}

async function gcc(args: readonly string[]): Promise<void> {
  await execFileAsync('gcc', [...args], { env: ENV });
}

/** The sanitizers, when this gcc has their runtimes. */
function sanitizerFlags(dir: string): string[] {
  const flags = ['-fsanitize=address,undefined', '-fno-sanitize-recover=all'];
  const probe = join(dir, 'probe.c');
  writeFileSync(probe, 'int main(void) { return 0; }\n');
  return spawnSync('gcc', [...flags, probe, '-o', join(dir, 'probe')], { env: ENV }).status === 0 ? flags : [];
}

describe('monitor core, native with the C driver', () => {
  let dir = '';
  let driver = '';
  const run = (...args: string[]) => spawnSync(driver, args, { encoding: 'utf8', env: ENV });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'monitor-core-'));
    driver = join(dir, 'driver');
    const warnings = ['-std=c11', '-O1', '-g', '-Wall', '-Wextra', '-Werror'];
    await gcc([...warnings, ...sanitizerFlags(dir), `-I${CORE}`, ...cFiles(CORE), ...cFiles(DRIVER), '-lm', '-o', driver]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the driver runs exactly the scenarios listed here', () => {
    expect(run('--list').stdout.trim().split('\n')).toEqual(SCENARIOS);
  });

  it('an unknown scenario is a usage error, not a pass', () => {
    const r = run('no-such-scenario');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
  });

  it.each(SCENARIOS)('scenario %s: every check passes', (name) => {
    const r = run(name);
    const output = `${r.stdout}${r.stderr}`;
    expect(r.stdout.split('\n').filter((l) => l.startsWith('not ok')), output).toEqual([]);
    expect(r.status, output).toBe(0);
    expect(r.stdout, output).toMatch(/^ok - /m);
  });
});

describe('monitor core, freestanding', () => {
  // The guest compile flags of hicmod-toolchain/build.ts: no libc headers, no SSE, no red zone,
  // and no loop turned into a memset call.
  const guestFlags = () => [
    '-ffreestanding', '-fno-pic', '-mcmodel=large', '-mno-red-zone', '-mgeneral-regs-only',
    '-fno-builtin', '-fno-stack-protector', '-fno-common', '-fno-asynchronous-unwind-tables',
    '-fno-tree-loop-distribute-patterns', '-fno-reorder-blocks-and-partition',
    '-O2', '-std=c11', '-Wall', '-Wextra', '-Werror',
    '-nostdinc', '-isystem', execFileSync('gcc', ['-print-file-name=include'], { encoding: 'utf8' }).trim(),
  ];

  it('compiles with the guest flags, calls nothing outside itself and has no writable data', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'monitor-core-guest-'));
    try {
      const objects: string[] = [];
      for (const src of cFiles(CORE)) {
        const obj = join(dir, `${basename(src, '.c')}.o`);
        await gcc([...guestFlags(), '-c', src, '-o', obj]);
        objects.push(obj);
      }
      const core = join(dir, 'core.o');
      execFileSync('ld', ['-r', '-m', 'elf_x86_64', '-o', core, ...objects]);
      const undefinedSymbols = execFileSync('nm', ['-u', core], { encoding: 'utf8', env: ENV }).trim();
      expect(undefinedSymbols).toBe('');
      const sections = execFileSync('size', ['-A', core], { encoding: 'utf8', env: ENV });
      const sizeOf = (name: string) => Number(new RegExp(`^\\${name}\\s+(\\d+)`, 'm').exec(sections)?.[1] ?? 0);
      expect(sizeOf('.text')).toBeGreaterThan(0);
      expect(sizeOf('.data') + sizeOf('.bss')).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
