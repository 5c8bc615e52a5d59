// An update request as the operator's channel carries it to the Module Manager: which service,
// which version, and the policy of seed 步骤1.1 (docs/module-manager.md). Images write it under
// `updates`, `hic ctl update` takes it from the command line and `--policy FILE`; both are read
// here, with every error naming its field, and encoded as struct mm_request
// (services/include/hic/module_manager.h), whose layout this file mirrors.
//
// Fields left out take the seed's defaults (SEED_POLICY, here and nowhere else): the request
// carries a whole policy, which the Module Manager checks and reports as in force (its `begin`).

import { Reader } from '../manifest.ts';

export const STAGES = 4;

/**
 * Requests the operator's channel holds at once, not yet delivered to the Module Manager (an
 * image's scheduled ones included). The Module Manager takes one at a time and an update runs
 * for seconds to hours, so a longer queue only means work nobody will see start soon; a bound
 * keeps a control client from growing the host's memory and the event log while it waits.
 */
export const MAX_PENDING_UPDATES = 8;

export interface UpdatePolicy {
  readonly zeroDowntime?: boolean;
  readonly rollbackWindowNs?: number;
  readonly healthIntervalNs?: number;
  /** Connections per second, or 'off'. */
  readonly rateLimit?: number | 'off';
  readonly batch?: number;
  readonly stabilityNs?: number;
  readonly phaseTimeoutNs?: number;
  /** Fractions of all connections moved by the end of each stage: [0.3, 0.6, 0.9, 1]. */
  readonly stages?: readonly number[];
  /** Health checks during each stage: 0 after every batch. */
  readonly stageChecksNs?: readonly number[];
  readonly idleNs?: number;
}

export interface UpdateRequest {
  readonly service: string;
  readonly to: string;
  readonly allowDowngrade: boolean;
  /** Update to a version marked bad after a rollback, clearing the mark (an operator's knowing
   * choice: without it, the Module Manager refuses such a version). */
  readonly clearBad?: boolean;
  readonly policy: UpdatePolicy;
}

const S = 1e9;

/** Seed 步骤1.1 (zero downtime, 24 h rollback window, health checks every 5 s, at most 100
 * connections/s), §6.1 (batches of 100), 步骤3.2 (stages to 30/60/90/100 %, checked after each
 * batch, every 5 s, every 2 s, after each connection), 步骤4.1 (a 1 h stability window) and
 * 步骤4.2 (5 min timeouts). `idleNs` is ours: what counts as an idle connection. */
export const SEED_POLICY: Required<UpdatePolicy> = {
  zeroDowntime: true,
  rollbackWindowNs: 24 * 3600 * S,
  healthIntervalNs: 5 * S,
  rateLimit: 100,
  batch: 100,
  stabilityNs: 3600 * S,
  phaseTimeoutNs: 300 * S,
  stages: [0.3, 0.6, 0.9, 1],
  stageChecksNs: [0, 5 * S, 2 * S, 0],
  idleNs: 50e6,
};

/** The policy in force: the request's fields, the seed's for the rest. */
export function resolvePolicy(p: UpdatePolicy): Required<UpdatePolicy> {
  return { ...SEED_POLICY, ...Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) };
}

const POLICY_FIELDS = ['zeroDowntime', 'rollbackWindow', 'healthInterval', 'rateLimit', 'batch', 'stability', 'phaseTimeout', 'stages', 'stageChecks', 'idle'] as const;
const VERSION = /^\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const SERVICE = /^[a-z][a-z0-9_]{0,30}$/;

