// Reading the migration protocol as the debugger sees it: IPC messages (struct hic_msg, at the
// offsets core0/abi/abi.ts gives), the protocol's call numbers and reply codes, read from the
// guests' own header (services/include/hic/migration.h) so there is one list, and a connection
// package (MIG_CONN_OUT's memory object) decoded with the connection-record schema that
// services/netstack/core/migrate.c documents (schema 1, netstack 1.2.0; schema 2, 1.3.0).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MESSAGE } from '../../core0/abi/abi.ts';

export interface MigrationNames {
  /** MIG_HELLO → 'HELLO', … by call number. */
  readonly calls: ReadonlyMap<number, string>;
  /** MIG_OK → 'OK', MIG_ERR_NO_CONN → 'ERR_NO_CONN', … by reply label. */
  readonly replies: ReadonlyMap<number, string>;
}

/** The calls and reply codes #defined in the guests' migration header. */
export function readMigrationNames(repoRoot: string): MigrationNames {
  const text = readFileSync(join(repoRoot, 'services', 'include', 'hic', 'migration.h'), 'utf8');
  const calls = new Map<number, string>();
  const replies = new Map<number, string>();
  for (const m of text.matchAll(/^#define MIG_([A-Z_]+)\s+(\d+)\s*(?:\/\*.*)?$/gm)) {
    const [name, value] = [m[1]!, Number(m[2])];
    if (name === 'OK' || name.startsWith('ERR_')) replies.set(value, name);
    else if (/^(HELLO|PEER|PREPARE|EXPORT_STATE|IMPORT_STATE|LIST|EXPECT|CONN_[A-Z]+|COMPLETE|ABORT|STATUS)$/.test(name)) calls.set(value, name);
  }
  return { calls, replies };
}

export interface DecodedMessage {
  readonly label: bigint;
  readonly words: readonly bigint[];
  readonly cap: bigint;
  readonly capMove: boolean;
  readonly len: number;
  readonly payload: Uint8Array;
}

/** struct hic_msg from guest memory (the payload clipped to its stated length). */
export function decodeMessage(bytes: Uint8Array): DecodedMessage {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u64 = (at: number) => v.getBigUint64(at, true);
  const len = Number(u64(MESSAGE.at.len));
  const words = Array.from({ length: MESSAGE.words }, (_, i) => u64(MESSAGE.at.words + 8 * i));
  return {
    label: u64(MESSAGE.at.label), words, cap: v.getBigInt64(MESSAGE.at.cap, true), capMove: u64(MESSAGE.at.cap_move) !== 0n,
    len, payload: bytes.subarray(MESSAGE.at.payload, MESSAGE.at.payload + Math.min(len, MESSAGE.payloadMax)),
  };
}

export const TCP_STATES = ['FREE', 'SYN_RCVD', 'ESTABLISHED', 'FIN_WAIT_1', 'FIN_WAIT_2', 'CLOSING', 'TIME_WAIT', 'CLOSE_WAIT', 'LAST_ACK'] as const;

/** One connection as a migration package carries it, whichever schema wrote it. */
export interface ConnectionRecord {
  readonly schema: number;
  readonly id: number;
  readonly state: string;
  readonly frozen: boolean;
  readonly finSent: boolean;
  readonly accepted: boolean;
  readonly local: string;
  readonly remote: string;
  readonly remoteMac: string;
  readonly mss: number;
  readonly iss: number;
  readonly irs: number;
  readonly sndUna: number;
  readonly sndNxt: number;
  readonly rcvNxt: number;
  readonly sndWnd: number;
  readonly rcvWnd: number;
  readonly lastActivity: bigint;
  readonly bytesIn: bigint;
  readonly bytesOut: bigint;
  /** Bytes in the send buffer (sent-unacknowledged, then unsent). */
  readonly sendBuffer: number;
  /** Segments queued while the connection was frozen. */
  readonly queued: number;
  readonly priority?: number;
  readonly establishedAt?: bigint;
}

export interface Package {
  readonly bytes: number;
  readonly crc: number;
  readonly record: ConnectionRecord;
  readonly appBytes: number;
}

export class PackageError extends Error {
  readonly code = 'DEBUG_BAD_PACKAGE';
}

const ip = (v: number) => [24, 16, 8, 0].map((s) => (v >>> s) & 0xff).join('.');
const mac = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');

/** A connection record (migrate.c's schema 1 or 2) at the start of `b`. */
export function decodeRecord(b: Uint8Array): ConnectionRecord {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 16 || String.fromCharCode(...b.subarray(0, 4)) !== 'HNSC') throw new PackageError('not a connection record (no HNSC magic)');
  const schema = v.getUint16(4, true);
  const header = v.getUint16(6, true);
  if ((schema === 1 && header !== 160) || (schema === 2 && header !== 176) || (schema !== 1 && schema !== 2)) {
    throw new PackageError(`connection record of schema ${schema} with a ${header}-byte header: not a schema this debugger reads`);
  }
  if (b.length < header) throw new PackageError(`connection record cut short: ${b.length} of ${header} header bytes`);
  const u8 = (o: number) => v.getUint8(o);
  const u16 = (o: number) => v.getUint16(o, true);
  const u32 = (o: number) => v.getUint32(o, true);
  const u64 = (o: number) => v.getBigUint64(o, true);
  const flags = u8(18);
  const common = {
    schema, id: u32(12), state: TCP_STATES[u8(17)] ?? `state ${u8(17)}`,
    frozen: (flags & 1) !== 0, finSent: (flags & 2) !== 0, accepted: (flags & 4) !== 0,
  };
  if (schema === 1) {
    return {
      ...common,
      local: `${ip(u32(20))}:${u16(28)}`, remote: `${ip(u32(24))}:${u16(30)}`, remoteMac: mac(b.subarray(32, 38)), mss: u16(38),
      iss: u32(40), irs: u32(44), sndUna: u32(48), sndNxt: u32(52), rcvNxt: u32(56), sndWnd: u16(60), rcvWnd: u16(62),
      lastActivity: u64(64), bytesIn: u64(72), bytesOut: u64(80), sendBuffer: u32(152), queued: u16(156),
    };
  }
  return {
    ...common, priority: u8(19), establishedAt: u64(20), lastActivity: u64(28),
    remote: `${ip(u32(36))}:${u16(40)}`, remoteMac: mac(b.subarray(42, 48)), local: `${ip(u32(48))}:${u16(52)}`, mss: u16(54),
    iss: u32(56), irs: u32(60), sndUna: u32(64), sndNxt: u32(68), rcvNxt: u32(72), sndWnd: u32(76), rcvWnd: u32(80),
    bytesIn: u64(84), bytesOut: u64(92), sendBuffer: u32(164), queued: u16(168),
  };
}

