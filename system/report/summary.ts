// The terminal summary of an update report, as `hic report` prints it: what was updated and how
// it ended, the plan and the policy, the phases with their times, the stages, latency, resources
// and checks, then — when the Monitor acted — its alerts, decision, rollback and root cause.
// Returns lines as they come from the report; the CLI makes each printable, since the strings in
// a report come from guests.

import { duration, instant, percent, rateLimit, resource, stagePlan, wallSpan, WINDOW_WORDS } from './format.ts';
import type { Phase, UpdateReport } from './schema.ts';

const OUTCOME_WORDS: Record<UpdateReport['outcome'], string> = {
  completed: 'COMPLETED',
  refused: 'REFUSED',
  failed: 'FAILED',
  'rolled-back': 'ROLLED BACK',
};

/** A heading in a 12-column gutter, then its first line; the lines after it are indented to match. */
function block(title: string, lines: readonly string[]): string[] {
  if (lines.length === 0) return [];
  return lines.map((l, i) => `${(i === 0 ? title : '').padEnd(12)}${l}`);
}

function phaseLines(phases: readonly Phase[]): string[] {
  const titleWidth = Math.min(44, Math.max(0, ...phases.map((p) => p.title.length)));
  return phases.flatMap((p) => {
    const wall = wallSpan(p);
    const cells = [
      p.step.padEnd(4),
      p.title.padEnd(titleWidth),
      instant(p.startNs).padStart(11),
      duration(p.endNs - p.startNs).padStart(10),
      wall === undefined ? '' : `(${wall} wall)`.padStart(16),
      p.outcome === 'ok' ? '' : p.outcome.toUpperCase(),
    ];
    const line = cells.join('  ').trimEnd();
    return p.detail === undefined ? [line] : [line, `      ${p.detail}`];
  });
}

