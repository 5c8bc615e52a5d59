// Reading the audit log a line at a time, in fixed-size chunks: a log of any size is verified and
// shown in constant memory. (Reading a whole segment as one string once failed every boot with
// "Cannot create a string longer than 0x1fffffe8 characters" at 587 MB.)
//
// Lines are split on the byte 0x0A, which never occurs inside a multi-byte UTF-8 sequence, and
// each line knows the byte offset just past its newline, which is what a checkpoint records.

import { closeSync, openSync, readSync } from 'node:fs';

const CHUNK = 1 << 20;
/** No record the log writes comes near this; a longer line is refused without being held. */
export const MAX_LINE = 1 << 20;

export interface Line {
  /** The line without its newline; null when it is longer than MAX_LINE. */
  readonly text: string | null;
  /** 1-based line number in its file. */
  readonly line: number;
  /** Byte offset just past this line's newline (or past its last byte, when incomplete). */
  readonly end: number;
  /** False for a last line without a newline: a write that was cut short. */
  readonly complete: boolean;
}

/** Where to start in a file: a byte offset at the start of a line, and how many lines precede it. */
export interface FilePosition {
  readonly offset: number;
  readonly line: number;
}

type Read = (into: Buffer, position: number) => number;

function* split(read: Read, from: FilePosition): Generator<Line> {
  const buf = Buffer.allocUnsafe(CHUNK);
  let pos = from.offset;
  let line = from.line;
  let parts: Buffer[] = [];
  let held = 0;
  let tooLong = false;
  for (;;) {
    const n = read(buf, pos);
    if (n === 0) break;
    let i = 0;
    while (i < n) {
      let nl = buf.indexOf(10, i);
      if (nl >= n) nl = -1;
      const stop = nl < 0 ? n : nl;
      if (nl >= 0 && held === 0 && !tooLong) {
        // The common case: the whole line is inside this chunk.
        line++;
        yield { text: stop - i > MAX_LINE ? null : buf.toString('utf8', i, stop), line, end: pos + nl + 1, complete: true };
        i = nl + 1;
        continue;
      }
      if (!tooLong) {
        if (held + (stop - i) > MAX_LINE) {
          tooLong = true;
          parts = [];
          held = 0;
        } else {
          parts.push(Buffer.from(buf.subarray(i, stop))); // a copy: buf is reused by the next read
          held += stop - i;
        }
      }
      if (nl < 0) break;
      line++;
      yield { text: tooLong ? null : Buffer.concat(parts).toString('utf8'), line, end: pos + nl + 1, complete: true };
      parts = [];
      held = 0;
      tooLong = false;
      i = nl + 1;
    }
    pos += n;
  }
  if (held > 0 || tooLong) yield { text: tooLong ? null : Buffer.concat(parts).toString('utf8'), line: line + 1, end: pos, complete: false };
}

/** The lines of a file from a position on; the file is read in 1 MiB chunks and closed at the end. */
export function* fileLines(path: string, from: FilePosition = { offset: 0, line: 0 }): Generator<Line> {
  const fd = openSync(path, 'r');
  try {
    yield* split((into, position) => readSync(fd, into, 0, into.length, position), from);
  } finally {
    closeSync(fd);
  }
}

/** The lines of text already in memory (verifyAuditText). */
export function* bufferLines(bytes: Buffer, from: FilePosition = { offset: 0, line: 0 }): Generator<Line> {
  yield* split((into, position) => bytes.copy(into, 0, position, Math.min(bytes.length, position + into.length)), from);
}

/**
 * The last complete line that ends exactly at `end` (a checkpoint's offset), read backwards in
 * one bounded read; undefined if there is no newline at end - 1 or the line is too long.
 */
export function lineEndingAt(path: string, end: number): string | undefined {
  if (end <= 0) return undefined;
  const want = Math.min(end, MAX_LINE + 1);
  const buf = Buffer.allocUnsafe(want);
  const fd = openSync(path, 'r');
  try {
    if (readSync(fd, buf, 0, want, end - want) !== want) return undefined;
  } finally {
    closeSync(fd);
  }
  if (buf[want - 1] !== 10) return undefined;
  const start = want >= 2 ? buf.lastIndexOf(10, want - 2) : -1;
  if (start < 0 && want < end) return undefined; // longer than MAX_LINE
  return buf.toString('utf8', start + 1, want - 1);
}
