// The hic command as a user runs it: output lines, exit codes, and one clear line for mistakes.

import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from './support/boot.ts';
import { runNode } from './support/run-node.ts';

/** Runs the hic command beside the event loop (a run takes seconds); its exit status and output.
 * A boot gets a data directory of its own: the default one's audit log takes one boot at a time
 * (AUDIT_BUSY), and other test files boot beside this one. */
const data = mkdtempSync(join(tmpdir(), 'hic-cli-data-'));
afterAll(() => rmSync(data, { recursive: true, force: true }));
const hic = (...args: string[]) => runNode([join(REPO, 'bin', 'hic.mjs'), ...args, ...(args[0] === 'boot' && !args.includes('--data-dir') ? ['--data-dir', data] : [])], { cwd: REPO });

describe('hic boot', () => {
  it('boots hello: guest lines carry virtual time and sandbox name, exit 0', async () => {
    const r = await hic('boot', 'images/hello.himg');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\[\s+0\.\d{6}s\] hello\s+│ hello: hi from a HIC sandbox/m);
    expect(r.stdout).toMatch(/hello exited with status 0/);
    expect(r.stdout).toMatch(/outcome: as expected/);
  });

  it('boots rogue: faults are shown, contained, and hello keeps running', async () => {
    const r = await hic('boot', 'images/rogue.himg', '--quiet');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/FAULT in rogue-read .*readUnmapped address 0x[0-9a-f]+ .*\[that page belongs to hello\]/);
    expect(r.stdout.split('\n').filter((l) => l.includes('FAULT'))).toHaveLength(7);
    // Typed records show too, under the sandbox that emitted them.
    expect(r.stdout).toMatch(/rogue-args +▸ result: attack bad_syscalls, checks 17, failed 0, clean true, last_error -18, page 4096, canary 18364758544493064720/);
    const lines = r.stdout.split('\n');
    expect(lines.findLastIndex((l) => l.includes('hello: goodbye'))).toBeGreaterThan(lines.findLastIndex((l) => l.includes('FAULT')));
  });

  it('writes the event log it hashed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hic-cli-'));
    const r = await hic('boot', 'images/hello.himg', '-q', '--events', join(dir, 'events.jsonl'));
    expect(r.status).toBe(0);
    const text = readFileSync(join(dir, 'events.jsonl'), 'utf8');
    const lines = text.trim().split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ kind: 'boot', t: 0, seq: 0 });
    const printed = /event log sha256 ([0-9a-f]{16})/.exec(r.stdout)?.[1];
    expect(createHash('sha256').update(text).digest('hex').slice(0, 16)).toBe(printed);
  });

  it('a broken manifest is one line naming file and field, exit 2, no stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hic-cli-'));
    const file = join(dir, 'bad.himg');
    writeFileSync(file, JSON.stringify({ 'hic-image': 1, sandboxes: [{ name: 'a', module: 'hello', quota: 'lots' }] }));
    const r = await hic('boot', file);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`hic: ${file}: sandboxes[0].quota: expected a size like "1B", "1KiB", "1MiB", "1GiB", got "lots" [HIC_BAD_MANIFEST]`]);
  });

  it('a missing image file is one line too', async () => {
    const r = await hic('boot', 'images/nope.himg');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^hic: images\/nope\.himg: no such file \[HIC_BAD_MANIFEST\]\n$/);
  });

  it('every command has --help', async () => {
    for (const cmd of ['boot', 'build', 'abi', 'bench']) {
      const r = await hic(cmd, '--help');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^Usage: hic /);
    }
  });
});

describe('hicmod', () => {
  const hicmod = (...args: string[]) => runNode([join(REPO, 'bin', 'hicmod.mjs'), ...args], { cwd: REPO });

  it('build → sign → verify → inspect, and a tampered copy is refused in one line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hic-cli-'));
    const unsigned = join(dir, 'hello.unsigned.hicmod');
    expect((await hicmod('build', 'hello', '-o', unsigned)).status).toBe(0);
    const signed = join(dir, 'hello.hicmod');
    expect((await hicmod('sign', unsigned, '--pki', 'build/pki', '-o', signed)).status).toBe(0);
    const ok = await hicmod('verify', signed, '--pki', 'build/pki');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/OK — service hello 1\.0\.0/);
    const older = await hicmod('verify', signed, '--pki', 'build/pki', '--installed', '1.1.0@2026-01-01T00:00:00Z');
    expect(older.status).toBe(2);
    expect(older.stderr).toMatch(/^hic: .*older than the installed 1\.1\.0.*\[DOWNGRADE\]\n$/);
    const insp = await hic('mod', 'inspect', signed);
    expect(insp.status).toBe(0);
    expect(insp.stdout).toMatch(/depends on {4}ipc_lib = 2\.0\.0/);
    expect(insp.stdout).toMatch(/imports {7}ipc_lib\.ipc_checksum/);
    expect(insp.stdout).toMatch(/entry at 0x00000/);
    const bytes = readFileSync(signed);
    bytes[200]! ^= 0x40;
    writeFileSync(join(dir, 'bad.hicmod'), bytes);
    const bad = await hicmod('verify', join(dir, 'bad.hicmod'), '--pki', 'build/pki');
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/\[HASH_MISMATCH\]/);
  });
});