export function summarize(r: UpdateReport): string[] {
  const out: string[] = [];
  const origin = [`update ${r.id}`, r.image !== undefined ? `image ${r.image}` : '', r.seed !== undefined ? `seed ${r.seed}` : ''].filter(Boolean).join(', ');
  out.push(`${r.service} ${r.from} → ${r.to}: ${OUTCOME_WORDS[r.outcome]}  (${origin})`);
  if (r.reason !== undefined) out.push(`reason: ${r.reason}`);
  out.push('');

  out.push(...block('plan', r.plan.map((s, i) => `${i + 1}. ${s.service} ${s.from} → ${s.to}`)));
  const p = r.policy;
  out.push(
    ...block('policy', [
      `zero downtime ${p.zeroDowntime ? 'required' : 'not required'}, rollback window ${duration(p.rollbackWindowNs)}, health check every ${duration(p.healthIntervalNs)}`,
      `rate limit ${rateLimit(p.rateLimitPerS)}, batch ${p.batch}, stability window ${duration(p.stabilityNs)}`,
      `timeouts: phase ${duration(p.timeouts.phaseNs)}, handshake ${duration(p.timeouts.handshakeNs)}, connection ${duration(p.timeouts.connectionNs)}`,
      `stages ${stagePlan(r)}`,
    ]),
  );
  out.push('', 'phases', ...phaseLines(r.phases).map((l) => `  ${l}`));

  if (r.stages.length > 0) {
    out.push('', 'stages');
    for (const s of r.stages) {
      const counts = `moved ${String(s.moved).padStart(5)}  gone ${String(s.gone).padStart(4)}  failed ${String(s.failed).padStart(4)}`;
      out.push(`  ${s.class.padEnd(11)} to ${percent(s.upTo).padStart(6)}  ${counts}  ${instant(s.startNs).padStart(11)}  ${duration(s.endNs - s.startNs).padStart(10)}  health ${s.health === 'ok' ? 'ok' : 'FAILED'}`);
    }
  }
  const l = r.latency;
  out.push('');
  out.push(...block('latency', [`${l.samples} connections: average ${duration(l.avgNs)}, p99 ${duration(l.p99Ns)}, maximum ${duration(l.maxNs)}`]));
  for (const s of l.perStage ?? []) out.push(`${''.padEnd(12)}  ${s.class.padEnd(11)} average ${duration(s.avgNs)}, maximum ${duration(s.maxNs)}`);
  if (r.ipcPerConnection !== undefined) out.push(...block('ipc', [`${r.ipcPerConnection} calls per connection moved`]));
  const resources = (xs: UpdateReport['resources']['reserved']) => (xs.length === 0 ? 'none' : xs.map(resource).join(', '));
  out.push(...block('resources', [`reserved ${resources(r.resources.reserved)}`, `freed    ${resources(r.resources.freed)}`]));
  const failed = r.checks.filter((c) => !c.ok).length;
  out.push(
    ...block(
      'checks',
      [`${r.checks.length - failed} of ${r.checks.length} passed`].concat(r.checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}${c.detail !== undefined ? `: ${c.detail}` : ''}`)),
    ),
  );
  if (r.rollbackPoint !== undefined) out.push(...block('rollback pt', [`${r.rollbackPoint.path}, kept until ${instant(r.rollbackPoint.expiresNs)}`]));
  if (r.window !== undefined) out.push(...block('window', [`until ${instant(r.window.untilNs)}: ${WINDOW_WORDS[r.window.state]}${r.window.rollbackId !== undefined ? ` (update ${r.window.rollbackId})` : ''}`]));

  const cfg = r.configuration;
  if (cfg !== undefined) {
    out.push('', `configuration (seed 4.4.2): ${cfg.version > 0 ? `firewall version ${cfg.version} after ${cfg.previous}, hash ${cfg.hash}, ${cfg.added} rules added, ${cfg.removed} removed` : 'the firewall did not put it in force'}${cfg.revertedTo !== undefined ? `; rolled back to version ${cfg.revertedTo}, the code unchanged` : ''}`);
    cfg.rules.forEach((x, i) => out.push(`  ${String(i + 1).padStart(2)}. ${x}`));
  }
  if (r.notices !== undefined) {
    // One line per event: the services told, each with its answer.
    const events = [...new Set(r.notices.map((n) => n.event))];
    out.push('', 'notified (seed 1.4)');
    for (const ev of events) {
      const told = r.notices.filter((n) => n.event === ev);
      out.push(`  ${instant(told[0]!.tNs).padStart(11)}  ${ev.replace('_', ' ')}: ${told.map((n) => `${n.service} ${n.answer}`).join(', ')}`);
    }
  }
  if (r.restarts !== undefined) {
    out.push('', `restarts (${r.restarts.length})`);
    for (const x of r.restarts) out.push(`  ${instant(x.tNs).padStart(11)}  start ${x.start} crashed before it served: ${x.again ? 'started again' : 'not started again'}`);
  }
  if (r.alerts !== undefined) {
    const suppressed = r.alerts.filter((a) => a.suppressed === true).length;
    out.push('', `alerts (${r.alerts.length}${suppressed > 0 ? `, ${suppressed} suppressed` : ''})`);
    for (const a of r.alerts) out.push(`  ${instant(a.tNs).padStart(11)}  ${a.level}  ${a.rule}: ${a.message}${a.suppressed === true ? '  (suppressed)' : ''}`);
  }
  const d = r.decision;
  if (d !== undefined) {
    out.push('');
    out.push(
      ...block('decision', [
        `at ${instant(d.tNs)}: rule ${d.rule}, level ${d.level}, score ${d.score} ${d.score >= d.threshold ? '>=' : '<'} ${d.threshold}: ${d.action}`,
        `inputs: ${Object.entries(d.inputs).map(([k, v]) => `${k} ${v}`).join(', ')}`,
      ]),
    );
  }
  const b = r.rollback;
  if (b !== undefined) {
    out.push('', `rollback (${b.kind}): ${b.movedBack} connections moved back, ${b.abandonedCount === 'at most' ? 'at most ' : ''}${b.abandoned} abandoned, ${b.abandonedCount === 'at most' ? 'at least ' : ''}${percent(b.survivalRate)} survived`);
    const v = b.validation;
    if (v) out.push(`validated: ${v.answered}/${v.samples} probes of ${v.version} answered, ${duration(v.serviceTimeNs)} per frame (the baseline's mean ${duration(v.baselineNs)}), ×${v.ratio.toFixed(2)} the baseline's cost at the same work: ${v.restored ? `restored after ${duration(v.tookNs)}` : 'NOT restored'}`);
    out.push(...phaseLines(b.phases).map((x) => `  ${x}`));
  }
  const c = r.rootCause;
  if (c !== undefined) {
    out.push('', `root cause (${c.class}): ${c.summary}`);
    for (const e of c.evidence) out.push(`  ${instant(e.tNs).padStart(11)}  ${e.kind}: ${e.text}`);
    if (c.crash !== undefined) {
      out.push(`  registers: ${Object.entries(c.crash.registers).map(([k, v]) => `${k}=${v}`).join(' ')}`);
      const rip = c.crash.disassembly.find((x) => x.includes(c.crash!.registers.rip ?? '\0'));
      if (rip !== undefined) out.push(`  at rip:    ${rip}`);
      out.push(`  (${c.crash.disassembly.length} lines of disassembly and ${c.crash.stack.length} of stack in report.html)`);
    }
    for (const x of c.configDiff ?? []) out.push(`  config ${x.key}: ${x.from ?? '(absent)'} → ${x.to ?? '(absent)'}`);
  }
  out.push('', `outcome: ${OUTCOME_WORDS[r.outcome]}`);
  return out;
}
