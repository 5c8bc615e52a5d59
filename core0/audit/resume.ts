// Where an existing audit log resumes. With a checkpoint, the log must still hold what it
// describes — sealed segments of the recorded sizes, the checkpointed head record ending at the
// recorded offset — before verification starts there; without one, it starts at the first record.
// A torn last line (a write cut short) is set aside rather than left to refuse every later boot.

import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { AuditError, GENESIS_HASH, parseLine, type AuditFailure } from './chain.ts';
import { lineEndingAt, MAX_LINE } from './lines.ts';
import { readCheckpoint, sealedPath, sealedSegments, segmentFiles } from './segments.ts';
import { GENESIS, type ChainPosition } from './verify.ts';

/** The record that says a torn last line was set aside when the log was opened. */
export const TORN_KIND = 'auditTornTail';

/**
 * A last line without its newline in the active segment is a write that was cut short (a full
 * disk, a power cut): it never became a record. Leaving it would refuse every later boot, and
 * deleting it would hide it, so it is moved to a file beside the log and the repair is audited:
 * where it was, how long, its SHA-256, and where it went. It comes after the checkpoint by
 * construction (the checkpoint only ever points at complete records).
 */
export function setTornTailAside(path: string, offset: number): { offset: number; bytes: number; sha256: string; savedAs: string } | undefined {
  const size = statSync(path).size;
  const bytes = size - offset;
  if (bytes <= 0 || bytes > MAX_LINE) return undefined;
  const tail = Buffer.alloc(bytes);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, tail, 0, bytes, offset);
  } finally {
    closeSync(fd);
  }
  const savedAs = `${path}.torn-${offset}`;
  writeFileSync(savedAs, tail);
  truncateSync(path, offset);
  return { offset, bytes, sha256: createHash('sha256').update(tail).digest('hex'), savedAs: basename(savedAs) };
}

export function refuse(file: string, line: number, code: AuditFailure, reason: string): never {
  throw new AuditError('AUDIT_CORRUPT', `${file}:${line}: ${reason} [${code}]; refusing to append to a log that does not verify`);
}

/**
 * Where verification of an existing log starts: at its checkpoint, once the log is shown to still
 * hold what the checkpoint describes (sealed segments of the recorded sizes, the checkpointed head
 * record ending at the recorded offset); at the first record when there is no checkpoint.
 */
export function startingPoint(path: string): { start: ChainPosition; sealed: number[] } {
  const present = sealedSegments(path);
  present.forEach((s, i) => {
    if (s.n !== i + 1) refuse(sealedPath(path, i + 1), 1, 'AUDIT_REMOVED', `sealed segment ${i + 1} is missing (${s.path} follows)`);
  });
  const sizes = present.map((s) => statSync(s.path).size);
  const cp = readCheckpoint(path);
  if (!cp) return { start: GENESIS, sealed: sizes };
  const files = segmentFiles(path);
  cp.sealed.forEach((bytes, i) => {
    const file = sealedPath(path, i + 1);
    if (i >= present.length) refuse(file, 1, 'AUDIT_REMOVED', `sealed segment ${i + 1} is gone; the checkpoint recorded it (${bytes} bytes)`);
    if (sizes[i] !== bytes) refuse(file, 1, 'AUDIT_EDITED', `sealed segment ${i + 1} is ${sizes[i]} bytes; the checkpoint recorded ${bytes}: it was changed after it was sealed`);
  });
  // The record the checkpoint names must end exactly where it says.
  let file = files[cp.segment - 1]!;
  let end = cp.offset;
  if (end === 0 && cp.segment > 1) {
    file = files[cp.segment - 2]!;
    end = cp.sealed[cp.segment - 2]!;
  }
  const size = existsSync(file) ? statSync(file).size : 0;
  const truncated = (why: string) =>
    refuse(file, cp.line + 1, 'AUDIT_TRUNCATED', `${why}; the checkpoint says record #${cp.records - 1} (head ${cp.head.slice(0, 16)}…) ends at byte ${end}: records were removed from the end, or an older copy of the log was restored`);
  if (cp.records === 0) {
    if (cp.head !== GENESIS_HASH || cp.offset !== 0 || cp.segment !== 1) truncated('an empty log with a head');
  } else {
    if (size < end) truncated(`${file} is ${size} bytes`);
    const text = lineEndingAt(file, end);
    const r = text === undefined ? null : parseLine(text).record;
    if (!r || r.hash !== cp.head || r.seq !== cp.records - 1) truncated('that record is not there');
  }
  const start: ChainPosition = { segment: cp.segment - 1, offset: cp.offset, line: cp.line, records: cp.records, head: cp.head };
  return { start, sealed: sizes };
}
