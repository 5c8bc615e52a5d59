// The guests' formatter (services/runtime/fmt.c) against the host C library's snprintf, the
// oracle: fmt.c is compiled natively with a harness (tests/support/formatter/harness.c) that
// formats every case of a generated table both ways, into buffers of four sizes, and compares the
// bytes and the returned lengths. The table is every defined combination of flags, width
// (number, '*' positive and negative) and precision (none, '.', numbers, '*' positive and
// negative) for each integer conversion at each length modifier, and for %c, %s and %p, over
// values at the edges of each type. Cases whose behaviour C leaves undefined ('#' on %d, '0' on
// %s, a precision on %c, ...) are left out: glibc's answer there is no rule to match.
// A sample of the same formats inside a real guest is in tests/sdk-probe.test.ts.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const execFileAsync = promisify(execFile);
const REPO = join(import.meta.dirname, '..');
const scratch = mkdtempSync(join(tmpdir(), 'hic-formatter-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

type ArgType = 'i' | 'u' | 'l' | 'L' | 's' | 'S' | 'p';
interface Case {
  readonly type: ArgType;
  readonly width: string; // '-' or the int a '*' takes
  readonly prec: string;
  readonly format: string;
  readonly value: string;
}

const INT_VALUES = ['0', '1', '-1', '7', '-42', '255', '256', '-129', '32767', '-32768', '65535', '123456789', '2147483647', '-2147483648'];
const UINT_VALUES = ['0', '1', '8', '255', '256', '4095', '65535', '65536', '2147483648', '4294967295'];
const LONG_VALUES = [...INT_VALUES, '9223372036854775807', '-9223372036854775808', '4294967296', '-1099511627776'];
const ULONG_VALUES = [...UINT_VALUES, '18446744073709551615', '9223372036854775808', '81985529216486895'];
const STRINGS = ['', 'a', 'hic', 'sandbox', 'a longer string, with spaces'];
const POINTERS = ['0', '1', '4096', '3735928559', '18446744073709551615'];

/** Every subset of the given flag characters, in a fixed order. */
function subsets(flags: string): string[] {
  const out: string[] = [];
  for (let m = 0; m < 1 << flags.length; m++) out.push([...flags].filter((_, i) => m & (1 << i)).join(''));
  return out;
}

/** Widths and precisions: [text in the format, the int a '*' takes or '-']. */
const WIDTHS: [string, string][] = [['', '-'], ['1', '-'], ['6', '-'], ['23', '-'], ['*', '9'], ['*', '-9'], ['*', '0']];
const PRECISIONS: [string, string][] = [['', '-'], ['.', '-'], ['.0', '-'], ['.1', '-'], ['.3', '-'], ['.21', '-'], ['.*', '5'], ['.*', '-3']];

function table(): Case[] {
  const cases: Case[] = [];
  const add = (conv: string, flags: string, type: ArgType, values: readonly string[], withPrecision: boolean) => {
    for (const f of subsets(flags)) {
      for (const [w, wStar] of WIDTHS) {
        for (const [p, pStar] of withPrecision ? PRECISIONS : PRECISIONS.slice(0, 1)) {
          for (const value of values) cases.push({ type, width: wStar, prec: pStar, format: `[%${f}${w}${p}${conv}]`, value });
        }
      }
    }
  };
  // Signed: '+' and ' ' apply, '#' is undefined. hh and h take an int and narrow it.
  for (const len of ['', 'hh', 'h']) for (const c of ['d', 'i']) add(len + c, '-+ 0', 'i', INT_VALUES, true);
  for (const len of ['l', 'll', 'j', 'z', 't']) add(len + 'd', '-+ 0', 'l', LONG_VALUES, true);
  add('li', '-+ 0', 'l', LONG_VALUES, true);
  // Unsigned: '#' applies to o, x, X.
  for (const len of ['', 'hh', 'h']) {
    add(len + 'u', '-0', 'u', UINT_VALUES, true);
    for (const c of ['o', 'x', 'X']) add(len + c, '-#0', 'u', UINT_VALUES, true);
  }
  for (const len of ['l', 'll', 'j', 'z', 't']) {
    add(len + 'u', '-0', 'L', ULONG_VALUES, true);
    for (const c of ['o', 'x', 'X']) add(len + c, '-#0', 'L', ULONG_VALUES, true);
  }
  add('c', '-', 'i', ['65', '122', '48', '32'], false);
  add('s', '-', 's', STRINGS, true);
  add('s', '-', 'S', ['(null)'], true);
  add('p', '-', 'p', POINTERS, false);
  // Text around conversions, '%%' and several conversions' worth of plain bytes.
  for (const format of ['plain text', '100%% sure', '%%d is not a conversion', 'x%%y%%z']) cases.push({ type: 'i', width: '-', prec: '-', format, value: '0' });
  return cases;
}

describe('hic_vsnprintf against the host snprintf', () => {
  it('agrees on every case of the generated table, at every buffer size, and on %n', async () => {
    const cases = table();
    expect(cases.length).toBeGreaterThan(50_000);
    const file = join(scratch, 'cases.tsv');
    writeFileSync(file, cases.map((c) => [c.type, c.width, c.prec, c.format, c.value].join('\t')).join('\n') + '\n');
    const exe = join(scratch, 'harness');
    // -iquote: fmt.c's "hic/runtime.h" comes from the tree, while the harness's <stdio.h> is the
    // host's (the guest headers of services/include must not shadow it). -Wno-format: the
    // harness passes formats that are not literals, deliberately.
    await execFileAsync('gcc', ['-O1', '-Wno-format', '-Wno-format-security', '-iquote', join(REPO, 'services', 'include'), join(REPO, 'services', 'runtime', 'fmt.c'), join(REPO, 'tests', 'support', 'formatter', 'harness.c'), '-o', exe]);
    const { stdout } = await execFileAsync(exe, [file], { maxBuffer: 16 << 20 }).catch((e: { stdout?: string; code?: number }) => ({ stdout: `${e.stdout ?? ''}(exit ${e.code})` }));
    expect(stdout.trim().split('\n').filter((l) => l.startsWith('MISMATCH')).slice(0, 20)).toEqual([]);
    expect(stdout.trim().split('\n').at(-1)).toBe(`cases ${cases.length * 4}, mismatches 0`);
  }, 120_000);
});
