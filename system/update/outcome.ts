// What each update came to, read from the event log as it happens: the operator's request, then
// the Module Manager's records (services/module_manager/module.json: refused, begin, step,
// reserved, stage, split, switched, check, rollback, end), the Monitor's (services/monitor/module.json:
// baseline, watch, decision, verdict, unwatch, alert, confirmation) and Core-0's own events about the instances
// (created, loaded, destroyed). `UpdateLog` keeps one account per update id; `report(id)` turns an
// account into the update report (system/report/schema.ts), `outcomes()` into the one-word results
// an image's `expect.updates` is compared with.

import type { CrashDump } from '../../core0/crash-dump.ts';
import type { EventLog, StampedEvent } from '../../core0/events.ts';
import type { FieldValue } from '../../core0/module/values.ts';
import { alertFromFields, type MonitorAlert } from './alerts.ts';

type Fields = Readonly<Record<string, FieldValue>>;

export interface UpdateAccount {
  readonly id: number;
  readonly service: string;
  /** The version asked for; for a configuration change, the configured service's version as it runs. */
  readonly to: string;
  /** A configuration change (seed §4.4.2): the table asked for, and each version the Module
   * Manager put in force (`config` records): the request's, and the one before again if it rolled back. */
  readonly configuration?: { readonly rules: readonly string[]; applied?: Fields & { readonly tNs: number }; reverted?: Fields & { readonly tNs: number } };
  readonly policyJson: string;
  readonly requestedNs: number;
  deliveredNs?: number;
  refused?: { readonly reason: string; readonly code: number; readonly from: number; readonly tNs: number };
  begin?: Fields & { readonly tNs: number };
  readonly steps: { readonly phase: number; readonly step: string; readonly state: string; readonly tNs: number; readonly wallMs: number }[];
  reserved?: Fields;
  readonly stages: Fields[];
  readonly split: { readonly tNs: number; readonly old: number; readonly new: number }[];
  readonly switched: string[];
  readonly failedChecks: string[];
  end?: Fields & { readonly tNs: number };
  /** The rollback the Monitor's verdict asked for before COMPLETE, if one ran. */
  rollback?: Fields & { readonly tNs: number };
  /** The rollback window after COMPLETE: its last state (open, expired, superseded, rollback). */
  window?: Fields & { readonly tNs: number };
  /** The update that rolled this one back within its window (services/module_manager/window.c). */
  rolledBackBy?: UpdateAccount;
  /** For such a rollback: the completed update it undoes. */
  readonly rollbackOf?: number;
  /**
   * The Monitor's watch of the new instance: its baseline, its samples, each change of its
   * decision, the alerts it raised, the operator's answers to a rollback waiting for
   * confirmation, its verdict and the cause it classified.
   */
  readonly monitor: {
    baseline?: Fields;
    readonly samples: (Fields & { readonly tNs: number })[];
    readonly decisions: (Fields & { readonly tNs: number })[];
    readonly alerts: MonitorAlert[];
    readonly confirmations: (Fields & { readonly tNs: number })[];
    verdict?: Fields & { readonly tNs: number };
    cause?: Fields;
    unwatch?: Fields;
    /** What served after the rollback, against the baseline (seed 步骤5.4). */
    validation?: Fields & { readonly tNs: number };
  };
  /** The two instances as Core-0 loaded them (version, code hash, configuration) and how each
   * module was built: what the report's configuration diff compares. */
  readonly instances: { old?: LoadedInstance; new?: LoadedInstance };
  /** Starts of the new instance that crashed before it served, as the Module Manager recorded them
   * (`restart`: which start, and whether it started it again). */
  readonly restarts: (Fields & { readonly tNs: number })[];
  /** The services told of the update (seed 步骤1.4, `notified`): as it begins and as it ends. */
  readonly notified: (Fields & { readonly tNs: number })[];
  /** Faults Core-0 stopped the new instance for. */
  readonly faults: { readonly tNs: number; readonly kind: string; readonly text: string; readonly dump?: CrashDump }[];
  /** Core-0's side: the sandbox created for the new version, and sandboxes destroyed meanwhile. */
  created?: { readonly sandbox: string; readonly quota: number };
  readonly destroyed: { readonly sandbox: string; readonly framesReturned: number; readonly tNs: number }[];
}

export interface LoadedInstance {
  readonly sandbox: string;
  readonly version: string;
  readonly sha384: string;
  readonly config: Readonly<Record<string, FieldValue>>;
  readonly build: readonly string[];
}

const MM = 'module_manager';
const MONITOR = 'monitor';

