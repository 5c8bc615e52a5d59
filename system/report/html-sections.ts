// The sections of report.html, each a function of the report: what the update was (header, plan,
// policy), how it went (phases, stages, latency, resources, checks) and, when the Monitor acted,
// why and how it was undone (alerts, decision, rollback, root cause). Static markup: only the plots
// need the page's script. Every value goes through the `html` tag, so everything is escaped.

import { duration, instant, percent, rateLimit, resource, stagePlan, wallSpan, WINDOW_WORDS } from './format.ts';
import { html, type Html } from './html.ts';
import type { Phase, RootCause, UpdateReport } from './schema.ts';

const OUTCOME_WORDS: Record<UpdateReport['outcome'], string> = {
  completed: 'completed',
  refused: 'refused',
  failed: 'failed',
  'rolled-back': 'rolled back',
};

export function header(r: UpdateReport): Html {
  return html`<header>
  <h1>${r.service} ${r.from} → ${r.to} <span class="badge outcome-${r.outcome}">${OUTCOME_WORDS[r.outcome]}</span></h1>
  <p class="meta">update <code>${r.id}</code>${r.image !== undefined && html` · image <code>${r.image}</code>`}${r.seed !== undefined && html` · seed <code>${r.seed}</code>`}</p>
  ${r.reason !== undefined && html`<p class="reason">${r.reason}</p>`}
</header>`;
}

export function plan(r: UpdateReport): Html {
  return html`<section id="plan"><h2>Plan</h2>
<p class="note">Executed first to last: dependencies before the services that need them.</p>
<ol>${r.plan.map((s) => html`<li><b>${s.service}</b> ${s.from} → ${s.to}</li>`)}</ol>
</section>`;
}

export function policy(r: UpdateReport): Html {
  const p = r.policy;
  const rows: [string, string][] = [
    ['zero downtime', p.zeroDowntime ? 'required' : 'not required'],
    ['rollback window', duration(p.rollbackWindowNs)],
    ['health-check interval', duration(p.healthIntervalNs)],
    ['rate limit', rateLimit(p.rateLimitPerS)],
    ['batch', `${p.batch} connections`],
    ['stability window', duration(p.stabilityNs)],
    ['timeouts', `phase ${duration(p.timeouts.phaseNs)}, handshake ${duration(p.timeouts.handshakeNs)}, connection ${duration(p.timeouts.connectionNs)}`],
    ['stages', stagePlan(r)],
  ];
  return html`<section id="policy"><h2>Policy in force</h2>
<dl class="grid">${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>
</section>`;
}

export function timeline(): Html {
  return html`<section id="timeline"><h2>Timeline</h2>
<p class="note">Connections served by each instance, each stage's progress (share of its connections
moved), the latency migration added (per stage, average and maximum), and the phases as markers.
Time is virtual.</p>
<div id="timeline-plot" class="plot"></div>
</section>`;
}

function phaseTable(phases: readonly Phase[]): Html {
  const wall = phases.some((p) => wallSpan(p) !== undefined);
  return html`<table class="phases"><thead><tr><th>step</th><th>phase</th><th>what</th><th>start</th><th>took</th>${wall && html`<th>wall</th>`}<th>outcome</th><th>detail</th></tr></thead><tbody>
${phases.map(
  (p) => html`<tr class="outcome-${p.outcome}"><td>${p.step}</td><td>${p.phase} ${p.name}</td><td>${p.title}</td><td class="num">${instant(p.startNs)}</td><td class="num">${duration(p.endNs - p.startNs)}</td>${wall && html`<td class="num">${wallSpan(p) ?? ''}</td>`}<td>${p.outcome}</td><td>${p.detail ?? ''}</td></tr>\n`,
)}</tbody></table>`;
}

export function phases(r: UpdateReport): Html {
  return html`<section id="phases"><h2>Phases</h2>${phaseTable(r.phases)}</section>`;
}

export function stages(r: UpdateReport): Html {
  return html`<section id="stages"><h2>Migration stages</h2>
<table><thead><tr><th>class</th><th>up to</th><th>moved</th><th>gone</th><th>failed</th><th>start</th><th>took</th><th>health</th><th>progress</th></tr></thead><tbody>
${r.stages.map((s) => {
  const all = s.moved + s.gone + s.failed;
  return html`<tr><td>${s.class}</td><td class="num">${percent(s.upTo)}</td><td class="num">${s.moved}</td><td class="num">${s.gone}</td><td class="num">${s.failed}</td><td class="num">${instant(s.startNs)}</td><td class="num">${duration(s.endNs - s.startNs)}</td><td class="health-${s.health}">${s.health}</td><td><meter min="0" max="${all}" value="${s.moved}"></meter></td></tr>\n`;
})}</tbody></table>
<p class="note">gone: closed by its peer before its turn came; failed: could not be moved and stayed where it was.</p>
</section>`;
}

