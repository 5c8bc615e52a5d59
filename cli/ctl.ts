// `hic ctl PATH COMMAND [ARG…]`: the control socket's client. It reads the server's greeting,
// which lists every command and its arguments, so it knows them without a table of its own:
// positional words fill the command's arguments in order (a list argument takes the rest, commas
// split), `name=value` names one. It prints the reply readably, or as JSON with --json; after
// `events` it prints events as they come until the machine ends (or --count of them).
//
// A command the server does not know, arguments it refuses, or a socket nobody listens on: one
// line on stderr and exit 2.

import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { formatTime } from '../emulator/clock.ts';
import { LineSplitter, type CommandDescription, type Greeting } from '../system/control/protocol.ts';
import { EXIT, runCommand } from './errors.ts';
import { describeSystemState } from './render.ts';

export class CtlError extends Error {
  constructor(readonly code: 'CTL_NO_SERVER' | 'CTL_UNKNOWN_COMMAND' | 'CTL_BAD_ARGUMENT' | 'CTL_REFUSED' | 'CTL_PROTOCOL', message: string) {
    super(message);
  }
}

interface CtlOptions {
  json?: boolean;
  count?: string;
  policy?: string;
}

/** Fills a command's arguments from the words after it. */
export function parseArguments(cmd: CommandDescription, words: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const convert = (a: CommandDescription['args'][number], text: string): unknown => {
    switch (a.type) {
      case 'string': return text;
      case 'string[]': return text.split(',').filter((s) => s !== '');
      case 'integer': {
        if (!/^-?\d+$/.test(text)) throw new CtlError('CTL_BAD_ARGUMENT', `${cmd.name}: ${a.name} must be an integer, not "${text}"`);
        return Number(text);
      }
      case 'object': {
        // A file holding the JSON object (hic ctl … update … --policy FILE).
        let parsed: unknown;
        try {
          parsed = JSON.parse(readFileSync(text, 'utf8'));
        } catch (e) {
          const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
          throw new CtlError('CTL_BAD_ARGUMENT', `${cmd.name}: ${a.name}: ${text}: ${why}`);
        }
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new CtlError('CTL_BAD_ARGUMENT', `${cmd.name}: ${a.name}: ${text} does not hold a JSON object`);
        return parsed;
      }
      case 'boolean':
        if (text !== 'true' && text !== 'false') throw new CtlError('CTL_BAD_ARGUMENT', `${cmd.name}: ${a.name} must be true or false, not "${text}"`);
        return text === 'true';
    }
  };
  // Named words first (name=value, or a boolean's bare name); the rest fill the others in order.
  const rest: string[] = [];
  for (const w of words) {
    const eq = w.indexOf('=');
    const named = eq > 0 ? cmd.args.find((a) => a.name === w.slice(0, eq)) : cmd.args.find((a) => a.type === 'boolean' && a.name === w);
    if (named) out[named.name] = eq > 0 ? convert(named, w.slice(eq + 1)) : true;
    else rest.push(w);
  }
  const positional = cmd.args.filter((a) => a.type !== 'boolean' && a.type !== 'object' && !(a.name in out));
  for (let i = 0; i < rest.length; i++) {
    const next = positional.shift();
    if (!next) throw new CtlError('CTL_BAD_ARGUMENT', `${cmd.name}: unexpected "${rest[i]}" (${cmd.args.length ? `it takes ${cmd.args.map((a) => a.name).join(', ')}` : 'it takes no arguments'})`);
    if (next.type === 'string[]') {
      out[next.name] = rest.slice(i).flatMap((x) => x.split(',')).filter((x) => x !== '');
      break;
    }
    out[next.name] = convert(next, rest[i]!);
  }
  const missing = cmd.args.filter((a) => a.required && !(a.name in out));
  if (missing.length > 0) throw new CtlError('CTL_BAD_ARGUMENT', `${cmd.name}: missing ${missing.map((a) => `<${a.name}> (${a.summary})`).join(', ')}`);
  return out;
}

/** A connection that yields one parsed message at a time. */
class Connection {
  private readonly lines = new LineSplitter(16 * 1024 * 1024);
  private readonly queue: unknown[] = [];
  private waiter: ((m: unknown) => void) | undefined;
  private ended = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      const lines = this.lines.push(chunk);
      if (lines === 'tooLong') return socket.destroy();
      for (const l of lines) this.deliver(JSON.parse(l));
    });
    socket.on('close', () => {
      this.ended = true;
      this.deliver(undefined);
    });
  }

  static open(path: string): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        socket.on('error', () => {});
        resolve(new Connection(socket));
      });
      socket.once('error', (e: NodeJS.ErrnoException) => {
        const why =
          e.code === 'ENOENT' ? 'no such socket'
          : e.code === 'ECONNREFUSED' ? 'nobody is listening on it'
          : e.code === 'EACCES' ? 'permission denied'
          : e.code === 'ENOTSOCK' ? 'not a socket'
          : (e.code ?? e.message);
        reject(new CtlError('CTL_NO_SERVER', `${path}: ${why} (start one with: hic boot IMAGE --control ${path})`));
      });
    });
  }

  private deliver(m: unknown): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(m);
    } else if (m !== undefined) this.queue.push(m);
  }

  /** The next message, or undefined once the server has closed the connection. */
  next(): Promise<unknown> {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  send(m: unknown): void {
    this.socket.write(JSON.stringify(m) + '\n');
  }
}

