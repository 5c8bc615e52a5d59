// The interactive debugger in a real terminal: `hic debug` runs inside tmux, keys are typed with
// send-keys and the screen read with capture-pane — the prompt, tab completion of commands and
// symbols, a breakpoint hit, history on the up arrow, help, and quit.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from './support/boot.ts';

const run = promisify(execFile);
const SESSION = `hic-debug-${process.pid}`;
const LONG = `hic-debug-long-${process.pid}`;
const home = mkdtempSync(join(tmpdir(), 'hic-repl-home-'));

const tmux = (...args: string[]) => run('tmux', args, { encoding: 'utf8' });
let target = SESSION;
const screen = async () => (await tmux('capture-pane', '-p', '-t', target, '-S', '-200')).stdout;
const keys = (...k: string[]) => tmux('send-keys', '-t', target, ...k);

/** Waits until the screen shows `pattern` (the machine runs in wall time we do not assert). */
async function until(pattern: RegExp, what: string): Promise<string> {
  for (let i = 0; i < 1200; i++) {
    const s = await screen();
    if (pattern.test(s)) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the screen never showed ${what}:\n${await screen()}`);
}

afterAll(async () => {
  await tmux('kill-session', '-t', SESSION).catch(() => undefined);
  await tmux('kill-session', '-t', LONG).catch(() => undefined);
  rmSync(home, { recursive: true, force: true });
});

describe('hic debug in a terminal', () => {
  it('prompts, completes, stops at a breakpoint, recalls history, explains a command and quits', async () => {
    await tmux('new-session', '-d', '-s', SESSION, '-x', '160', '-y', '50', `cd ${REPO} && HOME=${home} ./bin/hic.mjs debug images/hello.himg -q; sleep 30`);
    await until(/nothing has run yet[\s\S]*\(hic\)\s*$/, 'the banner and prompt');

    await keys('brea', 'k', ' hello:hic_ma', 'Tab');
    await until(/\(hic\) break hello:hic_main/, 'the symbol completed');
    await keys('Enter');
    await until(/breakpoint 1: break hello:hic_main at 0x[0-9a-f]+ <hello:hic_main>/, 'the breakpoint set');

    await keys('contin', 'Tab');
    await until(/\(hic\) continue/, 'the command completed');
    await keys('Enter');
    const hit = await until(/breakpoint 1, hello\/1 at 0x[0-9a-f]+ <hello:hic_main>\n=> \[hello\/1\] 0x[0-9a-f]+ <hic_main>:\s+\S+/, 'the breakpoint hit');
    expect(hit).not.toMatch(/error/);

    await keys('Up');
    await until(/\(hic\) continue\s*$/m, 'the last command recalled');
    await keys('C-u', 'help stepi', 'Enter');
    await until(/stepi \[N\]\s+\(also: si\)\n\s+execute N instructions/, 'help for stepi');

    await keys('bt', 'Enter');
    await until(/#0 {2}0x[0-9a-f]+ <hello:hic_main>\s+\(hello 1\.0\.0\)\n#1 {2}0x[0-9a-f]+ <hello:_start\+\d+>/, 'the backtrace');

    await keys('quit', 'Enter');
    await until(/\(hic\) quit\n/, 'quit echoed');
    // The history was saved for the next session.
    for (let i = 0; i < 100 && !/quit/.test(safeRead(join(home, '.hic_debug_history'))); i++) await new Promise((r) => setTimeout(r, 100));
    expect(safeRead(join(home, '.hic_debug_history')).split('\n')).toEqual(expect.arrayContaining(['break hello:hic_main', 'continue', 'help stepi', 'quit']));
  });

  it('Ctrl-C stops a running machine at its next scheduler step and gives the prompt back', async () => {
    target = LONG;
    await tmux('new-session', '-d', '-s', LONG, '-x', '160', '-y', '50', `cd ${REPO} && HOME=${home} ./bin/hic.mjs debug images/netstack.himg -q; sleep 30`);
    await until(/nothing has run yet[\s\S]*\(hic\)\s*$/, 'the prompt');
    await keys('continue', 'Enter');
    await until(/\(hic\) continue\n/, 'continue echoed');
    await new Promise((r) => setTimeout(r, 500)); // let it run a little (3 s virtual take far longer)
    await keys('C-c');
    await until(/\(interrupting: the machine stops at its next scheduler step\)\ninterrupted; \S+ runs next\n=> \[\S+\] 0x[0-9a-f]+/, 'the interrupt');
    await keys('status', 'Enter');
    await until(/image netstack; thread \d+ before its instruction \d+; virtual time \d+ ns/, 'the status after it');
    await keys('quit', 'Enter');
  });
});

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
