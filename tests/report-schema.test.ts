// The update report's schema and files (system/report/): the fixtures pass; each malformed report
// is refused with the exact JSON path at fault and writes nothing; a written report reads back as
// it was given; hostile strings end up escaped in report.html, never as markup or script.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderHtml } from '../system/report/render-html.ts';
import { REPORT_SCHEMA } from '../system/report/schema.ts';
import { ReportError, parseReport, validateReport } from '../system/report/validate.ts';
import { readReport, writeReport } from '../system/report/write.ts';
import { HOSTILE, edited, fixture, hostile, type Editable } from './support/reports.ts';
import { refusal } from './support/refusal.ts';

const scratch = mkdtempSync(join(tmpdir(), 'hic-report-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the report schema', () => {
  it('accepts both fixtures, and its own JSON Schema is a valid draft-07 schema', () => {
    expect(validateReport(fixture('completed')).outcome).toBe('completed');
    expect(validateReport(fixture('rolled-back')).rollback?.kind).toBe('reverse');
    expect(REPORT_SCHEMA.$schema).toBe('http://json-schema.org/draft-07/schema#');
  });

  // Each: the fixture, what is broken, the JSON path the refusal must name and words of its reason.
  const malformed: [string, 'completed' | 'rolled-back', (r: Editable) => void, string, string][] = [
    ['a missing policy field', 'completed', (r) => delete r.policy.batch, '/policy/batch', 'missing'],
    ['a misspelt field', 'completed', (r) => (r.stages[0].movd = r.stages[0].moved), '/stages/0/movd', 'not a field'],
    ['an unknown phase outcome', 'completed', (r) => (r.phases[2].outcome = 'maybe'), '/phases/2/outcome', '"ok", "failed", "skipped"'],
    ['a negative time', 'completed', (r) => (r.split[3].tNs = -1), '/split/3/tNs', 'must be >= 0'],
    ['a fractional nanosecond', 'completed', (r) => (r.latency.maxNs = 1.5), '/latency/maxNs', 'must be integer'],
    ['a time as a string', 'completed', (r) => (r.phases[0].startNs = '450000000'), '/phases/0/startNs', 'must be integer'],
    ['an id that is a path', 'completed', (r) => (r.id = '../../etc'), '/id', 'must match pattern'],
    ['another format', 'completed', (r) => (r.format = 'something-else'), '/format', 'must be "hic-update-report"'],
    ['a later version', 'completed', (r) => (r.version = 2), '/version', 'must be 1'],
    ['a version that is not semver', 'completed', (r) => (r.plan[0].to = 'latest'), '/plan/0/to', 'must match pattern'],
    ['an empty plan', 'completed', (r) => (r.plan = []), '/plan', 'must NOT have fewer than 1 items'],
    ['an unknown connection class', 'completed', (r) => (r.policy.stages[1].class = 'bulk'), '/policy/stages/1/class', '"idle", "http"'],
    ['a phase that ends before it starts', 'completed', (r) => (r.phases[1].endNs = r.phases[1].startNs - 1), '/phases/1/endNs', 'before it starts'],
    ['a step outside its phase', 'completed', (r) => (r.phases[0].step = '2.1'), '/phases/0/step', 'not in phase 1'],
    ['phases out of order', 'completed', (r) => (r.phases[5].startNs = 0), '/phases/5/startNs', 'before the phase listed ahead'],
    ['split samples out of order', 'completed', (r) => (r.split[5].tNs = r.split[4].tNs - 1), '/split/5/tNs', 'earlier than the sample before'],
    ['stage shares that shrink', 'completed', (r) => (r.policy.stages[2].upTo = 0.5), '/policy/stages/2/upTo', 'cumulative'],
    ['a p99 above the maximum', 'completed', (r) => (r.latency.p99Ns = r.latency.maxNs + 1), '/latency/p99Ns', 'larger than maxNs'],
    ['a score above 1', 'rolled-back', (r) => (r.decision.score = 1.2), '/decision/score', 'must be <= 1'],
    ['a non-numeric decision input', 'rolled-back', (r) => (r.decision.inputs.errorRate = '6 %'), '/decision/inputs/errorRate', 'must be number'],
    ['an unknown rollback kind', 'rolled-back', (r) => (r.rollback.kind = 'partial'), '/rollback/kind', '"reverse", "emergency"'],
    ['a rollback phase that ends first', 'rolled-back', (r) => (r.rollback.phases[2].endNs = 0), '/rollback/phases/2/endNs', 'before it starts'],
    ['a rollback without its record', 'rolled-back', (r) => delete r.rollback, '/rollback', 'a rolled-back update reports its rollback'],
    ['a failure without a reason', 'rolled-back', (r) => delete r.reason, '/reason', 'says why'],
    ['an alert level outside P0–P3', 'rolled-back', (r) => (r.alerts[0].level = 'P4'), '/alerts/0/level', '"P0", "P1"'],
    ['a register dump that is not text', 'rolled-back', (r) => (r.rootCause.crash.registers.rip = 0x10b4c2), '/rootCause/crash/registers/rip', 'must be string'],
    ['metric points out of order', 'rolled-back', (r) => (r.rootCause.metrics[1].points[3].tNs = 0), '/rootCause/metrics/1/points/3/tNs', 'earlier than the point before'],
  ];
  for (const [what, name, change, path, words] of malformed) {
    it(`refuses ${what} at ${path}`, () => {
      const e = refusal(() => validateReport(edited(name, change), 'fixture.json'), ReportError);
      expect(e.code).toBe('REPORT_INVALID');
      expect(e.path).toBe(path);
      expect(e.message).toContain(`fixture.json: ${path}: `);
      expect(e.message).toContain(words);
    });
  }

  it('refuses what is not an object, and text that is not JSON', () => {
    expect(refusal(() => validateReport([], 'x.json'), ReportError).message).toBe('x.json: /: must be object');
    const e = refusal(() => parseReport('{"format": ', 'x.json'), ReportError);
    expect(e.code).toBe('REPORT_NOT_JSON');
    expect(e.message).toMatch(/^x\.json: not JSON \(/);
  });
});

describe('writeReport and readReport', () => {
  it('writes report.json and report.html into <reports>/<id>/, and reads the same report back', () => {
    const report = fixture('completed');
    const w = writeReport(scratch, report);
    expect(w.dir).toBe(join(scratch, 'u1-netstack-1.3.0'));
    expect(readdirSync(w.dir).sort()).toEqual(['report.html', 'report.json']);
    expect(readReport(w.dir).report).toEqual(report);
    expect(readReport(w.json).report).toEqual(report);
    expect(readFileSync(w.html, 'utf8')).toMatch(/^<!DOCTYPE html>/);
    // A second write replaces both files and leaves no temporary file behind.
    const again = writeReport(scratch, { ...report, checks: [] });
    expect(readReport(again.dir).report.checks).toEqual([]);
    expect(readdirSync(w.dir).sort()).toEqual(['report.html', 'report.json']);
  });

  it('refuses an invalid report, or a value JSON cannot hold, and writes nothing', () => {
    const bad = edited('completed', (r) => (r.id = 'u9-bad', (r.stages[1].health = 'unknown'))) as never;
    expect(refusal(() => writeReport(scratch, bad), ReportError).path).toBe('/stages/1/health');
    const nan = edited('completed', (r) => ((r.id = 'u9-nan'), (r.latency.avgNs = NaN))) as never;
    expect(refusal(() => writeReport(scratch, nan), ReportError).path).toBe('/latency/avgNs');
    expect(existsSync(join(scratch, 'u9-bad'))).toBe(false);
    expect(existsSync(join(scratch, 'u9-nan'))).toBe(false);
  });

  it('names a missing report and its expected place', () => {
    const e = refusal(() => readReport(join(scratch, 'no-such-update')), ReportError);
    expect(e.code).toBe('REPORT_MISSING');
    expect(e.message).toBe(`${join(scratch, 'no-such-update')}: no such report (expected report.json in a build/reports/<update-id>/ directory)`);
  });
});

describe('report.html with hostile strings', () => {
  const report = hostile();
  const page = renderHtml(validateReport(report));
  const dataBlock = /<script type="application\/json" id="report-data">([^]*?)<\/script>/.exec(page)?.[1];

  it('holds no markup of theirs: every string is escaped text', () => {
    expect(page).not.toContain('<img');
    expect(page).not.toContain('<!-- <script>');
    expect(page).not.toContain('document.title="pwned"</script>');
    expect(page).toContain('&lt;img src=x onerror=&quot;document.title=&#39;pwned&#39;&quot;&gt;');
    expect(page).toContain('&lt;/script&gt;&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;');
    // Exactly the page's own two script elements: the data block and the code.
    expect(page.match(/<script/g)).toHaveLength(2);
    expect(page.match(/<\/script>/g)).toHaveLength(2);
  });

  it('shows control characters, line breaks and bidi overrides instead of obeying them', () => {
    expect(page).not.toMatch(/[\x1b\u202e\u2028]/);
    expect(page).toContain('\\x1b[2J\\x1b[31mred');
    expect(page).toContain('abc\\u{202e}dcba');
    expect(page).toContain('a\\u{2028}b');
    expect(page).toContain(`ok\\x0a0xdeadbeef  fake line`);
  });

  it('embeds the report as JSON that reads back unchanged', () => {
    expect(dataBlock).toBeDefined();
    expect(dataBlock).toMatch(/^[\x20-\x7e]*$/);
    expect(dataBlock).not.toMatch(/[<>&]/);
    expect(JSON.parse(dataBlock!)).toEqual(report);
  });

  it('allows only its own inlined script and style', () => {
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(page)?.[1]?.replaceAll('&#39;', "'");
    expect(csp).toMatch(/^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/]+=*'; style-src 'sha256-[A-Za-z0-9+/]+=*'; img-src data:/);
  });
});
