// The workspace in a scratch tree of its own (services/ holding hello, ipc_lib and whatever a test
// adds): a service that does not build keeps only itself out of the repository, and an image that
// needs it is told which module and why; the repository is repaired when it differs from the
// builds, re-signed before it expires, and moved from a plain directory to a versioned one.

import { cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildError } from '../hicmod-toolchain/build.ts';
import { Repository } from '../hicmod-toolchain/repository/index.ts';
import { workspace, type Workspace } from '../hicmod-toolchain/workspace.ts';
import { runImage } from '../system/run-image.ts';
import { loadManifest, REPO } from './support/boot.ts';

const root = mkdtempSync(join(tmpdir(), 'hic-workspace-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const services = join(root, 'services');
const DAY = 86_400_000;

beforeAll(() => {
  mkdirSync(services);
  for (const d of ['include', 'runtime']) symlinkSync(join(REPO, 'services', d), join(services, d));
  for (const d of ['hello', 'ipc_lib']) cpSync(join(REPO, 'services', d), join(services, d), { recursive: true }); // services are directories, not links
  mkdirSync(join(services, 'broken'));
  writeFileSync(join(services, 'broken', 'module.json'), JSON.stringify({
    name: 'broken', version: '1.0.0', uuid: '0b0b0b0b-1111-4222-8333-444444444444', kind: 'service', memory: 262144, cpuPermille: 50, capabilities: ['debug_log'],
  }));
  writeFileSync(join(services, 'broken', 'broken.c'), '#include "hic/runtime.h"\nint hic_main(void) { return undeclared; }\n');
});

const image = (module: string) => loadManifest({ label: `${module}.himg`, image: { 'hic-image': 1, name: module, sandboxes: [{ name: module, module, quota: '1MiB', stack: '64KiB' }], run: { until: '1s' } } });

async function boot(ws: Workspace, module: string): Promise<number | undefined> {
  const { system, result } = await runImage(image(module), { modules: ws.source, trust: ws.trust });
  system.dispose();
  return result.outcome.exits[module];
}

function thrown(fn: () => Promise<unknown>): Promise<BuildError> {
  return fn().then(
    () => Promise.reject(new Error('expected a BuildError')),
    (e: unknown) => (e instanceof BuildError ? e : Promise.reject(e)),
  );
}

describe('a service that does not build', () => {
  it('keeps only itself out: the rest is published and boots; an image that needs it is told which module and why', async () => {
    const ws = workspace(root);
    expect(ws.modules.map((m) => m.name)).toEqual(['hello', 'ipc_lib']);
    expect(ws.failures).toEqual([{ service: 'broken', module: 'broken', version: '1.0.0', code: 'BUILD_FAILED', message: expect.stringContaining("error: 'undeclared' undeclared") }]);
    expect(ws.repository.names()).toEqual(['hello', 'ipc_lib']);
    expect(await boot(ws, 'hello')).toBe(0);
    const e = await thrown(() => boot(ws, 'broken'));
    expect(e.code).toBe('BUILD_FAILED');
    expect(e.message).toMatch(/^module broken 1\.0\.0 did not build \(services\/broken\): services\/broken\/broken\.c:2:\d+: error: 'undeclared' undeclared/);
    expect(e.message.split('\n')).toHaveLength(1);
  }, 120_000);

  it('is taken out of the repository even when an earlier build of it was published', async () => {
    const hello = join(services, 'hello', 'hello.c');
    const source = readFileSync(hello, 'utf8');
    try {
      writeFileSync(hello, source.replace('int hic_main', 'int hic_main_typo'));
      const ws = workspace(root);
      expect(ws.failures.map((f) => f.module)).toEqual(['broken', 'hello']);
      expect(ws.repository.names()).toEqual(['ipc_lib']); // never the stale hello of the last good build
      expect((await thrown(() => boot(ws, 'hello'))).message).toMatch(/^module hello 1\.0\.0 did not build \(services\/hello\)/);
    } finally {
      writeFileSync(hello, source);
    }
    const ws = workspace(root);
    expect(ws.failures.map((f) => f.module)).toEqual(['broken']);
    expect(await boot(ws, 'hello')).toBe(0);
  }, 120_000);
});

describe('a service removed from services/', () => {
  it('is withdrawn from the repository and named as withdrawn, once', () => {
    cpSync(join(REPO, 'services', 'template'), join(services, 'template'), { recursive: true });
    expect(workspace(root).repository.names()).toContain('template');
    rmSync(join(services, 'template'), { recursive: true });
    const ws = workspace(root);
    expect(ws.withdrawn).toEqual([{ name: 'template', version: '0.1.0' }]);
    expect(ws.repository.names()).toEqual(['hello', 'ipc_lib']);
    expect(workspace(root).withdrawn).toEqual([]);
  }, 120_000);
});

describe('the workspace repository', () => {
  const link = join(root, 'build', 'repo');

  it('is repaired when a module file in it was changed or removed', () => {
    const ws = workspace(root);
    expect(ws.published).toBe(false);
    const target = ws.repository.targetPath('hello', '1.0.0');
    writeFileSync(target, 'not a module');
    const repaired = workspace(root);
    expect(repaired.published).toBe(true);
    expect(repaired.repository.read('hello', '1.0.0').length).toBeGreaterThan(100);
    unlinkSync(repaired.repository.targetPath('ipc_lib', '2.0.0'));
    expect(workspace(root).published).toBe(true);
    expect(workspace(root).published).toBe(false);
  }, 120_000);

  it('is re-signed before its metadata expires, with higher versions and the same modules', () => {
    const ws = workspace(root);
    const later = workspace(root, { now: Date.now() + 6 * DAY }); // the timestamp role lives 7 days
    expect(later.published).toBe(true);
    expect(later.modules.every((m) => !m.rebuilt)).toBe(true);
    expect(later.repository.state.timestamp).toBeGreaterThan(ws.repository.state.timestamp);
    expect(later.repository.metadata('hello', '1.0.0')).toEqual(ws.repository.metadata('hello', '1.0.0'));
    expect(workspace(root, { now: Date.now() + 6 * DAY }).published).toBe(false);
  }, 120_000);

  it('moves from a plain directory (before versioned publishing) to a link, keeping the old one until the next publish', () => {
    const current = realpathSync(link);
    unlinkSync(link);
    cpSync(current, link, { recursive: true }); // build/repo as a plain directory, as older builds left it
    for (const f of readdirSync(join(root, 'build', 'modules')).filter((f) => f.startsWith('hello') && f.endsWith('.stamp'))) unlinkSync(join(root, 'build', 'modules', f));
    const ws = workspace(root);
    expect(ws.published).toBe(true);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toMatch(/^repos\/\d+$/);
    expect(readdirSync(join(root, 'build', 'repos')).filter((d) => d.startsWith('plain-'))).toHaveLength(1);
    expect(Repository.open(link, ws.trust).names()).toEqual(['hello', 'ipc_lib']);
  }, 120_000);
});
