// Checks a value against the update report's schema (schema.ts), then against the rules a JSON
// Schema cannot state: intervals that end after they start, series in time order, stage shares
// that grow, a reason for every outcome but success. The first problem found is thrown as a
// ReportError naming the JSON path (a JSON Pointer: "/phases/2/outcome") and what is wrong there.

import { Ajv, type ErrorObject } from 'ajv';
import { REPORT_SCHEMA, type Phase, type UpdateReport } from './schema.ts';

export type ReportErrorCode = 'REPORT_MISSING' | 'REPORT_NOT_JSON' | 'REPORT_INVALID' | 'REPORT_WRITE';

/** A report that cannot be read, parsed, accepted or written; one line, with a stable code. */
export class ReportError extends Error {
  constructor(
    readonly code: ReportErrorCode,
    message: string,
    /** The JSON Pointer of the first invalid value, for REPORT_INVALID. */
    readonly path?: string,
  ) {
    super(message);
    this.name = 'ReportError';
  }
}

const ajv = new Ajv({ allErrors: false, strict: true });
const check = ajv.compile<UpdateReport>(REPORT_SCHEMA);

/** ajv's first error, as "<path>: <what is wrong>" in the schema's terms. */
function describe(e: ErrorObject): { path: string; problem: string } {
  const at = e.instancePath;
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { path: `${at}/${String(params.missingProperty)}`, problem: 'missing' };
    case 'additionalProperties':
      return { path: `${at}/${String(params.additionalProperty)}`, problem: 'not a field of the report format' };
    case 'enum':
      return { path: at, problem: `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'const':
      return { path: at, problem: `must be ${JSON.stringify(params.allowedValue)}` };
    case 'propertyNames':
      return { path: `${at}/${String(params.propertyName)}`, problem: 'not an acceptable name (1 to 200 characters)' };
    default:
      return { path: at, problem: e.message ?? e.keyword };
  }
}

const invalid = (source: string, path: string, problem: string) =>
  new ReportError('REPORT_INVALID', `${source}: ${path || '/'}: ${problem}`, path || '/');

/** The checks of order and consistency, once the shape is known to be right. */
function* inconsistencies(r: UpdateReport): Generator<{ path: string; problem: string }> {
  const intervals = (base: string, phases: readonly Phase[]) => phases.map((p, i) => ({ at: `${base}/${i}`, ...p }));
  for (const p of [...intervals('/phases', r.phases), ...intervals('/rollback/phases', r.rollback?.phases ?? [])]) {
    if (p.endNs < p.startNs) yield { path: `${p.at}/endNs`, problem: `ends (${p.endNs}) before it starts (${p.startNs})` };
    if (p.wallStartMs !== undefined && p.wallEndMs !== undefined && p.wallEndMs < p.wallStartMs) {
      yield { path: `${p.at}/wallEndMs`, problem: `ends (${p.wallEndMs}) before it starts (${p.wallStartMs})` };
    }
    if (Number(p.step.split('.')[0]) !== p.phase) yield { path: `${p.at}/step`, problem: `step ${p.step} is not in phase ${p.phase}` };
  }
  for (const [base, phases] of [['/phases', r.phases], ['/rollback/phases', r.rollback?.phases ?? []]] as const) {
    for (let i = 1; i < phases.length; i++) {
      if (phases[i]!.startNs < phases[i - 1]!.startNs) yield { path: `${base}/${i}/startNs`, problem: 'starts before the phase listed ahead of it' };
    }
  }
  for (const [i, s] of r.stages.entries()) {
    if (s.endNs < s.startNs) yield { path: `/stages/${i}/endNs`, problem: `ends (${s.endNs}) before it starts (${s.startNs})` };
    if (i > 0 && s.upTo < r.stages[i - 1]!.upTo) yield { path: `/stages/${i}/upTo`, problem: 'smaller than the stage before it: stage shares are cumulative' };
  }
  const seen = new Set<string>();
  for (let i = 0; i < r.policy.stages.length; i++) {
    const s = r.policy.stages[i]!;
    if (seen.has(s.class)) yield { path: `/policy/stages/${i}/class`, problem: `class ${s.class} has a stage already` };
    seen.add(s.class);
    if (i > 0 && s.upTo <= r.policy.stages[i - 1]!.upTo) yield { path: `/policy/stages/${i}/upTo`, problem: 'not larger than the stage before it: stage shares are cumulative' };
  }
  for (let i = 1; i < r.split.length; i++) {
    if (r.split[i]!.tNs < r.split[i - 1]!.tNs) yield { path: `/split/${i}/tNs`, problem: 'earlier than the sample before it' };
  }
  if (r.latency.avgNs > r.latency.maxNs) yield { path: '/latency/avgNs', problem: `larger than maxNs (${r.latency.maxNs})` };
  if (r.latency.p99Ns > r.latency.maxNs) yield { path: '/latency/p99Ns', problem: `larger than maxNs (${r.latency.maxNs})` };
  for (const [i, m] of (r.rootCause?.metrics ?? []).entries()) {
    for (let j = 1; j < m.points.length; j++) {
      if (m.points[j]!.tNs < m.points[j - 1]!.tNs) yield { path: `/rootCause/metrics/${i}/points/${j}/tNs`, problem: 'earlier than the point before it' };
    }
  }
  if (r.outcome !== 'completed' && r.reason === undefined) yield { path: '/reason', problem: `missing: an update that ended "${r.outcome}" says why` };
  if (r.outcome === 'rolled-back' && r.rollback === undefined) yield { path: '/rollback', problem: 'missing: a rolled-back update reports its rollback' };
}

/**
 * The value as an UpdateReport, or a ReportError naming the first invalid path. `source` names
 * the value in the message (a file path, or "report" for one built in memory).
 */
export function validateReport(value: unknown, source = 'report'): UpdateReport {
  if (!check(value)) {
    const { path, problem } = describe(check.errors![0]!);
    throw invalid(source, path, problem);
  }
  for (const { path, problem } of inconsistencies(value)) throw invalid(source, path, problem);
  return value;
}

/** Parses report.json's text and validates it. */
export function parseReport(text: string, source: string): UpdateReport {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    throw new ReportError('REPORT_NOT_JSON', `${source}: not JSON (${e.message})`);
  }
  return validateReport(value, source);
}
