// Two clean builds of the same sources — each in its own build directory, with its own freshly
// generated PKI and its own signing times — boot hello (and then refuse a tampered copy of it) to
// the same event-log hash. What differs between the builds (signer certificate, signing time,
// where the files lie) is still there, in each event's provenance: on the terminal and in the
// audit log, not in the hash.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderEvent } from '../cli/render.ts';
import type { StampedEvent } from '../core0/events.ts';
import { workspace } from '../hicmod-toolchain/workspace.ts';
import { parseManifest } from '../system/manifest.ts';
import { runImage } from '../system/run-image.ts';

const REPO = join(import.meta.dirname, '..');
const IMAGE = join('images', 'hello.himg');

interface Run {
  readonly hash: string;
  readonly runLines: string;
  readonly allLines: string;
  readonly verified: Extract<StampedEvent, { kind: 'moduleVerified' }>[];
  readonly rendered: string[];
  readonly audited: Record<string, unknown>[];
  /** The event a tampered copy of hello from the same repository leaves. */
  readonly rejected: Extract<StampedEvent, { kind: 'moduleRejected' }>;
}

/** Builds hello and its library into `buildDir` from nothing, then boots images/hello.himg. */
async function cleanBuildAndBoot(buildDir: string): Promise<Run> {
  const ws = workspace(REPO, { buildDir, services: ['hello', 'ipc_lib'] });
  expect(ws.modules.every((m) => m.rebuilt)).toBe(true);
  const manifest = parseManifest(IMAGE, readFileSync(join(REPO, IMAGE), 'utf8'));
  const { system, result } = await runImage(manifest, { modules: ws.repository, trust: ws.trust });
  try {
    expect(result.deviations).toEqual([]);
    const events = system.kernel.events;
    const hello = ws.repository.fetch('hello', '*')!;
    const tampered = hello.bytes.slice();
    tampered[200]! ^= 1;
    expect(() => system.kernel.modules.verify(tampered, hello.label)).toThrow();
    return {
      rejected: events.of('moduleRejected').at(-1)!,
      hash: events.hash(),
      runLines: events.toJsonLines({ provenance: false }),
      allLines: events.toJsonLines(),
      verified: events.of('moduleVerified'),
      rendered: events.of('moduleVerified').map((e) => renderEvent(e)!),
      audited: system.kernel.audit.records.filter((rec) => rec.kind === 'moduleVerified'),
    };
  } finally {
    system.dispose();
  }
}

describe('two clean builds of the same sources', () => {
  const dirs: string[] = [];
  let a: Run;
  let b: Run;

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) dirs.push(mkdtempSync(join(tmpdir(), `hic-clean-build-${i}-`)));
    a = await cleanBuildAndBoot(dirs[0]!);
    b = await cleanBuildAndBoot(dirs[1]!);
  });
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('really differ: other signer certificates, other signing times, other files', () => {
    expect(a.verified.map((e) => e.module)).toEqual(['hello', 'ipc_lib']);
    for (let i = 0; i < a.verified.length; i++) {
      const [pa, pb] = [a.verified[i]!.provenance, b.verified[i]!.provenance];
      expect(pb.signerFingerprint).not.toBe(pa.signerFingerprint);
      expect(pb.signedAt).not.toBe(pa.signedAt);
      expect(pa.source.startsWith(dirs[0]!)).toBe(true);
      expect(pb.source.startsWith(dirs[1]!)).toBe(true);
    }
    expect(b.allLines).not.toBe(a.allLines);
  });

  it('boot hello to the same event log and the same hash', () => {
    expect(b.runLines).toBe(a.runLines);
    expect(b.hash).toBe(a.hash);
    // The modules themselves are reproducible: the same SHA-384 from both builds.
    expect(b.verified.map((e) => e.sha384)).toEqual(a.verified.map((e) => e.sha384));
    expect(a.runLines).not.toMatch(/signedAt|signer|hic-clean-build/);
  });

  it('still show who signed each module and when, on the terminal and in the audit log', () => {
    for (const [run, i] of [[a, 0], [b, 0], [a, 1], [b, 1]] as const) {
      const p = run.verified[i]!.provenance;
      expect(p.signer).toBe('O=HIC Workspace Test PKI, CN=HIC Workspace Test PKI signer');
      expect(run.rendered[i]).toContain(`signed by ${p.signer} at ${p.signedAt}`);
      expect(run.audited[i]).toMatchObject({ module: run.verified[i]!.module, provenance: { signedAt: p.signedAt, signerFingerprint: p.signerFingerprint } });
    }
  });

  it('name a refused module by its file in the hashed event, by its full path in the provenance', () => {
    for (const [run, dir] of [[a, dirs[0]!], [b, dirs[1]!]] as const) {
      const path = join(dir, 'repo', 'targets', 'hello-1.0.0.hicmod');
      expect(run.rejected).toMatchObject({ source: 'hello-1.0.0.hicmod', code: 'HASH_MISMATCH', provenance: { source: path } });
      expect(renderEvent(run.rejected)).toContain(`module ${path} REJECTED [HASH_MISMATCH]`);
    }
  });
});