export function registerCtlCommand(program: Command): void {
  program
    .command('ctl')
    .description('talk to a running machine over its control socket (hic boot --control PATH); `hic ctl PATH commands` lists the commands')
    .argument('<path>', 'the control socket')
    .argument('<command>', 'status, sandboxes, caps <sandbox>, events [kinds…], update <service> <version>, configure <service> <rule>…, updates, stop, cont, metrics, quit, commands')
    .argument('[args...]', "the command's arguments, in order, or as name=value")
    .option('--json', 'print the reply (and events) as JSON, one object a line')
    .option('--count <n>', 'events: stop after this many')
    .option('--policy <file>', 'update: the policy, a JSON file (docs/module-manager.md)')
    .action((path: string, command: string, words: string[], opts: CtlOptions) => runCommand(() => ctl(path, command, words, opts)));
}

async function ctl(path: string, command: string, words: string[], opts: CtlOptions): Promise<number> {
  const count = opts.count === undefined ? Infinity : Number(opts.count);
  if (!(count >= 1) || (!Number.isInteger(count) && count !== Infinity)) throw new CtlError('CTL_BAD_ARGUMENT', `--count: "${opts.count}" is not a positive integer`);
  const conn = await Connection.open(path);
  try {
    const greeting = (await conn.next()) as Greeting | undefined;
    if (!greeting?.HIC) throw new CtlError('CTL_PROTOCOL', `${path}: the server did not greet as HIC's control socket does`);
    const cmd = greeting.HIC.commands.find((c) => c.name === command);
    if (!cmd) throw new CtlError('CTL_UNKNOWN_COMMAND', `no command "${command}"; the machine knows: ${greeting.HIC.commands.map((c) => c.name).join(', ')}`);
    const policyArg = cmd.args.find((a) => a.type === 'object');
    if (opts.policy !== undefined && !policyArg) throw new CtlError('CTL_BAD_ARGUMENT', `--policy: ${command} takes no policy`);
    conn.send({ execute: command, arguments: parseArguments(cmd, opts.policy === undefined ? words : [...words, `${policyArg!.name}=${opts.policy}`]), id: 1 });
    for (;;) {
      const m = (await conn.next()) as Record<string, unknown> | undefined;
      if (m === undefined) throw new CtlError('CTL_PROTOCOL', `${path}: the connection closed before the reply`);
      if (m.id !== 1) continue; // an event before the reply
      if ('error' in m) {
        const e = m.error as { class: string; desc: string };
        process.stderr.write(`hic: ${command}: ${e.desc} [${e.class}]\n`);
        return e.class === 'InternalError' ? EXIT.internal : EXIT.usage;
      }
      print(command, m.return, opts.json);
      if (command !== 'events' || (m.return as { subscribed?: boolean }).subscribed !== true) return 0;
      break;
    }
    for (let seen = 0; seen < count; ) {
      const m = (await conn.next()) as Record<string, unknown> | undefined;
      if (m === undefined) return 0; // the machine ended
      if (!('event' in m)) continue;
      seen++;
      process.stdout.write(opts.json ? JSON.stringify(m) + '\n' : renderEvent(m) + '\n');
    }
    return 0;
  } finally {
    conn.socket.destroy();
  }
}

function renderEvent(m: Record<string, unknown>): string {
  const ts = m.timestamp as { virtual: number; wall: string };
  const data = { ...(m.data as Record<string, unknown>) };
  delete data.seq;
  const text = m.event === 'console' ? `${String(data.sandbox)} │ ${String(data.text).replace(/\n$/, '')}` : JSON.stringify(data);
  return `[${formatTime(ts.virtual).padStart(12)}] ${String(m.event).padEnd(18)} ${text}`;
}

function print(command: string, value: unknown, json: boolean | undefined): void {
  if (json) return void process.stdout.write(JSON.stringify(value) + '\n');
  if (command === 'sandboxes' || command === 'caps' || command === 'commands' || command === 'updates') {
    const rows = value as Record<string, unknown>[];
    process.stdout.write(table(rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'object' ? (v as unknown[]).map((a) => (a as { name: string }).name).join(' ') : String(v)])))));
    return;
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) {
      // The boot's data directory, as the boot itself printed it: what is installed, what was recovered.
      const text = command === 'status' && k === 'state' ? describeSystemState(v as Parameters<typeof describeSystemState>[0]) : typeof v === 'object' ? JSON.stringify(v) : String(v);
      process.stdout.write(`${k.padEnd(12)} ${text}\n`);
    }
    return;
  }
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

function table(rows: Record<string, string>[]): string {
  if (rows.length === 0) return '(none)\n';
  const keys = Object.keys(rows[0]!);
  const width = keys.map((k) => Math.max(k.length, ...rows.map((r) => (r[k] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(width[i]!)).join('  ').trimEnd() + '\n';
  return line(keys) + rows.map((r) => line(keys.map((k) => r[k] ?? ''))).join('');
}
