// Captures of HIC's emulated wire as classic libpcap files (nanosecond variant, magic 0xa1b23c4d,
// LINKTYPE_ETHERNET), so Wireshark and tshark open them directly. Timestamps are the caller's
// virtual time in nanoseconds: a capture never reads a host clock, so the same run writes the
// same file, byte for byte.

import { closeSync, openSync, writeSync } from 'node:fs';

export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const LINKTYPE_ETHERNET = 1;
export const PCAP_SNAPLEN = 65535;
const FILE_HEADER_LEN = 24;
const RECORD_HEADER_LEN = 16;

export type PcapErrorCode = 'PCAP_CLOSED' | 'PCAP_BAD_TIME' | 'PCAP_NOT_IN_MEMORY' | 'PCAP_BAD_FILE';

export class PcapError extends Error {
  override readonly name = 'PcapError';
  constructor(readonly code: PcapErrorCode, message: string) {
    super(message);
  }
}

export interface PcapRecord {
  readonly timeNs: number;
  /** The captured bytes (at most the snap length). */
  readonly frame: Uint8Array;
  /** The frame's length on the wire. */
  readonly originalLength: number;
}

function fileHeader(): Uint8Array {
  const b = new Uint8Array(FILE_HEADER_LEN);
  const v = new DataView(b.buffer);
  // Written little-endian; readers recognise the byte order from the magic.
  v.setUint32(0, PCAP_MAGIC_NS, true);
  v.setUint16(4, 2, true); // version 2.4
  v.setUint16(6, 4, true);
  v.setInt32(8, 0, true); // thiszone: timestamps are already "UTC" (virtual time since boot)
  v.setUint32(12, 0, true); // sigfigs
  v.setUint32(16, PCAP_SNAPLEN, true);
  v.setUint32(20, LINKTYPE_ETHERNET, true);
  return b;
}

export class PcapWriter {
  private closed = false;

  private constructor(
    /** The open file, or null for an in-memory capture. */
    private readonly fd: number | null,
    private readonly chunks: Uint8Array[] | null,
  ) {
    this.emit(fileHeader());
  }

  /** Creates (or truncates) `path` and writes the file header. */
  static open(path: string): PcapWriter {
    return new PcapWriter(openSync(path, 'w'), null);
  }

  static inMemory(): PcapWriter {
    return new PcapWriter(null, []);
  }

  /** Appends one frame seen on the wire at virtual time `timeNs` (nanoseconds since boot). */
  write(timeNs: number, frame: Uint8Array): void {
    if (this.closed) throw new PcapError('PCAP_CLOSED', 'pcap: write after close');
    // A safe integer of nanoseconds (~104 days) is far inside the uint32 seconds field.
    if (!Number.isSafeInteger(timeNs) || timeNs < 0) {
      throw new PcapError('PCAP_BAD_TIME', `pcap: timestamp ${timeNs} ns is not a non-negative safe integer`);
    }
    const captured = Math.min(frame.length, PCAP_SNAPLEN);
    const rec = new Uint8Array(RECORD_HEADER_LEN + captured);
    const v = new DataView(rec.buffer);
    v.setUint32(0, Math.floor(timeNs / 1e9), true);
    v.setUint32(4, timeNs % 1e9, true);
    v.setUint32(8, captured, true);
    v.setUint32(12, frame.length, true);
    rec.set(frame.subarray(0, captured), RECORD_HEADER_LEN);
    this.emit(rec);
  }

  /** Flushes and closes the file; idempotent. An in-memory capture keeps its bytes. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.fd !== null) closeSync(this.fd);
  }

  /** The whole capture so far, for an in-memory writer. */
  bytes(): Uint8Array {
    if (this.chunks === null) throw new PcapError('PCAP_NOT_IN_MEMORY', 'pcap: bytes() is only for PcapWriter.inMemory()');
    const out = new Uint8Array(this.chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  private emit(b: Uint8Array): void {
    if (this.fd !== null) writeSync(this.fd, b);
    else this.chunks!.push(b);
  }
}

/**
 * Reads back a capture in the format PcapWriter writes (nanosecond magic, either byte order,
 * Ethernet). For tests and tools that replay a wire; anything else is PCAP_BAD_FILE.
 */
export function readPcap(bytes: Uint8Array): PcapRecord[] {
  const bad = (why: string): never => {
    throw new PcapError('PCAP_BAD_FILE', `pcap: ${why}`);
  };
  if (bytes.length < FILE_HEADER_LEN) bad(`${bytes.length} bytes is shorter than the file header`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = v.getUint32(0, true) === PCAP_MAGIC_NS;
  if (!le && v.getUint32(0, false) !== PCAP_MAGIC_NS) bad(`magic 0x${v.getUint32(0, false).toString(16)} is not nanosecond pcap`);
  if (v.getUint32(20, le) !== LINKTYPE_ETHERNET) bad(`link type ${v.getUint32(20, le)} is not Ethernet`);
  const out: PcapRecord[] = [];
  for (let at = FILE_HEADER_LEN; at < bytes.length; ) {
    if (at + RECORD_HEADER_LEN > bytes.length) bad(`record header at offset ${at} is cut off`);
    const sec = v.getUint32(at, le);
    const ns = v.getUint32(at + 4, le);
    const captured = v.getUint32(at + 8, le);
    if (ns >= 1e9) bad(`record at offset ${at} has ${ns} ns in its fraction field`);
    if (!Number.isSafeInteger(sec * 1e9 + ns)) bad(`record at offset ${at}: ${sec} s does not fit a number of nanoseconds`);
    if (at + RECORD_HEADER_LEN + captured > bytes.length) bad(`record at offset ${at} claims ${captured} bytes past the end`);
    out.push({
      timeNs: sec * 1e9 + ns,
      frame: bytes.slice(at + RECORD_HEADER_LEN, at + RECORD_HEADER_LEN + captured),
      originalLength: v.getUint32(at + 12, le),
    });
    at += RECORD_HEADER_LEN + captured;
  }
  return out;
}
