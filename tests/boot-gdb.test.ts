// `hic boot --gdb` with Debian's gdb as the client: the machine waits for gdb before its first
// instruction; gdb breaks in the guest netstack, unwinds, steps, lists HIC's threads and is told
// the boot only goes forwards; when it detaches the boot runs to its usual report, with the event
// log of a boot without gdb. A live machine, idle and waiting for outside input, stops for a gdb
// that attaches while it runs, and goes on when that gdb leaves.

import { execFile, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO } from './support/boot.ts';
import { runNode } from './support/run-node.ts';

const LIMIT = 600_000;
const HIC = join(REPO, 'bin', 'hic.mjs');
const dir = mkdtempSync(join(tmpdir(), 'hic-boot-gdb-'));

/** `hic boot ARGS --gdb :0`, running; its output so far, the port gdb is to use, and its end. */
async function bootWithGdb(args: string[]) {
  const child = spawn(process.execPath, [HIC, 'boot', ...args, '--gdb', ':0'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const waitFor = async (pattern: RegExp) => {
    for (;;) {
      const m = pattern.exec(output);
      if (m) return m;
      if (child.exitCode !== null) throw new Error(`hic boot ended before ${pattern}:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const port = Number((await waitFor(/hic: gdb: waiting on 127\.0\.0\.1:(\d+) \(target remote :\d+\)/))[1]);
  return { port, exited, waitFor, output: () => output, kill: () => child.kill('SIGKILL') };
}

async function gdb(port: number, commands: string[]): Promise<string> {
  const args = ['-nx', '-batch', '-ex', 'set pagination off', '-ex', `target remote :${port}`, ...commands.flatMap((c) => ['-ex', c])];
  const { stdout, stderr } = await promisify(execFile)('gdb', args, { cwd: REPO, encoding: 'utf8', maxBuffer: 16 << 20 });
  return stdout + stderr;
}

describe('hic boot --gdb', () => {
  it('waits for gdb, which breaks, unwinds and steps; detached, the boot runs to the log of a boot without gdb', async () => {
    const common = ['images/netstack.himg', '-q', '--date', '2026-01-02'];
    const plain = await runNode([HIC, 'boot', ...common, '--data-dir', join(dir, 'plain')], { cwd: REPO });
    expect(plain.status, plain.stderr).toBe(0);
    const hash = /event log sha256 ([0-9a-f]{16})/.exec(plain.stdout)![1];

    const boot = await bootWithGdb([...common, '--data-dir', join(dir, 'gdb')]);
    try {
      expect(boot.output()).not.toMatch(/\[ +0\.\d+s\]/); // nothing has run: the machine waits for gdb
      const out = await gdb(boot.port, ['info threads', 'break tcp_input', 'continue', 'bt', 'info registers rip', 'stepi', 'info registers rip', 'reverse-stepi', 'info threads']);
      expect(out).toMatch(/\* 1 +Thread 1 "driver\/1"/); // before its first instruction, the first thread
      expect(out).toMatch(/Breakpoint 1 at 0x[0-9a-f]+: file services\/netstack\/core\/tcp_in\.c, line \d+\./);
      expect(out).toMatch(/Thread 5 "netstack\/5" hit Breakpoint 1, tcp_input \(/);
      expect(out).toMatch(/#1 {2}0x[0-9a-f]+ in ip_input \(/);
      expect(out).toMatch(/in hic_main \(\) at services\/netstack\/netstack\.c:\d+/);
      const rips = [...out.matchAll(/^rip +(0x[0-9a-f]+) +0x[0-9a-f]+ <tcp_input(\+\d+)?>$/gm)].map((m) => m[1]);
      expect(rips).toHaveLength(2);
      expect(rips[1]).not.toBe(rips[0]);
      expect(out).toMatch(/Target remote does not support this command\./); // no going back in a boot
      expect(out).toMatch(/\* 5 +Thread 5 "netstack\/5" \(netstack, runnable\) +0x[0-9a-f]+ in tcp_input/);
      expect(out).toMatch(/\[Inferior 1 \(Remote target\) detached\]/);
      expect(await boot.exited).toBe(0);
      expect(boot.output()).toMatch(/outcome: as expected/);
      expect(/event log sha256 ([0-9a-f]{16})/.exec(boot.output())![1]).toBe(hash);
    } finally {
      boot.kill();
    }
  }, LIMIT);

  it('a live machine idle for input stops for a gdb that attaches while it runs, and runs on when it leaves', async () => {
    const socket = join(dir, 'hic.sock');
    const boot = await bootWithGdb(['images/netstack.himg', '-q', '--realtime', '--until', 'never', '--no-traffic', '--control', socket, '--data-dir', join(dir, 'live')]);
    try {
      await gdb(boot.port, []); // attach and detach at once: the machine runs
      await boot.waitFor(/netstack 1\.2\.0: instance 1 live/);
      const status = async () => JSON.parse((await runNode([HIC, 'ctl', socket, 'status', '--json'], { cwd: REPO })).stdout) as { virtualNs: number };
      // Attached, the machine stands still: the same virtual time half a second apart.
      const out = await gdb(boot.port, ['info threads', 'monitor status', 'shell sleep 0.5', 'monitor status']);
      expect(out).toMatch(/Thread 5 "netstack\/5" \(netstack, \w+\)/);
      const times = [...out.matchAll(/^image netstack; between two scheduler steps; virtual time (\d+) ns;/gm)].map((m) => m[1]);
      expect(times).toHaveLength(2);
      expect(times[1]).toBe(times[0]);
      // Detached again: virtual time goes on.
      const before = (await status()).virtualNs;
      await new Promise((r) => setTimeout(r, 500));
      expect((await status()).virtualNs).toBeGreaterThan(before);
      const quit = await runNode([HIC, 'ctl', socket, 'quit'], { cwd: REPO });
      expect(quit.status, quit.stderr).toBe(0);
      expect(await boot.exited).toBe(0);
    } finally {
      boot.kill();
    }
  }, LIMIT);
});
