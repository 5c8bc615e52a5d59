// The update report from an update's account (outcome.ts): versions, policy in force, the seed's
// phases step by step with virtual and wall times, the stages, the traffic split over time, the
// latency each moved connection saw, resources reserved and freed, checks, the Monitor's alerts
// and decision, and the outcome. The shape is system/report/schema.ts's; rendering and writing
// live in system/report/.

import type { Configuration, Notice, Phase, RootCause, UpdateReport } from '../report/schema.ts';
import { version, type LoadedInstance, type UpdateAccount } from './outcome.ts';
import type { UpdatePolicy } from './request.ts';

/** Each Module Manager step: the seed's 步骤 number and what it does. */
const STEPS: Readonly<Record<string, { readonly seed: string; readonly title: string }>> = {
  request: { seed: '1.1', title: 'request and policy check' },
  fetch: { seed: '1.2', title: 'new version fetched and verified by Core-0' },
  dependencies: { seed: '1.2', title: 'dependencies against what is installed' },
  reserve: { seed: '1.3', title: 'resources reserved' },
  notify: { seed: '1.4', title: 'dependent services notified' },
  sandbox: { seed: '2.1', title: 'new sandbox created by Core-0, capabilities granted' },
  handshake: { seed: '2.3', title: 'handshake and version negotiation' },
  warmup: { seed: '2.4', title: 'warm-up and consistency probes' },
  snapshot: { seed: '3.1', title: 'snapshot moved; new connections to the new instance' },
  migrate: { seed: '3.2', title: 'connections moved in four stages' },
  switch: { seed: '3.4', title: "the service's aliases switched" },
  validate: { seed: '4.1', title: 'validation through the alias' },
  stability: { seed: '4.1', title: 'stability window' },
  shutdown: { seed: '4.2', title: 'old instance completed and destroyed' },
  release: { seed: '4.3', title: 'temporary resources released' },
  // A rollback's own phases (seed §4.3): the driver's default and the alias go back first, so no
  // new connection reaches the failed version while the others move back.
  rollback_switch: { seed: '5.3', title: "driver's default and the service's alias back to the old instance" },
  rollback_move: { seed: '5.2', title: 'connections moved back (reverse) or given up (emergency), both instances aborted' },
  rollback_reclaim: { seed: '5.3', title: 'new instance destroyed, its resources reclaimed' },
  // A configuration change (seed §4.4.2): the code stays, the firewall's table changes. Putting
  // it in force is the change's switch (步骤3.4); putting the one before back, its rollback (5.2).
  config_apply: { seed: '3.4', title: "the firewall's new table checked and put in force as its next version (§4.4.2)" },
  config_enforce: { seed: '3.4', title: 'the running instance fetched the table and enforces it' },
  config_revert: { seed: '5.2', title: 'the version before put back in force and enforced again; the code stays (§4.4.2)' },
};

const CLASSES = ['idle', 'http', 'realtime', 'persistent'] as const;
const PAGE = 4096;


const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? 0));

/** The policy in force, as the Module Manager's `begin` record states it. */
function policyOf(b: Readonly<Record<string, unknown>>): UpdateReport['policy'] {
  return {
    zeroDowntime: true,
    rollbackWindowNs: num(b.rollback_window),
    healthIntervalNs: num(b.health_interval),
    rateLimitPerS: num(b.rate_limit),
    batch: num(b.batch),
    stabilityNs: num(b.stability),
    // One timeout covers every call and phase of the Module Manager.
    timeouts: { phaseNs: num(b.phase_timeout), handshakeNs: num(b.phase_timeout), connectionNs: num(b.phase_timeout) },
    stages: CLASSES.map((c, i) => ({ class: c, upTo: num(b[`stage${i + 1}`]) / 1000 })),
  };
}

