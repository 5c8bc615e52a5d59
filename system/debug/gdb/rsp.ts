// gdb's remote serial protocol, the framing only: `$payload#checksum` packets, the `+`/`-`
// acknowledgements (until the client asks for no-ack mode), the out-of-band interrupt byte 0x03,
// and `}` escaping. What the packets mean is stub.ts's business.

export type Incoming = { readonly kind: 'packet'; readonly data: string } | { readonly kind: 'interrupt' };

export function checksum(data: string): string {
  let sum = 0;
  for (let i = 0; i < data.length; i++) sum = (sum + data.charCodeAt(i)) & 0xff;
  return sum.toString(16).padStart(2, '0');
}

/** Escapes `#`, `$`, `}` and `*` in a payload (binary replies and run-length safety). */
export function escape(data: string): string {
  return data.replace(/[#$}*]/g, (c) => '}' + String.fromCharCode(c.charCodeAt(0) ^ 0x20));
}

export function frame(data: string): string {
  const body = escape(data);
  return `$${body}#${checksum(body)}`;
}

/** Accumulates bytes from the socket and yields whole packets and interrupts. */
export class PacketReader {
  private buffer = '';
  /** Set by the stub once the client asked for QStartNoAckMode. */
  noAck = false;

  constructor(private readonly ack: (c: '+' | '-') => void) {}

  push(chunk: string): Incoming[] {
    this.buffer += chunk;
    const out: Incoming[] = [];
    for (;;) {
      if (this.buffer.length === 0) break;
      const c = this.buffer[0]!;
      if (c === '\x03') {
        out.push({ kind: 'interrupt' });
        this.buffer = this.buffer.slice(1);
        continue;
      }
      if (c !== '$') {
        this.buffer = this.buffer.slice(1); // '+', '-', or noise between packets
        continue;
      }
      const hash = this.buffer.indexOf('#');
      if (hash < 0 || this.buffer.length < hash + 3) break; // incomplete
      const raw = this.buffer.slice(1, hash);
      const sum = this.buffer.slice(hash + 1, hash + 3).toLowerCase();
      this.buffer = this.buffer.slice(hash + 3);
      if (!this.noAck) {
        if (checksum(raw) !== sum) {
          this.ack('-');
          continue;
        }
        this.ack('+');
      }
      out.push({ kind: 'packet', data: raw.replace(/\}(.)/gs, (_m, ch: string) => String.fromCharCode(ch.charCodeAt(0) ^ 0x20)) });
    }
    return out;
  }
}

export const toHex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
export const fromHex = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));
export const textToHex = (s: string) => Buffer.from(s, 'utf8').toString('hex');

/** A little-endian hex image of `value`, `bytes` long (register values in g/p packets). */
export function leHex(value: bigint, bytes: number): string {
  let out = '';
  let v = BigInt.asUintN(bytes * 8, value);
  for (let i = 0; i < bytes; i++) {
    out += Number(v & 0xffn).toString(16).padStart(2, '0');
    v >>= 8n;
  }
  return out;
}

export function fromLeHex(hex: string): bigint {
  let v = 0n;
  for (let i = hex.length - 2; i >= 0; i -= 2) v = (v << 8n) | BigInt(parseInt(hex.slice(i, i + 2), 16));
  return v;
}

/** A qXfer read: `offset,length` of a document, answered `m…` (more follows) or `l…` (last). */
export function xferChunk(doc: string, annex: string): string {
  const m = /^([0-9a-f]+),([0-9a-f]+)$/i.exec(annex);
  if (!m) return 'E00';
  const off = parseInt(m[1]!, 16);
  const len = parseInt(m[2]!, 16);
  const part = doc.slice(off, off + len);
  return (off + len >= doc.length ? 'l' : 'm') + part;
}
