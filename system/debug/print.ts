// Guest variables by name, read with the types DWARF gives (dwarf-info.ts): `print
// netstack:stack.conn_count`, `print netstack:stack.conns[3]`, and the netstack's connection table
// (`connections`), each live connection decoded field by field into the same record the
// migration package carries (migration.ts), so a connection reads the same in both places.

import { DwarfInfo, type DwarfType } from './dwarf-info.ts';
import { TCP_STATES, type ConnectionRecord } from './migration.ts';
import type { LoadedModule } from './modules.ts';

const cache = new WeakMap<object, DwarfInfo>();

export function dwarfOf(m: LoadedModule): DwarfInfo | undefined {
  if (!m.info) return undefined;
  let d = cache.get(m.info);
  if (!d) {
    d = DwarfInfo.read(m.info.elf, m.info.placed);
    cache.set(m.info, d);
  }
  return d;
}

export class PrintError extends Error {
  readonly code = 'DEBUG_PRINT';
}

export interface Place {
  readonly address: number;
  readonly type: DwarfType;
}

/** `var.member[3].member`: the address and type it names in a module loaded at `base`. */
export function locate(d: DwarfInfo, base: number, path: string): Place {
  const m = /^([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*|\[\d+\])*)$/.exec(path);
  if (!m) throw new PrintError(`cannot read '${path}': expected name(.member|[index])…`);
  const v = d.variables.get(m[1]!);
  if (!v) throw new PrintError(`no global or static variable '${m[1]}' in this module's debug information`);
  let place: Place = { address: base + v.offset, type: v.type() };
  for (const step of m[2]!.matchAll(/\.([A-Za-z_]\w*)|\[(\d+)\]/g)) {
    const t = place.type;
    if (step[1] !== undefined) {
      if (t.kind !== 'struct' && t.kind !== 'union') throw new PrintError(`'.${step[1]}' on a value that is not a structure`);
      const f = t.members.find((x) => x.name === step[1]);
      if (!f) throw new PrintError(`${t.kind} ${t.name} has no member '${step[1]}' (has ${t.members.map((x) => x.name).join(', ')})`);
      place = { address: place.address + f.offset, type: f.type() };
    } else {
      if (t.kind !== 'array') throw new PrintError(`'[${step[2]}]' on a value that is not an array`);
      const i = Number(step[2]);
      if (i >= (t.counts[0] ?? 0)) throw new PrintError(`index ${i} is past the array's ${t.counts[0]} elements`);
      const inner: DwarfType = t.counts.length > 1 ? { kind: 'array', element: t.element, counts: t.counts.slice(1) } : t.element();
      place = { address: place.address + i * sizeOf(inner), type: inner };
    }
  }
  return place;
}

export function sizeOf(t: DwarfType): number {
  switch (t.kind) {
    case 'array':
      return t.counts.reduce((n, c) => n * c, sizeOf(t.element()));
    case 'void':
      return 0;
    default:
      return t.size;
  }
}

function integer(b: Uint8Array, at: number, size: number, signed: boolean): bigint {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[at + i]!);
  return signed ? BigInt.asIntN(size * 8, v) : v;
}

/** A value as JSON-able data; arrays longer than `limit` are cut (the rest counted). */
export function decode(t: DwarfType, b: Uint8Array, at: number, limit = 16): unknown {
  switch (t.kind) {
    case 'base':
      if (t.bool) return b[at] !== 0;
      if (t.size > 8) return `0x${Buffer.from(b.subarray(at, at + t.size)).reverse().toString('hex')}`;
      return integer(b, at, t.size, t.signed);
    case 'enum': {
      const v = Number(integer(b, at, t.size, false));
      return t.values.get(v) ?? v;
    }
    case 'pointer':
      return `0x${integer(b, at, 8, false).toString(16)}`;
    case 'struct':
    case 'union':
      return Object.fromEntries(t.members.map((m) => [m.name, decode(m.type(), b, at + m.offset, limit)]));
    case 'array': {
      const inner: DwarfType = t.counts.length > 1 ? { kind: 'array', element: t.element, counts: t.counts.slice(1) } : t.element();
      const n = t.counts[0] ?? 0;
      const size = sizeOf(inner);
      if (inner.kind === 'base' && inner.size === 1 && !inner.bool) return `${Buffer.from(b.subarray(at, at + Math.min(n, 64))).toString('hex')}${n > 64 ? '…' : ''}`;
      const out: unknown[] = [];
      for (let i = 0; i < Math.min(n, limit); i++) out.push(decode(inner, b, at + i * size, limit));
      if (n > limit) out.push(`… ${n - limit} more`);
      return out;
    }
    case 'void':
      return null;
  }
}

export function formatValue(v: unknown, indent = ''): string {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return `{${v.map((x) => formatValue(x, indent)).join(', ')}}`;
  if (v && typeof v === 'object') {
    const inner = indent + '  ';
    return `{\n${Object.entries(v).map(([k, x]) => `${inner}${k} = ${formatValue(x, inner)}`).join(',\n')}\n${indent}}`;
  }
  return String(v);
}

const ip = (v: bigint) => [24n, 16n, 8n, 0n].map((s) => Number((v >> s) & 0xffn)).join('.');

/**
 * The live connections of a netstack instance (its `stack` variable), each as the record a
 * migration package would carry. `read` gives the bytes of the module's memory.
 */
export function connectionTable(d: DwarfInfo, base: number, read: (address: number, length: number) => Uint8Array | undefined): ConnectionRecord[] {
  const conns = locate(d, base, 'stack.conns');
  if (conns.type.kind !== 'array') throw new PrintError('stack.conns is not an array');
  const conn = conns.type.element();
  if (conn.kind !== 'struct') throw new PrintError('stack.conns does not hold structures');
  const size = sizeOf(conn);
  const n = conns.type.counts[0] ?? 0;
  const bytes = read(conns.address, n * size);
  if (!bytes) throw new PrintError('the connection table is not mapped');
  const out: ConnectionRecord[] = [];
  for (let i = 0; i < n; i++) {
    const c = decode(conn, bytes, i * size, 0) as Record<string, unknown>;
    const state = c.state as bigint;
    if (state === 0n) continue;
    const big = (k: string) => (c[k] as bigint | undefined) ?? 0n;
    const num = (k: string) => Number(big(k));
    out.push({
      schema: 0, id: num('id'), state: TCP_STATES[Number(state)] ?? `state ${state}`, frozen: c.frozen === true, finSent: c.fin_sent === true, accepted: c.accepted === true,
      local: `${ip(big('local_ip'))}:${num('local_port')}`, remote: `${ip(big('remote_ip'))}:${num('remote_port')}`,
      remoteMac: String(c.remote_mac ?? '').replace(/(..)(?!$)/g, '$1:'), mss: num('mss'), iss: num('iss'), irs: num('irs'),
      sndUna: num('snd_una'), sndNxt: num('snd_nxt'), rcvNxt: num('rcv_nxt'), sndWnd: num('snd_wnd'), rcvWnd: num('rcv_wnd'),
      lastActivity: big('last_activity'), bytesIn: big('bytes_in'), bytesOut: big('bytes_out'), sendBuffer: num('sb_len'), queued: num('q_count'),
      ...(c.prio !== undefined ? { priority: num('prio') } : {}), ...(c.established_at !== undefined ? { establishedAt: big('established_at') } : {}),
    });
  }
  return out;
}
