// The update report: the TypeScript type of report.json and its JSON Schema, side by side so the
// two are read (and changed) together. The code that assembles a report from the event log and
// everything that reads one (render-html.ts, summary.ts, `hic report`) meet at this one type;
// validate.ts checks a value against the schema and the rules JSON Schema cannot say.
//
// Times inside the machine are virtual nanoseconds since boot, as JSON numbers: integers no larger
// than 2^53 - 1 (about 104 days), so a number holds them exactly and a JavaScript reader needs no
// bigint. Wall times, where given, are host milliseconds since the run began; they are the only
// values in a report that differ between two runs of the same image.

import { NAME_PATTERN } from '../../core0/module/format.ts';

export const REPORT_FORMAT = 'hic-update-report';
export const REPORT_VERSION = 1;

/** Virtual nanoseconds since boot. */
export type Ns = number;

/** The seed's four connection classes (§3.2), in the order their stages run. */
export const CONNECTION_CLASSES = ['idle', 'http', 'realtime', 'persistent'] as const;
export type ConnectionClass = (typeof CONNECTION_CLASSES)[number];

export type PhaseOutcome = 'ok' | 'failed' | 'skipped';
export type ReportOutcome = 'completed' | 'refused' | 'failed' | 'rolled-back';
export type AlertLevel = 'P0' | 'P1' | 'P2' | 'P3';
/** reverse, emergency: before COMPLETE (seed §4.3 步骤5.2); window: after it, an update back within the rollback window. */
export type RollbackKind = 'reverse' | 'emergency' | 'configuration' | 'component' | 'window';
/** `unknown`: the evidence points nowhere in particular (the Monitor says so rather than guess). */
export type RootCauseClass = 'code' | 'configuration' | 'resource' | 'dependency' | 'unknown';

/** One service's move in the plan; the plan runs first to last (dependencies first). */
export interface PlanStep {
  readonly service: string;
  readonly from: string;
  readonly to: string;
}

/** The policy in force (seed §3.1 step 1.1), after the image's scaling and the defaults. */
export interface Policy {
  readonly zeroDowntime: boolean;
  readonly rollbackWindowNs: Ns;
  readonly healthIntervalNs: Ns;
  /** Connections moved per second of virtual time; 0 means no limit. */
  readonly rateLimitPerS: number;
  /** Connections moved per batch (seed §6.1 prepares 100). */
  readonly batch: number;
  readonly stabilityNs: Ns;
  readonly timeouts: { readonly phaseNs: Ns; readonly handshakeNs: Ns; readonly connectionNs: Ns };
  /** Cumulative share of all connections moved once each stage ends (seed §3.2: 0.3, 0.6, 0.9, 1.0). */
  readonly stages: readonly { readonly class: ConnectionClass; readonly upTo: number }[];
}

/**
 * One step of the seed's flow. Phases 1–4 are §3.1–3.4 (step "1.1" … "4.6"); phase 5 is the
 * recovery of §4.3 (steps "5.1" … "5.4"), used by a rollback's own phases.
 */
export interface Phase {
  readonly phase: 1 | 2 | 3 | 4 | 5;
  readonly name: string;
  readonly step: string;
  readonly title: string;
  readonly startNs: Ns;
  readonly endNs: Ns;
  readonly wallStartMs?: number;
  readonly wallEndMs?: number;
  readonly outcome: PhaseOutcome;
  readonly detail?: string;
}

/** One migration stage as it ran: connections moved, closed before their turn, or failed. */
export interface Stage {
  readonly class: ConnectionClass;
  readonly upTo: number;
  readonly moved: number;
  readonly gone: number;
  readonly failed: number;
  readonly startNs: Ns;
  readonly endNs: Ns;
  readonly health: 'ok' | 'failed';
}

/** Connections served by each instance at one instant; `moved` counts migrations so far. */
export interface SplitSample {
  readonly tNs: Ns;
  readonly old: number;
  readonly new: number;
  readonly moved?: number;
}

export interface Latency {
  /** Connections whose added latency was measured. */
  readonly samples: number;
  readonly avgNs: Ns;
  readonly p99Ns: Ns;
  readonly maxNs: Ns;
  readonly perStage?: readonly { readonly class: ConnectionClass; readonly avgNs: Ns; readonly maxNs: Ns }[];
}

export interface Resource {
  readonly kind: string;
  readonly amount: number;
  readonly unit: string;
}

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail?: string;
}

export interface Alert {
  readonly tNs: Ns;
  readonly level: AlertLevel;
  readonly rule: string;
  readonly message: string;
  /** Kept in the timeline but not sent on: a duplicate, merged into another, or silenced. */
  readonly suppressed?: boolean;
}

/** The Monitor's rollback decision (seed §4.3 step 5.1): the rule, its inputs and its score. */
export interface Notice {
  readonly tNs: Ns;
  readonly event: 'begins' | 'completed' | 'rolled_back' | 'failed';
  readonly service: string;
  /** ready, ready_migrates, ready_refresh; refused or no_answer refuses the update; absent: not running. */
  readonly answer: string;
}

