// What a run came to — which sandboxes exited with what status, which faulted and how — read from
// the event log, and how it differs from what the manifest expects, one line per difference.

import type { FaultKind } from '../emulator/fault.ts';
import type { EventLog } from '../core0/events.ts';
import type { Manifest } from './manifest.ts';

export interface Outcome {
  readonly exits: Record<string, number>;
  readonly faults: Record<string, FaultKind>;
}

/** Records exits and faults as they happen, so the outcome needs no event kept in memory. */
export function recordOutcome(events: EventLog): Outcome {
  const outcome: Outcome = { exits: {}, faults: {} };
  events.subscribe((e) => {
    if (e.kind === 'exit') outcome.exits[e.sandbox] = e.status;
    else if (e.kind === 'fault') outcome.faults[e.sandbox] = e.fault.kind;
  });
  return outcome;
}

/** One line per way the outcome differs from the manifest's expectation (none without one). */
export function deviationsFrom(m: Manifest, o: Outcome, updates: readonly string[] = [], alerts: readonly string[] = []): string[] {
  if (!m.expect) return [];
  const out: string[] = [];
  const wanted = m.expect.alerts;
  if (wanted && wanted.join() !== alerts.join()) {
    const list = (x: readonly string[]) => (x.length ? x.join(', ') : 'none');
    out.push(`alerts: expected ${list(wanted)}, the operator got ${list(alerts)}`);
  }
  const want = m.expect.updates;
  if (want) {
    want.forEach((w, i) => {
      if (updates[i] !== w) out.push(`update ${i + 1}: expected ${w}, ${updates[i] === undefined ? 'it was never requested' : `it came to ${updates[i]}`}`);
    });
    if (updates.length > want.length) out.push(`${updates.length - want.length} update(s) more than the image expects`);
  }
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
