// How a run looks on the terminal: one line per event, prefixed with virtual time and who
// speaks — a sandbox's own console lines and typed records under its name, the kernel's events
// under "core0".

import { formatTime } from '../emulator/clock.ts';
import { describeFault } from '../emulator/fault.ts';
import type { StampedEvent } from '../core0/events.ts';

const hex = (n: number) => '0x' + n.toString(16);
const kib = (bytes: number) => (bytes >= 1 << 20 ? `${bytes / (1 << 20)} MiB` : `${bytes / 1024} KiB`);

/**
 * Text from a guest or a manifest, made safe for a terminal: control characters (escape
 * sequences included), DEL, C1 controls and the bidirectional overrides become visible escapes,
 * so nothing a guest writes can move the cursor, recolour the screen or reorder what follows.
 */
export function printable(text: string): string {
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu, (c) => {
    const code = c.codePointAt(0)!;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

export interface RenderOptions {
  /** Show only guest console lines and records, faults and exits. */
  readonly quiet?: boolean;
}

export function renderEvent(e: StampedEvent, opts: RenderOptions = {}): string | undefined {
  const line = (who: string, text: string) => `[${formatTime(e.t).padStart(12)}] ${who.padEnd(12)} ${text}`;
  switch (e.kind) {
    case 'console':
      // Every line of it under the sandbox's own name: a guest cannot print a line that looks
      // like the kernel's.
      return e.text
        .replace(/\n$/, '')
        .split('\n')
        .map((l) => line(e.sandbox, '│ ' + printable(l)))
        .join('\n');
    case 'record':
      // Names and enum values are declared identifiers; only the values are escaped, as a guest's.
      return line(e.sandbox, `▸ ${e.type}: ${Object.entries(e.fields).map(([k, v]) => `${k} ${printable(String(v))}`).join(', ')}`);
    case 'fault':
      if (e.stack) {
        const size = e.stack.top - e.stack.base;
        return line('core0', `FAULT in ${e.sandbox} (thread ${e.thread}): STACK OVERFLOW: ${describeFault(e.fault)}, in the guard page below its stack [${hex(e.stack.base)}, ${hex(e.stack.top)}) of ${kib(size)} (the image manifest's "stack") — ${e.sandbox} stopped, the others keep running`);
      }
      return line('core0', `FAULT in ${e.sandbox} (thread ${e.thread}): ${describeFault(e.fault)}${e.owner && e.owner !== e.sandbox ? ` [that page belongs to ${e.owner}]` : ''} — ${e.sandbox} stopped, the others keep running`);
    case 'exit':
      return line('core0', `${e.sandbox} exited with status ${e.status}`);
    case 'consoleDropped':
      return line('core0', `${e.sandbox}: ${e.lines} console line(s), ${e.bytes} bytes, dropped over its rate limit`);
    case 'systemState':
      // The host's account of the data directory, before anything ran: a host line, not a run's.
      return `hic: ${describeSystemState(e)}`;
  }
  if (opts.quiet) return undefined;
  switch (e.kind) {
    case 'boot':
      return line('core0', `booting image "${printable(e.image)}"`);
    case 'wallClock':
      return line('core0', `wall-clock date ${e.date}: module repository expiry judged at its end`);
    case 'sandboxCreated':
      return line('core0', `sandbox ${e.sandbox} created (id ${e.id}, quota ${kib(e.quota)})`);
    case 'moduleLoaded':
      return line('core0', `${e.module} ${e.version} loaded into ${e.sandbox} at ${hex(e.base)} (${e.pages} pages, entry ${hex(e.entry)})`);
    case 'moduleVerified':
      return line('core0', `module ${e.module} ${e.version} verified: sha384 ${e.sha384.slice(0, 16)}…, signed by ${e.provenance.signer} at ${e.provenance.signedAt}${e.downgrade ? ' (DOWNGRADE, allowed)' : ''}`);
    case 'moduleRejected':
      return line('core0', `module ${e.provenance?.source ?? e.source} REJECTED [${e.code}]: ${e.reason}`);
    case 'libraryUnloaded':
      return line('core0', `library ${e.module} unloaded: ${e.framesReturned} frames returned to the pool`);
    case 'libraryLoaded':
      return line('core0', `library ${e.module} ${e.version} loaded at ${hex(e.base)} (${e.pages} pages, shared read-execute)`);
    case 'threadStarted':
      return line('core0', `thread ${e.thread} started in ${e.sandbox}`);
    case 'sandboxDestroyed':
      return line('core0', `sandbox ${e.sandbox} torn down (${e.reason}): ${e.framesReturned} frames returned to the pool`);
    case 'halt':
      return line('core0', e.reason === 'idle' ? 'halted: no thread left to run' : e.reason === 'quit' ? 'halted: quit by the host' : 'halted: time limit reached');
  }
}

/** What a boot found in its data directory and did with it, in a sentence or two. */
export function describeSystemState(e: Omit<Extract<StampedEvent, { kind: 'systemState' }>, 'kind' | 't' | 'seq'>): string {
  const versions = Object.entries(e.versions).map(([m, v]) => `${m} ${v}`).join(', ');
  const parts = [e.boot === 'installed' ? `booting what is installed: ${versions}` : `booting the image's own versions (a fresh install)`];
  if (e.bad.length > 0) parts.push(`marked bad: ${e.bad.join(', ')}`);
  const r = e.recovered;
  if (r) {
    const how =
      r.committed === 'switch' ? `committed at its switch, so finished: ${r.service} ${r.to} is installed`
        : r.committed === 'rollback' ? `its rollback was decided, so finished: ${r.service} ${r.boots} is installed, ${r.markedBad} marked bad`
          : `not committed, so undone: ${r.service} ${r.from} is installed`;
    parts.push(`RECOVERED update ${r.update} (${r.service} ${r.from} to ${r.to}), interrupted by the host's death: ${how}${e.boot === 'image' ? ' (this boot installs the image instead)' : ''}`);
  } else if (e.journal > 0) parts.push(`the journal's ${e.journal} entries folded in, no update interrupted`);
  if (e.windowClosed !== null) parts.push(`the rollback window of update ${e.windowClosed} was open; the restart closed it`);
  return parts.join('; ');
}
