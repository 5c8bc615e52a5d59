// The control protocol's vocabulary, after QEMU's QMP: JSON objects, one per line, over a Unix
// socket (docs/control-protocol.md, with its JSON Schema beside it). The server greets; a client
// sends {"execute": name, "arguments": {...}, "id": any}; the server answers each request, in
// order, with {"return": value} or {"error": {"class", "desc"}} (echoing the id), and sends
// {"event", "data", "timestamp": {"virtual", "wall"}} to clients that subscribed.

/** The protocol's version: a minor step adds commands, events or fields; a major one breaks. */
export const PROTOCOL_VERSION = { major: 1, minor: 1 } as const;

/** A request line longer than this ends the connection (after an error saying so). */
export const MAX_LINE_BYTES = 64 * 1024;

/** Output a client has not read beyond which events for it are dropped (and counted). */
export const MAX_PENDING_OUTPUT = 4 * 1024 * 1024;

/** The closed set of error classes a reply can carry. */
export const ERROR_CLASSES = [
  'MalformedJson', // the line is not JSON
  'InvalidRequest', // JSON, but not {"execute": string, "arguments"?: object, "id"?: string | number}
  'CommandNotFound', // no such command
  'InvalidArgument', // the command's arguments are wrong: missing, unknown, of the wrong type, or naming nothing
  'LineTooLong', // the line passed MAX_LINE_BYTES: the connection is closed
  'NotAvailable', // the command cannot be carried out now (the machine has ended)
  'QueueFull', // an input refused because too many like it wait: `update` while MAX_PENDING_UPDATES requests do
  'InternalError', // a bug in HIC, not in the request (its stack goes to the host's stderr)
] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

/** A refused request: its class and one line that says why. */
export class CommandError extends Error {
  constructor(readonly errorClass: ErrorClass, message: string) {
    super(message);
  }
}

export type RequestId = string | number;

export interface Greeting {
  readonly HIC: {
    readonly version: { readonly protocol: { readonly major: number; readonly minor: number }; readonly hic: string };
    readonly image: string;
    readonly capabilities: readonly string[];
    readonly commands: readonly CommandDescription[];
  };
}

export interface ArgDescription {
  readonly name: string;
  /** 'object': a JSON object (a policy), at most 64 KiB encoded. */
  readonly type: 'string' | 'boolean' | 'integer' | 'string[]' | 'object';
  readonly required: boolean;
  readonly summary: string;
}

export interface CommandDescription {
  readonly name: string;
  readonly summary: string;
  /** 'query' reads the machine at once; 'input' enters it at the next slice boundary, recorded. */
  readonly effect: 'query' | 'input';
  readonly args: readonly ArgDescription[];
}

/** Splits a byte stream into lines, refusing any longer than `max` bytes. */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(readonly max: number = MAX_LINE_BYTES) {}

  /** The complete lines in this chunk (without their "\n"), or 'tooLong'. */
  push(chunk: Buffer): string[] | 'tooLong' {
    const lines: string[] = [];
    let from = 0;
    for (let nl = chunk.indexOf(10, from); nl >= 0; nl = chunk.indexOf(10, from)) {
      if (this.pendingBytes + nl - from > this.max) return 'tooLong';
      this.pending.push(chunk.subarray(from, nl));
      lines.push(Buffer.concat(this.pending).toString('utf8').replace(/\r$/, ''));
      this.pending = [];
      this.pendingBytes = 0;
      from = nl + 1;
    }
    if (this.pendingBytes + chunk.length - from > this.max) return 'tooLong';
    if (from < chunk.length) {
      this.pending.push(Buffer.from(chunk.subarray(from)));
      this.pendingBytes += chunk.length - from;
    }
    return lines;
  }
}