/** A refused request never began: the policy it asked for (the operator's channel resolved it). */
function requestedPolicy(json: string): UpdateReport['policy'] {
  const p = JSON.parse(json) as Required<UpdatePolicy>;
  return {
    zeroDowntime: p.zeroDowntime,
    rollbackWindowNs: p.rollbackWindowNs,
    healthIntervalNs: p.healthIntervalNs,
    rateLimitPerS: p.rateLimit === 'off' ? 0 : p.rateLimit,
    batch: p.batch,
    stabilityNs: p.stabilityNs,
    timeouts: { phaseNs: p.phaseTimeoutNs, handshakeNs: p.phaseTimeoutNs, connectionNs: p.phaseTimeoutNs },
    stages: CLASSES.map((c, i) => ({ class: c, upTo: p.stages[i]! })),
  };
}

/** The Monitor's decision that asked for the rollback: its rule, score and what it measured. */
function decisionOf(a: UpdateAccount): UpdateReport['decision'] {
  const v = a.monitor.verdict;
  if (!v) return undefined;
  const d = [...a.monitor.decisions].reverse().find((x) => x.tNs <= v.tNs && x.execute === true);
  const baseline = a.monitor.baseline;
  return {
    tNs: v.tNs,
    level: Math.min(4, Math.max(1, num(v.level))) as 1 | 2 | 3 | 4,
    rule: String(v.rule),
    score: num(v.score) / 1000,
    threshold: 0.8,
    inputs: {
      ...(d && num(d.service_time) > 0 ? { serviceTimeNs: num(d.service_time) } : {}), // 0: nothing measured (no answer)
      ...(baseline ? { baselineServiceTimeNs: num(baseline.service_time), baselineSigmaNs: num(baseline.service_time_sigma), baselineSamples: num(baseline.samples) } : {}),
      samples: num(a.monitor.unwatch?.samples),
      outOfBand: num(a.monitor.unwatch?.violations),
      unanswered: num(a.monitor.unwatch?.unanswered),
    },
    action: String(v.action),
  };
}

const CAUSES: Readonly<Record<string, RootCause['class']>> = { code: 'code', configuration: 'configuration', resource: 'resource', dependency: 'dependency', unknown: 'unknown' };

/** What differs between the old instance and the new: version, code, configuration, build. */
function configDiff(old: LoadedInstance | undefined, now: LoadedInstance | undefined): NonNullable<RootCause['configDiff']> {
  if (!old || !now) return [];
  const out: { key: string; from?: string; to?: string }[] = [];
  const pair = (key: string, from: string | undefined, to: string | undefined) => {
    if (from !== to) out.push({ key, ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) });
  };
  pair('version', old.version, now.version);
  pair('code (sha384)', old.sha384.slice(0, 16), now.sha384.slice(0, 16));
  for (const k of [...new Set([...Object.keys(old.config), ...Object.keys(now.config)])].sort()) {
    const v = (x: unknown) => (x === undefined ? undefined : String(x));
    pair(`config.${k}`, v(old.config[k]), v(now.config[k]));
  }
  // Build settings are "define NAME=1", "sse true", ...: keyed by what they set.
  const settings = (b: readonly string[]) => new Map(b.map((x) => [x.split(/[ =]/).slice(0, 2).join(' '), x]));
  const ob = settings(old.build), nb = settings(now.build);
  for (const k of [...new Set([...ob.keys(), ...nb.keys()])].sort()) pair(`build: ${k}`, ob.get(k), nb.get(k));
  return out;
}

/** A configuration change's diff (seed §4.4.2 配置差异分析): the firewall's versions and what changed. */
function tableDiff(c: Configuration): NonNullable<RootCause['configDiff']> {
  return [
    { key: 'firewall configuration version', from: String(c.previous), to: String(c.version) },
    { key: 'rules added, removed', to: `${c.added} added, ${c.removed} removed` },
    { key: 'table (new)', to: c.rules.join('; ') },
  ];
}

/** The root cause (seed §4.3 步骤5.4.2): the Monitor's classification with its evidence, the
 * metric history it decided on, and what changed between the two instances. */
