// The traffic generator's pure parts, each on its own: the seeded PRNG and the class split, the
// byte-stream check that tells lost from duplicated from reordered, the send and reassembly
// buffers, the HTTP response framing check, DNS messages, and the virtual-time timer queue.
// Plus a guard that nothing in traffic/ reads a clock or Math.random.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NetError } from '../emulator/net/errors.ts';
import { assignClasses, TRAFFIC_CLASSES } from '../traffic/classes.ts';
import * as dns from '../traffic/dns.ts';
import { HttpResponseParser } from '../traffic/http.ts';
import { Prng } from '../traffic/prng.ts';
import { pattern, StreamCheck } from '../traffic/stream-check.ts';
import { Reassembly, SendBuffer } from '../traffic/stream.ts';
import { TimerQueue } from '../traffic/timers.ts';

const text = (s: string) => new TextEncoder().encode(s);

describe('prng', () => {
  it('is a pure function of the seed, and forks are independent of use', () => {
    const seq = (p: Prng) => Array.from({ length: 8 }, () => p.u32());
    expect(seq(Prng.fromSeed(42))).toEqual(seq(Prng.fromSeed(42)));
    expect(seq(Prng.fromSeed(42))).not.toEqual(seq(Prng.fromSeed(43)));
    expect(seq(Prng.fromSeed('a'))).not.toEqual(seq(Prng.fromSeed('b')));
    const used = Prng.fromSeed(1);
    used.u32();
    expect(seq(used.fork(7))).toEqual(seq(Prng.fromSeed(1).fork(7)));
    const p = Prng.fromSeed(5);
    const ints = Array.from({ length: 2000 }, () => p.int(3, 9));
    expect(Math.min(...ints)).toBe(3);
    expect(Math.max(...ints)).toBe(9);
    expect(() => Prng.fromSeed(1.5)).toThrow(expect.objectContaining({ code: 'TRAFFIC_BAD_CONFIG' }));
  });

  it('splits connections into classes exactly by share', () => {
    const classes = assignClasses(200, { idle: 1, http: 2, realtime: 1 }, Prng.fromSeed(3));
    const count = (c: string) => classes.filter((k) => k === c).length;
    expect([count('idle'), count('http'), count('realtime'), classes.length]).toEqual([50, 100, 50, 200]);
    const odd = assignClasses(7, Object.fromEntries(TRAFFIC_CLASSES.map((c) => [c, 1])), Prng.fromSeed(3));
    expect(new Set(odd).size).toBe(7); // one each: largest remainder, ties to the first listed
    expect(() => assignClasses(5, {}, Prng.fromSeed(3))).toThrow(expect.objectContaining({ code: 'TRAFFIC_BAD_CONFIG' }));
  });
});

describe('stream check', () => {
  const KEY = 0x1234;
  const sent = pattern(KEY, 0, 1000);
  const check = (...chunks: Uint8Array[]) => {
    const c = new StreamCheck(KEY);
    c.sent = 1000;
    for (const ch of chunks) c.push(ch);
    c.finish();
    return { lost: c.lost, duplicated: c.duplicated, reordered: c.reordered, corrupted: c.corrupted, contiguous: c.contiguous };
  };
  const ok = { lost: 0, duplicated: 0, reordered: 0, corrupted: 0, contiguous: 1000 };

  it('accepts the stream in any chunking', () => {
    expect(check(sent)).toEqual(ok);
    expect(check(...Array.from({ length: 1000 }, (_, i) => sent.subarray(i, i + 1)))).toEqual(ok);
    expect(check(sent.subarray(0, 3), sent.subarray(3, 500), sent.subarray(500))).toEqual(ok);
  });

  it('tells lost, duplicated, reordered and corrupted bytes apart', () => {
    expect(check(sent.subarray(0, 400), sent.subarray(405))).toEqual({ ...ok, lost: 5, contiguous: 400 });
    expect(check(sent.subarray(0, 400), sent.subarray(380))).toEqual({ ...ok, duplicated: 20 });
    expect(check(sent.subarray(0, 400), sent.subarray(500), sent.subarray(400, 500))).toEqual({ ...ok, reordered: 100 });
    expect(check(sent.subarray(0, 990))).toEqual({ ...ok, lost: 10, contiguous: 990 }); // the tail never came
    const junk = Uint8Array.from({ length: 16 }, (_, i) => (sent[400 + i]! ^ 0xff));
    expect(check(sent.subarray(0, 400), junk, sent.subarray(416)).corrupted).toBe(16);
  });
});

describe('send buffer and reassembly', () => {
  it('slices across chunks and releases what was acknowledged', () => {
    const b = new SendBuffer();
    b.append(text('hello '));
    b.append(text('world'));
    expect(new TextDecoder().decode(b.slice(4, 8))).toBe('o wo');
    b.release(7);
    expect([b.base, b.end]).toEqual([7, 11]);
    expect(new TextDecoder().decode(b.slice(7, 11))).toBe('orld');
    expect(() => b.slice(2, 5)).toThrow(RangeError);
  });

  it('holds segments past a hole and hands them over once it is filled', () => {
    const r = new Reassembly();
    r.hold(10, text('klmno'));
    r.hold(20, text('uv'));
    expect(r.holes(5)).toBe(2);
    expect(r.take(5)).toBeUndefined();
    r.hold(6, text('ghijk')); // overlaps what is held
    expect(new TextDecoder().decode(r.take(6)!)).toBe('ghijklmno');
    expect([r.holes(15), r.highest]).toEqual([1, 22]);
  });
});

