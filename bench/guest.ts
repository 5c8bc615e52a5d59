// The benchmarks' guest programs: raw x86-64 loops written as readable assembly in bench/guest/,
// assembled with GNU as into build/bench/ when the source is newer than the binary, and wrapped
// as a signed service module for the kernel. The native harness is handed the very same .bin file.

import { assembleFile } from '../hicmod-toolchain/asm.ts';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { rawServiceModule } from '../hicmod-toolchain/hicmod/raw.ts';
import type { ModuleContent } from '../core0/module/format.ts';

/** Instructions a program executes: fixed set-up and exit, plus a loop of known length. */
interface Shape {
  readonly fixed: number;
  readonly perIteration: number;
}

/** Must agree with the "Instructions executed" line at the top of each .s file. */
const SHAPES = {
  syscall: { fixed: 4, perIteration: 4 },
  registers: { fixed: 6, perIteration: 4 },
  stores: { fixed: 6, perIteration: 5 },
  yield: { fixed: 4, perIteration: 4 },
} as const satisfies Record<string, Shape>;

export type GuestName = keyof typeof SHAPES;

export interface GuestProgram {
  readonly name: GuestName;
  readonly iterations: number;
  /** The assembled .text bytes, as a file for the native harness. */
  readonly binPath: string;
  readonly bytes: Uint8Array;
  /** Instructions one run of the program executes, the exit syscall included. */
  readonly instructions: number;
  /** The program as module content; kernel-run.ts signs it with the workspace PKI. */
  readonly module: ModuleContent;
}

const newer = (a: string, b: string) => !existsSync(b) || statSync(a).mtimeMs > statSync(b).mtimeMs;

/** Assembles bench/guest/<name>.s with ITERATIONS defined, into build/bench/<name>-<iterations>.bin. */
export function guestProgram(repoRoot: string, name: GuestName, iterations: number): GuestProgram {
  if (!(Number.isInteger(iterations) && iterations > 0 && iterations < 2 ** 31)) throw new RangeError(`${name}: bad iteration count ${iterations}`);
  const source = join(repoRoot, 'bench', 'guest', `${name}.s`);
  const outDir = join(repoRoot, 'build', 'bench');
  const binPath = join(outDir, `${name}-${iterations}.bin`);
  if (newer(source, binPath)) {
    mkdirSync(outDir, { recursive: true });
    assembleFile(source, binPath, { ITERATIONS: iterations });
  }
  const bytes = new Uint8Array(readFileSync(binPath));
  const shape: Shape = SHAPES[name];
  return { name, iterations, binPath, bytes, instructions: shape.fixed + shape.perIteration * iterations, module: rawServiceModule({ name: `bench_${name}`, version: '1.0.0', uuid: '00000000-0000-4000-8000-00000000be00' }, bytes) };
}
