// The machine's persistent system state, in <data>/system/: what a real machine keeps across a
// power loss besides its audit log (docs/reliability.md#the-machines-persistent-state).
//
//   installed.json   the versions the last boot started, by module, the versions marked bad, and
//                    the versions collected (seed 步骤4.3)
//   journal.jsonl    what the running machine committed since: each update request (the service
//                    it names), the Module Manager's records that commit a step (their signed
//                    `journals` field set), each bad mark set or cleared, each version collected
//
// The host is the storage, nothing more: Core-0 and the Module Manager decide what is written and
// when; a journal line is written and synced while the record call that commits it is still in
// progress, after the audit records of what led to it. A boot folds the journal over installed.json
// (recover.ts), writes the result as the new installed.json, and only then empties the journal: a
// boot killed between the two folds the same journal over the new file next time and gets the same
// answer. So at every instant of an update the data directory says exactly one thing.

import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { KernelEvent, StampedEvent } from '../../core0/events.ts';
import type { Kernel } from '../../core0/kernel.ts';
import { crashPoint } from '../../hicmod-toolchain/crash-point.ts';
import { replaceFile, syncDirectory } from '../durable.ts';
import type { Manifest } from '../manifest.ts';
import { fold, StateError, type Folded, type Installed, type JournalEntry } from './recover.ts';

export { StateError };

export const STATE_DIR = 'system';
export const INSTALLED_FILE = 'installed.json';
export const JOURNAL_FILE = 'journal.jsonl';
const FORMAT = 'hic-installed/1';
/** A journal this long with nothing open is folded into installed.json and emptied, as a boot does. */
export const JOURNAL_COMPACT_LINES = 1024;
/** A journal past this many lines with an update still open is a guest committing without end: its records are refused. */
export const JOURNAL_MAX_LINES = 65_536;

export type SystemStateEvent = Extract<KernelEvent, { kind: 'systemState' }>;
/** The event's content: what a recording keeps of a live run's boot (system/recording/). */
export type SystemStateRecord = Omit<SystemStateEvent, 'kind'>;

/** What a machine boots from and commits to: a data directory (SystemState), or a recording of one (RecordedState). */
export interface MachineState {
  boot(manifest: Manifest): BootState;
  attach(kernel: Kernel): void;
}

/** The manifest with each sandbox on the version `versions` names for its module, where it names one. */
function withVersions(manifest: Manifest, versions: Readonly<Record<string, string>> | undefined): Manifest {
  if (!versions) return manifest;
  return { ...manifest, sandboxes: manifest.sandboxes.map((s) => (versions[s.module] === undefined ? s : { ...s, version: versions[s.module]! })) };
}

/**
 * A replay's state: the boot decides nothing and keeps nothing; it boots what the recorded boot
 * did, and says what that boot said, so the replayed event log is the recorded one.
 */
export class RecordedState implements MachineState {
  constructor(private readonly recorded: SystemStateRecord) {}

  boot(manifest: Manifest): BootState {
    return { manifest: withVersions(manifest, this.recorded.boot === 'installed' ? this.recorded.versions : undefined), event: { kind: 'systemState', ...this.recorded } };
  }

  attach(): void {}
}

/** What a boot starts from: the manifest with the versions that boot, and the marks to restore. */
export interface BootState {
  readonly manifest: Manifest;
  readonly event: SystemStateEvent;
}

const VERSION = /^\d+\.\d+\.\d+$/;
const MARK = /^[a-z][a-z0-9_]{0,31}@\d+\.\d+\.\d+$/;

function readInstalled(file: string): Installed | undefined {
  if (!existsSync(file)) return undefined;
  const damaged = (why: string): never => {
    throw new StateError('STATE_DAMAGED', `${file}: ${why}; the machine's installed state cannot be trusted (remove the file to boot the image's own versions)`);
  };
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    return damaged(`not JSON (${e.message})`);
  }
  const o = v as { format?: unknown; services?: unknown; bad?: unknown; collected?: unknown } | null;
  if (typeof o !== 'object' || o === null || o.format !== FORMAT) return damaged(`not a ${FORMAT} file`);
  if (typeof o.services !== 'object' || o.services === null || Array.isArray(o.services)) return damaged('"services" is not an object of module → version');
  for (const [m, ver] of Object.entries(o.services)) if (typeof ver !== 'string' || !VERSION.test(ver)) damaged(`services.${m}: not an exact version`);
  if (!Array.isArray(o.bad) || !o.bad.every((b) => typeof b === 'string' && MARK.test(b))) return damaged('"bad" is not a list of "module@version"');
  // Written by every boot since collection exists; a file from before it has collected nothing.
  const collected = o.collected ?? [];
  if (!Array.isArray(collected) || !collected.every((b) => typeof b === 'string' && MARK.test(b))) return damaged('"collected" is not a list of "module@version"');
  return { services: o.services as Record<string, string>, bad: o.bad as string[], collected: collected as string[] };
}

