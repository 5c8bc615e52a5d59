// `hic report <dir>`: the summary of each fixture report, read as a user sees it; a missing,
// unparsable or invalid report is one line on stderr and exit 2; what a guest wrote into the
// report is printed escaped. In-process (cli/report.ts under commander), and once through
// bin/hic.mjs to see the command wired into `hic` and the exit code a shell gets.

import { Command } from 'commander';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { registerReportCommand } from '../cli/report.ts';
import { REPORT_SCHEMA } from '../system/report/schema.ts';
import { writeReport } from '../system/report/write.ts';
import { REPO } from './support/boot.ts';
import { FIXTURES, HOSTILE, fixture, hostile } from './support/reports.ts';
import { runNode } from './support/run-node.ts';

const scratch = mkdtempSync(join(tmpdir(), 'hic-report-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function hicReport(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
  const program = new Command('hic').exitOverride();
  registerReportCommand(program);
  try {
    await program.parseAsync(['node', 'hic', 'report', ...args]);
  } finally {
    vi.restoreAllMocks();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { code, stdout, stderr };
}

/** A report directory holding exactly `text` as its report.json. */
function reportDir(name: string, text: string): string {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'report.json'), text);
  return dir;
}

describe('hic report', () => {
  it('summarises a completed update: plan, policy, phases with times, stages, latency, outcome', async () => {
    const { code, stdout, stderr } = await hicReport(join(FIXTURES, 'completed'));
    expect([code, stderr]).toEqual([0, '']);
    const lines = stdout.split('\n');
    expect(lines[0]).toBe('netstack 1.2.0 → 1.3.0: COMPLETED  (update u1-netstack-1.3.0, image rolling-update, seed 1)');
    expect(lines).toContain('plan        1. eth_driver 1.1.0 → 1.2.0');
    expect(lines).toContain('            2. netstack 1.2.0 → 1.3.0');
    expect(lines).toContain('policy      zero downtime required, rollback window 10 s, health check every 5 ms');
    expect(lines).toContain('            stages idle 30 % → http 60 % → realtime 90 % → persistent 100 %');
    expect(lines).toContain('  3.2   staged migration                          0.470200s     91.1 ms   (155.3 ms wall)');
    expect(lines).toContain('  realtime    to   90 %  moved   300  gone    0  failed    0    0.518500s     23.2 ms  health ok');
    expect(lines).toContain('latency     991 connections: average 412.38 µs, p99 2.904 ms, maximum 6.118 ms');
    expect(lines).toContain('checks      6 of 6 passed');
    // No such section (the page's path, on the last line, may contain any word).
    expect(lines.filter((l) => /^(alerts|decision)\b/.test(l))).toEqual([]);
    expect(lines.at(-4)).toBe('outcome: COMPLETED');
    expect(lines.at(-2)).toBe(`page: ${join(FIXTURES, 'completed', 'report.html')}`);
  });

  it('summarises a rollback: alerts, decision, rollback phases and root cause', async () => {
    const { code, stdout } = await hicReport(join(FIXTURES, 'rolled-back', 'report.json'));
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    expect(lines[1]).toMatch(/^reason: netstack 1\.3\.1 crashed 3 times in a row \(rule crash-loop/);
    expect(lines).toContain('  3.2   staged migration                          0.470100s     33.8 ms    (57.8 ms wall)  FAILED');
    expect(lines).toContain('  http        to   60 %  moved   141  gone    1  failed   17    0.491600s     12.3 ms  health FAILED');
    expect(lines).toContain('alerts (5, 1 suppressed)');
    expect(lines).toContain('    0.502470s  P0  crash-loop: netstack 1.3.1 crashed 3 times in a row: rollback requested');
    expect(lines).toContain('decision    at 0.502600s: rule crash-loop, level 1, score 0.97 >= 0.8: reverse rollback');
    expect(lines).toContain('rollback (reverse): 439 connections moved back, 0 abandoned, 100 % survived');
    expect(lines).toContain('  5.2   reverse migration           0.506400s     15.5 ms    (26.7 ms wall)');
    expect(lines).toContain('  at rip:    0x10b4c2  mov rax, qword ptr [rdx + rcx*8]   <- fault');
    expect(lines).toContain('  config tcp.resume_fast_path: (absent) → true');
    expect(stdout).toContain('\noutcome: ROLLED BACK\n');
  });

  it('prints what a guest wrote escaped: no terminal escape, no line of its own, no reordering', async () => {
    const { code, stdout } = await hicReport(writeReport(scratch, hostile()).dir);
    expect(code).toBe(0);
    expect(stdout).not.toMatch(/[\x1b\u202e]/);
    expect(stdout).toContain('\\x1b[2J\\x1b[31mred');
    expect(stdout).toContain('abc\\u{202e}dcba');
    expect(stdout).toContain(`root cause (code): ok\\n0xdeadbeef  fake line`);
    expect(stdout.split('\n').some((l) => l.startsWith('0xdeadbeef'))).toBe(false);
    expect(stdout).toContain(HOSTILE.script);
  });

  const broken: [string, () => string, string, RegExp][] = [
    ['no report there', () => join(scratch, 'nothing-here'), 'REPORT_MISSING', /: no such report \(expected report\.json in a build\/reports\/<update-id>\/ directory\)/],
    ['a report that is not JSON', () => reportDir('torn', '{"format": "hic-update-report", "vers'), 'REPORT_NOT_JSON', /report\.json: not JSON \(/],
    ['a report that fails its schema', () => reportDir('bad-stage', JSON.stringify({ ...fixture('completed'), stages: [{ ...fixture('completed').stages[0], health: 'meh' }] })), 'REPORT_INVALID', /report\.json: \/stages\/0\/health: must be one of "ok", "failed"/],
    ['a report that contradicts itself', () => reportDir('late-split', JSON.stringify({ ...fixture('completed'), split: [{ tNs: 2, old: 1, new: 0 }, { tNs: 1, old: 1, new: 0 }] })), 'REPORT_INVALID', /report\.json: \/split\/1\/tNs: earlier than the sample before it/],
  ];
  for (const [what, make, code, message] of broken) {
    it(`refuses ${what} in one line, exit 2 [${code}]`, async () => {
      const r = await hicReport(make());
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.split('\n')).toHaveLength(2); // one line and its newline
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trimEnd().endsWith(`[${code}]`)).toBe(true);
    });
  }

  it('prints the JSON Schema with --schema, and wants a directory otherwise', async () => {
    const schema = await hicReport('--schema');
    expect(schema.code).toBe(0);
    expect(JSON.parse(schema.stdout)).toEqual(REPORT_SCHEMA);
    const none = await hicReport();
    expect(none.code).toBe(2);
    expect(none.stderr).toBe('hic: report: give the report directory (build/reports/<update-id>/), or --schema [HIC_USAGE]\n');
  });

  it('is a command of hic: a broken report exits 2 from the shell', async () => {
    const bad = await runNode([join(REPO, 'bin', 'hic.mjs'), 'report', reportDir('shell-bad', '[]')], { cwd: REPO });
    expect([bad.status, bad.stdout]).toEqual([2, '']);
    expect(bad.stderr).toBe(`hic: ${join(scratch, 'shell-bad', 'report.json')}: /: must be object [REPORT_INVALID]\n`);
  });
});
