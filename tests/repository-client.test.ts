// Rollback protection on the client's side (hicmod-toolchain/repository/client.ts): what a boot
// trusted is remembered in the data directory, and an older repository, an older version for a
// range that admits the newer one, or an older build of the same version is refused, each with its
// code — however validly signed. Expiry is judged at the boot's wall-clock date, which the event
// log records as an input. The repositories are synthetic (hello and ipc_lib, re-versioned) and
// every time is fixed.

import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModuleContent } from '../core0/module/format.ts';
import type { TrustStore } from '../core0/module/verify.ts';
import { buildModule } from '../hicmod-toolchain/hicmod/module-build.ts';
import { signModule } from '../hicmod-toolchain/hicmod/sign.ts';
import { identity, initPki, rootCertificate } from '../hicmod-toolchain/pki/pki.ts';
import { endOfDate, TRUSTED_STATE_FILE, TrustedRepository } from '../hicmod-toolchain/repository/client.ts';
import { initRepository, publish, Repository } from '../hicmod-toolchain/repository/index.ts';
import { runImage } from '../system/run-image.ts';
import { loadManifest, REPO } from './support/boot.ts';
import { refusal } from './support/refusal.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const scratch = mkdtempSync(join(tmpdir(), 'hic-client-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const pki = join(scratch, 'pki');

let trust: TrustStore;
let hello: ModuleContent;
let ipcLib: ModuleContent;
const sign = (content: ModuleContent, version: string, at: number) =>
  signModule({ ...content, meta: { ...content.meta, version } }, { signer: identity(pki, 'signer'), timestamp: identity(pki, 'timestamp') }, at);

let n = 0;
/** A repository holding ipc_lib and the given hello builds, its metadata past `after`. */
function repository(hellos: Uint8Array[], at: number, after = 0): string {
  const dir = join(scratch, `repo-${n++}`);
  initRepository(dir, pki, at, { previous: { targets: after, snapshot: after, timestamp: after } });
  publish(dir, pki, [sign(ipcLib, '2.0.0', T0), ...hellos], at);
  return dir;
}

const data = () => {
  const dir = join(scratch, `data-${n++}`);
  mkdirSync(dir);
  return join(dir, TRUSTED_STATE_FILE);
};
const open = (dir: string, stateFile: string | undefined, now = T0 + 2 * DAY) => TrustedRepository.open(dir, trust, { now, ...(stateFile ? { stateFile } : {}) });

/** Boots hello from `client` as `hic boot` does: the date recorded, what was verified remembered. */
async function bootHello(client: TrustedRepository, wallClock = '2026-03-03') {
  const { system, result } = await runImage(loadManifest('hello'), { modules: client, trust, wallClock });
  client.remember(system.kernel.events.of('moduleVerified'));
  system.dispose();
  return { result, events: system.kernel.events };
}

let older: string; // hello 1.0.0
let newer: string; // a copy of it that later also published hello 1.0.1

beforeAll(() => {
  initPki(pki, { notBefore: new Date('2026-01-01T00:00:00Z') });
  trust = { roots: [rootCertificate(pki)] };
  hello = buildModule(REPO, 'hello').content;
  ipcLib = buildModule(REPO, 'ipc_lib').content;
  older = repository([sign(hello, '1.0.0', T0)], T0);
  newer = join(scratch, 'newer');
  cpSync(older, newer, { recursive: true });
  publish(newer, pki, [sign(hello, '1.0.1', T0 + HOUR)], T0 + DAY);
});