/** The journal's lines; a last line without its newline (a write cut short by a power loss) is dropped, and counted. */
function readJournal(file: string): { entries: JournalEntry[]; torn: boolean } {
  if (!existsSync(file)) return { entries: [], torn: false };
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const last = lines.pop()!;
  const entries = lines.map((line, i) => {
    try {
      const e = JSON.parse(line) as JournalEntry;
      if (e.n !== i + 1 || !['request', 'record', 'mark', 'collect'].includes(e.kind)) throw new SyntaxError(`entry ${String(e.n)} of kind ${String(e.kind)}`);
      return e;
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      throw new StateError('STATE_DAMAGED', `${file}:${i + 1}: not a journal entry (${err.message}); the journal cannot be trusted past a damaged line`);
    }
  });
  return { entries, torn: last !== '' };
}

export class SystemState implements MachineState {
  private fd: number | undefined;
  private lines = 0;
  /** What installed.json says now, and the entries written since: their fold is what is installed. */
  private base: Installed = { services: {}, bad: [] };
  private written: JournalEntry[] = [];
  private booted = false;
  /** The journal's length at which to try folding it into installed.json next. */
  private compactAt = JOURNAL_COMPACT_LINES;
  /** The journal's length at the last try. */
  private triedAt = 0;

  private constructor(
    readonly dir: string,
    private readonly installed: Installed | undefined,
    private readonly journal: readonly JournalEntry[],
    /** The journal's last line was torn (and is ignored). */
    readonly tornTail: boolean,
  ) {}

  /**
   * What a data directory holds, read without changing anything (`hic state`): what the last boot
   * installed, the journal since, and what the next boot would install and recover.
   */
  static inspect(dataDir: string): { readonly installed: Installed | undefined; readonly journal: number; readonly torn: boolean; readonly next: Folded } {
    const dir = join(dataDir, STATE_DIR);
    const installed = readInstalled(join(dir, INSTALLED_FILE));
    const { entries, torn } = readJournal(join(dir, JOURNAL_FILE));
    return { installed, journal: entries.length, torn, next: fold(installed ?? { services: {}, bad: [] }, entries) };
  }

  /** Reads the state in `<dataDir>/system/`: nothing there is a machine never booted. Damage is refused. */
  static open(dataDir: string): SystemState {
    const dir = join(dataDir, STATE_DIR);
    mkdirSync(dir, { recursive: true });
    const installed = readInstalled(join(dir, INSTALLED_FILE));
    const { entries, torn } = readJournal(join(dir, JOURNAL_FILE));
    return new SystemState(dir, installed, entries, torn);
  }

  /**
   * Decides what boots: the journal folded over what the last boot installed, an interrupted
   * update finished or undone; then for an image booting its own versions ('image') those, marks
   * dropped, and for one booting what is installed those versions and marks. Makes the decision
   * durable — installed.json replaced, then the journal emptied — before anything runs.
   */
  boot(manifest: Manifest): BootState {
    // A data directory boots one machine: a second boot from the same reading would decide again on what the first already changed.
    if (this.booted) throw new Error('SystemState.boot: this state has booted a machine already; open the data directory again');
    this.booted = true;
    const folded = fold(this.installed ?? { services: {}, bad: [] }, this.journal);
    const installed = manifest.boot === 'installed';
    const booted = withVersions(manifest, installed ? folded.installed.services : undefined);
    const versions: Record<string, string> = {};
    for (const s of booted.sandboxes) if (VERSION.test(s.version)) versions[s.module] = s.version;
    const bad = installed ? folded.installed.bad : [];
    const collected = installed ? (folded.installed.collected ?? []) : [];
    crashPoint('system state: decided, installed.json not yet written');
    writable(join(this.dir, INSTALLED_FILE), () => replaceFile(join(this.dir, INSTALLED_FILE), JSON.stringify({ format: FORMAT, services: versions, bad, collected }, null, 2) + '\n'));
    crashPoint('system state: installed.json written, journal not yet emptied');
    rmSync(join(this.dir, JOURNAL_FILE), { force: true });
    syncDirectory(this.dir);
    crashPoint('system state: journal emptied');
    this.base = { services: versions, bad, collected };
    return {
      manifest: booted,
      event: { kind: 'systemState', boot: manifest.boot, versions, bad, ...(collected.length ? { collected } : {}), recovered: folded.recovered, windowClosed: folded.windowClosed, journal: this.journal.length },
    };
  }

