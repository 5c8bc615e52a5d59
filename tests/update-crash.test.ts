// The SIGKILL campaign (issue: persistent system state and a crash-consistent journal): `hic boot
// images/crash-campaign.himg` — netstack 1.2.0 to 1.3.0 under 100 live connections — kills itself
// with SIGKILL at one of its crash points (hicmod-toolchain/crash-point.ts): each write of the
// machine's journal and each step of a boot's recovery. 22 points spread from the operator's request
// to the update's end, with both sides of the switch that commits it. After each kill, with the same
// data directory:
//   - the audit log verifies (a prefix of the chain, continued by the next boot);
//   - images/installed.himg (booted here, with the data directory's audit log and state, as `hic
//     boot` opens them) comes up with exactly the version the journal's last committed step says
//     (read here plainly from the journal, tests/support/journal.ts), says what it recovered, and
//     serves 50 clients on it with every byte accounted for;
//   - it leaves nothing to recover behind it: the next boot recovers nothing.
// And a boot killed while it recovers recovers the same the next time.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StampedEvent } from '../core0/events.ts';
import { AuditLog, verifyAuditFile } from '../core0/audit.ts';
import { tryLock } from '../emulator/flock.ts';
import { SystemState } from '../system/state/system-state.ts';
import { expectedAfter, journalOf } from './support/journal.ts';
import { bootImage, builtWorkspace, loadManifest, REPO } from './support/boot.ts';
import { runNode } from './support/run-node.ts';