export function latency(r: UpdateReport): Html {
  const l = r.latency;
  return html`<section id="latency"><h2>Added latency</h2>
<p>Over ${l.samples} connections: average <b>${duration(l.avgNs)}</b>, p99 <b>${duration(l.p99Ns)}</b>, maximum <b>${duration(l.maxNs)}</b>${r.ipcPerConnection !== undefined && html`; ${r.ipcPerConnection} IPC calls per connection moved`}.</p>
${l.perStage !== undefined && l.perStage.length > 0 && html`<table><thead><tr><th>stage</th><th>average</th><th>maximum</th></tr></thead><tbody>${l.perStage.map((s) => html`<tr><td>${s.class}</td><td class="num">${duration(s.avgNs)}</td><td class="num">${duration(s.maxNs)}</td></tr>`)}</tbody></table>`}
</section>`;
}

export function resources(r: UpdateReport): Html {
  const list = (items: UpdateReport['resources']['reserved']) => (items.length === 0 ? html`<li>none</li>` : items.map((x) => html`<li>${resource(x)}</li>`));
  return html`<section id="resources"><h2>Resources</h2>
<div class="cols"><div><h3>reserved</h3><ul>${list(r.resources.reserved)}</ul></div><div><h3>freed</h3><ul>${list(r.resources.freed)}</ul></div></div>
</section>`;
}

export function checks(r: UpdateReport): Html {
  return html`<section id="checks"><h2>Checks</h2>
<ul class="checks">${r.checks.map((c) => html`<li class="${c.ok ? 'ok' : 'failed'}"><span class="mark">${c.ok ? '✓' : '✗'}</span> ${c.name}${c.detail !== undefined && html`: ${c.detail}`}</li>`)}</ul>
${r.rollbackPoint !== undefined && html`<p>Rollback point <code>${r.rollbackPoint.path}</code>, kept until ${instant(r.rollbackPoint.expiresNs)}.</p>`}
${r.window !== undefined && html`<p>Rollback window until ${instant(r.window.untilNs)}: ${WINDOW_WORDS[r.window.state]}${r.window.rollbackId !== undefined && html` (update ${r.window.rollbackId})`}.</p>`}
</section>`;
}

/** The services told of the update (seed 步骤1.4) and their answers, and the new instance's restarts. */
export function notices(r: UpdateReport): Html | undefined {
  if (r.notices === undefined && r.restarts === undefined) return undefined;
  return html`<section id="notices"><h2>Dependent services and restarts</h2>
${r.notices !== undefined && html`<table><thead><tr><th>time</th><th>event</th><th>service</th><th>answer</th></tr></thead><tbody>
${r.notices.map((n) => html`<tr><td class="num">${instant(n.tNs)}</td><td>${n.event.replace('_', ' ')}</td><td>${n.service}</td><td>${n.answer}</td></tr>\n`)}</tbody></table>`}
${r.restarts !== undefined && html`<p>The new instance crashed while it started, before it served: ${r.restarts.map((x) => `start ${x.start} at ${instant(x.tNs)} (${x.again ? 'started again' : 'not started again'})`).join('; ')}.</p>`}
</section>`;
}

