// The report's files: `writeReport` puts report.json and report.html into <reports>/<id>/, and
// `readReport` reads a report back for `hic report`. A write validates first and renders before
// it touches the disk, so a bad report changes nothing; each file is written to a temporary name,
// synced and renamed over the old one, so a reader (or a host killed half-way) sees either the
// previous file or the new one, never a torn one. The page is renamed into place before the JSON,
// so a report.json is never newer than the page beside it.

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { syncDirectory, syncedWrite } from '../durable.ts';
import { join } from 'node:path';
import { renderHtml } from './render-html.ts';
import type { UpdateReport } from './schema.ts';
import { ReportError, parseReport, validateReport } from './validate.ts';

export const REPORT_JSON = 'report.json';
export const REPORT_HTML = 'report.html';

export interface WrittenReport {
  readonly dir: string;
  readonly json: string;
  readonly html: string;
}

/**
 * Validates `report` and writes it, with its page, into `<reportsDir>/<report.id>/`. What is
 * checked is what is written: the report is validated as it reads back from its JSON text, so a
 * value JSON cannot hold (NaN, undefined in a list) is refused here rather than written changed.
 */
export function writeReport(reportsDir: string, report: UpdateReport): WrittenReport {
  const text = JSON.stringify(report, null, 2) + '\n';
  const valid = validateReport(JSON.parse(text) as unknown, `report ${JSON.stringify(String((report as { id?: unknown }).id))}`);
  const page = renderHtml(valid);

  const dir = join(reportsDir, valid.id);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new ReportError('REPORT_WRITE', `cannot create the report directory ${dir}: ${(e as Error).message}`);
  }
  const json = join(dir, REPORT_JSON);
  const html = join(dir, REPORT_HTML);
  const temps = [`${html}.${process.pid}.tmp`, `${json}.${process.pid}.tmp`] as const;
  try {
    syncedWrite(temps[0], page);
    syncedWrite(temps[1], text);
    renameSync(temps[0], html);
    renameSync(temps[1], json);
    syncDirectory(dir);
  } catch (e) {
    for (const t of temps) rmSync(t, { force: true });
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code !== 'string') throw e;
    throw new ReportError('REPORT_WRITE', `cannot write the report into ${dir}: ${(e as Error).message}`);
  }
  return { dir, json, html };
}

/** The report in `path`: a report directory holding report.json, or the file itself. */
export function readReport(path: string): { file: string; report: UpdateReport } {
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, REPORT_JSON) : path;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ReportError('REPORT_MISSING', `${file}: no such report (expected ${REPORT_JSON} in a build/reports/<update-id>/ directory)`);
    if (typeof code === 'string') throw new ReportError('REPORT_MISSING', `${file}: cannot read it (${code})`);
    throw e;
  }
  return { file, report: parseReport(text, file) };
}
