// The control socket's server: a Unix socket (mode 0600) speaking the protocol of protocol.ts to
// any number of clients at once. Each client's requests are answered in order; events go to the
// clients that subscribed. Nothing a client sends can crash or stall the host: a line that is not
// JSON or not a request gets an error and the connection goes on; a line past MAX_LINE_BYTES
// ends the connection; a client that stops reading loses events (counted, and told once it
// reads again) instead of growing the host's memory; a client that goes away mid-stream is
// forgotten; past MAX_CLIENTS connections at once, new ones are closed at once. Commands that change the machine enter it through the pacer (commands.ts).

import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { StampedEvent } from '../../core0/events.ts';
import type { LiveMachine } from '../live.ts';
import type { MachineMetrics } from '../metrics.ts';
import { COMMANDS, decodeArguments, describeCommands, recordPasses, type CommandContext, type EventFilter } from './commands.ts';
import { CommandError, LineSplitter, MAX_PENDING_OUTPUT, PROTOCOL_VERSION, type Greeting, type RequestId } from './protocol.ts';

export type ControlErrorCode = 'CONTROL_IN_USE' | 'CONTROL_BAD_PATH';

/** The socket cannot be set up where asked (exit 2). */
export class ControlError extends Error {
  constructor(readonly code: ControlErrorCode, message: string) {
    super(message);
  }
}

export interface ControlServerOptions {
  readonly path: string;
  readonly live: LiveMachine;
  readonly metrics: MachineMetrics;
  /** HIC's own version, for the greeting. */
  readonly version: string;
}

/** Connections at once: beyond it the server refuses more, so file descriptors cannot run out. */
export const MAX_CLIENTS = 64;

/** The longest path a Unix socket address holds (sun_path, less its terminating NUL). */
const MAX_SOCKET_PATH = 107;

interface Client {
  readonly socket: Socket;
  readonly lines: LineSplitter;
  filter: EventFilter | undefined;
  /** Events dropped while the client was not reading. */
  lost: number;
  /** Requests are answered in order: each waits for the one before. */
  queue: Promise<void>;
}

export class ControlServer {
  private readonly clients = new Set<Client>();
  private readonly pending = new Set<(e: Error) => void>();
  private ended = false;

  private constructor(private readonly server: Server, readonly path: string, private readonly options: ControlServerOptions) {
    options.live.system.kernel.events.subscribe((e) => this.kernelEvent(e));
  }

