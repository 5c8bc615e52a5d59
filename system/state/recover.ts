// What a boot makes of the machine's journal: the installed versions and bad marks the last boot
// started from, folded with every entry written since, give what is installed now. An update the
// host's death interrupted is finished or undone exactly as its last committed step says
// (docs/reliability.md#the-machines-persistent-state):
//
//   committed step                              the update is   boots   marks bad
//   none (begin, … before the switch)           undone          from    -
//   switch ok (步骤3.4, the alias repointed)     finished        to      -
//   a rollback begun (步骤5.2: a rollback_*      rolled back     the old the new one
//   step; within the window, the verdict's
//   window record or the update back's begin)
//
// The journal's entries are the host's record of each request (the service it names) and the
// Module Manager's records that commit a step (its `journals` field set): `begin`, `step`, `end`,
// `window`. A pure function of its inputs, so the rules are tested on every cut of a journal, and a
// fold run twice (a boot killed while it recovers) gives the same answer.

import type { StateRecovery } from '../../core0/events.ts';
import type { FieldValue } from '../../core0/module/values.ts';

/** What is installed: a version per module, the versions marked bad, and the versions collected
 * (seed 步骤4.3: gone from what the machine may load), each as "name@version". */
export interface Installed {
  readonly services: Readonly<Record<string, string>>;
  readonly bad: readonly string[];
  readonly collected?: readonly string[];
}

/** One line of the journal. */
export type JournalEntry =
  | { readonly n: number; readonly t: number; readonly kind: 'request'; readonly id: number; readonly service: string; readonly to: string }
  | { readonly n: number; readonly t: number; readonly kind: 'record'; readonly type: string; readonly fields: Readonly<Record<string, FieldValue>> }
  | { readonly n: number; readonly t: number; readonly kind: 'mark'; readonly module: string; readonly version: string; readonly bad: boolean }
  | { readonly n: number; readonly t: number; readonly kind: 'collect'; readonly module: string; readonly version: string };

export class StateError extends Error {
  constructor(
    readonly code: 'STATE_DAMAGED' | 'STATE_WRITE',
    message: string,
  ) {
    super(message);
  }
}

export interface Folded {
  readonly installed: Installed;
  readonly recovered: StateRecovery | null;
  /** The update whose rollback window was still open when the journal ends: the restart closed it. */
  readonly windowClosed: number | null;
}

interface Open {
  readonly id: number;
  readonly service: string;
  readonly from: string;
  readonly to: string;
  readonly rollbackOf: number;
  switched: boolean;
  rollingBack: boolean;
}

/** The Module Manager's packed versions (major << 16 | minor << 8 | patch). */
export const unpackVersion = (v: number): string => `${Math.floor(v / 65536) % 256}.${Math.floor(v / 256) % 256}.${v % 256}`;

const ROLLBACK_STEPS = new Set(['rollback_switch', 'rollback_move', 'rollback_reclaim']);
/** An update back within a rollback window carries its update's id with bit 32 set. */
const WINDOW_ROLLBACK = 2 ** 32;

export function fold(start: Installed, journal: readonly JournalEntry[]): Folded {
  const services: Record<string, string> = { ...start.services };
  const bad = new Set(start.bad);
  const collected = new Set(start.collected ?? []);
  const requested = new Map<number, string>();
  /** Every update begun, by id: what an update back within its window undoes. */
  const begun = new Map<number, Open>();
  let open: Open | undefined;
  let window: number | null = null;
  const num = (v: FieldValue | undefined): number => (typeof v === 'number' ? v : Number.NaN);

  for (const e of journal) {
    if (e.kind === 'request') requested.set(e.id, e.service);
    else if (e.kind === 'collect') collected.add(`${e.module}@${e.version}`);
    else if (e.kind === 'mark') {
      if (e.bad) bad.add(`${e.module}@${e.version}`);
      else bad.delete(`${e.module}@${e.version}`);
    } else if (e.type === 'begin') {
      const id = num(e.fields.id);
      const rollbackOf = num(e.fields.rollback_of);
      const service = requested.get(rollbackOf ? rollbackOf % WINDOW_ROLLBACK : id);
      if (service === undefined) throw new StateError('STATE_DAMAGED', `journal line ${e.n}: update ${id} begins with no request naming its service`);
      open = { id, service, from: unpackVersion(num(e.fields.from)), to: unpackVersion(num(e.fields.to)), rollbackOf, switched: false, rollingBack: rollbackOf !== 0 };
      begun.set(id, open);
    } else if (e.type === 'window') {
      // The Monitor's verdict within the window commits the rollback before the update back begins.
      const state = e.fields.state;
      const of = begun.get(num(e.fields.id));
      window = state === 'open' ? num(e.fields.id) : null;
      if (state === 'rollback' && of) {
        open = { id: num(e.fields.rollback_id), service: of.service, from: of.to, to: of.from, rollbackOf: of.id, switched: false, rollingBack: true };
      }
    } else if (open && num(e.fields.id) === open.id) {
      if (e.type === 'step' && e.fields.step === 'switch' && e.fields.state === 'ok') open.switched = true;
      else if (e.type === 'step' && ROLLBACK_STEPS.has(String(e.fields.step))) open.rollingBack = true;
      else if (e.type === 'end') {
        const completed = e.fields.outcome === 'completed';
        services[open.service] = completed ? open.to : open.from;
        // An update back within the window that completed has rolled its version back: marked bad.
        if (completed && open.rollbackOf) bad.add(`${open.service}@${open.from}`);
        open = undefined;
      }
    }
  }

  let recovered: StateRecovery | null = null;
  if (open) {
    // An update back within the window rolls back too: its `to` is the old version.
    const back = open.rollbackOf !== 0;
    const committed = open.rollingBack ? 'rollback' : open.switched ? 'switch' : 'none';
    const boots = committed === 'rollback' ? (back ? open.to : open.from) : committed === 'switch' ? open.to : open.from;
    const markedBad = committed === 'rollback' ? (back ? open.from : open.to) : null;
    if (markedBad) bad.add(`${open.service}@${markedBad}`);
    services[open.service] = boots;
    recovered = { update: open.id, service: open.service, from: open.from, to: open.to, committed, boots, markedBad };
  }
  return { installed: { services, bad: [...bad].sort(), collected: [...collected].sort() }, recovered, windowClosed: window };
}
