// Crash consistency of the workspace repository: a rebuild (every module re-signed, the repository
// republished) runs in a child process and kills itself with SIGKILL at one of its crash points
// (hicmod-toolchain/crash-point.ts): 24 spread from the first module signed to the removal of the
// old version, and those on either side of the link switch. After each kill the repository must
// verify completely — metadata, every module file against the index — and hold either the whole old
// set of modules or the whole new one, never a mix; `hic boot images/hello.himg` must work from it
// as it was left; and the next workspace call must bring it up to date. (Before versioned
// publishing, about one kill in nine left it signed but holding 0 or 10 of 25 modules, and nothing
// repaired it.)

import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Repository, sha384Hex } from '../hicmod-toolchain/repository/index.ts';
import { workspace } from '../hicmod-toolchain/workspace.ts';
import { runImage } from '../system/run-image.ts';
import type { ModuleSource } from '../system/boot.ts';
import type { TrustStore } from '../core0/module/verify.ts';
import { loadManifest, REPO } from './support/boot.ts';
import { runNode, type Ran } from './support/run-node.ts';

const scratch = mkdtempSync(join(tmpdir(), 'hic-crash-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const buildDir = join(scratch, 'build');
const objectDir = join(REPO, 'build', 'services'); // compiled objects are shared; only signing and publishing are under test
const link = join(buildDir, 'repo');
const modulesDir = join(buildDir, 'modules');

/** name@version → SHA-384 of every module the repository holds, each read and checked against the index. */
function contents(): Map<string, string> {
  const repo = Repository.open(link, trust, { now: Date.now() });
  const out = new Map<string, string>();
  for (const name of repo.names()) for (const v of repo.versions(name)) out.set(`${name}@${v}`, sha384Hex(repo.read(name, v)));
  return out;
}

/** name@version → SHA-384 of the signed modules in build/modules, as the last (partial) rebuild left them. */
function built(): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(modulesDir).filter((f) => f.endsWith('.hicmod'))) {
    out.set(f.replace(/^(.*)-(\d+\.\d+\.\d+.*)\.hicmod$/, '$1@$2'), sha384Hex(new Uint8Array(readFileSync(join(modulesDir, f)))));
  }
  return out;
}

const ws = () => workspace(REPO, { buildDir, objectDir });

/** Forgets every signing stamp, so the next workspace call re-signs every module and republishes. */
function touchEverything(): void {
  for (const f of readdirSync(modulesDir).filter((f) => f.endsWith('.stamp'))) unlinkSync(join(modulesDir, f));
}

/** A rebuild in a child process, beside the event loop: killed at a crash point, or run through. */
function rebuild(env: Record<string, string>): Promise<Ran> {
  return runNode(['--import', 'tsx', join(REPO, 'tests', 'support', 'rebuild.ts'), buildDir, objectDir], { env: { ...process.env, ...env } });
}

async function bootHello(modules: ModuleSource): Promise<void> {
  const { system, result } = await runImage(loadManifest('hello'), { modules, trust });
  system.dispose();
  expect(result.deviations).toEqual([]);
  expect(result.outcome.exits).toEqual({ hello: 0 });
}

let points: string[] = [];
let trust: TrustStore;

beforeAll(async () => {
  trust = ws().trust; // the first build: PKI, every module signed, the first version of the repository
  touchEverything();
  ws(); // a second version, so that a rebuild has an old version to remove, as it has from now on
  touchEverything();
  const trace = join(scratch, 'trace');
  const r = await rebuild({ HIC_CRASH_TRACE: trace });
  expect(r.status, String(r.stderr)).toBe(0);
  points = readFileSync(trace, 'utf8').trimEnd().split('\n');
}, 300_000);

describe('a workspace rebuild killed with SIGKILL', () => {
  it('has crash points at every file it changes, from the first module signed to the old version removed', () => {
    expect(points.length).toBeGreaterThan(100);
    expect(points[0]).toMatch(/^1 .*\.hicmod written$/);
    expect(points.some((p) => / repository written, link not yet switched$/.test(p))).toBe(true);
    expect(points.some((p) => / link switched$/.test(p))).toBe(true);
    expect(points.at(-1)).toMatch(/old version \d+ removed$/);
  });

  it('at 24 spread points and either side of the switch leaves a repository that is complete, old or new, never mixed; hic boot works from it; the next build repairs it', async () => {
    const n = points.length;
    const switchAt = points.findIndex((p) => / link switched$/.test(p)) + 1;
    // Spread evenly, plus the moments around the switch, where a mix would show first.
    const chosen = [...new Set([...Array.from({ length: 24 }, (_, i) => 1 + Math.round((i * (n - 1)) / 23)), switchAt - 1, switchAt, switchAt + 1])].sort((a, b) => a - b);
    expect(chosen.length).toBeGreaterThanOrEqual(24);
    const outcomes: string[] = [];
    for (const k of chosen) {
      const old = contents();
      touchEverything();
      const r = await rebuild({ HIC_CRASH_AT: String(k) });
      expect(r.signal, `kill point ${k} (${points[k - 1]}): ${r.stderr}`).toBe('SIGKILL');

      const now = contents(); // verifies metadata and reads every module against the index
      expect(now.size).toBe(old.size);
      const same = [...now].filter(([m, h]) => old.get(m) === h).length;
      const isOld = same === old.size;
      const isNew = same === 0 && [...now].every(([m, h]) => built().get(m) === h);
      expect(isOld || isNew, `kill point ${k} (${points[k - 1]}): ${same} of ${now.size} modules old`).toBe(true);
      outcomes.push(`${k}:${isOld ? 'old' : 'new'}`);
      // `hic boot` from the repository exactly as the kill left it, on one data directory for the
      // whole test: what it trusted after a repair never refuses the next repository as a rollback.
      const boot = await runNode([join(REPO, 'bin', 'hic.mjs'), 'boot', 'images/hello.himg', '-q', '--repo', link, '--pki', join(buildDir, 'pki'), '--data-dir', join(scratch, 'data')], { cwd: REPO });
      expect(boot.stderr, `kill point ${k}`).toBe('');
      expect(boot.status, `kill point ${k}`).toBe(0);
      expect(boot.stdout).toMatch(/hello exited with status 0[\s\S]*outcome: as expected/);

      const repaired = ws();
      expect(repaired.failures).toEqual([]);
      expect(contents()).toEqual(built());
      await bootHello(repaired.source);
    }
    // Kills before the switch keep the old repository, kills after it the new one.
    expect(outcomes).toEqual(chosen.map((k) => `${k}:${k < switchAt ? 'old' : 'new'}`));
    // What a kill can leave behind (an unused directory, a version the interrupted clean-up did
    // not reach) goes at the next publish, which keeps only its own version and the one before.
    touchEverything();
    const before = readlinkSync(link);
    ws();
    expect(readdirSync(join(buildDir, 'repos')).map((d) => `repos/${d}`).sort()).toEqual([before, readlinkSync(link)].sort());
    expect(existsSync(`${link}.new`)).toBe(false);
  }, 600_000);
});
