// A raw client of the control socket for tests: every line the server sends is parsed, checked
// against docs/control-protocol.schema.json (ajv), and queued; requests are checked before they
// are sent. `reply(id)` and `event(pred)` wait for what they name.

import { Ajv, type ValidateFunction } from 'ajv';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { REPO } from './boot.ts';

const schema = JSON.parse(readFileSync(join(REPO, 'docs', 'control-protocol.schema.json'), 'utf8')) as { $id: string };
const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
ajv.addSchema(schema);

/** The validator for the whole protocol, or for one definition ("returns/status"). */
export function validator(definition?: string): ValidateFunction {
  const v = ajv.getSchema(definition ? `${schema.$id}#/definitions/${definition}` : schema.$id);
  if (!v) throw new Error(`no schema definition ${definition}`);
  return v;
}

const anyMessage = validator();

/** Throws, naming the message and what is wrong, unless `m` is valid under `v`. */
export function mustMatch(v: ValidateFunction, m: unknown): void {
  if (!v(m)) throw new Error(`${JSON.stringify(m).slice(0, 300)} does not match the schema: ${ajv.errorsText(v.errors)}`);
}

export type Message = Record<string, unknown>;

export class ControlClient {
  readonly received: Message[] = [];
  private buffer = '';
  private waiters: (() => void)[] = [];
  closed = false;
  private nextId = 1;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buffer += d;
      for (let nl = this.buffer.indexOf('\n'); nl >= 0; nl = this.buffer.indexOf('\n')) {
        const m = JSON.parse(this.buffer.slice(0, nl)) as Message;
        this.buffer = this.buffer.slice(nl + 1);
        mustMatch(anyMessage, m);
        this.received.push(m);
      }
      this.wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static open(path: string): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => resolve(new ControlClient(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The first message received that satisfies pred (waiting for it), removed from the queue. */
  async take(pred: (m: Message) => boolean, what: string): Promise<Message> {
    for (;;) {
      const i = this.received.findIndex(pred);
      if (i >= 0) return this.received.splice(i, 1)[0]!;
      if (this.closed) throw new Error(`connection closed while waiting for ${what}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  greeting(): Promise<Message> {
    return this.take((m) => 'HIC' in m, 'the greeting');
  }

  /** Sends a request (checked against the schema) and waits for its reply. */
  async execute(command: string, args?: Record<string, unknown>): Promise<Message> {
    const id = this.nextId++;
    const request = { execute: command, ...(args ? { arguments: args } : {}), id };
    mustMatch(anyMessage, request);
    this.socket.write(JSON.stringify(request) + '\n');
    return this.take((m) => m.id === id, `the reply to ${command}`);
  }

  /** The value of a successful reply, checked against that command's return definition. */
  async returns(command: string, args?: Record<string, unknown>): Promise<unknown> {
    const r = await this.execute(command, args);
    if (!('return' in r)) throw new Error(`${command} failed: ${JSON.stringify(r)}`);
    mustMatch(validator(`returns/${command}`), r.return);
    return r.return;
  }

  raw(text: string): void {
    this.socket.write(text);
  }

  close(): void {
    this.socket.destroy();
  }
}
