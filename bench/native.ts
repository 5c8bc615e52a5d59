// The native baseline: builds bench/native/harness.c against the system libunicorn (only when the
// source is newer than the binary) and runs it on a guest program's .bin, parsing its JSON.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BenchError, compileNative } from './kernel-run.ts';
import type { GuestProgram } from './guest.ts';

export interface NativeRun {
  readonly wallNs: number;
  readonly syscalls: number;
  readonly yields: number;
  readonly slices: number;
  /** Only with counter 'hook'. */
  readonly executed?: number;
}

export interface NativeReport {
  readonly unicorn: string;
  readonly engines: number;
  readonly budget: number;
  readonly counter: Counter;
  readonly runs: readonly NativeRun[];
}

/**
 * How the harness cuts runs into slices. 'uc': Unicorn's count = budget (the baseline). 'hook': HIC's
 * scheme, a C code hook counting every instruction, count = 0. 'none': no counting and no slices —
 * the emulator's ceiling, for reference only.
 */
export type Counter = 'uc' | 'hook' | 'none';

export interface NativeSpec {
  /** Engines running the program side by side, round-robin (2 for the switch benchmark). */
  readonly engines: number;
  readonly budget: number;
  readonly runs: number;
  readonly counter?: Counter;
}

export function buildHarness(repoRoot: string): string {
  const source = join(repoRoot, 'bench', 'native', 'harness.c');
  const binary = join(repoRoot, 'build', 'bench', 'harness');
  if (!existsSync(binary) || statSync(source).mtimeMs > statSync(binary).mtimeMs) {
    mkdirSync(join(repoRoot, 'build', 'bench'), { recursive: true });
    compileNative(['-O2', '-Wall', '-Wextra', '-Werror', '-o', binary, source, '-lunicorn'], 'bench/native/harness.c', 'gcc and libunicorn-dev');
  }
  return binary;
}

export function runNative(harness: string, program: GuestProgram, spec: NativeSpec): NativeReport {
  const args = ['--guest', program.binPath, '--engines', String(spec.engines), '--budget', String(spec.budget), '--runs', String(spec.runs), '--counter', spec.counter ?? 'uc'];
  let out: string;
  try {
    out = execFileSync(harness, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new BenchError(`native harness failed on ${program.name}: ${String((e as { stderr?: string }).stderr ?? e).trim()}`);
  }
  return JSON.parse(out) as NativeReport;
}
