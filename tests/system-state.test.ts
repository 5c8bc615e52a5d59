// The machine's persistent system state (system/state/): what a boot makes of installed.json and
// the journal. The recovery rules on journals written here entry by entry — every commit point of
// an update, a rollback, an update back within the window — and what a boot refuses: damage is
// named, and nothing changes. (The real journals of real runs, killed for real, are in
// tests/update-crash.test.ts; the rollback images check every cut of their own journal.)

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fold, type Installed, type JournalEntry } from '../system/state/recover.ts';
import { INSTALLED_FILE, JOURNAL_FILE, STATE_DIR, SystemState } from '../system/state/system-state.ts';
import type { KernelEvent, StampedEvent } from '../core0/events.ts';
import type { Kernel } from '../core0/kernel.ts';
import { bootImage, loadManifest, REPO } from './support/boot.ts';
import { journalOf } from './support/journal.ts';

const V = (s: string) => s.split('.').reduce((n, x) => n * 256 + Number(x), 0);

/** A journal written as the Module Manager and the host write one: numbered, in time order. */
function journal(...parts: Omit<JournalEntry, 'n' | 't'>[]): JournalEntry[] {
  return parts.map((p, i) => ({ n: i + 1, t: (i + 1) * 1000, ...p }) as JournalEntry);
}
const request = (id: number, service = 'netstack', to = '1.3.0') => ({ kind: 'request' as const, id, service, to });
const begin = (id: number, from: string, to: string, rollback_of = 0) => ({ kind: 'record' as const, type: 'begin', fields: { id, from: V(from), to: V(to), rollback_of, journal: true } });
const step = (id: number, s: string, state: string) => ({ kind: 'record' as const, type: 'step', fields: { id, phase: 3, step: s, state, journal: true } });
const end = (id: number, outcome: string) => ({ kind: 'record' as const, type: 'end', fields: { id, outcome, journal: true } });
const window = (id: number, state: string, rollback_id = 0) => ({ kind: 'record' as const, type: 'window', fields: { id, state, rollback_id, journal: true } });
const mark = (version: string, bad = true) => ({ kind: 'mark' as const, module: 'netstack', version, bad });

const START: Installed = { services: { netstack: '1.2.0', eth_driver: '1.2.0' }, bad: [] };

