// The Monitor's alerts as the host reads them: an `alert` record (services/monitor/module.json)
// turned into what the alerts file, the control socket's readers and the update report show --
// the priority, the rule, a one-line message in the rule's own terms, the incident, and whether
// the alert table held it back. The record carries the decision's figure in the rule's unit; the
// wording of each rule is here, once.

import type { StampedEvent } from '../../core0/events.ts';
import type { FieldValue } from '../../core0/module/values.ts';
import { duration } from '../report/format.ts';

/** Where an alert goes (services/monitor/core/policy.h, MD_ROUTE_*). */
export const ROUTE = { log: 0x01, stream: 0x02, file: 0x04, audit: 0x08, page: 0x10 } as const;

export interface MonitorAlert {
  readonly tNs: number;
  /** The update whose new instance is watched. */
  readonly id: number;
  readonly level: 'P0' | 'P1' | 'P2' | 'P3';
  readonly rule: string;
  /** The rule's figure over its window, in the rule's unit (permille, ppm, a count, KiB an hour). */
  readonly value: number;
  readonly message: string;
  readonly verdict: 'sent' | 'escalated' | 'merged' | 'duplicate' | 'silenced';
  readonly incident: number;
  readonly count: number;
  readonly routes: number;
  readonly audit: boolean;
  /** Counted in an incident, or held back by a silence: not sent to the operator's sinks. */
  readonly suppressed: boolean;
}

const percentOf = (whole: number) => (v: number) => `${((100 * v) / whole).toFixed(1)} %`;
const permille = percentOf(1000);
const ppm = percentOf(1_000_000);
const times = (v: number) => String(v);

/** Each rule of the Monitor's default table (docs/monitor.md): what its figure says, and how to show it. */
const RULES: Readonly<Record<string, { readonly what: string; readonly show: (v: number) => string }>> = {
  crash_loop: { what: 'new instance crashes', show: times },
  error_rate: { what: 'error rate', show: ppm },
  critical_function: { what: 'critical-function checks failed', show: permille },
  perf_down: { what: 'performance down', show: permille },
  migration_stall: { what: 'migrations succeeded', show: permille },
  leak: { what: 'memory growing', show: (v) => `${(v / 1024).toFixed(1)} MiB/h` },
  latency_rise: { what: 'response time up', show: permille },
  unavailable: { what: 'requests answered', show: ppm },
  corruption: { what: 'corrupted payloads', show: times },
  start_failed: { what: 'new instance did not start', show: () => '' },
  migration_low: { what: 'migrations succeeded', show: permille },
  perf_halved: { what: 'performance down', show: permille },
  conn_migration: { what: 'connection migrations failed', show: times },
  perf_slight: { what: 'performance down', show: permille },
  health: { what: 'health checks failed in a row', show: times },
  cpu: { what: 'CPU', show: permille },
  availability: { what: 'availability', show: ppm },
  anomaly: { what: 'metrics out of their 3-sigma band', show: times },
};

/** The names of the rules an alert may carry, in the table's order. */
export const ALERT_RULES: readonly string[] = Object.keys(RULES);

/** "performance down 66.8 %": the rule's figure in its own terms. */
export function alertMessage(rule: string, value: number): string {
  const r = RULES[rule];
  if (!r) return `${rule}: ${value}`;
  return `${r.what} ${r.show(value)}`.trimEnd();
}

const num = (v: FieldValue | undefined): number => (typeof v === 'number' ? v : Number(v ?? 0));

const ROLLBACK_WORDS: Readonly<Record<string, string>> = {
  reverse_rollback: 'reverse', emergency_rollback: 'emergency', config_rollback: 'configuration', component_rollback: 'component',
};

/**
 * A `verdict` record's fields as the seed's audit sentence (§4.3 步骤5.1: 自动回滚触发，原因：错误率
 * 6.2%持续12分钟): "automatic rollback triggered (reverse), reason: error rate 6.4 % for 200 ms,
 * confidence 0.920". The record holds the figures; the words are the host's.
 */
export function verdictReason(f: Readonly<Record<string, FieldValue>>): string {
  const kind = ROLLBACK_WORDS[String(f.action)] ?? String(f.action);
  const over = num(f.over);
  return `automatic rollback triggered (${kind}), reason: ${alertMessage(String(f.rule), num(f.value))}${over > 0 ? ` for ${duration(over)}` : ''}, confidence ${(num(f.score) / 1000).toFixed(3)}`;
}

/** An `alert` record of the Monitor (module `monitor`), or undefined for any other event. */
export function alertOf(e: StampedEvent): MonitorAlert | undefined {
  if (e.kind !== 'record' || e.module !== 'monitor' || e.type !== 'alert') return undefined;
  return alertFromFields(e.fields, e.t);
}

export function alertFromFields(f: Readonly<Record<string, FieldValue>>, tNs: number): MonitorAlert {
  const verdict = String(f.verdict) as MonitorAlert['verdict'];
  const rule = String(f.rule);
  return {
    tNs,
    id: num(f.id),
    level: String(f.priority).toUpperCase() as MonitorAlert['level'],
    rule,
    value: num(f.value),
    message: alertMessage(rule, num(f.value)),
    verdict,
    incident: num(f.incident),
    count: num(f.count),
    routes: num(f.routes),
    audit: f.audit === true,
    suppressed: verdict !== 'sent' && verdict !== 'escalated',
  };
}
