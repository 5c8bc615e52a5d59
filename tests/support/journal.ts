// The machine's journal as a run left it, and what every cut of it must recover to: the check the
// update tests make of their own run's journal (system/state/), so each update and rollback flow is
// checked at every instant a host could die in it, not only at the few the SIGKILL campaign kills.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { fold, type JournalEntry } from '../../system/state/recover.ts';
import { JOURNAL_FILE, STATE_DIR } from '../../system/state/system-state.ts';

/** The journal entries in a data directory, every line whole. */
export function journalOf(dataDir: string): JournalEntry[] {
  const file = join(dataDir, STATE_DIR, JOURNAL_FILE);
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  expect(text === '' || text.endsWith('\n'), `${file}: a torn last line`).toBe(true);
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as JournalEntry);
}

type RecordEntry = Extract<JournalEntry, { kind: 'record' }>;
const records = (cut: readonly JournalEntry[], type: string) => cut.filter((e): e is RecordEntry => e.kind === 'record' && e.type === type);
const unpack = (v: unknown) => { const n = Number(v); return `${n >> 16}.${(n >> 8) & 255}.${n & 255}`; };

/**
 * What a boot after a death at the end of `cut` must install for `service` (which ran `start`
 * before it), read plainly, update by update: an update's end says (one back within the window
 * that completed marks what it undid bad); without one, a rollback begun (a rollback_* step, or
 * an update back within the window) leaves the old version and marks the new one bad, a switch
 * done leaves the new one, anything else the old one. A window's rollback verdict with no update
 * back begun yet is a rollback begun. Marks as the entries set them, and every version collected.
 */
export function expectedAfter(cut: readonly JournalEntry[], service: string, start: string): { version: string; bad: string[]; collected: string[]; open: boolean } {
  const bad = new Set<string>();
  const collected = cut.flatMap((e) => (e.kind === 'collect' ? [`${e.module}@${e.version}`] : [])).sort();
  for (const e of cut) if (e.kind === 'mark') (e.bad ? bad.add(`${e.module}@${e.version}`) : bad.delete(`${e.module}@${e.version}`));
  let version = start;
  let open = false;
  const begins = records(cut, 'begin');
  for (const b of begins) {
    const id = b.fields.id;
    const [from, to] = [unpack(b.fields.from), unpack(b.fields.to)];
    const own = cut.filter((e): e is RecordEntry => e.kind === 'record' && e.fields.id === id);
    const end = own.find((e) => e.type === 'end');
    const back = b.fields.rollback_of !== 0;
    open = !end;
    if (end) {
      version = end.fields.outcome === 'completed' ? to : from;
      if (back && end.fields.outcome === 'completed') bad.add(`${service}@${from}`);
    } else if (back || own.some((e) => e.type === 'step' && e.fields.state === 'begin' && String(e.fields.step).startsWith('rollback_'))) {
      version = back ? to : from;
      bad.add(`${service}@${back ? from : to}`);
    } else version = own.some((e) => e.type === 'step' && e.fields.step === 'switch' && e.fields.state === 'ok') ? to : from;
    const verdict = own.find((e) => e.type === 'window' && e.fields.state === 'rollback');
    if (verdict && !begins.some((x) => x.fields.id === verdict.fields.rollback_id)) {
      version = from;
      bad.add(`${service}@${to}`);
      open = true;
    }
  }
  return { version, bad: [...bad].sort(), collected, open };
}

/** Every cut of `journal` — a host dead after each entry, or before the first — folds to what `expectedAfter` reads. */
export function expectEveryCut(journal: readonly JournalEntry[], service: string, start: string): void {
  for (let n = 0; n <= journal.length; n++) {
    const cut = journal.slice(0, n);
    const got = fold({ services: { [service]: start }, bad: [] }, cut);
    const want = expectedAfter(cut, service, start);
    expect({ n, version: got.installed.services[service], bad: got.installed.bad, collected: got.installed.collected, recovered: got.recovered !== null }).toEqual({
      n, version: want.version, bad: want.bad, collected: want.collected, recovered: want.open,
    });
  }
}
