// The netstack's protocol core (services/netstack/core/) on the host. The core is pure C with no
// I/O, so it is compiled natively together with a C driver (tests/support/netstack-core/) that
// feeds it crafted frames and checks every frame it emits -- one scenario per case, each check a
// line of output. It is compiled twice, once per connection-record schema (NS_SCHEMA 1: netstack
// 1.2.0; 2: 1.3.0), every scenario runs in both, and a connection is handed from one binary to
// the other through a file. Then it is compiled again with the guest flags, to prove it stays
// freestanding.

import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const execFileAsync = promisify(execFile);

const REPO = join(import.meta.dirname, '..');
const CORE = join(REPO, 'services', 'netstack', 'core');
const DRIVER = join(REPO, 'tests', 'support', 'netstack-core');

/** The driver's scenarios, in its order (main.c); the first case fails if the lists drift. */
const SCENARIOS = [
  'arp', 'icmp', 'udp', 'bad-input', 'crc32', 'firewall',
  'handshake', 'data', 'dup-ooo', 'fin-passive', 'fin-active', 'rst', 'dupack-retransmit',
  'migrate', 'frozen', 'slots',
];
/** Scenarios that take a file and run across two binaries (t_handoff.c). */
const HANDOFF = ['handoff-export', 'handoff-import'];
const SCHEMAS = [1, 2] as const;

const ENV = { ...process.env, LC_ALL: 'C', ASAN_OPTIONS: 'detect_leaks=0' };

function cFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.c')).sort().map((f) => join(dir, f));
}

/** gcc beside the event loop: a sanitized build of the whole core takes seconds. */
async function gcc(args: readonly string[]): Promise<void> {
  await execFileAsync('gcc', [...args], { env: ENV });
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
  const drivers: Record<number, string> = {};
  const run = (schema: number, ...args: string[]) => spawnSync(drivers[schema]!, args, { encoding: 'utf8', env: ENV });
  const passes = (r: ReturnType<typeof run>) => {
    const output = `${r.stdout}${r.stderr}`;
    expect(r.stdout.split('\n').filter((l) => l.startsWith('not ok')), output).toEqual([]);
    expect(r.status, output).toBe(0);
    expect(r.stdout, output).toMatch(/^ok - /m);
    return r.stdout;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'netstack-core-'));
    const warnings = ['-std=c11', '-O1', '-g', '-Wall', '-Wextra', '-Werror'];
    const sanitizers = sanitizerFlags(dir);
    for (const schema of SCHEMAS) {
      drivers[schema] = join(dir, `driver-schema${schema}`);
      await gcc([...warnings, ...sanitizers, `-DNS_SCHEMA=${schema}`, `-I${CORE}`, ...cFiles(CORE), ...cFiles(DRIVER), '-o', drivers[schema]!]);
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the driver runs exactly the scenarios listed here', () => {
    expect(run(1, '--list').stdout.trim().split('\n')).toEqual([...SCENARIOS, ...HANDOFF]);
  });

  describe.each(SCHEMAS)('schema %i', (schema) => {
    it.each(SCENARIOS)('scenario %s: every check passes', (name) => {
      passes(run(schema, name));
    });
  });

  // A rolling update from 1.2.0 to 1.3.0 moves connections from schema 1 to schema 2; a rollback
  // would try the reverse, which a schema-1 build must refuse without changing anything.
  it.each([
    [1, 1, 'continues'], [1, 2, 'continues'], [2, 2, 'continues'], [2, 1, 'refused'],
  ] as const)('a schema-%i export imported by the schema-%i build: %s', (from, to, outcome) => {
    const file = join(dir, `record-${from}-${to}.bin`);
    passes(run(from, 'handoff-export', file));
    const out = passes(run(to, 'handoff-import', file));
    if (outcome === 'refused') {
      expect(out).toMatch(/^ok - refused: schema 2 into a schema-1 stack changes nothing$/m);
    } else {
      expect(out).toMatch(new RegExp(`^ok - schema ${from} -> ${to}: state, flags`, 'm'));
      expect(out).toMatch(/^ok - B's new data continues the byte stream/m);
    }
    if (from === 1 && to === 2) expect(out).toMatch(/^ok - fields schema 1 lacks get their defaults/m);
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

  it.each(SCHEMAS)('schema %i: compiles with the guest flags and needs nothing but memcpy, memset and memcmp', async (schema) => {
    const dir = mkdtempSync(join(tmpdir(), 'netstack-core-guest-'));
    try {
      const flags = [...guestFlags(), `-DNS_SCHEMA=${schema}`];
      const objects: string[] = [];
      for (const src of cFiles(CORE)) {
        const obj = join(dir, `${basename(src, '.c')}.o`);
        await gcc([...flags, '-c', src, '-o', obj]);
        objects.push(obj);
      }
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
