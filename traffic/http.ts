// HTTP/1.1 as the traffic generator speaks it: GET requests, and a parser for the responses that
// checks each is well formed — a status line, headers, exactly one Content-Length — and that the
// body is exactly that long, so the next response starts where the previous one said it ends. A
// byte lost or repeated anywhere in the stream breaks that chain and is reported here.

const CRLF2 = [13, 10, 13, 10];
/** A head larger than this is not one the servers under test would send. */
const MAX_HEAD = 8192;

export function getRequest(path: string, host: string): Uint8Array {
  return new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: hic-traffic\r\nAccept: */*\r\n\r\n`);
}

export type HttpEvent =
  | { readonly kind: 'response'; readonly status: number; readonly contentLength: number }
  | { readonly kind: 'error'; readonly message: string };

export class HttpResponseParser {
  private head: number[] = [];
  /** Body bytes still due for the response whose head was read; undefined while reading a head. */
  private bodyLeft: number | undefined;
  private status = 0;
  private contentLength = 0;
  private broken = false;

  /** True while a response has started but not ended. */
  get midResponse(): boolean {
    return !this.broken && (this.head.length > 0 || this.bodyLeft !== undefined);
  }

  /** Feeds bytes in stream order; after the first error the rest of the stream is ignored. */
  push(bytes: Uint8Array): HttpEvent[] {
    const events: HttpEvent[] = [];
    let i = 0;
    while (i < bytes.length && !this.broken) {
      if (this.bodyLeft === undefined) {
        this.head.push(bytes[i++]!);
        if (this.head.length > MAX_HEAD) events.push(this.fail(`response head longer than ${MAX_HEAD} bytes`));
        else if (this.head.length >= 4 && CRLF2.every((b, k) => this.head[this.head.length - 4 + k] === b)) {
          const err = this.parseHead();
          if (err) events.push(this.fail(err));
          else if (this.bodyLeft === 0) events.push(this.complete());
        }
      } else {
        const n = Math.min(this.bodyLeft, bytes.length - i);
        this.bodyLeft -= n;
        i += n;
        if (this.bodyLeft === 0) events.push(this.complete());
      }
    }
    return events;
  }

  /** At the end of the stream: a response cut short is an error. */
  finish(): HttpEvent[] {
    if (this.broken || !this.midResponse) return [];
    return [this.fail(this.bodyLeft === undefined ? 'stream ended inside a response head' : `stream ended ${this.bodyLeft} bytes short of Content-Length`)];
  }

  private parseHead(): string | undefined {
    const text = String.fromCharCode(...this.head);
    this.head = [];
    const [statusLine = '', ...fields] = text.slice(0, -4).split('\r\n');
    const m = /^HTTP\/1\.[01] ([1-5][0-9][0-9])(?: [\x20-\x7e]*)?$/.exec(statusLine);
    if (!m) return `bad status line ${JSON.stringify(statusLine.slice(0, 40))}`;
    this.status = Number(m[1]);
    const lengths: string[] = [];
    for (const f of fields) {
      const h = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/.exec(f);
      if (!h) return `bad header line ${JSON.stringify(f.slice(0, 40))}`;
      if (h[1]!.toLowerCase() === 'content-length') lengths.push(h[2]!);
      if (h[1]!.toLowerCase() === 'transfer-encoding') return 'Transfer-Encoding is not expected from the servers under test';
    }
    const noBody = this.status < 200 || this.status === 204 || this.status === 304;
    if (lengths.length === 0 && !noBody) return `status ${this.status} without Content-Length`;
    if (lengths.length > 1) return `${lengths.length} Content-Length headers`;
    if (lengths.length === 1 && !/^[0-9]{1,9}$/.test(lengths[0]!)) return `Content-Length ${JSON.stringify(lengths[0])}`;
    this.contentLength = noBody ? 0 : Number(lengths[0]);
    this.bodyLeft = this.contentLength;
    return undefined;
  }

  private complete(): HttpEvent {
    this.bodyLeft = undefined;
    return { kind: 'response', status: this.status, contentLength: this.contentLength };
  }

  private fail(message: string): HttpEvent {
    this.broken = true;
    return { kind: 'error', message };
  }
}
