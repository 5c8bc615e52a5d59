// `hic debug` as a user runs it: help, its options' mistakes in one line (exit 2), scripted mode
// from a file or from stdin, JSON answers, and a failed command making the script exit 1.

import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './support/boot.ts';

/** The CLI as a child process, stdin given; never blocks this worker's event loop. */
function hic(args: string[], stdin = ''): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(REPO, 'bin', 'hic.mjs'), ...args], { cwd: REPO });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
    p.stdin.end(stdin);
  });
}

describe('hic debug on the command line', () => {
  it('has --help naming its options', async () => {
    const r = await hic(['debug', '--help']);
    expect(r.status).toBe(0);
    for (const o of ['--commands', '--json', '--gdb', '--checkpoint-interval']) expect(r.stdout).toContain(o);
  });

  it('refuses a bad --gdb address and a bad checkpoint interval in one line, exit 2', async () => {
    const gdb = await hic(['debug', 'images/hello.himg', '--gdb', '0.0.0.0:1234'], '');
    expect(gdb.status).toBe(2);
    expect(gdb.stderr.trim().split('\n')).toEqual([`hic: --gdb: expected :PORT (the stub listens on 127.0.0.1 only), got '0.0.0.0:1234' [HIC_USAGE]`]);
    const interval = await hic(['debug', 'images/hello.himg', '--checkpoint-interval', 'often'], '');
    expect(interval.status).toBe(2);
    expect(interval.stderr).toMatch(/option '--checkpoint-interval <instructions>' argument 'often' is invalid\. expected a whole number of instructions/);
    const missing = await hic(['debug', 'images/nope.himg'], '');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^hic: images\/nope\.himg: no such file \[HIC_BAD_MANIFEST\]\n$/);
  });

  it('runs commands from stdin, echoed after the prompt, and from a file as JSON lines; a failed command exits 1', async () => {
    const text = await hic(['debug', 'images/hello.himg', '-q'], 'break hello:hic_main\ncontinue\nregisters rip\n# a comment\nframe 7\nquit\n');
    expect(text.status).toBe(1);
    expect(text.stdout).toMatch(/^\(hic\) break hello:hic_main\nbreakpoint 1: break hello:hic_main at 0x[0-9a-f]+ <hello:hic_main>$/m);
    expect(text.stdout).toMatch(/^\(hic\) continue\nbreakpoint 1, hello\/1 at 0x[0-9a-f]+ <hello:hic_main>$/m);
    expect(text.stdout).toMatch(/^rip\s+0x0*([0-9a-f]+)\s+\d+$/m);
    expect(text.stdout).toMatch(/^\(hic\) frame 7\nerror: unknown command 'frame' \(help lists them\)$/m);
    expect(text.stdout).not.toContain('# a comment');

    const dir = mkdtempSync(join(tmpdir(), 'hic-debug-cli-'));
    const file = join(dir, 'cmds');
    writeFileSync(file, 'break syscall exit\ncontinue\nstatus\ncontinue\n');
    const json = await hic(['debug', 'images/hello.himg', '--json', '--commands', file]);
    expect(json.status).toBe(0);
    const answers = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { command: string; ok: boolean; result: any });
    expect(answers.map((a) => [a.command, a.ok])).toEqual([['break syscall exit', true], ['continue', true], ['status', true], ['continue', true]]);
    expect(answers[1]!.result.stop.detail.syscall).toMatchObject({ nr: 4, name: 'exit' });
    expect(answers[1]!.result.stop.detail.syscall.args[0]).toBe('0'); // the status hello exits with
    expect(answers[2]!.result.position).toMatchObject({ kind: 'insn', thread: 1 });
    expect(answers[3]!.result.stop).toMatchObject({ reason: 'halt', detail: { deviations: [] } });
  });
});
