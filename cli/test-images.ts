// `hic test [dir]`: boots every image in a directory whose manifest states an expected outcome,
// each on a fresh machine, and reports which deviate — on the terminal and, with --junit, as a
// JUnit XML file a CI system reads. Exit code 1 when any image deviates or fails to boot.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditLog } from '../core0/audit.ts';
import { boot } from '../core0/boot.ts';
import { parseManifest } from '../core0/manifest.ts';
import { DEVICE_FACTORIES } from '../emulator/device.ts';
import { UnicornMachine } from '../emulator/machine.ts';
import { workspace } from './modules.ts';
import { attachTraffic, trafficConfig, trafficDeviations, type AttachedTraffic } from './traffic.ts';

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
  const results: ImageResult[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.himg')).sort()) {
    const file = join(dir, f);
    const started = process.hrtime.bigint();
    const wallMs = () => Number(process.hrtime.bigint() - started) / 1e6;
    let manifest;
    try {
      manifest = parseManifest(file, readFileSync(file, 'utf8'));
    } catch (e) {
      results.push({ image: f, ok: false, wallMs: wallMs(), problems: [(e as Error).message] });
      continue;
    }
    if (!manifest.expect) continue; // only images that state what should happen
    const machine = await UnicornMachine.create({ memoryBytes: manifest.memory, devices: manifest.devices.map((d) => DEVICE_FACTORIES[d]!()) });
    try {
      let traffic: AttachedTraffic | undefined;
      const m = manifest;
      const r = boot(m, machine, ws.repository, ws.trust, {
        audit: AuditLog.inMemory(),
        beforeRun: (k) => {
          if (m.traffic) traffic = attachTraffic(k, machine, trafficConfig(m.traffic));
        },
      });
      const problems = [...r.deviations, ...(traffic ? trafficDeviations(traffic) : [])];
      results.push({ image: f, ok: problems.length === 0, wallMs: wallMs(), problems, logSha256: r.kernel.events.hash() });
    } catch (e) {
      results.push({ image: f, ok: false, wallMs: wallMs(), problems: [(e as Error).message] });
    } finally {
      machine.dispose();
    }
  }
  return results;
}
