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

/** One rule of the firewall's table (services/include/hic/firewall.h): the local ports (for ICMP,
 * the message types) it judges, both ends included. */
export interface FirewallRule {
  readonly action: 'allow' | 'deny';
  readonly proto: 'tcp' | 'udp' | 'icmp';
  readonly first: number;
  readonly last: number;
}

export interface UpdateRequest {
  readonly service: string;
  /** The exact version wanted; '' for a configuration change (`rules`). */
  readonly to: string;
  /** A configuration change instead of an update (seed §4.4.2): the firewall's new table, which the
   * Module Manager puts in force as its next version, the code unchanged. */
  readonly rules?: readonly FirewallRule[];
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

/** The firewall's table holds at most this many rules (FW_MAX_RULES). */
export const MAX_RULES = 32;
const RULE = /^(allow|deny) (tcp|udp|icmp) (\d{1,5})(?:-(\d{1,5}))?$/;

/** "allow tcp 80", "deny udp 0-65535", "allow icmp 8": a rule as images and `--rules` files write it. */
export function readRule(r: Reader, v: unknown, field: string): FirewallRule {
  const s = r.string(v, field);
  const m = RULE.exec(s);
  if (!m) r.fail(field, `"${s}" is not a rule: expected "allow|deny tcp|udp|icmp PORT[-PORT]"`);
  const first = Number(m[3]), last = m[4] === undefined ? first : Number(m[4]);
  const top = m[2] === 'icmp' ? 255 : 65535;
  if (first > top || last > top) r.fail(field, `"${s}": ${m[2] === 'icmp' ? 'an ICMP type is at most 255' : 'a port is at most 65535'}`);
  if (last < first) r.fail(field, `"${s}": the range ends before it begins`);
  return { action: m[1] as FirewallRule['action'], proto: m[2] as FirewallRule['proto'], first, last };
}

export const ruleText = (x: FirewallRule): string => `${x.action} ${x.proto} ${x.first === x.last ? x.first : `${x.first}-${x.last}`}`;

/** A firewall table: a list of rules, tried in order (what none matches is denied). */
export function readRules(r: Reader, v: unknown, field: string): FirewallRule[] {
  if (!Array.isArray(v)) r.fail(field, 'expected a list of rules, like ["allow tcp 80", "deny tcp 0-65535"]');
  if (v.length > MAX_RULES) r.fail(field, `${v.length} rules; the firewall's table holds at most ${MAX_RULES}`);
  return v.map((x, i) => readRule(r, x, `${field}[${i}]`));
}

/** An image's `updates[i]` entry, without its `at`: an update (`to`) or a configuration change (`rules`). */
export function readRequest(r: Reader, o: Record<string, unknown>, field: string): UpdateRequest {
  const service = r.string(o.service, `${field}.service`);
  if (!SERVICE.test(service)) r.fail(`${field}.service`, `"${service}" is not a module name ([a-z][a-z0-9_]*, at most 31)`);
  if (o.rules !== undefined) {
    if (o.to !== undefined) r.fail(`${field}.to`, 'a configuration change (rules) keeps the version: no "to"');
    for (const k of ['allowDowngrade', 'clearBad'] as const) if (o[k] !== undefined) r.fail(`${field}.${k}`, 'only for an update to a version');
    return { service, to: '', allowDowngrade: false, rules: readRules(r, o.rules, `${field}.rules`), policy: readPolicy(r, o.policy, `${field}.policy`) };
  }
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
export const MM_REQUEST_CONFIGURE = 2n;
// struct mm_configure: the request, then table_len and the table (hic/firewall.h's wire form).
const TABLE_MAX = 4 + MAX_RULES * 8;
// The struct is 8-aligned, so C rounds its size up past the table.
export const CONFIGURE_BYTES = Math.ceil((REQUEST_BYTES + 8 + TABLE_MAX) / 8) * 8;
const PROTO = { icmp: 1, tcp: 6, udp: 17 } as const;
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
  if (!req.rules) return b;
  const c = new Uint8Array(CONFIGURE_BYTES);
  c.set(b);
  const t = encodeTable(req.rules);
  new DataView(c.buffer).setBigUint64(REQUEST_BYTES, BigInt(t.length), true);
  c.set(t, REQUEST_BYTES + 8);
  return c;
}

/** The label a request travels with. */
export const requestLabel = (req: UpdateRequest): bigint => (req.rules ? MM_REQUEST_CONFIGURE : MM_REQUEST_UPDATE);

/** The firewall's wire form of a table: u16 version 1, u16 count, then 8 bytes a rule. */
export function encodeTable(rules: readonly FirewallRule[]): Uint8Array {
  const t = new Uint8Array(4 + 8 * rules.length);
  const v = new DataView(t.buffer);
  v.setUint16(0, 1, true);
  v.setUint16(2, rules.length, true);
  rules.forEach((x, i) => {
    t[4 + 8 * i] = PROTO[x.proto];
    t[5 + 8 * i] = x.action === 'allow' ? 1 : 0;
    v.setUint16(6 + 8 * i, x.first, true);
    v.setUint16(8 + 8 * i, x.last, true);
  });
  return t;
}
