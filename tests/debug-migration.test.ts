// Stepping through an update with `hic debug` in scripted mode (--json): in images/migration.himg,
// stop at the first MIG_CONN_OUT, read the connection being moved from its package, follow it to
// MIG_CONN_IN at the new instance, find the same connection in the new instance's table, then
// run on to the image's normal outcome — with the same event log as a run nobody stopped.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './support/boot.ts';

interface Answer {
  command: string;
  ok: boolean;
  result: any;
  error?: { code: string; message: string };
}

/** Runs the CLI as a child process, without holding this worker's event loop (vitest's RPC lives on it). */
async function debug(image: string, commands: string[]): Promise<Answer[]> {
  const dir = mkdtempSync(join(tmpdir(), 'hic-debug-'));
  try {
    const file = join(dir, 'commands');
    writeFileSync(file, commands.join('\n') + '\n');
    const { stdout: out } = await promisify(execFile)(join(REPO, 'bin', 'hic.mjs'), ['debug', image, '--json', '--commands', file], { cwd: REPO, encoding: 'utf8', maxBuffer: 64 << 20 });
    return out.trim().split('\n').map((l) => JSON.parse(l) as Answer);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('hic debug: step through an update', () => {
  it('follows one connection from MIG_CONN_OUT at the old netstack to MIG_CONN_IN at the new one, steps back and forth there, then runs to the normal outcome', async () => {
    const a = await debug('images/migration.himg', [
      'break mig CONN_OUT',
      'continue', // migctl's call: which connection
      'continue', // netstack 1.2.0's reply: the package
      'migration',
      'delete',
      'break mig CONN_IN',
      'continue', // migctl's call to 1.3.0, carrying the package
      'continue', // 1.3.0's reply: the connection's id there
      'connections netstack-next',
      'connections netstack',
      'registers',
      'memory rsp 512',
      'reverse-stepi 1000',
      'stepi 1000',
      'registers',
      'memory rsp 512',
      'reverse-continue', // back to the last hit before now: the CONN_IN call
      'delete',
      'continue',
    ]);
    for (const x of a) expect(x.ok, `${x.command}: ${x.error?.message}`).toBe(true);
    const [, outCall, outReply, shown, , , inCall, inReply, target, source, regs1, mem1, back, forth, regs2, mem2, rc, , end] = a;

    const call = outCall!.result.stop.detail.migration;
    expect(call).toMatchObject({ op: 'CONN_OUT', direction: 'call', channel: 'mig-old', from: 'migctl', to: 'netstack' });
    const id = Number(call.message.words[0]);
    const reply = outReply!.result.stop.detail.migration;
    expect(reply).toMatchObject({ op: 'CONN_OUT', direction: 'reply', from: 'netstack', to: 'migctl', status: 'OK' });
    const moved = reply.package.record;
    expect(moved).toMatchObject({ id, schema: 1, frozen: true, state: 'ESTABLISHED' });
    expect(moved.local).toMatch(/^10\.0\.0\.2:\d+$/);
    expect(shown!.result.package.record).toEqual(moved);

    const incoming = inCall!.result.stop.detail.migration;
    expect(incoming).toMatchObject({ op: 'CONN_IN', direction: 'call', channel: 'mig-new', to: 'netstack-next' });
    expect(incoming.package.record).toEqual(moved);
    const accepted = inReply!.result.stop.detail.migration;
    expect(accepted).toMatchObject({ op: 'CONN_IN', direction: 'reply', from: 'netstack-next', status: 'OK' });
    const newId = Number(accepted.message.words[0]);

    // The same connection in the new instance's own table, read field by field with its DWARF;
    // the old instance keeps it frozen until MIG_CONN_DONE.
    const there = target!.result.find((c: { id: number }) => c.id === newId);
    expect(there).toMatchObject({ local: moved.local, remote: moved.remote, sndUna: moved.sndUna, sndNxt: moved.sndNxt, rcvNxt: moved.rcvNxt, state: 'ESTABLISHED', frozen: false });
    expect(source!.result.find((c: { id: number }) => c.id === id)).toMatchObject({ remote: moved.remote, frozen: true });

    // Back 1000 instructions and forward again: the same registers and stack.
    expect(back!.result.stop.position.count).toBe(forth!.result.stop.position.count - 1000);
    expect(regs2!.result).toEqual(regs1!.result);
    expect(mem2!.result).toEqual(mem1!.result);
    const last = rc!.result.stop;
    expect(last.breakpoints).toEqual([2]);
    expect(last.detail.migration).toMatchObject({ op: 'CONN_IN', direction: 'call' });
    expect(last.detail.migration.package.record).toEqual(moved);

    expect(end!.result.stop.reason).toBe('halt');
    expect(end!.result.stop.detail.deviations).toEqual([]);
  });
});
