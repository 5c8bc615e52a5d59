// The benchmarks' guest programs: raw x86-64 loops written as readable assembly in bench/guest/,
// assembled with GNU as into build/bench/ when the source is newer than the binary, and wrapped
// as a ModuleImage for the kernel. The native harness is handed the very same .bin file.

import { assembleFile } from '../hicmod-toolchain/asm.ts';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PAGE, sha256, type ModuleImage } from '../core0/loader.ts';

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
  readonly image: ModuleImage;
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
  return { name, iterations, binPath, bytes, instructions: shape.fixed + shape.perIteration * iterations, image: moduleImage(`bench-${name}`, bytes) };
}

/** One executable text segment, entry at its first byte, no relocations: the code is position-independent. */
function moduleImage(name: string, bytes: Uint8Array): ModuleImage {
  const pages = Math.max(1, Math.ceil(bytes.length / PAGE));
  return {
    name,
    pages,
    segments: [{ name: 'text', offset: 0, pages, writable: false, executable: true }],
    bytes,
    relocations: [],
    entry: 0,
    sha256: sha256(bytes),
  };
}