/** struct mig_package (magic "MIPK", record lengths, CRC), then the core's record. */
export function decodePackage(b: Uint8Array): Package {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 16 || v.getUint32(0, true) !== 0x4b50494d) throw new PackageError('not a connection package (no MIPK magic)');
  const coreLen = v.getUint32(4, true);
  const appLen = v.getUint32(8, true);
  if (16 + coreLen + appLen > b.length) throw new PackageError(`package records (${coreLen} + ${appLen} bytes) run past its ${b.length} bytes`);
  return { bytes: 16 + coreLen + appLen, crc: v.getUint32(12, true), record: decodeRecord(b.subarray(16, 16 + coreLen)), appBytes: appLen };
}

/** One line: `conn 17 10.0.0.2:80 <- 10.1.0.5:40001 ESTABLISHED frozen snd.una … rcv.nxt … 4096 B queued 0`. */
export function describeRecord(r: ConnectionRecord): string {
  const flags = [r.frozen ? 'frozen' : '', r.finSent ? 'fin-sent' : '', r.accepted ? 'accepted' : ''].filter(Boolean).join(',');
  return `conn ${r.id} ${r.local} <- ${r.remote} ${r.state}${flags ? ` [${flags}]` : ''} snd.una ${r.sndUna} snd.nxt ${r.sndNxt} rcv.nxt ${r.rcvNxt} ` +
    `wnd ${r.sndWnd}/${r.rcvWnd} in ${r.bytesIn} out ${r.bytesOut} B, send buffer ${r.sendBuffer} B, ${r.queued} queued ${r.schema ? `(schema ${r.schema})` : '(live table)'}`;
}
