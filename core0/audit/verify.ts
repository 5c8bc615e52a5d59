// Verifying the chain, streamed: one line at a time across the segments of a log, from the start or
// from a checkpointed position, in constant memory. The first problem is the answer, named by file
// and 1-based line. Telling a removed record from a moved one needs to know what comes later, so
// only on that failure path the rest of the log is scanned a second time.

import { existsSync } from 'node:fs';
import { type AuditFailure, GENESIS_HASH, parseLine } from './chain.ts';
import { bufferLines, fileLines, MAX_LINE, type FilePosition, type Line } from './lines.ts';

/** One file of the chain (or text in memory), readable from any line start. */
export interface Segment {
  /** How failures name it: a path, or '' for text. */
  readonly name: string;
  lines(from?: FilePosition): Iterable<Line>;
}

export const fileSegment = (path: string): Segment => ({ name: path, lines: (from) => (existsSync(path) ? fileLines(path, from) : []) });

export function textSegment(text: string): Segment {
  const bytes = Buffer.from(text, 'utf8');
  return { name: '', lines: (from) => bufferLines(bytes, from) };
}

/** A position in the chain: just past the record with hash `head`, the `records`-th of the log. */
export interface ChainPosition {
  /** 0-based index into the segments. */
  readonly segment: number;
  readonly offset: number;
  /** Lines before `offset` in that segment. */
  readonly line: number;
  readonly records: number;
  readonly head: string;
}

export const GENESIS: ChainPosition = { segment: 0, offset: 0, line: 0, records: 0, head: GENESIS_HASH };

export type ChainVerdict =
  | { ok: true; end: ChainPosition }
  | { ok: false; file: string; line: number; code: AuditFailure; reason: string; /** where the failing line starts */ offset: number };

export interface ChainOptions {
  /** A head hash from a trusted copy: the log's last record must have exactly this hash. */
  readonly head?: string;
}

/** Verifies `segments` from `start` (a position already trusted) to the end. */
export function verifyChain(segments: readonly Segment[], start: ChainPosition = GENESIS, options: ChainOptions = {}): ChainVerdict {
  let want = start.records;
  let head = start.head;
  let end = start;
  let headAt = options.head === start.head ? { segment: start.segment, line: start.line, records: start.records } : undefined;
  let prevEnd = { segment: start.segment, line: start.line };
  let lastLines = start.line;

  for (let s = start.segment; s < segments.length; s++) {
    const seg = segments[s]!;
    const from = s === start.segment ? { offset: start.offset, line: start.line } : { offset: 0, line: 0 };
    // The seq of this file's first line, were nothing touched: lines before it were all in order.
    const firstSeq = s === start.segment ? start.records - start.line : want;
    lastLines = from.line;
    const where = (at: { segment: number; line: number }) =>
      at.segment === s ? `line ${at.line}` : at.line === 0 ? 'the start of the log' : `${segments[at.segment]!.name}:${at.line}`;

    let lineStart = from.offset;
    for (const l of seg.lines(from)) {
      lastLines = l.line;
      const offset = lineStart;
      lineStart = l.end;
      const fail = (code: AuditFailure, reason: string): ChainVerdict => ({ ok: false, file: seg.name, line: l.line, code, reason, offset });
      if (!l.complete) return fail('AUDIT_TORN', 'last line is incomplete (no newline): a write was cut short');
      if (l.text === null) return fail('AUDIT_MALFORMED', `line longer than ${MAX_LINE} bytes`);
      const { record, problem } = parseLine(l.text);
      if (problem) return fail(problem.code, problem.reason);
      const r = record!;
      if (r.seq > want) {
        // A gap: either the missing records sit later in the log (moved) or they are gone.
        const later = firstLater(segments, s, l, want, r.seq);
        if (later) return fail('AUDIT_REORDERED', `record #${r.seq} comes before #${later.seq} (${later.segment === s ? `line ${later.line}` : `${segments[later.segment]!.name}:${later.line}`})`);
        if (r.prev === head) return fail('AUDIT_EDITED', `record #${r.seq} skips #${want} yet chains to ${where(prevEnd)}: it was rewritten and re-hashed`);
        const which = r.seq - want === 1 ? `record #${want} is` : `records #${want}..#${r.seq - 1} are`;
        return fail('AUDIT_REMOVED', `${which} missing before record #${r.seq}`);
      }
      if (r.seq < want) {
        const first = r.seq >= firstSeq ? `line ${r.seq - firstSeq + 1}` : 'an earlier segment';
        return fail('AUDIT_REORDERED', `record #${r.seq} appears again (first at ${first})`);
      }
      if (r.prev !== head) {
        // Right place, own hash valid, wrong link: one of this pair was changed and re-hashed.
        return fail('AUDIT_EDITED', `record #${r.seq} does not chain to ${where(prevEnd)}: one of the two was rewritten and re-hashed`);
      }
      head = r.hash;
      want++;
      end = { segment: s, offset: l.end, line: l.line, records: want, head };
      prevEnd = { segment: s, line: l.line };
      if (head === options.head) headAt = { segment: s, line: l.line, records: want };
    }
  }

  if (options.head !== undefined && options.head !== head) {
    const last = segments.length - 1;
    if (headAt) {
      const at = headAt.records === 0 ? 'the empty log' : headAt.segment === last ? `line ${headAt.line}` : `${segments[headAt.segment]!.name}:${headAt.line}`;
      return { ok: false, file: segments[headAt.segment]!.name, line: headAt.line + 1, code: 'AUDIT_EXTENDED', reason: `${want - headAt.records} record(s) follow the trusted head (${at})`, offset: 0 };
    }
    return {
      ok: false, file: segments[last]!.name, line: lastLines + 1, code: 'AUDIT_TRUNCATED',
      reason: `the trusted head is not in the log (${want} records): its last records were removed, or it is another log`,
      offset: 0,
    };
  }
  return { ok: true, end };
}

/** The lowest seq in [from, to) on a line after `after`, and where: the failure path's second scan. */
function firstLater(segments: readonly Segment[], s0: number, after: Line, from: number, to: number): { seq: number; segment: number; line: number } | undefined {
  let found: { seq: number; segment: number; line: number } | undefined;
  for (let s = s0; s < segments.length; s++) {
    const start = s === s0 ? { offset: after.end, line: after.line } : { offset: 0, line: 0 };
    for (const l of segments[s]!.lines(start)) {
      if (!l.complete || l.text === null) continue;
      let seq: unknown;
      try {
        seq = (JSON.parse(l.text) as { seq?: unknown }).seq;
      } catch (e) {
        if (!(e instanceof SyntaxError)) throw e;
        continue; // unreadable lines are the first pass's to report
      }
      if (typeof seq === 'number' && seq >= from && seq < to && (!found || seq < found.seq)) found = { seq, segment: s, line: l.line };
    }
  }
  return found;
}