describe('rollback protection', () => {
  it('an older, complete, validly signed repository put back after 1.0.1 was booted is refused (REPLAYED)', async () => {
    const state = data();
    const { result, events } = await bootHello(open(newer, state));
    expect(result.outcome.exits).toEqual({ hello: 0 });
    expect(events.of('moduleVerified').map((e) => `${e.module} ${e.version}`)).toEqual(['hello 1.0.1', 'ipc_lib 2.0.0']);
    // Without a memory of what was trusted, the old copy boots hello 1.0.0: the finding.
    expect(open(older, undefined).fetch('hello', '*')!.label).toMatch(/hello-1\.0\.0\.hicmod$/);
    const e = refusal(() => open(older, state));
    expect(e.code).toBe('REPLAYED');
    expect(e.message).toMatch(/timestamp\.json is version 2, older than version 3 seen before/);
  });

  it('a newer repository without the trusted version is refused for a range that admits it, not for a pin (DOWNGRADE)', async () => {
    const state = data();
    await bootHello(open(newer, state));
    const dropped = repository([sign(hello, '1.0.0', T0)], T0 + DAY, 100); // re-signed, higher versions, 1.0.1 gone
    const client = open(dropped, state);
    const e = refusal(() => client.fetch('hello', '*'));
    expect(e.code).toBe('DOWNGRADE');
    expect(e.message).toMatch(new RegExp(`newest hello for "\\*" is 1\\.0\\.0, but hello 1\\.0\\.1 was trusted before \\(.*${TRUSTED_STATE_FILE}\\)`));
    await expect(bootHello(client)).rejects.toMatchObject({ code: 'DOWNGRADE' });
    expect(client.fetch('hello', '1.0.0')).toBeDefined(); // an image that pins 1.0.0 chose it
  });

  it('an older build of the trusted version is refused (REPLAYED)', async () => {
    const state = data();
    await bootHello(open(newer, state));
    const replayed = repository([sign(hello, '1.0.1', T0)], T0 + DAY, 200); // signed before the trusted 1.0.1 was
    const e = refusal(() => open(replayed, state).fetch('hello', '*'));
    expect(e.code).toBe('REPLAYED');
    expect(e.message).toMatch(/hello 1\.0\.1 was signed at 2026-03-01T00:00:00\.000Z, before the hello 1\.0\.1 trusted before \(signed 2026-03-01T01:00:00\.000Z/);
    const rebuilt = repository([sign(hello, '1.0.1', T0 + 2 * HOUR)], T0 + DAY, 300); // a newer build is an update
    expect(open(rebuilt, state).fetch('hello', '*')).toBeDefined();
  });

  it('a damaged memory is refused, not taken for an empty one', () => {
    const state = data();
    writeFileSync(state, '{"metadata": ');
    expect(refusal(() => open(newer, state))).toMatchObject({ code: 'BAD_REPOSITORY', message: expect.stringMatching(/is not JSON; .*without it no rollback is caught/) });
  });
});

describe('expiry', () => {
  it('is judged at the wall-clock date, not at the repository’s own signing time', () => {
    // The timestamp role of `newer` was signed at T0 + 1 day and lives 7 days.
    expect(Repository.open(newer, trust).names()).toEqual(['hello', 'ipc_lib']); // judged at its own time: never expires
    expect(open(newer, undefined, endOfDate('2026-03-08')).repository.state.timestamp).toBe(3);
    // Expires at the start of 2026-03-09: a boot on that date judges at its end, and refuses.
    expect(refusal(() => open(newer, undefined, endOfDate('2026-03-09')))).toMatchObject({ code: 'METADATA_EXPIRED', message: expect.stringMatching(/timestamp\.json: expired 2026-03-09T00:00:00\.000Z; checked at 2026-03-09T23:59:59\.999Z/) });
  });

  it('the date is an input the event log records: same date, same log; another date, another log', async () => {
    const a = await bootHello(open(newer, undefined), '2026-03-03');
    const b = await bootHello(open(newer, undefined), '2026-03-03');
    const c = await bootHello(open(newer, undefined), '2026-03-04');
    expect(a.events.all.slice(0, 2).map((e) => e.kind)).toEqual(['boot', 'wallClock']);
    expect(a.events.of('wallClock')).toMatchObject([{ date: '2026-03-03' }]);
    expect(b.result.logHash).toBe(a.result.logHash);
    expect(c.result.logHash).not.toBe(a.result.logHash);
  });
});
