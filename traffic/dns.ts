// DNS messages (RFC 1035) as the traffic generator asks them and the reference server answers
// them: one question of type A, class IN; an answer of A records whose owner name is a
// compression pointer to the question. The decoder follows compression pointers anywhere and
// refuses, with a NetError, anything truncated or looping.

import { get16, get32, need, put16, put32 } from '../emulator/net/bytes.ts';
import { netFail } from '../emulator/net/errors.ts';

export const DNS_PORT = 53;
export const DNS_TYPE_A = 1;
export const DNS_CLASS_IN = 1;
export const RCODE_NOERROR = 0;
export const RCODE_NXDOMAIN = 3;
const HEADER_LEN = 12;
const FLAG_QR = 0x8000;
const FLAG_AA = 0x0400;
const FLAG_RD = 0x0100;

export interface DnsQuestion {
  readonly name: string;
  readonly type: number;
  readonly klass: number;
}

export interface DnsRecord extends DnsQuestion {
  readonly ttl: number;
  readonly data: Uint8Array;
}

export interface DnsMessage {
  readonly id: number;
  readonly response: boolean;
  readonly flags: number;
  readonly rcode: number;
  readonly questions: DnsQuestion[];
  readonly answers: DnsRecord[];
}

function encodeName(name: string): number[] {
  const labels = name.replace(/\.$/, '').split('.');
  const out: number[] = [];
  for (const l of labels) {
    if (l.length === 0 || l.length > 63 || !/^[\x21-\x7e]+$/.test(l)) netFail('NET_BAD_HEADER', `dns: "${name}" has a bad label "${l}"`);
    out.push(l.length, ...Array.from(l, (c) => c.charCodeAt(0)));
  }
  out.push(0);
  return out;
}

function header(id: number, flags: number, qd: number, an: number): number[] {
  return [id >>> 8, id & 0xff, flags >>> 8, flags & 0xff, 0, qd, 0, an, 0, 0, 0, 0];
}

/** A recursive-desired query for the A record of `name`. */
export function encodeQuery(id: number, name: string): Uint8Array {
  return Uint8Array.from([...header(id, FLAG_RD, 1, 0), ...encodeName(name), 0, DNS_TYPE_A, 0, DNS_CLASS_IN]);
}

/**
 * The authoritative answer to `query`: its question repeated, then one A record (`address`) or,
 * when `address` is undefined, no record and NXDOMAIN.
 */
export function encodeResponse(query: DnsMessage, address: number | undefined, ttl = 60): Uint8Array {
  const q = query.questions[0];
  if (q === undefined) netFail('NET_BAD_HEADER', 'dns: a response needs the query to have a question');
  const flags = FLAG_QR | FLAG_AA | (query.flags & FLAG_RD) | (address === undefined ? RCODE_NXDOMAIN : RCODE_NOERROR);
  const head = [...header(query.id, flags, 1, address === undefined ? 0 : 1), ...encodeName(q.name), 0, q.type, 0, q.klass];
  if (address === undefined) return Uint8Array.from(head);
  const rr = new Uint8Array(16);
  put16(rr, 0, 0xc000 | HEADER_LEN); // the owner name: a pointer to the question's name
  put16(rr, 2, DNS_TYPE_A);
  put16(rr, 4, DNS_CLASS_IN);
  put32(rr, 6, ttl);
  put16(rr, 10, 4);
  put32(rr, 12, address);
  return Uint8Array.from([...head, ...rr]);
}

export function decode(bytes: Uint8Array): DnsMessage {
  need(bytes, HEADER_LEN, 'dns header');
  const flags = get16(bytes, 2);
  const qd = get16(bytes, 4);
  const an = get16(bytes, 6);
  let at = HEADER_LEN;
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < qd; i++) {
    const [name, end] = readName(bytes, at);
    need(bytes, end + 4, 'dns question');
    questions.push({ name, type: get16(bytes, end), klass: get16(bytes, end + 2) });
    at = end + 4;
  }
  const answers: DnsRecord[] = [];
  for (let i = 0; i < an; i++) {
    const [name, end] = readName(bytes, at);
    need(bytes, end + 10, 'dns record');
    const len = get16(bytes, end + 8);
    need(bytes, end + 10 + len, 'dns record data');
    answers.push({ name, type: get16(bytes, end), klass: get16(bytes, end + 2), ttl: get32(bytes, end + 4), data: bytes.slice(end + 10, end + 10 + len) });
    at = end + 10 + len;
  }
  return { id: get16(bytes, 0), response: (flags & FLAG_QR) !== 0, flags, rcode: flags & 0x0f, questions, answers };
}

/** The name at `at` and the offset just past it where it is written (not where pointers lead). */
function readName(bytes: Uint8Array, at: number): [string, number] {
  const labels: string[] = [];
  let end: number | undefined;
  // Every pointer must go strictly backwards, so following them always terminates.
  let limit = at;
  for (;;) {
    need(bytes, at + 1, 'dns name');
    const len = bytes[at]!;
    if (len === 0) {
      return [labels.join('.'), end ?? at + 1];
    }
    if ((len & 0xc0) === 0xc0) {
      need(bytes, at + 2, 'dns name pointer');
      const target = get16(bytes, at) & 0x3fff;
      if (target >= limit) netFail('NET_BAD_HEADER', `dns: name pointer at ${at} to ${target} does not point backwards`);
      end ??= at + 2;
      limit = target;
      at = target;
      continue;
    }
    if (len > 63) netFail('NET_BAD_HEADER', `dns: label length byte 0x${len.toString(16)} at ${at}`);
    need(bytes, at + 1 + len, 'dns label');
    labels.push(String.fromCharCode(...bytes.subarray(at + 1, at + 1 + len)));
    at += 1 + len;
  }
}