export interface Restart {
  readonly tNs: Ns;
  /** The start that crashed, from 1. */
  readonly start: number;
  readonly again: boolean;
}

export interface Decision {
  readonly tNs: Ns;
  readonly level: 1 | 2 | 3 | 4;
  readonly rule: string;
  readonly score: number;
  readonly threshold: number;
  readonly inputs: Readonly<Record<string, number>>;
  readonly action: string;
}

export interface Rollback {
  readonly kind: RollbackKind;
  readonly phases: readonly Phase[];
  readonly movedBack: number;
  /** Connections given up by an emergency rollback (seed §4.3 step 5.2.3); 0 otherwise. */
  readonly abandoned: number;
  /** How that count was had: the new instance's own (exact), or the driver's steering entries
   * for an instance that did not answer (at most that many). Absent without an emergency. */
  readonly abandonedCount?: 'exact' | 'at most';
  /** Share of the connections live at the decision still served after the rollback. */
  readonly survivalRate: number;
  /** The Monitor's check of what served afterwards against the baseline (seed §4.3 step 5.4). */
  readonly validation?: {
    readonly tNs: Ns;
    readonly samples: number;
    readonly answered: number;
    readonly version: string;
    readonly serviceTimeNs: Ns;
    readonly baselineNs: Ns;
    /** The CPU spent against what the baseline's cost model predicts for the same frames and
     * bytes (docs/monitor.md): 1 is the old version's cost at the same work. */
    readonly ratio: number;
    readonly restored: boolean;
    /** From the Module Manager's request to restored: how long the rollback weighed on performance (0: not restored). */
    readonly tookNs: Ns;
  };
}

export interface RootCause {
  readonly class: RootCauseClass;
  readonly summary: string;
  readonly evidence: readonly { readonly kind: string; readonly tNs: Ns; readonly text: string }[];
  readonly crash?: {
    readonly registers: Readonly<Record<string, string>>;
    readonly disassembly: readonly string[];
    readonly stack: readonly string[];
  };
  readonly metrics?: readonly { readonly name: string; readonly points: readonly { readonly tNs: Ns; readonly value: number }[] }[];
  /** Absent `from`: the key was added; absent `to`: it was removed. */
  readonly configDiff?: readonly { readonly key: string; readonly from?: string; readonly to?: string }[];
}

export interface UpdateReport {
  readonly format: typeof REPORT_FORMAT;
  readonly version: typeof REPORT_VERSION;
  /** Names the report's directory, build/reports/<id>/. */
  readonly id: string;
  readonly image?: string;
  readonly seed?: string;
  readonly service: string;
  readonly from: string;
  readonly to: string;
  readonly plan: readonly PlanStep[];
  readonly policy: Policy;
  readonly phases: readonly Phase[];
  readonly stages: readonly Stage[];
  readonly split: readonly SplitSample[];
  readonly latency: Latency;
  readonly ipcPerConnection?: number;
  readonly resources: { readonly reserved: readonly Resource[]; readonly freed: readonly Resource[] };
  readonly checks: readonly Check[];
  readonly outcome: ReportOutcome;
  readonly reason?: string;
  readonly rollbackPoint?: { readonly path: string; readonly expiresNs: Ns };
  /** A completed update's rollback window: until when, and how it ended (open while it runs). */
  readonly window?: { readonly untilNs: Ns; readonly state: 'open' | 'expired' | 'superseded' | 'rollback'; readonly rollbackId?: number };
  /** For a rollback within a window: the id of the update it undoes. */
  readonly rollbackOf?: number;
  /** The services that work with the updated one, told of the update and how it ended (seed 步骤1.4). */
  readonly notices?: readonly Notice[];
  /** Starts of the new instance that crashed before it served, and whether it was started again. */
  readonly restarts?: readonly Restart[];
  readonly alerts?: readonly Alert[];
  readonly decision?: Decision;
  readonly rollback?: Rollback;
  readonly rootCause?: RootCause;
  /** A configuration change (seed §4.4.2): the firewall's table, versioned by the firewall. */
  readonly configuration?: Configuration;
}

export interface Configuration {
  /** The table asked for, in order. */
  readonly rules: readonly string[];
  /** The version it became, and the one in force before it (0: it was refused). */
  readonly version: number;
  readonly previous: number;
  readonly added: number;
  readonly removed: number;
  /** CRC-32 of the table, as the firewall computed it, in hex. */
  readonly hash: string;
  /** The version put back in force by the rollback, if one ran. */
  readonly revertedTo?: number;
}

// --- the JSON Schema -----------------------------------------------------------------------------

type Schema = Record<string, unknown>;

/** An object with exactly these properties: a misspelt field is an error, not a silent default. */
const object = (required: Record<string, Schema>, optional: Record<string, Schema> = {}): Schema => ({
  type: 'object',
  additionalProperties: false,
  required: Object.keys(required),
  properties: { ...required, ...optional },
});
const list = (items: Schema, minItems = 0): Schema => ({ type: 'array', items, ...(minItems > 0 ? { minItems } : {}) });
const choice = (...values: readonly (string | number)[]): Schema => ({ enum: values });