function rootCauseOf(a: UpdateAccount): RootCause | undefined {
  const v = a.monitor.verdict, c = a.monitor.cause;
  if (!v || !c) return undefined;
  const base = a.monitor.baseline;
  const last = [...a.monitor.samples].reverse().find((x) => x.tNs <= v.tNs && num(x.service_time) > 0);
  const summary =
    `${String(v.rule)} (level ${num(v.level)}, confidence ${(num(v.score) / 1000).toFixed(3)}) on ${a.service} ${a.to}` +
    (base && last ? `: ${num(last.service_time)} ns per frame against a baseline of ${num(base.service_time)} (σ ${num(base.service_time_sigma)}) learnt from ${version(base.version)}` : '') +
    `; classified ${String(c.cause)} with confidence ${(num(c.confidence) / 1000).toFixed(3)}`;
  const evidence = [
    ...a.monitor.decisions.map((d) => ({ kind: 'decision', tNs: d.tNs, text: `rule ${String(d.rule)}, level ${num(d.level)}, ${String(d.action)}, score ${(num(d.score) / 1000).toFixed(3)}${d.execute === true ? '' : ' (not acted on)'}` })),
    ...a.faults.map((f) => ({ kind: `fault ${f.kind}`, tNs: f.tNs, text: f.text })),
    ...a.steps.filter((s) => s.state === 'failed').map((s) => ({ kind: 'step failed', tNs: s.tNs, text: `${s.step} (phase ${s.phase})` })),
  ].sort((x, y) => x.tNs - y.tNs);
  const series = (name: string, field: string) => ({ name, points: a.monitor.samples.map((x) => ({ tNs: x.tNs, value: num(x[field]) })) });
  // The new instance's crash, as Core-0 dumped it before tearing the sandbox down (core0/crash-dump.ts).
  const dump = a.faults.find((f) => f.dump)?.dump;
  return {
    class: CAUSES[String(c.cause)] ?? 'unknown',
    summary,
    evidence,
    ...(dump ? { crash: { registers: dump.registers, disassembly: [...dump.code, ...(dump.before ? [`(the 16 bytes before rip: ${dump.before})`] : [])], stack: dump.stack } } : {}),
    metrics: [series('service time per frame (ns)', 'service_time'), series('frames offered per interval', 'offered'), series('unanswered per interval', 'unanswered')],
    configDiff: a.configuration ? tableDiff(configurationOf(a.configuration)) : configDiff(a.instances.old, a.instances.new),
  };
}

/** The Monitor's validation after the rollback (seed 步骤5.4), once it has been recorded. */
function validationOf(a: UpdateAccount): NonNullable<UpdateReport['rollback']>['validation'] {
  const v = a.monitor.validation;
  if (!v) return undefined;
  return {
    tNs: v.tNs, samples: num(v.samples), answered: num(v.answered), version: version(v.version), serviceTimeNs: num(v.service_time),
    baselineNs: num(v.baseline), ratio: num(v.ratio) / 1000, restored: v.restored === true, tookNs: num(v.took),
  };
}

function rollbackOf(a: UpdateAccount, phases: readonly Phase[]): UpdateReport['rollback'] {
  const r = a.rollback;
  if (!r) return undefined;
  const movedBack = num(r.moved_back), abandoned = num(r.abandoned), failed = num(r.failed);
  // The connections live at the decision: those the old instance still held (the last split) and
  // those at the new one, moved back, failed or given up. Those closed by their clients
  // meanwhile are not counted either way.
  const atOld = a.split.at(-1)?.old ?? 0;
  const live = atOld + movedBack + abandoned + failed;
  return {
    kind: r.kind === 'config' ? 'configuration' : (String(r.kind) as 'reverse' | 'emergency'),
    phases: phases.filter((p) => p.phase === 5),
    movedBack,
    abandoned,
    ...(r.counted === 'instance' ? { abandonedCount: 'exact' as const } : r.counted === 'steering' ? { abandonedCount: 'at most' as const } : {}),
    survivalRate: live ? (atOld + movedBack) / live : 1,
  };
}

