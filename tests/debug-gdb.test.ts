// The gdb remote stub (`hic debug IMAGE --gdb :PORT`) with Debian's gdb as the client, in batch
// mode: gdb finds the modules and their symbols by itself, stops at a breakpoint in the guest
// netstack, unwinds its stack with the module's DWARF, reads registers and memory, steps forward
// and back, lists HIC's threads, asks HIC for a capability table, and stops at a hardware
// watchpoint on a field of the stack's counters — forwards and in reverse.

import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO } from './support/boot.ts';

/** Starts `hic debug IMAGE --gdb :0`, runs gdb against it, returns gdb's output and hic's. */
async function withGdb(image: string, gdbCommands: string[]): Promise<{ gdb: string; hic: string; exit: number | null }> {
  const dir = mkdtempSync(join(tmpdir(), 'hic-gdb-'));
  const empty = join(dir, 'none');
  writeFileSync(empty, '');
  const hic = spawn(join(REPO, 'bin', 'hic.mjs'), ['debug', image, '--gdb', ':0', '-q', '--commands', empty], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let hicOut = '';
  hic.stdout.on('data', (d: Buffer) => (hicOut += d.toString()));
  hic.stderr.on('data', (d: Buffer) => (hicOut += d.toString()));
  const exited = new Promise<number | null>((resolve) => hic.on('exit', (code) => resolve(code)));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setInterval(() => {
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(hicOut);
        if (m) {
          clearInterval(timer);
          resolve(Number(m[1]));
        }
      }, 50);
      hic.on('exit', () => {
        clearInterval(timer);
        reject(new Error(`hic debug exited before listening:\n${hicOut}`));
      });
    });
    const args = ['-nx', '-batch', '-ex', 'set pagination off', '-ex', `target remote :${port}`, ...gdbCommands.flatMap((c) => ['-ex', c])];
    const { stdout, stderr } = await promisify(execFile)('gdb', args, { cwd: REPO, encoding: 'utf8', maxBuffer: 16 << 20 });
    return { gdb: stdout + stderr, hic: hicOut, exit: await exited };
  } finally {
    hic.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('gdb against hic debug --gdb', () => {
  it('breaks in the guest netstack, unwinds, steps both ways, watches memory, and answers monitor commands', async () => {
    const { gdb, exit } = await withGdb('images/netstack.himg', [
      'info sharedlibrary',
      'break tcp_input',
      'continue',
      'bt',
      'info registers rip',
      'x/4i $pc',
      'stepi',
      'info registers rip',
      'reverse-stepi',
      'info registers rip',
      'info threads',
      'monitor caps netstack',
      'delete',
      'print stack.stats.tcp_rx',
      'watch stack.stats.tcp_rx',
      'continue',
      'print stack.stats.tcp_rx',
      'reverse-continue',
      'print stack.stats.tcp_rx',
    ]);
    // The modules as libraries, with their symbols read.
    expect(gdb).toMatch(/0x[0-9a-f]+\s+0x[0-9a-f]+\s+Yes\s+\S*build\/services\/netstack\.o/);
    const bp = /Breakpoint 1 at (0x[0-9a-f]+): file services\/netstack\/core\/tcp_in\.c, line \d+\./.exec(gdb);
    expect(bp).not.toBeNull();
    const at = bp![1]!;
    expect(gdb).toMatch(/Thread 5 "netstack\/5" hit Breakpoint 1, tcp_input \(s=(s@entry=)?0x[0-9a-f]+ <stack>/);
    // A backtrace through the stack's input path to the service's main loop, from .debug_frame.
    expect(gdb).toMatch(/#0 {2}tcp_input \(/);
    expect(gdb).toMatch(/#1 {2}0x[0-9a-f]+ in ip_input \(/);
    expect(gdb).toMatch(/in hic_main \(\) at services\/netstack\/netstack\.c:\d+/);
    const rips = [...gdb.matchAll(/^rip\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+ <(tcp_input(?:\+\d+)?)>/gm)].map((m) => [m[1], m[2]]);
    expect(rips).toEqual([[at, 'tcp_input'], [expect.stringMatching(/^0x/), 'tcp_input+2'], [at, 'tcp_input']]);
    const insns = [...gdb.matchAll(/^(=>| {2}) 0x[0-9a-f]+ <tcp_input(\+\d+)?>:\t\S+/gm)];
    expect(insns.length).toBe(4);
    expect(insns[0]![1]).toBe('=>');
    // HIC's threads, named by sandbox, and a HIC view through monitor.
    for (const name of ['driver/1', 'firewall/2', 'dns/3', 'web/4', 'netstack/5']) expect(gdb).toContain(`"${name}"`);
    expect(gdb).toMatch(/netstack: \d+ capabilities, \d+ free slots/);
    expect(gdb).toMatch(/ENDPOINT\s+RWG endpoint cap:\/\/netstack\/v1\.2\.0\/stats/);
    // A hardware watchpoint on a counter in the stack's memory: forwards, then back over the write.
    const values = [...gdb.matchAll(/^\$\d+ = (\d+)$/gm)].map((m) => Number(m[1]));
    expect(gdb).toMatch(/Hardware watchpoint 2: stack\.stats\.tcp_rx/);
    expect(gdb).toMatch(/Old value = (\d+)\nNew value = (\d+)/);
    expect(values.length).toBe(3);
    expect(values[1]).toBe(values[0]! + 1);
    expect(values[2]).toBe(values[0]);
    expect(exit).toBe(0);
  });
});