describe('recovery: the journal folded over what the last boot installed', () => {
  it('an update that ended leaves what its end says, and nothing to recover', () => {
    const done = fold(START, journal(request(1), begin(1, '1.2.0', '1.3.0'), step(1, 'switch', 'ok'), end(1, 'completed')));
    expect(done).toEqual({ installed: { services: { netstack: '1.3.0', eth_driver: '1.2.0' }, bad: [], collected: [] }, recovered: null, windowClosed: null });
    const failed = fold(START, journal(request(1), begin(1, '1.2.0', '1.3.0'), step(1, 'warmup', 'failed'), end(1, 'failed')));
    expect(failed.installed.services.netstack).toBe('1.2.0');
  });

  it('before its switch an interrupted update is undone; after it, finished', () => {
    const before = fold(START, journal(request(1), begin(1, '1.2.0', '1.3.0'), step(1, 'migrate', 'begin'), step(1, 'switch', 'begin')));
    expect(before.recovered).toEqual({ update: 1, service: 'netstack', from: '1.2.0', to: '1.3.0', committed: 'none', boots: '1.2.0', markedBad: null });
    expect(before.installed.services.netstack).toBe('1.2.0');
    const after = fold(START, journal(request(1), begin(1, '1.2.0', '1.3.0'), step(1, 'switch', 'ok'), step(1, 'validate', 'begin')));
    expect(after.recovered).toMatchObject({ committed: 'switch', boots: '1.3.0', markedBad: null });
    expect(after.installed.services.netstack).toBe('1.3.0');
  });

  it('a rollback begun is finished: the old version, the new one marked bad', () => {
    const r = fold(START, journal(request(1), begin(1, '1.2.0', '1.3.0'), step(1, 'switch', 'ok'), step(1, 'rollback_switch', 'begin')));
    expect(r.recovered).toMatchObject({ committed: 'rollback', boots: '1.2.0', markedBad: '1.3.0' });
    expect(r.installed).toEqual({ services: { netstack: '1.2.0', eth_driver: '1.2.0' }, bad: ['netstack@1.3.0'], collected: [] });
  });

  it('an update back within the rollback window is a rollback from its begin: the old version boots', () => {
    const id = 2 ** 32 + 1;
    const r = fold(START, journal(request(1), begin(1, '1.2.0', '1.3.0'), step(1, 'switch', 'ok'), end(1, 'completed'), window(1, 'open'), window(1, 'rollback'), begin(id, '1.3.0', '1.2.0', 1)));
    expect(r.recovered).toMatchObject({ update: id, service: 'netstack', committed: 'rollback', boots: '1.2.0', markedBad: '1.3.0' });
    expect(r.installed.bad).toEqual(['netstack@1.3.0']);
    expect(r.windowClosed).toBeNull();
    // The verdict's window record commits the rollback before the update back begins.
    const verdict = fold(START, journal(request(1), begin(1, '1.2.0', '1.3.0'), step(1, 'switch', 'ok'), end(1, 'completed'), window(1, 'open'), window(1, 'rollback', id)));
    expect(verdict.recovered).toEqual({ update: id, service: 'netstack', from: '1.3.0', to: '1.2.0', committed: 'rollback', boots: '1.2.0', markedBad: '1.3.0' });
    // And the update back, completed, leaves its version marked bad even before the mark's own entry.
    const done = fold(START, journal(request(1), begin(1, '1.2.0', '1.3.0'), end(1, 'completed'), begin(id, '1.3.0', '1.2.0', 1), end(id, 'completed')));
    expect(done).toMatchObject({ recovered: null, installed: { services: { netstack: '1.2.0' }, bad: ['netstack@1.3.0'] } });
  });

  it('a rollback window still open when the host died is reported closed; the new version stays', () => {
    const r = fold(START, journal(request(1), begin(1, '1.2.0', '1.3.0'), step(1, 'switch', 'ok'), end(1, 'completed'), window(1, 'open')));
    expect(r).toMatchObject({ recovered: null, windowClosed: 1 });
    expect(r.installed.services.netstack).toBe('1.3.0');
    expect(fold(START, journal(request(1), begin(1, '1.2.0', '1.3.0'), end(1, 'completed'), window(1, 'open'), window(1, 'expired'))).windowClosed).toBeNull();
  });

  it('bad marks set and cleared; a later update overrides an earlier one', () => {
    const r = fold(START, journal(mark('1.3.1'), mark('1.3.2'), mark('1.3.1', false), request(1), begin(1, '1.2.0', '1.3.0'), end(1, 'completed'), request(2, 'netstack', '1.3.3'), begin(2, '1.3.0', '1.3.3'), end(2, 'rolled_back')));
    expect(r.installed).toEqual({ services: { netstack: '1.3.0', eth_driver: '1.2.0' }, bad: ['netstack@1.3.2'], collected: [] });
  });

  it('a version collected stays collected, whatever updates follow (seed 步骤4.3)', () => {
    const collect = (version: string) => ({ kind: 'collect' as const, module: 'netstack', version });
    const r = fold({ ...START, collected: ['netstack@1.1.0'] }, journal(request(1), begin(1, '1.2.0', '1.3.0'), end(1, 'completed'), collect('1.2.0')));
    expect(r.installed).toEqual({ services: { netstack: '1.3.0', eth_driver: '1.2.0' }, bad: [], collected: ['netstack@1.1.0', 'netstack@1.2.0'] });
  });

  it('folding twice gives the same: a boot killed while it recovers recovers the same next time', () => {
    const j = journal(request(1), begin(1, '1.2.0', '1.3.0'), step(1, 'switch', 'ok'));
    const once = fold(START, j);
    expect(fold(once.installed, j)).toEqual(once);
  });

  it('an update that begins without the request naming its service is damage, named', () => {
    expect(() => fold(START, journal(begin(7, '1.2.0', '1.3.0')))).toThrow(/journal line 1: update 7 begins with no request naming its service/);
  });
});

