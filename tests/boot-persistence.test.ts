// What `hic boot` keeps in its data directory, as a user sees it: the audit log with its
// checkpoint, the memory of what the system trusted, a lock that no stale or unrelated pid can
// block, and the wall-clock date it judged expiry at, recorded in the event log.

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './support/boot.ts';
import { runNode } from './support/run-node.ts';

const hic = (...args: string[]) => runNode([join(REPO, 'bin', 'hic.mjs'), ...args], { cwd: REPO });
const dataDir = () => mkdtempSync(join(tmpdir(), 'hic-data-'));

describe('hic boot and its data directory', () => {
  it('appends to the audit log, checkpoints it, and remembers the modules it trusted', async () => {
    const data = dataDir();
    for (let i = 0; i < 2; i++) expect((await hic('boot', 'images/hello.himg', '-q', '--data-dir', data)).status).toBe(0);
    expect(existsSync(join(data, 'audit.checkpoint'))).toBe(true);
    const v = await hic('audit', 'verify', data);
    expect(v.stdout).toMatch(/audit\.jsonl: OK, 18 records, head [0-9a-f]{64}\n$/); // 9 a boot: the systemState among them
    const trusted = JSON.parse(readFileSync(join(data, 'trusted-repository.json'), 'utf8'));
    expect(Object.keys(trusted.modules)).toEqual(['hello', 'ipc_lib']);
    expect(trusted.metadata.timestamp).toBeGreaterThan(0);
    // The machine's installed versions, written by each boot: hello names no exact version (any
    // will do, the newest boots), so none is installed for it (docs/reliability.md#the-machines-persistent-state).
    expect(JSON.parse(readFileSync(join(data, 'system', 'installed.json'), 'utf8'))).toEqual({ format: 'hic-installed/1', services: {}, bad: [], collected: [] });
  });

  it('a lock file naming a live process that holds no lock does not block it (it once blocked every boot)', async () => {
    const data = dataDir();
    writeFileSync(join(data, 'audit.jsonl.lock'), `${process.pid}\n`); // alive, and not a boot
    const r = await hic('boot', 'images/hello.himg', '-q', '--data-dir', data);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('judges repository expiry at its wall-clock date and records the date in the event log', async () => {
    const data = dataDir();
    const events = join(data, 'events.jsonl');
    const today = new Date().toISOString().slice(0, 10);
    expect((await hic('boot', 'images/hello.himg', '-q', '--data-dir', data, '--events', events)).status).toBe(0);
    expect(readFileSync(events, 'utf8').split('\n').slice(0, 2).map((l) => JSON.parse(l).kind)).toEqual(['boot', 'wallClock']);
    expect(JSON.parse(readFileSync(events, 'utf8').split('\n')[1]!)).toMatchObject({ kind: 'wallClock', date: today });

    const late = await hic('boot', 'images/hello.himg', '-q', '--data-dir', data, '--date', '2099-01-01');
    expect(late.status).toBe(2);
    expect(late.stderr).toMatch(/^hic: .*timestamp\.json: expired .*; checked at 2099-01-01T23:59:59\.999Z \[METADATA_EXPIRED\]\n$/);
    const bad = await hic('boot', 'images/hello.himg', '--data-dir', data, '--date', '2026-02-30');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('hic: --date: "2026-02-30" is not a date like 2026-01-31 [HIC_USAGE]\n');
  });
});