  static async listen(options: ControlServerOptions): Promise<ControlServer> {
    const path = options.path;
    if (!options.live.pacer) throw new Error('ControlServer: the machine is not live (System.assemble without `live`)');
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH) throw new ControlError('CONTROL_BAD_PATH', `--control ${path}: a Unix socket path is at most ${MAX_SOCKET_PATH} bytes`);
    await clearStaleSocket(path);
    const server = createServer();
    server.maxConnections = MAX_CLIENTS;
    const control = new ControlServer(server, path, options);
    server.on('connection', (socket) => control.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => reject(new ControlError('CONTROL_BAD_PATH', `--control ${path}: cannot listen there (${e.code ?? e.message})`)));
      server.listen(path, () => resolve());
    });
    chmodSync(path, 0o600);
    return control;
  }

  /** The machine has ended: inputs still waiting are refused, and no new ones are taken. */
  machineEnded(): void {
    this.ended = true;
    for (const reject of this.pending) reject(new CommandError('NotAvailable', 'the machine ended before the command could enter it'));
    this.pending.clear();
  }

  /** Ends every connection and removes the socket. */
  async close(): Promise<void> {
    this.machineEnded();
    for (const c of this.clients) c.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }

  get connections(): number {
    return this.clients.size;
  }

  private accept(socket: Socket): void {
    const client: Client = { socket, lines: new LineSplitter(), filter: undefined, lost: 0, queue: Promise.resolve() };
    this.clients.add(client);
    socket.on('error', () => socket.destroy()); // a client gone mid-write: nothing to tell it
    socket.on('close', () => this.clients.delete(client));
    socket.on('drain', () => {
      if (client.lost > 0) {
        this.send(client, this.eventMessage('eventsLost', { count: client.lost }, undefined));
        client.lost = 0;
      }
    });
    socket.on('data', (chunk: Buffer) => {
      const lines = client.lines.push(chunk);
      if (lines === 'tooLong') {
        this.send(client, { error: { class: 'LineTooLong', desc: `a request line is at most ${client.lines.max} bytes; closing the connection` } });
        socket.end();
        socket.removeAllListeners('data');
        return;
      }
      for (const line of lines) {
        if (line.trim() === '') continue;
        client.queue = client.queue.then(() => this.request(client, line));
      }
    });
    this.send(client, this.greeting());
  }

  private greeting(): Greeting {
    const { live, version } = this.options;
    const capabilities = ['events', ...(live.pacer?.realtime ? ['realtime'] : []), ...(live.bridge ? ['tap'] : [])];
    return { HIC: { version: { protocol: PROTOCOL_VERSION, hic: version }, image: live.system.manifest.name, capabilities, commands: describeCommands() } };
  }

  /** One request line: decoded, run, answered (never throws). */
  private async request(client: Client, line: string): Promise<void> {
    let id: RequestId | undefined;
    try {
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        throw new CommandError('MalformedJson', `not JSON: ${line.length > 60 ? line.slice(0, 60) + '…' : line}`);
      }
      if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) throw new CommandError('InvalidRequest', 'a request is a JSON object {"execute": …}');
      const m = msg as Record<string, unknown>;
      if (typeof m.id === 'string' || (typeof m.id === 'number' && Number.isFinite(m.id))) id = m.id;
      else if (m.id !== undefined) throw new CommandError('InvalidRequest', '"id" must be a string or a number');
      const extra = Object.keys(m).filter((k) => !['execute', 'arguments', 'id'].includes(k));
      if (extra.length > 0) throw new CommandError('InvalidRequest', `unknown member(s) ${extra.map((k) => `"${k}"`).join(', ')}; a request has execute, arguments, id`);
      if (typeof m.execute !== 'string') throw new CommandError('InvalidRequest', 'a request names its command in "execute" (a string)');
      const cmd = COMMANDS.find((c) => c.name === m.execute);
      if (!cmd) throw new CommandError('CommandNotFound', `no command "${m.execute.slice(0, 64)}"; \`commands\` lists them`);
      const args = decodeArguments(cmd, m.arguments);
      const value = await cmd.run(this.context(client), args);
      this.send(client, { return: value ?? {}, ...(id !== undefined ? { id } : {}) });
    } catch (e) {
      const known = e instanceof CommandError;
      // A bug in HIC must not take a live machine down with it: the client is told, the host's stderr gets the stack.
      if (!known) process.stderr.write(`hic: control: internal error — a bug in HIC:\n${e instanceof Error ? e.stack : String(e)}\n`);
      const error = known ? { class: e.errorClass, desc: e.message } : { class: 'InternalError', desc: `a bug in HIC: ${e instanceof Error ? e.message : String(e)}` };
      this.send(client, { error, ...(id !== undefined ? { id } : {}) });
    }
  }

  private context(client: Client): CommandContext {
    const { live, metrics } = this.options;
    return {
      live,
      pacer: live.pacer!,
      metrics,
      subscribe: (filter) => (client.filter = filter),
      input: (what, args, apply) =>
        new Promise<number>((resolve, reject) => {
          if (this.ended || live.phase === 'ended') return reject(new CommandError('NotAvailable', 'the machine has ended'));
          this.pending.add(reject);
          live.pacer!.submit({
            source: 'control',
            what,
            data: JSON.stringify(args),
            apply: (now) => {
              this.pending.delete(reject);
              apply(now);
              if (what === 'stop') this.hostEvent('stopped', { virtual: now });
              if (what === 'cont') this.hostEvent('resumed', { virtual: now });
              resolve(now);
            },
          });
        }),
    };
  }

  private kernelEvent(e: StampedEvent): void {
    if (this.clients.size === 0) return;
    const { t, seq, kind, ...data } = e;
    for (const c of this.clients) {
      if (!c.filter || !c.filter.kinds.includes(kind)) continue;
      if (c.filter.sandbox !== undefined && !Object.values(data).includes(c.filter.sandbox)) continue;
      if (kind === 'record' && !recordPasses(c.filter, data)) continue;
      this.sendEvent(c, kind, { seq, ...data }, t);
    }
  }

  private hostEvent(kind: string, data: Record<string, unknown>): void {
    for (const c of this.clients) if (c.filter?.kinds.includes(kind)) this.sendEvent(c, kind, data, this.options.live.system.machine.clock.now);
  }

  private eventMessage(event: string, data: unknown, virtual: number | undefined) {
    return { event, data, timestamp: { virtual: virtual ?? this.options.live.system.machine.clock.now, wall: new Date().toISOString() } };
  }

  /** Events are dropped, and counted, for a client that is not reading. */
  private sendEvent(c: Client, kind: string, data: unknown, virtual: number): void {
    if (c.socket.writableLength > MAX_PENDING_OUTPUT) {
      c.lost++;
      return;
    }
    this.send(c, this.eventMessage(kind, data, virtual));
  }

  /** Every message leaves after the audit records of what led to it are written (AuditLog.flush). */
  private send(c: Client, message: unknown): void {
    if (c.socket.destroyed || !c.socket.writable) return;
    this.options.live.system.kernel.audit.flush();
    c.socket.write(JSON.stringify(message) + '\n');
  }
}

/**
 * A socket file left by a run that ended without removing it is removed; one that something
 * answers on, or a file that is not a socket, is not touched.
 */
async function clearStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) throw new ControlError('CONTROL_BAD_PATH', `--control ${path}: the path exists and is not a socket; choose another path`);
  const answered = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => (probe.destroy(), resolve(true)));
    probe.once('error', () => resolve(false));
  });
  if (answered) throw new ControlError('CONTROL_IN_USE', `--control ${path}: another process is listening on it`);
  unlinkSync(path);
}
