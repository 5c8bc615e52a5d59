// The hic command as a user runs it: output lines, exit codes, and one clear line for mistakes.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './support/boot.ts';

const hic = (...args: string[]) => spawnSync(process.execPath, [join(REPO, 'bin', 'hic.mjs'), ...args], { cwd: REPO, encoding: 'utf8' });

describe('hic boot', () => {
  it('boots hello: guest lines carry virtual time and sandbox name, exit 0', () => {
    const r = hic('boot', 'images/hello.himg');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\[\s+0\.\d{6}s\] hello\s+│ hello: hi from a HIC sandbox/m);
    expect(r.stdout).toMatch(/hello exited with status 0/);
    expect(r.stdout).toMatch(/outcome: as expected/);
  });

  it('boots rogue: faults are shown, contained, and hello keeps running', () => {
    const r = hic('boot', 'images/rogue.himg', '--quiet');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/FAULT in rogue-read .*readUnmapped address 0x[0-9a-f]+ .*\[that page belongs to hello\]/);
    expect(r.stdout.split('\n').filter((l) => l.includes('FAULT'))).toHaveLength(7);
    // Typed records show too, under the sandbox that emitted them.
    expect(r.stdout).toMatch(/rogue-args +▸ result: attack bad_syscalls, checks 17, failed 0, clean true, last_error -17, page 4096, canary 18364758544493064720/);
    const lines = r.stdout.split('\n');
    expect(lines.findLastIndex((l) => l.includes('hello: goodbye'))).toBeGreaterThan(lines.findLastIndex((l) => l.includes('FAULT')));
  });

  it('writes the event log it hashed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hic-cli-'));
    const r = hic('boot', 'images/hello.himg', '-q', '--events', join(dir, 'events.jsonl'));
    expect(r.status).toBe(0);
    const lines = execFileSync('cat', [join(dir, 'events.jsonl')], { encoding: 'utf8' }).trim().split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ kind: 'boot', t: 0, seq: 0 });
  });

  it('a broken manifest is one line naming file and field, exit 2, no stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hic-cli-'));
    const file = join(dir, 'bad.himg');
    writeFileSync(file, JSON.stringify({ 'hic-image': 1, sandboxes: [{ name: 'a', module: 'hello', quota: 'lots' }] }));
    const r = hic('boot', file);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`hic: ${file}: sandboxes[0].quota: expected a size like "1B", "1KiB", "1MiB", "1GiB", got "lots" [HIC_BAD_MANIFEST]`]);
  });

  it('a missing image file is one line too', () => {
    const r = hic('boot', 'images/nope.himg');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^hic: images\/nope\.himg: no such file \[HIC_BAD_MANIFEST\]\n$/);
  });

  it('every command has --help', () => {
    for (const cmd of ['boot', 'build', 'abi', 'bench']) {
      const r = hic(cmd, '--help');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^Usage: hic /);
    }
  });
});

describe('hicmod', () => {
  const hicmod = (...args: string[]) => spawnSync(process.execPath, [join(REPO, 'bin', 'hicmod.mjs'), ...args], { cwd: REPO, encoding: 'utf8' });

  it('build → sign → verify → inspect, and a tampered copy is refused in one line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hic-cli-'));
    const unsigned = join(dir, 'hello.unsigned.hicmod');
    expect(hicmod('build', 'hello', '-o', unsigned).status).toBe(0);
    const signed = join(dir, 'hello.hicmod');
    expect(hicmod('sign', unsigned, '--pki', 'build/pki', '-o', signed).status).toBe(0);
    const ok = hicmod('verify', signed, '--pki', 'build/pki');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/OK — service hello 1\.0\.0/);
    const older = hicmod('verify', signed, '--pki', 'build/pki', '--installed', '1.1.0@2026-01-01T00:00:00Z');
    expect(older.status).toBe(2);
    expect(older.stderr).toMatch(/^hic: .*older than the installed 1\.1\.0.*\[DOWNGRADE\]\n$/);
    const insp = hic('mod', 'inspect', signed);
    expect(insp.status).toBe(0);
    expect(insp.stdout).toMatch(/depends on {4}ipc_lib = 2\.0\.0/);
    expect(insp.stdout).toMatch(/imports {7}ipc_lib\.ipc_checksum/);
    expect(insp.stdout).toMatch(/entry at 0x00000/);
    const bytes = readFileSync(signed);
    bytes[200]! ^= 0x40;
    writeFileSync(join(dir, 'bad.hicmod'), bytes);
    const bad = hicmod('verify', join(dir, 'bad.hicmod'), '--pki', 'build/pki');
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/\[HASH_MISMATCH\]/);
  });
});

describe('hic test', () => {
  it('boots every image with an expectation, reports deviations, and writes JUnit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hic-images-'));
    const image = (expectExit: number) => JSON.stringify({ 'hic-image': 1, name: 'h', sandboxes: [{ name: 'hello', module: 'hello', quota: '1MiB' }], expect: { exits: { hello: expectExit } } });
    writeFileSync(join(dir, 'a-good.himg'), image(0));
    writeFileSync(join(dir, 'b-bad.himg'), image(3));
    writeFileSync(join(dir, 'c-no-expectation.himg'), JSON.stringify({ 'hic-image': 1, sandboxes: [{ name: 'hello', module: 'hello', quota: '1MiB' }] }));
    const report = join(dir, 'junit.xml');
    const r = hic('test', dir, '--junit', report);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^pass {2}a-good\.himg/m);
    expect(r.stdout).toMatch(/^FAIL {2}b-bad\.himg[\s\S]*hello: expected exit 3, it exited 0/m);
    expect(r.stdout).not.toMatch(/c-no-expectation/);
    const xml = readFileSync(report, 'utf8');
    expect(xml).toMatch(/<testsuite name="hic images" tests="2" failures="1">/);
    expect(xml).toMatch(/<testcase classname="images" name="b-bad.himg"[^>]*><failure message="hello: expected exit 3, it exited 0">/);
  });
});