export class UpdateLog {
  private readonly accounts = new Map<number, UpdateAccount>();
  private current: UpdateAccount | undefined;
  private readonly listeners: ((a: UpdateAccount) => void)[] = [];
  /** Every module load and verification so far, for the instances an update compares. */
  private readonly loaded = new Map<string, Omit<LoadedInstance, 'build'> & { readonly module: string }>();
  private readonly builds = new Map<string, readonly string[]>();

  constructor(events: EventLog, private readonly wallMs: () => number = () => 0) {
    events.subscribe((e) => this.see(e));
  }

  /** Called with each account when its update ends (completed, failed or refused). */
  onEnd(fn: (a: UpdateAccount) => void): void {
    this.listeners.push(fn);
  }

  get all(): UpdateAccount[] {
    return [...this.accounts.values()];
  }

  account(id: number): UpdateAccount | undefined {
    return this.accounts.get(id);
  }

  /**
   * "completed", "failed:<step>", "rolled_back:<rule>" or "refused:<reason>" per update the
   * operator asked for, in request order; "pending" if it has not ended. A completed update rolled
   * back within its window is "rolled_back:<rule>" once its rollback completed ("rolling_back"
   * until then, "rollback_failed:<step>" if it failed); the rollback itself is not listed.
   */
  outcomes(): string[] {
    return this.all.filter((a) => a.rollbackOf === undefined).map((a) => (a.refused ? `refused:${a.refused.reason}` : a.end ? endOutcome(a) : 'pending'));
  }

  /** The rules of the Monitor's alerts that reached the operator, each once, in the order they first did. */
  alertRules(): string[] {
    const sent = this.all.flatMap((a) => a.monitor.alerts).filter((x) => !x.suppressed).sort((x, y) => x.tNs - y.tNs);
    return [...new Set(sent.map((x) => x.rule))];
  }

  private instance(sandbox: string): LoadedInstance | undefined {
    const l = this.loaded.get(sandbox);
    return l && { sandbox, version: l.version, sha384: l.sha384, config: l.config, build: this.builds.get(`${l.module}@${l.version}`) ?? [] };
  }