describe('a boot and its data directory', () => {
  const dataDir = () => mkdtempSync(join(tmpdir(), 'hic-state-'));
  const stateFile = (d: string, f: string) => join(d, STATE_DIR, f);
  const lines = (j: JournalEntry[]) => j.map((e) => JSON.stringify(e) + '\n').join('');
  const installedImage = loadManifest('installed');
  const imageImage = loadManifest('crash-campaign');

  it('a data directory never booted installs the image; what the boot decided is on disk before it runs, the journal empty', () => {
    const d = dataDir();
    const b = SystemState.open(d).boot(installedImage);
    expect(b.event).toMatchObject({ kind: 'systemState', boot: 'installed', bad: [], recovered: null, journal: 0 });
    expect(b.event.versions.netstack).toBe('1.2.0');
    expect(JSON.parse(readFileSync(stateFile(d, INSTALLED_FILE), 'utf8'))).toMatchObject({ format: 'hic-installed/1', services: { netstack: '1.2.0', eth_driver: '1.2.0' }, bad: [] });
    expect(existsSync(stateFile(d, JOURNAL_FILE))).toBe(false);
  });

  it('"installed" boots the journal\'s outcome and its marks; "image" reinstalls the image and drops them, and says what it found', () => {
    const j = journal(request(1), begin(1, '1.2.0', '1.3.0'), step(1, 'switch', 'ok'), step(1, 'rollback_switch', 'begin'));
    for (const [image, version, bad] of [[installedImage, '1.2.0', ['netstack@1.3.0']], [imageImage, '1.2.0', []]] as const) {
      const d = dataDir();
      SystemState.open(d).boot(installedImage);
      writeFileSync(stateFile(d, JOURNAL_FILE), lines(j));
      const b = SystemState.open(d).boot(image);
      expect(b.event).toMatchObject({ boot: image.boot, bad, journal: 4, recovered: { committed: 'rollback', markedBad: '1.3.0' } });
      expect(b.manifest.sandboxes.find((s) => s.module === 'netstack')!.version).toBe(version);
      expect(JSON.parse(readFileSync(stateFile(d, INSTALLED_FILE), 'utf8')).bad).toEqual(bad);
    }
    // And a switch committed: the installed boot runs the new version.
    const d = dataDir();
    SystemState.open(d).boot(installedImage);
    writeFileSync(stateFile(d, JOURNAL_FILE), lines(journal(request(1), begin(1, '1.2.0', '1.3.0'), step(1, 'switch', 'ok'))));
    const b = SystemState.open(d).boot(installedImage);
    expect(b.manifest.sandboxes.find((s) => s.module === 'netstack')!.version).toBe('1.3.0');
    expect(SystemState.open(d).boot(installedImage).event).toMatchObject({ recovered: null, journal: 0, versions: { netstack: '1.3.0' } });
  });

  it('the versions collected are kept by a boot of what is installed, and dropped by one of the image; a file from before collection reads as none', () => {
    const d = dataDir();
    SystemState.open(d).boot(installedImage);
    const before = JSON.parse(readFileSync(stateFile(d, INSTALLED_FILE), 'utf8')) as Record<string, unknown>;
    delete before.collected;
    writeFileSync(stateFile(d, INSTALLED_FILE), JSON.stringify(before));
    const collected = { kind: 'collect' as const, module: 'netstack', version: '1.1.0' };
    writeFileSync(stateFile(d, JOURNAL_FILE), lines(journal(collected)));
    const b = SystemState.open(d).boot(installedImage);
    expect(b.event).toMatchObject({ boot: 'installed', collected: ['netstack@1.1.0'] });
    expect(JSON.parse(readFileSync(stateFile(d, INSTALLED_FILE), 'utf8')).collected).toEqual(['netstack@1.1.0']);
    expect(SystemState.open(d).boot(imageImage).event.collected).toBeUndefined(); // a fresh install of the image's versions
    writeFileSync(stateFile(d, INSTALLED_FILE), JSON.stringify({ ...before, collected: ['netstack 1.1.0'] }));
    expect(() => SystemState.open(d)).toThrow(/"collected" is not a list of "module@version"/);
  });

  it('a last journal line cut short (a power loss mid-write) is dropped; the lines before it count', () => {
    const d = dataDir();
    SystemState.open(d).boot(installedImage);
    const j = journal(request(1), begin(1, '1.2.0', '1.3.0'), step(1, 'switch', 'ok'));
    writeFileSync(stateFile(d, JOURNAL_FILE), lines(j.slice(0, 2)) + JSON.stringify(j[2]).slice(0, 30));
    const s = SystemState.open(d);
    expect(s.tornTail).toBe(true);
    expect(s.boot(installedImage).event.recovered).toMatchObject({ committed: 'none', boots: '1.2.0' });
  });

  it('damage is refused with the file and line named, and nothing is changed', () => {
    for (const [file, text, message] of [
      [INSTALLED_FILE, '{"format":"hic-installed/1","services":{"netstack":"one"},"bad":[]}', /installed\.json: services\.netstack: not an exact version/],
      [INSTALLED_FILE, '{"format":"hic-installed/1","services":{},"bad":["netstack"]}', /installed\.json: "bad" is not a list of "module@version"/],
      [INSTALLED_FILE, '{"services":', /installed\.json: not JSON/],
      [JOURNAL_FILE, lines(journal(request(1))) + 'garbage\n' + lines(journal(request(2))), /journal\.jsonl:2: not a journal entry/],
      [JOURNAL_FILE, JSON.stringify({ n: 5, t: 0, kind: 'request', id: 1, service: 'netstack', to: '1.3.0' }) + '\n', /journal\.jsonl:1: not a journal entry \(entry 5/],
    ] as const) {
      const d = dataDir();
      SystemState.open(d).boot(installedImage);
      writeFileSync(stateFile(d, file), text);
      const before = readFileSync(stateFile(d, file), 'utf8');
      let thrown: unknown;
      try {
        SystemState.open(d).boot(installedImage);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toMatchObject({ code: 'STATE_DAMAGED', message: expect.stringMatching(message) });
      expect(readFileSync(stateFile(d, file), 'utf8')).toBe(before);
    }
  });
});

describe('the running machine\'s journal', () => {
  const dataDir = () => mkdtempSync(join(tmpdir(), 'hic-state-'));

  it('only a holder of the loader\'s right W commits: the Module Manager without it has every committing record refused, none written', async () => {
    const image = JSON.parse(readFileSync(join(REPO, 'images', 'crash-campaign.himg'), 'utf8')) as { sandboxes: { name: string; caps?: Record<string, unknown> }[]; expect?: object; traffic?: object };
    image.sandboxes.find((s) => s.name === 'module-manager')!.caps!.loader = 'r';
    delete image.expect;
    delete image.traffic;
    const d = dataDir();
    const state = SystemState.open(d);
    const run = await bootImage({ label: 'no-loader-w.himg', image }, { state });
    state.close();
    run.system.dispose();
    const mm = run.kernel.events.all.filter((e) => e.kind === 'record' && e.module === 'module_manager');
    expect(mm).toEqual([]); // refused with NO_RIGHT: no trace, not even an event
    expect(run.kernel.events.all.some((e) => e.kind === 'console' && e.sandbox === 'module-manager' && /update 1 of netstack to 1\.3\.0 refused/.test(e.text))).toBe(true);
    expect(journalOf(d).map((e) => e.kind)).toEqual(['request']);
  }, 60_000);

  it('a long journal with nothing open is folded into installed.json, keeping the requests still waiting', () => {
    const d = dataDir();
    const s = SystemState.open(d);
    s.boot(loadManifest('installed'));
    // The storage's side of the kernel: its journal hook, its events, the audit log it flushes first.
    let listener: (e: StampedEvent) => void = () => {};
    const kernel = { journal: undefined as ((e: Extract<KernelEvent, { kind: 'record' }>) => boolean) | undefined, machine: { clock: { now: 0 } }, audit: { flush: () => {} }, events: { subscribe: (f: typeof listener) => (listener = f) } };
    s.attach(kernel as unknown as Kernel);
    const rec = (type: string, fields: Record<string, number | string | boolean>) => kernel.journal!({ kind: 'record', sandbox: 'module-manager', module: 'module_manager', type, fields: { ...fields, journal: true } });
    const request = (id: number, to: string) => listener({ kind: 'updateRequested', id, service: 'netstack', to, allowDowngrade: true, clearBad: false, policy: '{}', t: 0, seq: 0 });
    let id = 0;
    let version = '1.2.0';
    // Updates back and forth between 1.2.0 and 1.3.0, each a request, a begin, 20 steps and an end: past the compaction length.
    while (id < 60) {
      const to = version === '1.2.0' ? '1.3.0' : '1.2.0';
      request(++id, to);
      expect(rec('begin', { id, from: V(version), to: V(to), rollback_of: 0 })).toBe(true);
      for (let i = 0; i < 10; i++) rec('step', { id, phase: 3, step: 'migrate', state: 'begin' }), rec('step', { id, phase: 3, step: 'migrate', state: 'ok' });
      rec('end', { id, outcome: 'completed' });
      version = to;
    }
    // One long update (a Module Manager committing 3000 steps): nothing is folded while it is open, and its end folds it all.
    request(++id, version === '1.2.0' ? '1.3.0' : '1.2.0');
    rec('begin', { id, from: V(version), to: V(version === '1.2.0' ? '1.3.0' : '1.2.0'), rollback_of: 0 });
    for (let i = 0; i < 3000; i++) rec('step', { id, phase: 3, step: 'migrate', state: 'begin' });
    expect(journalOf(d).length).toBeGreaterThan(3000);
    rec('end', { id, outcome: 'completed' });
    version = version === '1.2.0' ? '1.3.0' : '1.2.0';
    expect(journalOf(d).length).toBeLessThan(1024);
    request(++id, '1.3.0'); // waiting: the Module Manager has not begun it
    s.close();
    const left = journalOf(d);
    expect(left.length).toBeLessThan(1024);
    // What a boot makes of it: the last update's version; the waiting request kept for its begin.
    const again = SystemState.open(d);
    expect(again.boot(loadManifest('installed')).event.versions.netstack).toBe(version);
    expect(left.filter((e) => e.kind === 'request').map((e) => (e as { id: number }).id)).toContain(id);
  });
});