describe('http response framing', () => {
  const ok = (body: string) => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

  it('finds each response however the bytes are split', () => {
    const stream = text(ok('abc') + ok('') + 'HTTP/1.1 204 No Content\r\n\r\n' + ok('hello'));
    const p = new HttpResponseParser();
    const events = Array.from(stream).flatMap((b) => p.push(Uint8Array.of(b)));
    expect(events.map((e) => (e.kind === 'response' ? e.contentLength : e.message))).toEqual([3, 0, 0, 5]);
    expect([p.midResponse, p.finish()]).toEqual([false, []]);
  });

  it('reports a bad status line, a missing or doubled length, and a short body', () => {
    const first = (s: string) => new HttpResponseParser().push(text(s))[0];
    expect(first('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcdefHTTP/1.1 200 OK\r\n\r\n')).toMatchObject({ kind: 'response' });
    expect(new HttpResponseParser().push(text(ok('ab') + 'xHTTP/1.1 200 OK\r\n\r\n'))[1]).toMatchObject({ kind: 'error', message: expect.stringMatching(/bad status line/) });
    expect(first('HTTP/1.1 200 OK\r\n\r\n')).toMatchObject({ kind: 'error', message: 'status 200 without Content-Length' });
    expect(first('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n')).toMatchObject({ kind: 'error', message: '2 Content-Length headers' });
    const p = new HttpResponseParser();
    p.push(text('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc'));
    expect(p.finish()).toEqual([{ kind: 'error', message: 'stream ended 6 bytes short of Content-Length' }]);
  });
});

describe('dns messages', () => {
  it('round-trips a query and its answer, and NXDOMAIN', () => {
    const q = dns.decode(dns.encodeQuery(0xbeef, 'svc-3.hic.test'));
    expect(q).toMatchObject({ id: 0xbeef, response: false, questions: [{ name: 'svc-3.hic.test', type: 1, klass: 1 }], answers: [] });
    const a = dns.decode(dns.encodeResponse(q, 0x0a000203));
    expect(a).toMatchObject({ id: 0xbeef, response: true, rcode: 0, answers: [{ name: 'svc-3.hic.test', type: 1, ttl: 60, data: Uint8Array.of(10, 0, 2, 3) }] });
    expect(dns.decode(dns.encodeResponse(q, undefined))).toMatchObject({ rcode: dns.RCODE_NXDOMAIN, answers: [] });
  });

  it('refuses truncated messages and looping name pointers with a NetError', () => {
    const codeOf = (b: Uint8Array) => {
      try {
        dns.decode(b);
      } catch (e) {
        if (e instanceof NetError) return e.code;
        throw e;
      }
      return 'ok';
    };
    const query = dns.encodeQuery(1, 'a.b');
    expect(codeOf(query.subarray(0, 15))).toBe('NET_TRUNCATED');
    const loop = Uint8Array.from([...query.subarray(0, 12), 0xc0, 12, 0, 1, 0, 1]);
    expect(codeOf(loop)).toBe('NET_BAD_HEADER');
    expect(() => dns.encodeQuery(1, 'a..b')).toThrow(NetError);
  });
});

describe('timer queue', () => {
  it('runs due timers in (time, order) order, including ones set while running, and skips cancelled ones', () => {
    const q = new TimerQueue();
    const log: string[] = [];
    q.push(20, () => log.push('b'));
    q.push(10, (now) => {
      log.push(`a@${now}`);
      q.push(15, () => log.push('c'));
    });
    q.push(20, () => log.push('d')).cancel();
    q.push(20, () => log.push('e'));
    expect(q.nextAt()).toBe(10);
    q.runDue(17);
    expect(log).toEqual(['a@17', 'c']);
    q.runDue(20);
    expect(log).toEqual(['a@17', 'c', 'b', 'e']);
    expect(q.nextAt()).toBeUndefined();
  });
});

describe('determinism guard', () => {
  it('nothing in traffic/ or the reference peer reads a clock or Math.random', () => {
    const traffic = join(import.meta.dirname, '../traffic');
    const files = [
      ...readdirSync(traffic).filter((n) => n.endsWith('.ts')).map((n) => join(traffic, n)),
      ...['reference-server.ts', 'reference-tcp.ts', 'impair.ts'].map((n) => join(import.meta.dirname, 'support', n)),
    ];
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      // Comments may say what the code must not do; only code counts.
      const code = readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
      expect(code.match(/Math\.random|Date\.now|new Date|performance\.now|process\.hrtime|setTimeout|setInterval/g), f).toBeNull();
    }
  });
});