  private see(e: StampedEvent): void {
    if (e.kind === 'moduleVerified') this.builds.set(`${e.module}@${e.version}`, e.build);
    if (e.kind === 'moduleLoaded') this.loaded.set(e.sandbox, { sandbox: e.sandbox, module: e.module, version: e.version, sha384: e.sha384, config: e.config });
    if (e.kind === 'updateRequested') {
      // A configuration change keeps the version: the configured service's, as Core-0 last loaded it.
      const running = e.rules && [...this.loaded.values()].reverse().find((l) => l.module === e.service);
      this.accounts.set(e.id, {
        id: e.id, service: e.service, to: e.rules ? (running?.version ?? '0.0.0') : e.to, ...(e.rules ? { configuration: { rules: e.rules } } : {}), policyJson: e.policy, requestedNs: e.t, steps: [], stages: [], split: [], switched: [], failedChecks: [], destroyed: [],
        monitor: { samples: [], decisions: [], alerts: [], confirmations: [] }, instances: {}, faults: [], restarts: [], notified: [],
      });
      return;
    }
    if (e.kind === 'updateDelivered') {
      const a = this.accounts.get(e.id);
      if (a) (a.deliveredNs = e.t), (this.current = a);
      return;
    }
    // Core-0's events belong to the update in hand; the services' records to the update they name,
    // which may have ended: the Monitor watches a completed one through its rollback window.
    const current = this.current;
    if (current) {
      if (e.kind === 'sandboxCreated' && current.begin && !current.created) current.created = { sandbox: e.sandbox, quota: e.quota };
      if (e.kind === 'moduleLoaded' && e.sandbox === current.created?.sandbox) current.instances.new = this.instance(e.sandbox);
      if (e.kind === 'fault' && e.sandbox === current.created?.sandbox) current.faults.push({ tNs: e.t, kind: e.fault.kind, text: JSON.stringify(e.fault), ...(e.dump ? { dump: e.dump } : {}) });
      else if (e.kind === 'sandboxDestroyed' && e.reason !== 'shutdown') current.destroyed.push({ sandbox: e.sandbox, framesReturned: e.framesReturned, tNs: e.t });
    }
    if (e.kind !== 'record' || (e.module !== MM && e.module !== MONITOR)) return;
    const a = this.accounts.get(Number(e.fields.id));
    if (!a || (a !== current && !a.end)) return; // a record of an update not delivered yet is not ours to believe
    const f = e.fields;
    if (e.module === MONITOR) {
      if (e.type === 'baseline') a.monitor.baseline = f;
      else if (e.type === 'sample') a.monitor.samples.push({ ...f, tNs: e.t });
      else if (e.type === 'cause') a.monitor.cause = f;
      else if (e.type === 'decision') a.monitor.decisions.push({ ...f, tNs: e.t });
      else if (e.type === 'alert') a.monitor.alerts.push(alertFromFields(f, e.t));
      else if (e.type === 'confirmation') a.monitor.confirmations.push({ ...f, tNs: e.t });
      else if (e.type === 'verdict') a.monitor.verdict = { ...f, tNs: e.t };
      else if (e.type === 'unwatch') a.monitor.unwatch = f;
      else if (e.type === 'validation') {
        a.monitor.validation = { ...f, tNs: e.t };
        if (a.end) this.ended(a); // the rollback's report, with its validation now
      }
      return;
    }
    if (e.module !== MM) return;
    switch (e.type) {
      case 'refused':
        a.refused = { reason: String(f.reason), code: Number(f.code), from: Number(f.from), tNs: e.t };
        return this.ended(a);
      case 'begin': {
        a.begin = { ...f, tNs: e.t };
        // The old instance: the last one Core-0 loaded of this module at the version it runs.
        const from = version(f.from);
        const old = [...this.loaded.values()].reverse().find((l) => l.module === a.service && l.version === from);
        if (old) a.instances.old = this.instance(old.sandbox);
        return;
      }
      case 'step':
        a.steps.push({ phase: Number(f.phase), step: String(f.step), state: String(f.state), tNs: e.t, wallMs: this.wallMs() });
        return;
      case 'reserved':
        a.reserved = f;
        return;
      case 'stage':
        a.stages.push(f);
        return;
      case 'split':
        a.split.push({ tNs: e.t, old: Number(f.old), new: Number(f.new) });
        return;
      case 'switched':
        a.switched.push(String(f.alias));
        return;
      case 'check':
        a.failedChecks.push(String(f.what));
        return;
      case 'rollback':
        a.rollback = { ...f, tNs: e.t };
        return;
      case 'restart':
        a.restarts.push({ ...f, tNs: e.t });
        return;
      case 'notified':
        a.notified.push({ ...f, tNs: e.t });
        return;
      case 'config':
        if (a.configuration) a.configuration[String(f.state) === 'reverted' ? 'reverted' : 'applied'] = { ...f, tNs: e.t };
        return;
      case 'end':
        a.end = { ...f, tNs: e.t };
        this.ended(a);
        // A rollback in the window ended: the update it undid has its outcome now.
        if (a.rollbackOf !== undefined) this.ended(this.accounts.get(a.rollbackOf)!);
        return;
      case 'window':
        a.window = { ...f, tNs: e.t };
        if (String(f.state) === 'rollback') this.rollbackBegins(a, Number(f.rollback_id), e.t);
        else if (String(f.state) !== 'open') this.ended(a); // closed: the report says so
        return;
    }
  }

  /** The Module Manager starts an update back from `a`'s version: an account of its own, in hand from now. */
  private rollbackBegins(a: UpdateAccount, id: number, t: number): void {
    const back: UpdateAccount = {
      id, service: a.service, to: version(a.begin?.from), policyJson: a.policyJson, requestedNs: t, deliveredNs: t, rollbackOf: a.id,
      steps: [], stages: [], split: [], switched: [], failedChecks: [], destroyed: [], monitor: { samples: [], decisions: [], alerts: [], confirmations: [] },
      instances: {}, faults: [], restarts: [], notified: [],
    };
    this.accounts.set(id, back);
    a.rolledBackBy = back;
    this.current = back;
  }

  private ended(a: UpdateAccount): void {
    if (this.current === a) this.current = undefined;
    for (const fn of this.listeners) fn(a);
  }
}

/** A version as the Module Manager's records pack it (major << 16 | minor << 8 | patch). */
export function version(packed: unknown): string {
  const n = Number(packed);
  return `${n >> 16}.${(n >> 8) & 0xff}.${n & 0xff}`;
}

function endOutcome(a: UpdateAccount): string {
  const outcome = String(a.end!.outcome);
  const back = a.rolledBackBy; // a rollback within the window, after it completed
  if (back) return !back.end ? 'rolling_back' : back.end.outcome === 'completed' ? `rolled_back:${String(a.window?.rule ?? 'none')}` : `rollback_failed:${String(back.end.failed_step)}`;
  if (outcome === 'completed') return outcome;
  if (outcome === 'rolled_back') return `rolled_back:${String(a.rollback?.rule ?? 'none')}`;
  return `failed:${String(a.end!.failed_step)}`;
}