const ns: Schema = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER };
const count: Schema = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER };
const share: Schema = { type: 'number', minimum: 0, maximum: 1 };
const wallMs: Schema = { type: 'number', minimum: 0 };
const text: Schema = { type: 'string' };
const label: Schema = { type: 'string', minLength: 1, maxLength: 200 };
const service: Schema = { type: 'string', pattern: NAME_PATTERN.source };
const version: Schema = { type: 'string', pattern: '^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$' };
const connectionClass = choice(...CONNECTION_CLASSES);

const phase = object(
  {
    phase: choice(1, 2, 3, 4, 5),
    name: label,
    step: { type: 'string', pattern: '^[1-5]\\.[1-9]$' },
    title: label,
    startNs: ns,
    endNs: ns,
    outcome: choice('ok', 'failed', 'skipped'),
  },
  { wallStartMs: wallMs, wallEndMs: wallMs, detail: text },
);

export const REPORT_SCHEMA: Schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://hic.invalid/schemas/update-report-1.json',
  title: 'HIC update report',
  ...object(
    {
      format: { const: REPORT_FORMAT },
      version: { const: REPORT_VERSION },
      // A directory name: no separator, never "." or "..".
      id: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', maxLength: 128 },
      service,
      from: version,
      to: version,
      plan: list(object({ service, from: version, to: version }), 1),
      policy: object({
        zeroDowntime: { type: 'boolean' },
        rollbackWindowNs: ns,
        healthIntervalNs: ns,
        rateLimitPerS: count,
        batch: { type: 'integer', minimum: 1 },
        stabilityNs: ns,
        timeouts: object({ phaseNs: ns, handshakeNs: ns, connectionNs: ns }),
        stages: list(object({ class: connectionClass, upTo: { type: 'number', exclusiveMinimum: 0, maximum: 1 } }), 1),
      }),
      phases: list(phase),
      stages: list(
        object({
          class: connectionClass,
          upTo: share,
          moved: count,
          gone: count,
          failed: count,
          startNs: ns,
          endNs: ns,
          health: choice('ok', 'failed'),
        }),
      ),
      split: list(object({ tNs: ns, old: count, new: count }, { moved: count })),
      latency: object(
        { samples: count, avgNs: ns, p99Ns: ns, maxNs: ns },
        { perStage: list(object({ class: connectionClass, avgNs: ns, maxNs: ns })) },
      ),
      resources: object({
        reserved: list(object({ kind: label, amount: { type: 'number', minimum: 0 }, unit: label })),
        freed: list(object({ kind: label, amount: { type: 'number', minimum: 0 }, unit: label })),
      }),
      checks: list(object({ name: label, ok: { type: 'boolean' } }, { detail: text })),
      outcome: choice('completed', 'refused', 'failed', 'rolled-back'),
    },
    {
      image: label,
      seed: label,
      ipcPerConnection: { type: 'number', minimum: 0 },
      reason: text,
      rollbackPoint: object({ path: label, expiresNs: ns }),
      window: object({ untilNs: ns, state: choice('open', 'expired', 'superseded', 'rollback') }, { rollbackId: count }),
      rollbackOf: count,
      notices: list(object({ tNs: ns, event: choice('begins', 'completed', 'rolled_back', 'failed'), service: label, answer: label })),
      restarts: list(object({ tNs: ns, start: count, again: { type: 'boolean' } })),
      configuration: object(
        { rules: list(text), version: count, previous: count, added: count, removed: count, hash: { type: 'string', pattern: '^[0-9a-f]{8}$' } },
        { revertedTo: count },
      ),
      alerts: list(object({ tNs: ns, level: choice('P0', 'P1', 'P2', 'P3'), rule: label, message: text }, { suppressed: { type: 'boolean' } })),
      decision: object({
        tNs: ns,
        level: choice(1, 2, 3, 4),
        rule: label,
        score: share,
        threshold: share,
        inputs: { type: 'object', propertyNames: label, additionalProperties: { type: 'number' } },
        action: label,
      }),
      rollback: object({
        kind: choice('reverse', 'emergency', 'configuration', 'component', 'window'),
        phases: list(phase),
        movedBack: count,
        abandoned: count,
        survivalRate: share,
      }, {
        abandonedCount: choice('exact', 'at most'),
        validation: object({ tNs: ns, samples: count, answered: count, version: label, serviceTimeNs: ns, baselineNs: ns, ratio: { type: 'number', minimum: 0 }, restored: { type: 'boolean' }, tookNs: ns }),
      }),
      rootCause: object(
        {
          class: choice('code', 'configuration', 'resource', 'dependency', 'unknown'),
          summary: text,
          evidence: list(object({ kind: label, tNs: ns, text })),
        },
        {
          crash: object({
            registers: { type: 'object', propertyNames: label, additionalProperties: text },
            disassembly: list(text),
            stack: list(text),
          }),
          metrics: list(object({ name: label, points: list(object({ tNs: ns, value: { type: 'number' } })) })),
          configDiff: list(object({ key: label }, { from: text, to: text })),
        },
      ),
    },
  ),
};
