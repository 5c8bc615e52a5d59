// report.html: one self-contained page rendering report.json. The chart library (uPlot, from
// node_modules) and the page's own script and style are inlined at render time, so the page opens
// from a file with no network. The report is embedded as a JSON data block the script parses.
// A Content-Security-Policy allows exactly the inlined script and style (by hash) and nothing
// else — no request, no other script — so even a string that escaped escaping could not run.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as section from './html-sections.ts';
import { Html, html, scriptJson } from './html.ts';
import type { UpdateReport } from './schema.ts';

interface Assets {
  readonly script: string;
  readonly style: string;
}

let assets: Assets | undefined;

/** The inlined code: read once, and refused if it could end its own element early. */
function loadAssets(): Assets {
  if (assets) return assets;
  const require = createRequire(import.meta.url);
  const read = (path: string) => readFileSync(path, 'utf8');
  const uplotJs = read(require.resolve('uplot/dist/uPlot.iife.min.js'));
  const uplotCss = read(require.resolve('uplot/dist/uPlot.min.css'));
  const here = import.meta.dirname;
  const script = `${uplotJs}\n${read(join(here, 'page.js'))}`;
  const style = `${uplotCss}\n${read(join(here, 'page.css'))}`;
  if (/<\/script|<!--/i.test(script) || /<\/style/i.test(style)) {
    throw new Error('render-html: an inlined asset contains a closing tag or comment opener; it cannot be inlined safely');
  }
  assets = { script, style };
  return assets;
}

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** The whole page for a validated report. */
export function renderHtml(report: UpdateReport): string {
  const { script, style } = loadAssets();
  const csp = [`default-src 'none'`, `script-src ${sha256(script)}`, `style-src ${sha256(style)}`, `img-src data:`, `base-uri 'none'`, `form-action 'none'`].join('; ');
  const optional = [section.configuration(report), section.notices(report), section.alerts(report), section.decision(report), section.rollback(report), section.rootCause(report)];
  const page = html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>HIC update ${report.id}: ${report.service} ${report.from} → ${report.to}, ${report.outcome}</title>
<style>${rawCode(style)}</style>
</head>
<body>
${section.header(report)}
${section.plan(report)}
${section.policy(report)}
${section.timeline()}
${section.phases(report)}
${section.stages(report)}
${section.latency(report)}
${section.resources(report)}
${section.checks(report)}
${optional}
<script type="application/json" id="report-data">${rawCode(scriptJson(report))}</script>
<script>${rawCode(script)}</script>
</body>
</html>
`;
  return page.text;
}

/** Code and data already made safe for their element (checked by loadAssets, or by scriptJson). */
const rawCode = (text: string) => new Html(text);