  /**
   * From now on, what `kernel` commits is written to the journal, durably, as it happens: a
   * guest's committing record through Core-0's journal hook (refused when the journal is full, so
   * a guest that commits without end gets an error, not the host's disk), the operator's requests
   * and Core-0's bad marks as their events happen (bounded by who may make them: the operator, a
   * holder of the loader's right W).
   */
  attach(kernel: Kernel): void {
    if (this.fd !== undefined) throw new Error('SystemState.attach: a machine is attached already');
    this.fd = openSync(join(this.dir, JOURNAL_FILE), 'a', 0o644);
    syncDirectory(this.dir);
    kernel.journal = (e) => {
      if (this.lines >= JOURNAL_MAX_LINES) return false;
      this.append(kernel, { t: kernel.machine.clock.now, kind: 'record', type: e.type, fields: e.fields }, [e.type, e.fields.step, e.fields.outcome, e.fields.state].filter((x) => x !== undefined).join(' '));
      return true;
    };
    kernel.events.subscribe((e: StampedEvent) => {
      if (e.kind === 'updateRequested') this.append(kernel, { t: e.t, kind: 'request', id: e.id, service: e.service, to: e.to }, `request ${e.id}`);
      else if (e.kind === 'moduleMarked') this.append(kernel, { t: e.t, kind: 'mark', module: e.module, version: e.version, bad: e.bad }, `mark ${e.module}@${e.version}`);
      else if (e.kind === 'moduleCollected') this.append(kernel, { t: e.t, kind: 'collect', module: e.module, version: e.version }, `collect ${e.module}@${e.version}`);
    });
  }

  private append(kernel: Kernel, entry: DistributiveOmit<JournalEntry, 'n'>, what: string): void {
    if (this.fd === undefined) return;
    // The audit log covers what the journal commits: its records of what led here are written first.
    kernel.audit.flush();
    const full = { n: ++this.lines, ...entry } as JournalEntry;
    writable(`the journal ${join(this.dir, JOURNAL_FILE)}`, () => {
      writeSync(this.fd!, JSON.stringify(full) + '\n');
      fsyncSync(this.fd!);
    });
    crashPoint(`journal ${this.lines}: ${what}`);
    this.written.push(full);
    // An update's end or a window's close may leave nothing open: worth a try, at most once every 64 lines.
    const closes = full.kind === 'record' && (full.type === 'end' || (full.type === 'window' && full.fields.state !== 'open'));
    if (this.lines >= this.compactAt || (closes && this.lines >= JOURNAL_COMPACT_LINES && this.lines >= this.triedAt + 64)) this.compact();
  }

  /**
   * With nothing open — no update between its begin and its end, no rollback window — the journal
   * is folded into installed.json and replaced by the requests still waiting, the boot's own two
   * steps in the boot's order, so a machine that runs for a long time keeps a short journal.
   * Killed between the two, the next boot folds the same entries over the new file: the same answer.
   */
  private compact(): void {
    const folded = fold(this.base, this.written);
    // Something still open: try again JOURNAL_COMPACT_LINES later (or at a close, 64 lines on), so
    // a long open update costs a fold per that many lines, not one per line (a fold reads every line).
    this.compactAt = this.lines + JOURNAL_COMPACT_LINES;
    this.triedAt = this.lines;
    if (folded.recovered !== null || folded.windowClosed !== null) return;
    writable(join(this.dir, INSTALLED_FILE), () => replaceFile(join(this.dir, INSTALLED_FILE), JSON.stringify({ format: FORMAT, ...folded.installed }, null, 2) + '\n'));
    crashPoint('system state: compacted into installed.json, journal not yet emptied');
    // A request the Module Manager has not yet begun, refused or ended (a configuration change
    // has no begin) stays: its begin will need the service it names.
    const done = new Set(this.written.flatMap((e) => (e.kind === 'record' && (e.type === 'begin' || e.type === 'refused' || e.type === 'end') ? [e.fields.id] : [])));
    const pending = this.written.filter((e) => e.kind === 'request' && !done.has(e.id)).map((e, i) => ({ ...e, n: i + 1 }));
    const journal = join(this.dir, JOURNAL_FILE);
    writable(journal, () => replaceFile(journal, pending.map((e) => JSON.stringify(e) + '\n').join('')));
    closeSync(this.fd!);
    this.fd = openSync(journal, 'a', 0o644);
    this.base = folded.installed;
    this.written = pending;
    this.lines = pending.length;
    this.compactAt = JOURNAL_COMPACT_LINES;
    this.triedAt = 0;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** A write of the machine's state that the disk refused (full, read-only, gone) is the environment's failure, named, not a bug. */
function writable(what: string, write: () => void): void {
  try {
    write();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code !== 'string') throw e;
    throw new StateError('STATE_WRITE', `cannot write ${what}: ${(e as Error).message}; the machine's state on disk is as it was before this write`);
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