/** The policy object of an image's update or a `--policy` file. */
export function readPolicy(r: Reader, v: unknown, field: string): UpdatePolicy {
  const o = r.object(v ?? {}, field, POLICY_FIELDS);
  const f = (k: string) => (field ? `${field}.${k}` : k);
  const list = (x: unknown, k: string, item: (y: unknown, at: string) => number): number[] => {
    if (!Array.isArray(x) || x.length !== STAGES) r.fail(f(k), `expected a list of ${STAGES} values, one per stage`);
    return x.map((y, i) => item(y, `${f(k)}[${i}]`));
  };
  const p: { -readonly [K in keyof UpdatePolicy]: UpdatePolicy[K] } = {};
  if (o.zeroDowntime !== undefined) {
    if (o.zeroDowntime !== true) r.fail(f('zeroDowntime'), 'only true is offered: every update keeps every connection');
    p.zeroDowntime = true;
  }
  if (o.rollbackWindow !== undefined) p.rollbackWindowNs = r.time(o.rollbackWindow, f('rollbackWindow'));
  if (o.healthInterval !== undefined) p.healthIntervalNs = positive(r, r.time(o.healthInterval, f('healthInterval')), f('healthInterval'));
  if (o.rateLimit !== undefined) p.rateLimit = o.rateLimit === 'off' ? 'off' : r.integer(o.rateLimit, f('rateLimit'), 1, 1_000_000);
  if (o.batch !== undefined) p.batch = r.integer(o.batch, f('batch'), 1, 1000);
  if (o.stability !== undefined) p.stabilityNs = positive(r, r.time(o.stability, f('stability')), f('stability'));
  if (o.phaseTimeout !== undefined) p.phaseTimeoutNs = r.time(o.phaseTimeout, f('phaseTimeout'));
  if (o.phaseTimeout !== undefined && p.phaseTimeoutNs! < 1e6) r.fail(f('phaseTimeout'), 'at least 1ms');
  if (o.stages !== undefined) {
    p.stages = list(o.stages, 'stages', (y, at) => {
      if (typeof y !== 'number' || !(y > 0 && y <= 1)) r.fail(at, `expected a fraction in (0, 1], got ${JSON.stringify(y)}`);
      return y;
    });
    if (p.stages.some((s, i) => i > 0 && s < p.stages![i - 1]!)) r.fail(f('stages'), 'the fractions must not fall from one stage to the next');
    if (p.stages[STAGES - 1] !== 1) r.fail(f('stages'), 'the last stage moves every connection: its fraction is 1');
  }
  if (o.stageChecks !== undefined) p.stageChecksNs = list(o.stageChecks, 'stageChecks', (y, at) => r.time(y, at));
  if (o.idle !== undefined) {
    p.idleNs = r.time(o.idle, f('idle'));
    if (p.idleNs < 1e6 || p.idleNs > 60e9) r.fail(f('idle'), 'between 1ms and 60s');
  }
  return p;
}

function positive(r: Reader, n: number, field: string): number {
  if (n <= 0) r.fail(field, 'must be longer than 0');
  return n;
}

/** An image's `updates[i]` entry, without its `at`. */
export function readRequest(r: Reader, o: Record<string, unknown>, field: string): UpdateRequest {
  const service = r.string(o.service, `${field}.service`);
  if (!SERVICE.test(service)) r.fail(`${field}.service`, `"${service}" is not a module name ([a-z][a-z0-9_]*, at most 31)`);
  const to = r.string(o.to, `${field}.to`);
  if (!VERSION.test(to)) r.fail(`${field}.to`, `"${to}" is not an exact version (like "1.3.0")`);
  if (o.allowDowngrade !== undefined && typeof o.allowDowngrade !== 'boolean') r.fail(`${field}.allowDowngrade`, 'expected true or false');
  if (o.clearBad !== undefined && typeof o.clearBad !== 'boolean') r.fail(`${field}.clearBad`, 'expected true or false');
  return { service, to, allowDowngrade: o.allowDowngrade === true, ...(o.clearBad === true ? { clearBad: true } : {}), policy: readPolicy(r, o.policy, `${field}.policy`) };
}

// struct mm_request: id, service[32], to[16], flags, then struct mm_policy's words.
const AT = { id: 0, service: 8, to: 40, flags: 56, policy: 64 } as const;
const POLICY_WORDS = ['zeroDowntime', 'rollbackWindowNs', 'healthIntervalNs', 'rateLimit', 'batch', 'stabilityNs', 'phaseTimeoutNs'] as const;
export const REQUEST_BYTES = AT.policy + 8 * (POLICY_WORDS.length + 2 * STAGES + 1);
export const MM_REQUEST_UPDATE = 1n;
const MM_ALLOW_DOWNGRADE = 1; // mm_request.flags (hic/module_manager.h)
const MM_CLEAR_BAD = 2;

export function encodeRequest(id: number, req: UpdateRequest): Uint8Array {
  const b = new Uint8Array(REQUEST_BYTES);
  const v = new DataView(b.buffer);
  const u64 = (at: number, n: number | bigint) => v.setBigUint64(at, BigInt(n), true);
  u64(AT.id, id);
  b.set(Buffer.from(req.service, 'ascii'), AT.service);
  b.set(Buffer.from(req.to, 'ascii'), AT.to);
  u64(AT.flags, (req.allowDowngrade ? MM_ALLOW_DOWNGRADE : 0) | (req.clearBad ? MM_CLEAR_BAD : 0));
  const p = resolvePolicy(req.policy);
  const words: (number | bigint)[] = [
    p.zeroDowntime ? 1 : 0,
    p.rollbackWindowNs,
    p.healthIntervalNs,
    p.rateLimit === 'off' ? (1n << 64n) - 1n : p.rateLimit,
    p.batch,
    p.stabilityNs,
    p.phaseTimeoutNs,
    ...p.stages.map((s) => Math.round(s * 1000)),
    ...p.stageChecksNs,
    Math.round(p.idleNs / 1e6),
  ];
  words.forEach((w, i) => u64(AT.policy + 8 * i, w));
  return b;
}
