// A guest that prints without end: its console output is bounded by a rate limit in virtual time
// (core0/console-budget.ts), what it loses is counted, the event log can be kept bounded in memory
// while its hash still covers every event, and the sandbox beside it runs as if nothing happened.

import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CONSOLE_BURST_BYTES, CONSOLE_BYTES_PER_SECOND } from '../core0/console-budget.ts';
import { Kernel } from '../core0/kernel.ts';
import { UnicornMachine } from '../emulator/machine.ts';
import { assemble } from '../hicmod-toolchain/asm.ts';
import { rawServiceModule } from '../hicmod-toolchain/hicmod/raw.ts';
import { signModule } from '../hicmod-toolchain/hicmod/sign.ts';
import { makePki, type TestPki } from './support/pki.ts';

const NOW = Date.parse('2026-11-27T12:00:00Z');
const LINES = 20_000;
const LINE = 100;
let pki: TestPki;
let machine: UnicornMachine;

beforeAll(async () => {
  pki = await makePki('HIC Flood Test', { notBefore: new Date('2026-01-01T00:00:00Z') });
});
beforeEach(async () => {
  machine = await UnicornMachine.create({ memoryBytes: 16 << 20 });
});
afterEach(() => machine.dispose());

/** `flood` writes LINES lines of LINE bytes, then exits 0; `quiet` sleeps 1 ms ten times and exits 7. */
async function run(retain?: number): Promise<Kernel> {
  const k = new Kernel(machine, { trust: pki.trust, ...(retain ? { events: { retain } } : {}) });
  const module = (name: string, code: string, n: number) =>
    k.modules.verify(signModule(rawServiceModule({ name, version: '1.0.0', uuid: `11111111-2222-4333-8444-00000000000${n}`, capabilities: ['debug_log'] }, assemble(code)), pki.keys, NOW), name);
  const flood = `
    mov r12, ${LINES}
  again:
    lea rdi, [rip + text]
    mov esi, ${LINE}
    mov eax, 1
    syscall
    dec r12
    jnz again
    xor edi, edi
    mov eax, 4
    syscall
  text: .fill ${LINE}, 1, 0x41`;
  const quiet = `
    mov r12, 10
  again:
    mov edi, 1000000
    mov eax, 3
    syscall
    dec r12
    jnz again
    mov edi, 7
    mov eax, 4
    syscall`;
  k.spawn({ name: 'flood', quotaBytes: 1 << 20, stackBytes: 16384 }, module('flood', flood, 1));
  k.spawn({ name: 'quiet', quotaBytes: 1 << 20, stackBytes: 16384 }, module('quiet', quiet, 2));
  await k.run();
  return k;
}

describe('a guest that floods the console', () => {
  it('is held to its budget; the rest is counted, not kept; its neighbour exits as usual', async () => {
    const k = await run();
    const written = k.events.of('console').filter((e) => e.sandbox === 'flood');
    const bytes = written.reduce((n, e) => n + e.text.length, 0);
    const end = k.machine.clock.now;
    expect(bytes).toBeLessThanOrEqual(CONSOLE_BURST_BYTES + (end * CONSOLE_BYTES_PER_SECOND) / 1e9);
    const dropped = k.events.of('consoleDropped').filter((e) => e.sandbox === 'flood');
    const droppedLines = dropped.reduce((n, e) => n + e.lines, 0);
    expect(droppedLines).toBeGreaterThan(0);
    expect(written.length + droppedLines).toBe(LINES);
    expect(dropped.reduce((n, e) => n + e.bytes, 0)).toBe(droppedLines * LINE);
    expect(Object.fromEntries(k.events.of('exit').map((e) => [e.sandbox, e.status]))).toEqual({ flood: 0, quiet: 7 });
  });

  it("an event log kept to its latest 500 events hashes the same as one kept whole", async () => {
    const whole = await run();
    machine.dispose();
    machine = await UnicornMachine.create({ memoryBytes: 16 << 20 });
    const bounded = await run(500);
    expect(bounded.events.length).toBe(whole.events.length);
    expect(bounded.events.all.length).toBeLessThanOrEqual(500 + 1024);
    expect(bounded.events.all.length).toBeLessThan(whole.events.all.length);
    expect(bounded.events.hash()).toBe(whole.events.hash());
    expect(bounded.events.all.at(-1)).toEqual(whole.events.all.at(-1));
  });
});
