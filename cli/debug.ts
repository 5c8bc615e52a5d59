// `hic debug IMAGE`: the debugger's front end. Interactive, a readline REPL with history and tab
// completion; scripted (`--commands FILE`, or commands on a stdin that is not a terminal), each
// line echoed after the prompt so a transcript reads like a session. `--json` answers every
// command with one JSON line instead. `--gdb :PORT` also serves gdb's remote protocol on
// 127.0.0.1. `--replay FILE` debugs a recorded live run (`hic boot --record`): its outside
// inputs enter where they entered live. The commands themselves are system/debug/commands.ts;
// this file does the I/O.

import { InvalidArgumentError, type Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as readline from 'node:readline';
import { AuditLog } from '../core0/audit.ts';
import { workspace } from '../hicmod-toolchain/workspace.ts';
import { EVENT_KINDS } from '../system/debug/breakpoints.ts';
import { COMMANDS, execute, findCommand, type CommandResult } from '../system/debug/commands.ts';
import { DEFAULT_CHECKPOINT_INTERVAL } from '../system/debug/machine.ts';
import { startGdbStub, type GdbStub } from '../system/debug/gdb/stub.ts';
import { DebugSession } from '../system/debug/session.ts';
import { readManifest } from '../system/manifest.ts';
import { replayedImage, replayOptions } from '../system/recording/replay.ts';
import { isUserError, runCommand, UsageError } from './errors.ts';
import { printable, renderEvent } from './render.ts';

interface DebugOptions {
  commands?: string;
  checkpointInterval?: number;
  json?: boolean;
  gdb?: string;
  quiet?: boolean;
  replay?: string;
}

const PROMPT = '(hic) ';

/** Text from the machine (guest strings included) made safe for a terminal, line by line. */
const safe = (text: string) => text.split('\n').map(printable).join('\n');

function jsonLine(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
}

/** `:PORT`, `127.0.0.1:PORT` or `PORT`: where the gdb stub listens (127.0.0.1 only). */
export function parseGdbAddress(spec: string): number {
  const m = /^(?:(?:127\.0\.0\.1|localhost)?:)?(\d{1,5})$/.exec(spec);
  const port = m ? Number(m[1]) : NaN;
  if (!(port >= 0 && port <= 65535)) throw new UsageError(`--gdb: expected :PORT (the stub listens on 127.0.0.1 only), got '${spec}'`);
  return port;
}

export function registerDebugCommand(program: Command, repoRoot: string): void {
  program
    .command('debug')
    .description('debug a system image: breakpoints on guest code, syscalls, IPC, migration messages and kernel events; stepping forwards and backwards; registers, memory, capabilities, page tables')
    .argument('[image]', 'image manifest (.himg); with --replay, the recording has it')
    .option('--commands <file>', 'run the commands in <file> (one a line, # comments), then exit; without it, a stdin that is not a terminal is read the same way')
    .option('--json', 'answer each command with one JSON line')
    .option('--gdb <[127.0.0.1]:port>', 'also serve the gdb remote protocol on 127.0.0.1:port (0: any free port, printed)')
    .option('-q, --quiet', 'do not print guest console lines and faults as they happen')
    .option('--replay <file>', 'debug a live run recorded with `hic boot --record`: its TAP frames and control commands enter where they entered live')
    .option('--checkpoint-interval <instructions>', `machine instructions between checkpoints, which going back re-executes from (0: none, re-run from boot; default ${DEFAULT_CHECKPOINT_INTERVAL})`, (v: string) => {
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number of instructions');
      return n;
    })
    .action((image: string | undefined, opts: DebugOptions) => runCommand(() => debugMain(image, opts, repoRoot)));
}

async function debugMain(image: string | undefined, opts: DebugOptions, repoRoot: string): Promise<number> {
  if (image === undefined && opts.replay === undefined) throw new UsageError('missing the image: hic debug IMAGE (or --replay FILE)');
  const replay = opts.replay !== undefined ? replayedImage(opts.replay, image) : undefined;
  const manifest = replay ? replay.manifest : readManifest(image!);
  const port = opts.gdb !== undefined ? parseGdbAddress(opts.gdb) : undefined;
  const ws = workspace(repoRoot);
  const say = (text: string) => process.stdout.write(text + '\n');
  const output = opts.quiet || opts.json ? undefined : (e: Parameters<typeof renderEvent>[0]) => {
    const line = renderEvent(e, { quiet: true });
    if (line !== undefined) say(line);
  };
  const options = { modules: ws.repository, trust: ws.trust, audit: AuditLog.inMemory(), ...(replay ? replayOptions(replay.recording) : {}) };
  const session = await DebugSession.open(manifest, options, repoRoot, {
    ...(output ? { output } : {}), ...(opts.checkpointInterval !== undefined ? { checkpointInterval: opts.checkpointInterval } : {}),
  });
  let stub: GdbStub | undefined;
  try {
    if (port !== undefined) {
      stub = await startGdbStub(session, port);
      say(`gdb: listening on 127.0.0.1:${stub.port} (target remote :${stub.port})`);
    }
    const recorded = replay ? ` from the recording ${opts.replay} (${replay.recording.batches.length} boundaries with outside inputs)` : '';
    const banner = `hic debug: image ${manifest.name} assembled${recorded} (${manifest.sandboxes.length} sandboxes); nothing has run yet. \`help\` lists the commands.`;
    if (!opts.json) say(banner);
    const scripted = opts.commands !== undefined || !process.stdin.isTTY;
    if (scripted) {
      const text = opts.commands !== undefined ? readScript(opts.commands) : await readStdin();
      return await runScript(session, text, opts, stub);
    }
    return await repl(session, opts);
  } finally {
    await stub?.close();
    session.dispose();
  }
}

function readScript(file: string): string {
  if (!existsSync(file)) throw new UsageError(`--commands: no file ${file}`);
  return readFileSync(file, 'utf8');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs one line; prints its answer; false when the session should end. */
async function runLine(session: DebugSession, line: string, opts: DebugOptions): Promise<{ quit: boolean; failed: boolean }> {
  let r: CommandResult;
  try {
    r = await execute(session, line);
  } catch (e) {
    if (!isUserError(e)) throw e;
    const err = e as Error & { code: string };
    process.stdout.write(opts.json ? jsonLine({ command: line, ok: false, error: { code: err.code, message: err.message } }) + '\n' : `error: ${safe(err.message)}\n`);
    return { quit: false, failed: true };
  }
  if (opts.json) process.stdout.write(jsonLine({ command: line, ok: true, result: r.json }) + '\n');
  else if (r.text) process.stdout.write(safe(r.text) + '\n');
  return { quit: r.quit === true, failed: false };
}

async function runScript(session: DebugSession, text: string, opts: DebugOptions, stub: GdbStub | undefined): Promise<number> {
  let failed = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (!opts.json) process.stdout.write(`${PROMPT}${line}\n`);
    const r = await runLine(session, line, opts);
    if (r.failed) failed++;
    if (r.quit) break;
  }
  // With a gdb stub and no `quit`, stay up until the gdb client has come and gone (or ^C).
  if (stub && !/^\s*(quit|q|exit)\s*$/m.test(text)) await Promise.race([stub.clientDone, new Promise<void>((resolve) => process.once('SIGINT', () => resolve()))]);
  return failed === 0 ? 0 : 1;
}

function completer(session: DebugSession) {
  return (line: string): [string[], string] => {
    const parts = line.split(/\s+/);
    const word = parts[parts.length - 1] ?? '';
    let pool: string[];
    if (parts.length <= 1) pool = COMMANDS.flatMap((c) => [c.name, ...c.aliases.filter((a) => a.length > 2)]);
    else {
      const c = findCommand(parts[0]!);
      pool = [...(c?.complete?.(session) ?? [])];
      for (const s of session.kernel.liveSandboxes) pool.push(s.name);
      if (c && ['break', 'watch', 'rwatch', 'awatch', 'disassemble', 'memory'].includes(c.name)) {
        for (const m of session.machine.modules.all) for (const sym of m.info?.symbols ?? []) if (sym.kind === 'function' || c.name !== 'break') pool.push(`${m.sandbox ?? m.module}:${sym.name}`);
        if (parts[1] === 'mig') pool.push(...session.config.migration.calls.values());
        if (parts[1] === 'event') pool.push('cap', 'switch', 'irq', ...EVENT_KINDS);
        if (parts[1] === 'record') pool.push(...session.machine.modules.all.map((m) => `${m.module}.`));
      }
    }
    const hits = [...new Set(pool)].filter((p) => p.startsWith(word)).sort();
    return [hits, word];
  };
}

async function repl(session: DebugSession, opts: DebugOptions): Promise<number> {
  const historyFile = join(homedir(), '.hic_debug_history');
  const history = existsSync(historyFile) ? readFileSync(historyFile, 'utf8').split('\n').filter(Boolean).reverse().slice(0, 500) : [];
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout, prompt: PROMPT, completer: completer(session), history, historySize: 500, terminal: true });
  let running = false;
  rl.on('SIGINT', () => {
    if (running) {
      session.interrupt();
      process.stdout.write('\n(interrupting: the machine stops at its next scheduler step)\n');
    } else {
      rl.write(null, { ctrl: true, name: 'u' });
      process.stdout.write('\n');
      rl.prompt();
    }
  });
  rl.prompt();
  for await (const line of rl) {
    running = true;
    let quit = false;
    try {
      quit = (await runLine(session, line, opts)).quit;
    } finally {
      running = false;
    }
    if (quit) break;
    rl.prompt();
  }
  const { writeFileSync } = await import('node:fs');
  try {
    writeFileSync(historyFile, [...(rl as unknown as { history: string[] }).history].reverse().join('\n') + '\n');
  } catch {
    // history is a convenience: an unwritable home directory is not an error
  }
  rl.close();
  return 0;
}