const scratch = mkdtempSync(join(tmpdir(), 'hic-update-crash-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const hic = (args: string[], env: Record<string, string> = {}) => runNode([join(REPO, 'bin', 'hic.mjs'), ...args], { cwd: REPO, env: { ...process.env, ...env } });
const events = (file: string): StampedEvent[] => readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as StampedEvent);
const KILLS = 22;

let points: string[] = [];
/** The workspace's repository, built once: the killed boots read it as it is (`--repo`), without each checking the build. */
let repo: string;

beforeAll(async () => {
  repo = builtWorkspace().repoDir;
  const trace = join(scratch, 'trace');
  const r = await hic(['boot', 'images/crash-campaign.himg', '-q', '--repo', repo, '--data-dir', join(scratch, 'traced')], { HIC_CRASH_TRACE: trace });
  expect(r.status, r.stderr + r.stdout).toBe(0);
  points = readFileSync(trace, 'utf8').trimEnd().split('\n');
}, 120_000);

/** `hic boot images/installed.himg` on `data`, as a process: what it printed, and its event log. */
async function bootInstalledCli(data: string, tag: string, env: Record<string, string> = {}) {
  const file = join(scratch, `${tag}.events.jsonl`);
  const r = await hic(['boot', 'images/installed.himg', '-q', '--repo', repo, '--data-dir', data, '--events', file], env);
  return { r, log: r.status === 0 ? events(file) : [] };
}

/**
 * The same boot in this process, through the one assembly path with the data directory's audit
 * log and system state, as `hic boot` opens them (a process of its own per point would spend most
 * of its time starting). The run, its deviations and its event log.
 */
async function bootInstalled(data: string) {
  const audit = AuditLog.open(join(data, 'audit.jsonl'), { lock: tryLock });
  const state = SystemState.open(data);
  try {
    const run = await bootImage('installed', { audit, state });
    run.system.dispose();
    return { deviations: run.deviations, log: run.kernel.events.all };
  } finally {
    state.close();
    audit.close();
  }
}

function stateOf(log: readonly StampedEvent[]) {
  const state = log.find((e) => e.kind === 'systemState') as Extract<StampedEvent, { kind: 'systemState' }>;
  const loaded = log.find((e) => e.kind === 'moduleLoaded' && e.sandbox === 'netstack') as Extract<StampedEvent, { kind: 'moduleLoaded' }>;
  return { state, running: loaded.version };
}

const auditVerifies = (data: string) => verifyAuditFile(join(data, 'audit.jsonl')).ok;

/** `n` crash points of the update, spread over its journal writes, with the two either side of the switch. */
function killPoints(n: number): number[] {
  const journal = points.map((p, i) => ({ p, k: i + 1 })).filter((x) => / journal \d+: /.test(` ${x.p}`));
  const sw = journal.findIndex((x) => x.p.includes('step switch'));
  const chosen = new Set([journal[sw]!.k, journal[sw + 1]!.k]); // switch begun, switch ok
  for (let i = 0; chosen.size < n; i++) chosen.add(journal[Math.floor((i * journal.length) / n)]!.k);
  return [...chosen].sort((a, b) => a - b);
}

describe('an update killed with SIGKILL at any of its commits', () => {
  it(`comes back as its journal's last committed step says, at ${KILLS} points`, async () => {
    const kills = killPoints(KILLS);
    expect(kills.length).toBe(KILLS);
    expect(points.filter((p) => / journal \d+: /.test(` ${p}`)).length).toBeGreaterThan(KILLS); // spread, not every one
    const seen = new Set<string>();
    const kill = async (k: number) => {
      const killed = await hic(['boot', 'images/crash-campaign.himg', '-q', '--repo', repo, '--data-dir', join(scratch, `kill-${k}`)], { HIC_CRASH_AT: String(k) });
      expect(killed.signal, `kill point ${k} (${points[k - 1]}): ${killed.stderr}`).toBe('SIGKILL');
    };
    const check = async (k: number) => {
      const data = join(scratch, `kill-${k}`);
      const journal = journalOf(data);
      const want = expectedAfter(journal, 'netstack', '1.2.0');
      expect(auditVerifies(data), `kill point ${k}: the audit log verifies`).toBe(true);

      const booted = await bootInstalled(data);
      expect(booted.deviations, `kill point ${k} (${points[k - 1]})`).toEqual([]);
      const { state, running } = stateOf(booted.log);
      expect({ k, running, installed: state.versions.netstack, recovered: state.recovered !== null }).toEqual({ k, running: want.version, installed: want.version, recovered: want.open });
      if (state.recovered) expect(state.recovered).toMatchObject({ service: 'netstack', from: '1.2.0', to: '1.3.0', boots: want.version });
      seen.add(state.recovered?.committed ?? 'ended');

      // Nothing left to recover, and the chain goes on.
      expect(SystemState.open(data).boot(loadManifest('installed')).event).toMatchObject({ recovered: null, journal: 0, versions: { netstack: want.version } });
      expect(auditVerifies(data)).toBe(true);
    };
    // The kills two at a time, in processes of their own; then each machine brought back, here.
    for (let i = 0; i < kills.length; i += 2) await Promise.all(kills.slice(i, i + 2).map(kill));
    for (const k of kills) await check(k);
    // Both sides of the commit were hit, and the end.
    expect([...seen].sort()).toEqual(['ended', 'none', 'switch']);
  }, 600_000);

  it('a boot killed while it recovers recovers the same the next time', async () => {
    const sw = points.findIndex((p) => p.includes('step switch') && p.includes(' ok')) + 1;
    const data = join(scratch, 'recovery-killed');
    expect((await hic(['boot', 'images/crash-campaign.himg', '-q', '--repo', repo, '--data-dir', data], { HIC_CRASH_AT: String(sw) })).signal).toBe('SIGKILL');
    // What the data directory says, read without changing it (`hic state`).
    const said = await hic(['state', data]);
    expect(said.status, said.stderr).toBe(0);
    expect(said.stdout).toContain('next boot    recovers update 1 (netstack 1.2.0 to 1.3.0): committed at its switch, finished; installs');
    expect(journalOf(data).length).toBe(sw - 3); // every journal write up to the kill: unchanged by reading
    // The recovering boot's own points: decided, installed.json written, journal emptied.
    for (const at of [1, 2]) {
      const killed = await bootInstalledCli(data, `recovery-killed-${at}`, { HIC_CRASH_AT: String(at) });
      expect(killed.r.signal, points[at - 1]).toBe('SIGKILL');
    }
    const { r, log } = await bootInstalledCli(data, 'recovery-finished');
    expect(r.status, r.stderr).toBe(0);
    expect(stateOf(log)).toMatchObject({ running: '1.3.0', state: { recovered: { committed: 'switch', boots: '1.3.0' } } });
    expect(r.stdout).toContain('RECOVERED update 1 (netstack 1.2.0 to 1.3.0), interrupted by the host\'s death: committed at its switch, so finished: netstack 1.3.0 is installed');
    expect(r.stdout).toContain('outcome: as expected');
  }, 120_000);
});