/** A configuration change (seed §4.4.2): the firewall's versions, the diff, and the table asked for. */
export function configuration(r: UpdateReport): Html | undefined {
  const c = r.configuration;
  if (c === undefined) return undefined;
  return html`<section id="configuration"><h2>Configuration change</h2>
<p>${c.version > 0 ? html`The firewall's table became configuration version <b>${c.version}</b> (from version ${c.previous}; hash ${c.hash}): ${c.added} rules added, ${c.removed} removed.` : 'The firewall did not put the table in force.'}${c.revertedTo !== undefined && html` Rolled back: version <b>${c.revertedTo}</b> is in force again, the code unchanged.`}</p>
<ol>${c.rules.map((x) => html`<li><code>${x}</code></li>`)}</ol>
</section>`;
}

export function alerts(r: UpdateReport): Html | undefined {
  if (r.alerts === undefined) return undefined;
  return html`<section id="alerts"><h2>Alerts</h2>
<table><thead><tr><th>time</th><th>level</th><th>rule</th><th>message</th></tr></thead><tbody>
${r.alerts.map((a) => html`<tr class="${a.suppressed === true ? 'suppressed' : ''}"><td class="num">${instant(a.tNs)}</td><td><span class="level level-${a.level}">${a.level}</span></td><td>${a.rule}</td><td>${a.message}${a.suppressed === true && html` <i>(suppressed)</i>`}</td></tr>\n`)}</tbody></table>
</section>`;
}

export function decision(r: UpdateReport): Html | undefined {
  const d = r.decision;
  if (d === undefined) return undefined;
  return html`<section id="decision"><h2>Decision</h2>
<p>At ${instant(d.tNs)}: rule <b>${d.rule}</b>, failure level ${d.level}, confidence <b>${d.score}</b> against the threshold ${d.threshold} — <b>${d.action}</b>.</p>
<p><meter min="0" max="1" low="${d.threshold}" optimum="0" value="${d.score}"></meter></p>
<table><thead><tr><th>input</th><th>value</th></tr></thead><tbody>${Object.entries(d.inputs).map(([k, v]) => html`<tr><td>${k}</td><td class="num">${v}</td></tr>`)}</tbody></table>
</section>`;
}

export function rollback(r: UpdateReport): Html | undefined {
  const b = r.rollback;
  if (b === undefined) return undefined;
  return html`<section id="rollback"><h2>Rollback (${b.kind})</h2>
<p>${b.movedBack} connections moved back, ${b.abandonedCount === 'at most' ? 'at most ' : ''}${b.abandoned} abandoned; ${b.abandonedCount === 'at most' ? 'at least ' : ''}${percent(b.survivalRate)} of the connections survived.</p>
${b.validation !== undefined && html`<p>Validation afterwards (${instant(b.validation.tNs)}): ${b.validation.answered} of ${b.validation.samples} probes of ${b.validation.version} answered, ${duration(b.validation.serviceTimeNs)} per frame over the last six intervals (the baseline's mean ${duration(b.validation.baselineNs)}), ×${b.validation.ratio.toFixed(2)} the baseline's cost at the same work: <b>${b.validation.restored ? html`restored, ${duration(b.validation.tookNs)} after it was asked` : 'not restored'}</b>.</p>`}
${phaseTable(b.phases)}
</section>`;
}

const CAUSE_WORDS: Record<RootCause['class'], string> = {
  code: 'a code defect',
  configuration: 'a configuration problem',
  resource: 'a resource problem',
  dependency: 'an external dependency',
  unknown: 'not determined',
};

export function rootCause(r: UpdateReport): Html | undefined {
  const c = r.rootCause;
  if (c === undefined) return undefined;
  const registers = c.crash && Object.entries(c.crash.registers).map(([k, v]) => `${k.padEnd(7)}${v}`);
  return html`<section id="root-cause"><h2>Root cause: ${CAUSE_WORDS[c.class]}</h2>
<p>${c.summary}</p>
<table><thead><tr><th>time</th><th>evidence</th><th>what it says</th></tr></thead><tbody>${c.evidence.map((e) => html`<tr><td class="num">${instant(e.tNs)}</td><td>${e.kind}</td><td>${e.text}</td></tr>`)}</tbody></table>
${c.crash !== undefined && html`<div class="crash">
<div><h3>registers</h3><pre id="crash-registers">${registers!.map((l) => html`${l}\n`)}</pre></div>
<div><h3>disassembly around rip</h3><pre id="crash-disassembly">${c.crash.disassembly.map((l) => html`${l}\n`)}</pre></div>
<div><h3>stack</h3><pre id="crash-stack">${c.crash.stack.map((l) => html`${l}\n`)}</pre></div>
</div>`}
${c.metrics !== undefined && c.metrics.length > 0 && html`<h3>Metrics around the failure</h3><div id="metric-plots" class="small-plots"></div>`}
${c.configDiff !== undefined && c.configDiff.length > 0 && html`<h3>Configuration diff</h3><table><thead><tr><th>key</th><th>before</th><th>after</th></tr></thead><tbody>${c.configDiff.map((d) => html`<tr><td><code>${d.key}</code></td><td>${d.from ?? html`<i>absent</i>`}</td><td>${d.to ?? html`<i>absent</i>`}</td></tr>`)}</tbody></table>`}
</section>`;
}