/** An update's steps as phases: each step from its begin to its end, failed where one never ended. */
function phasesOf(a: UpdateAccount): Phase[] {
  const phases: Phase[] = [];
  for (const s of a.steps) {
    if (s.state === 'begin') {
      // Failed until it ends: a step a refusal cut short failed where it stood.
      phases.push({ phase: s.phase as Phase['phase'], name: s.step, step: STEPS[s.step]?.seed ?? '?', title: STEPS[s.step]?.title ?? s.step, startNs: s.tNs, endNs: s.tNs, wallStartMs: s.wallMs, wallEndMs: s.wallMs, outcome: 'failed', detail: 'did not end' });
      continue;
    }
    const open = [...phases].reverse().find((p) => p.name === s.step);
    const outcome = s.state === 'skipped' ? 'skipped' : s.state === 'failed' ? 'failed' : 'ok';
    if (open && s.state !== 'skipped') {
      Object.assign(open, { endNs: s.tNs, wallEndMs: s.wallMs, outcome });
      delete (open as { detail?: string }).detail;
    }
    else phases.push({ phase: s.phase as Phase['phase'], name: s.step, step: STEPS[s.step]?.seed ?? '?', title: STEPS[s.step]?.title ?? s.step, startNs: s.tNs, endNs: s.tNs, wallStartMs: s.wallMs, wallEndMs: s.wallMs, outcome });
  }
  return phases;
}

/** A completed update undone within its rollback window: the update back, as this one's rollback. */
function windowRollbackOf(a: UpdateAccount): UpdateReport['rollback'] {
  const back = a.rolledBackBy;
  if (!back?.end) return undefined;
  const moved = num(back.end.moved), failed = num(back.end.failed);
  return { kind: 'window', phases: phasesOf(back), movedBack: moved, abandoned: 0, survivalRate: moved + failed ? moved / (moved + failed) : 1 };
}

