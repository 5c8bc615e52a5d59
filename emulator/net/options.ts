// Option lists in the kind/length/value form that IPv4 and TCP share (RFC 791, RFC 9293): kind 0
// ends the list, kind 1 is a one-byte pad, every other kind carries a length byte that counts
// the kind and length bytes too.

import { netFail } from './errors.ts';

export interface WireOption {
  readonly kind: number;
  /** The value bytes, without kind and length. */
  readonly data: Uint8Array;
}

const EOL = 0;
const NOP = 1;

/**
 * Walks `bytes` (the whole options area) and returns every option except EOL and NOP. `lengths`
 * gives the allowed total lengths of kinds the caller knows; any other kind is skipped by its own
 * length byte. A length below 2, past the end, or not allowed for a known kind is NET_BAD_HEADER.
 */
export function decodeOptions(
  bytes: Uint8Array,
  lengths: ReadonlyMap<number, readonly number[]>,
  what: string,
): WireOption[] {
  const out: WireOption[] = [];
  let i = 0;
  while (i < bytes.length) {
    const kind = bytes[i]!;
    if (kind === EOL) break; // the rest is padding
    if (kind === NOP) {
      i++;
      continue;
    }
    if (i + 1 >= bytes.length) netFail('NET_BAD_HEADER', `${what}: option kind ${kind} at offset ${i} has no length byte`);
    const len = bytes[i + 1]!;
    if (len < 2 || i + len > bytes.length) {
      netFail('NET_BAD_HEADER', `${what}: option kind ${kind} at offset ${i} has length ${len}, ${bytes.length - i} bytes left`);
    }
    const allowed = lengths.get(kind);
    if (allowed && !allowed.includes(len)) {
      netFail('NET_BAD_HEADER', `${what}: option kind ${kind} has length ${len}, want ${allowed.join(' or ')}`);
    }
    out.push({ kind, data: bytes.slice(i + 2, i + len) });
    i += len;
  }
  return out;
}
