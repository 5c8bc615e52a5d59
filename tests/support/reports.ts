// The fixture update reports (tests/fixtures/reports/): a completed update of netstack with its
// driver first, and a crash loop rolled back by the Monitor. Each call returns a fresh copy a test
// may change, and `hostile` one whose guest-supplied strings try to break out of the page and the
// terminal.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { UpdateReport } from '../../system/report/schema.ts';
import { REPO } from './boot.ts';

export const FIXTURES = join(REPO, 'tests', 'fixtures', 'reports');
export type FixtureName = 'completed' | 'rolled-back';

/** A report as plain, writable JSON, for tests that break it on purpose. */
export type Editable = Record<string, any>;

export function fixture(name: FixtureName): UpdateReport {
  return JSON.parse(readFileSync(join(FIXTURES, name, 'report.json'), 'utf8')) as UpdateReport;
}

/** A copy of a fixture with `change` applied, typed loosely: it may no longer be a report. */
export function edited(name: FixtureName, change: (r: Editable) => void): unknown {
  const r = fixture(name) as unknown as Editable;
  change(r);
  return r;
}

/** Strings that would run script, fake markup or lines, or reorder text if not escaped. */
export const HOSTILE = {
  script: '</script><script>document.title="pwned"</script>',
  img: '<img src=x onerror="document.title=\'pwned\'">',
  comment: '<!-- <script>',
  line: 'ok\n0xdeadbeef  fake line',
  escape: '\x1b[2J\x1b[31mred',
  bidi: 'abc\u202edcba',
  separator: 'a\u2028b',
} as const;

/** The rolled-back fixture with hostile strings wherever a guest's text reaches the report. */
export function hostile(): UpdateReport {
  return edited('rolled-back', (r) => {
    r.reason = `${HOSTILE.script} ${HOSTILE.escape}`;
    r.image = HOSTILE.img;
    r.phases[1].detail = HOSTILE.comment;
    r.checks[0].name = HOSTILE.img;
    r.checks[1].detail = HOSTILE.bidi;
    r.alerts[0].message = HOSTILE.script;
    r.alerts[1].rule = HOSTILE.separator;
    r.decision.action = HOSTILE.img;
    r.decision.inputs = { [HOSTILE.script]: 1 };
    r.rootCause.summary = HOSTILE.line;
    r.rootCause.evidence[0].text = HOSTILE.escape;
    r.rootCause.crash.stack.push(HOSTILE.line);
    r.rootCause.crash.registers[HOSTILE.img] = HOSTILE.script;
    r.rootCause.metrics[0].name = HOSTILE.script;
    r.rootCause.configDiff[0].to = HOSTILE.img;
  }) as UpdateReport;
}