describe('hic test', () => {
  it('boots every image with an expectation, reports deviations, and writes JUnit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hic-images-'));
    const image = (expectExit: number) => JSON.stringify({ 'hic-image': 1, name: 'h', sandboxes: [{ name: 'hello', module: 'hello', quota: '1MiB' }], expect: { exits: { hello: expectExit } } });
    writeFileSync(join(dir, 'a-good.himg'), image(0));
    writeFileSync(join(dir, 'b-bad.himg'), image(3));
    writeFileSync(join(dir, 'c-no-expectation.himg'), JSON.stringify({ 'hic-image': 1, sandboxes: [{ name: 'hello', module: 'hello', quota: '1MiB' }] }));
    const report = join(dir, 'junit.xml');
    const r = await hic('test', dir, '--junit', report);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^pass {2}a-good\.himg/m);
    expect(r.stdout).toMatch(/^FAIL {2}b-bad\.himg[\s\S]*hello: expected exit 3, it exited 0/m);
    expect(r.stdout).not.toMatch(/c-no-expectation/);
    const xml = readFileSync(report, 'utf8');
    expect(xml).toMatch(/<testsuite name="hic images" tests="2" failures="1">/);
    expect(xml).toMatch(/<testcase classname="images" name="b-bad.himg"[^>]*><failure message="hello: expected exit 3, it exited 0">/);
  });
});

describe('exit codes', () => {
  it('a bad command line is a user mistake: exit 2, like a bad manifest', async () => {
    for (const args of [['--nosuch'], ['nosuch'], ['boot'], ['boot', 'images/hello.himg', '--nosuch'], ['boot', 'images/hello.himg', '--data-dir', ''], ['boot', 'images/hello.himg', '--data-dir', '/proc/x'], ['boot', '/dev/zero'], ['boot', 'images']]) {
      const r = await hic(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(/^(error|hic): /);
    }
  });

  it('--help lists the exit codes and exits 0', async () => {
    const r = await hic('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Exit codes:\n {2}0 .*\n {2}1 .*deviates.*\n {2}2 .*mistake.*\n {2}70 .*bug/);
  });

  it('an internal error prints as a bug, with its stack, and exits 70; a mistake prints one line and exits 2', async () => {
    const { runCommand } = await import('../cli/errors.ts');
    const written: string[] = [];
    const write = process.stderr.write;
    const code = process.exitCode;
    process.stderr.write = ((s: string) => (written.push(String(s)), true)) as typeof process.stderr.write;
    try {
      await runCommand(() => {
        const a: number[] = [];
        a.length = -1; // RangeError: a bug, whatever its message
      });
      expect(process.exitCode).toBe(70);
      expect(written.join('')).toMatch(/^hic: internal error — a bug in HIC, not in your input:\nRangeError: Invalid array length\n\s+at /);
      written.length = 0;
      await runCommand(() => {
        throw Object.assign(new Error('images/x.himg: sandboxes[0].quota: too small'), { code: 'HIC_BAD_MANIFEST' });
      });
      expect(process.exitCode).toBe(2);
      expect(written).toEqual(['hic: images/x.himg: sandboxes[0].quota: too small [HIC_BAD_MANIFEST]\n']);
    } finally {
      process.stderr.write = write;
      process.exitCode = code;
    }
  });
});

describe('module files', () => {
  it('every refusal names the file: garbage, a directory, a missing file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hic-mod-'));
    const garbage = join(dir, 'x.hicmod');
    writeFileSync(garbage, 'garbage\n');
    const cases: [string[], RegExp][] = [
      [['mod', 'verify', '--pki', 'build/pki', garbage], new RegExp(`^hic: ${garbage}: module is 8 bytes.*\\[TRUNCATED\\]\\n$`)],
      [['mod', 'inspect', garbage], new RegExp(`^hic: ${garbage}: module is 8 bytes.*\\[TRUNCATED\\]\\n$`)],
      [['mod', 'verify', '--pki', 'build/pki', dir], new RegExp(`^hic: ${dir}: a directory, not a module \\[NOT_A_FILE\\]\\n$`)],
      [['mod', 'inspect', join(dir, 'nope.hicmod')], new RegExp(`^hic: ${dir}/nope\\.hicmod: no such file \\[ENOENT\\]\\n$`)],
    ];
    for (const [args, stderr] of cases) {
      const r = await hic(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(stderr);
    }
  });
});
