// What a run came to — which sandboxes exited with what status, which faulted and how — read from
// the event log, and how it differs from what the manifest expects, one line per difference.

import type { FaultKind } from '../emulator/fault.ts';
import type { EventLog } from '../core0/events.ts';
import type { Manifest } from './manifest.ts';

export interface Outcome {
  readonly exits: Record<string, number>;
  readonly faults: Record<string, FaultKind>;
}

export function outcomeOf(events: EventLog): Outcome {
  const outcome: Outcome = { exits: {}, faults: {} };
  for (const e of events.of('exit')) outcome.exits[e.sandbox] = e.status;
  for (const e of events.of('fault')) outcome.faults[e.sandbox] = e.fault.kind;
  return outcome;
}

/** One line per way the outcome differs from the manifest's expectation (none without one). */
export function deviationsFrom(m: Manifest, o: Outcome): string[] {
  if (!m.expect) return [];
  const out: string[] = [];
  for (const [name, status] of Object.entries(m.expect.exits)) {
    if (o.exits[name] !== status) out.push(`${name}: expected exit ${status}, ${o.exits[name] === undefined ? 'it did not exit' : `it exited ${o.exits[name]}`}`);
  }
  for (const [name, kind] of Object.entries(m.expect.faults)) {
    if (o.faults[name] !== kind) out.push(`${name}: expected fault ${kind}, ${o.faults[name] === undefined ? 'it did not fault' : `got ${o.faults[name]}`}`);
  }
  for (const name of Object.keys(o.faults)) {
    if (!(name in m.expect.faults)) out.push(`${name}: unexpected fault ${o.faults[name]}`);
  }
  return out;
}
