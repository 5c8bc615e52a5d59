// `hic test [dir]`: boots every image in a directory whose manifest states an expected outcome,
// each on a fresh machine, and reports which deviate — on the terminal and, with --junit, as a
// JUnit XML file a CI system reads. Exit code 1 when any image deviates or fails to boot.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { AuditLog } from '../core0/audit.ts';
import { withBuildFailures, workspace } from '../hicmod-toolchain/workspace.ts';
import { endOfDate, TrustedRepository } from '../hicmod-toolchain/repository/client.ts';
import { readManifest } from '../system/manifest.ts';
import { runImage } from '../system/run-image.ts';
import { isUserError } from './errors.ts';

export interface ImageResult {
  readonly image: string;
  readonly ok: boolean;
  readonly wallMs: number;
  readonly problems: readonly string[];
  readonly logSha256?: string;
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function junit(results: readonly ImageResult[]): string {
  const failures = results.filter((r) => !r.ok).length;
  const cases = results.map((r) => {
    const body = r.ok ? '' : `<failure message="${xml(r.problems[0] ?? 'failed')}">${xml(r.problems.join('\n'))}</failure>`;
    return `  <testcase classname="images" name="${xml(r.image)}" time="${(r.wallMs / 1000).toFixed(3)}">${body}</testcase>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="hic images" tests="${results.length}" failures="${failures}">\n${cases.join('\n')}\n</testsuite>\n`;
}

export async function testImages(repoRoot: string, dir: string): Promise<ImageResult[]> {
  const ws = workspace(repoRoot);
  // Expiry judged at today's date, recorded in each log; nothing is remembered between images.
  const date = new Date().toISOString().slice(0, 10);
  const modules = withBuildFailures(TrustedRepository.open(ws.repoDir, ws.trust, { now: endOfDate(date) }), ws.failures);
  const results: ImageResult[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.himg')).sort()) {
    const file = join(dir, f);
    const started = process.hrtime.bigint();
    const wallMs = () => Number(process.hrtime.bigint() - started) / 1e6;
    let manifest;
    try {
      manifest = readManifest(file);
    } catch (e) {
      if (!isUserError(e)) throw e;
      results.push({ image: f, ok: false, wallMs: wallMs(), problems: [e.message] });
      continue;
    }
    if (!manifest.expect) continue; // only images that state what should happen
    try {
      const { system, result } = await runImage(manifest, { modules, trust: ws.trust, audit: AuditLog.inMemory(), wallClock: date });
      system.dispose();
      results.push({ image: f, ok: result.deviations.length === 0, wallMs: wallMs(), problems: result.deviations, logSha256: result.logHash });
    } catch (e) {
      if (!isUserError(e)) throw e;
      results.push({ image: f, ok: false, wallMs: wallMs(), problems: [e.message] });
    }
  }
  return results;
}