export function reportOf(a: UpdateAccount, image?: string): UpdateReport {
  const b = a.begin;
  const phases = phasesOf(a);
  const back = a.rolledBackBy;
  const undone = back?.end?.outcome === 'completed';
  const outcome: UpdateReport['outcome'] = a.refused ? 'refused' : undone || a.end?.outcome === 'rolled_back' ? 'rolled-back' : a.end?.outcome === 'completed' ? 'completed' : 'failed';
  const decision = decisionOf(a);
  const undoing = rollbackOf(a, phases) ?? windowRollbackOf(a);
  const validation = validationOf(a);
  const rollback = undoing && validation ? { ...undoing, validation } : undoing;
  const rootCause = rollback ? rootCauseOf(a) : undefined;
  const end = a.end;
  const reserved = a.reserved ? num(a.reserved.memory) : 0;
  const old = a.destroyed; // the old instance after a completed update, the new one after a rollback
  // The version it updates from: what was installed (0.0.0: nothing, for a refused request).
  // A configuration change keeps the version it runs.
  const from = a.configuration ? a.to : version(b ? b.from : (a.refused?.from ?? 0));
  return {
    format: 'hic-update-report',
    version: 1,
    id: `u${a.id}-${a.service}-${a.to}`,
    ...(image ? { image } : {}),
    service: a.service,
    from,
    to: a.to,
    plan: [{ service: a.service, from, to: a.to }],
    policy: b ? policyOf(b) : requestedPolicy(a.policyJson),
    phases: phases.filter((p) => p.phase !== 5),
    stages: a.stages.map((s) => ({
      class: String(s.class) as (typeof CLASSES)[number],
      upTo: num(s.up_to) / 1000,
      moved: num(s.moved),
      gone: num(s.gone),
      failed: num(s.failed),
      startNs: num(s.start),
      endNs: num(s.end),
      health: s.healthy === true ? 'ok' : 'failed',
    })),
    split: a.split.map((s) => ({ tNs: s.tNs, old: s.old, new: s.new })),
    latency: { samples: num(end?.moved), avgNs: num(end?.latency_avg), p99Ns: num(end?.latency_p99), maxNs: num(end?.latency_max) },
    ...(end && num(end.moved) > 0 ? { ipcPerConnection: num(end.ipc_per_connection) / 100 } : {}),
    resources: {
      reserved: reserved ? [{ kind: 'memory (new instance and as much again)', amount: reserved, unit: 'bytes' }] : [],
      freed: [
        ...(reserved && outcome !== 'refused' ? [{ kind: 'reservation released', amount: reserved - (a.created?.quota ?? 0), unit: 'bytes' }] : []),
        ...old.map((d) => ({ kind: `frames of ${d.sandbox}`, amount: d.framesReturned * PAGE, unit: 'bytes' })),
      ],
    },
    checks: [
      ...(end ? [{ name: 'checks passed', ok: end.ok === true, detail: `${num(end.checks)} checks, ${a.failedChecks.length} failed` }] : []),
      ...a.failedChecks.map((c) => ({ name: c, ok: false })),
    ],
    outcome,
    ...(a.refused
      ? { reason: `refused: ${a.refused.reason}${a.refused.code ? ` (error ${a.refused.code})` : ''}` }
      : back && a.window
        ? { reason: `completed, then ${undone ? 'rolled back' : back.end ? 'a rollback failed' : 'rolling back'} within its rollback window by update ${back.id} to ${back.to}: the Monitor's rule ${String(a.window.rule)} (level ${num(a.window.level)}, confidence ${(num(a.window.score) / 1000).toFixed(3)})` }
      : a.rollbackOf !== undefined
        ? { reason: `the rollback of update ${a.rollbackOf} within its rollback window` }
      : end && outcome === 'rolled-back'
        ? { reason: `rolled back at ${String(end.failed_step)}: the Monitor's rule ${String(a.rollback?.rule)} (level ${num(a.rollback?.level)}, confidence ${(num(a.rollback?.score) / 1000).toFixed(3)})` }
        : end && end.outcome !== 'completed'
          ? { reason: `failed at ${String(end.failed_step)}` }
          : {}),
    ...(a.notified.length ? { notices: a.notified.map((n) => ({ tNs: n.tNs, event: String(n.event) as Notice['event'], service: String(n.service), answer: String(n.answer) })) } : {}),
    ...(a.restarts.length ? { restarts: a.restarts.map((x) => ({ tNs: x.tNs, start: num(x.start), again: x.again === true })) } : {}),
    // The Monitor's alerts, whenever it watched this update (none raised: an empty list).
    ...(a.monitor.baseline ? { alerts: a.monitor.alerts.map((x) => ({ tNs: x.tNs, level: x.level, rule: x.rule, message: `${x.message} (incident ${x.incident}, ${x.verdict})`, ...(x.suppressed ? { suppressed: true } : {}) })) } : {}),
    ...(decision ? { decision } : {}),
    ...(rollback ? { rollback } : {}),
    ...(rootCause ? { rootCause } : {}),
    ...(a.window ? { window: { untilNs: num(a.window.until), state: String(a.window.state) as NonNullable<UpdateReport['window']>['state'], ...(back ? { rollbackId: back.id } : {}) } } : {}),
    ...(a.rollbackOf !== undefined ? { rollbackOf: a.rollbackOf } : {}),
    ...(a.configuration ? { configuration: configurationOf(a.configuration) } : {}),
  };
}

function configurationOf(c: NonNullable<UpdateAccount['configuration']>): Configuration {
  const x = c.applied;
  return {
    rules: c.rules,
    version: num(x?.version),
    previous: num(x?.previous),
    added: num(x?.added),
    removed: num(x?.removed),
    hash: num(x?.hash).toString(16).padStart(8, '0'),
    ...(c.reverted ? { revertedTo: num(c.reverted.version) } : {}),
  };
}
