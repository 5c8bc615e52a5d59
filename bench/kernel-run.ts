// The TypeScript side of every benchmark: one run of guest programs through the real kernel path —
// a fresh UnicornMachine and Kernel, one sandbox per program, k.start, then k.run() timed with
// the host's monotonic clock. Only k.run() is timed; creating engines and loading is not.

import { execFileSync } from 'node:child_process';
import { Kernel } from '../core0/kernel.ts';
import { UnicornMachine } from '../emulator/machine.ts';
import { signModule } from '../hicmod-toolchain/hicmod/sign.ts';
import { identity, rootCertificate } from '../hicmod-toolchain/pki/pki.ts';
import { workspacePki } from '../hicmod-toolchain/workspace.ts';
import type { GuestProgram } from './guest.ts';

export class BenchError extends Error {
  readonly code = 'HIC_BENCH_FAILED';
}

/**
 * Compiles a native baseline with gcc, its messages on this process's stderr. What failed is said
 * apart: no compiler at all (set-up installs it), or the compiler's own error, printed above.
 */
export function compileNative(args: readonly string[], what: string, needs = 'gcc'): void {
  try {
    execFileSync('gcc', args, { stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new BenchError(`building ${what}: gcc is not installed (needs ${needs}: npm run setup)`);
    throw new BenchError(`building ${what} failed: the compiler says why above`);
  }
}

export interface KernelRun {
  readonly wallNs: number;
  /** Instructions executed in all sandboxes, recovered from the virtual clock (cost model). */
  readonly instructions: number;
}

export interface KernelRunSpec {
  /** One sandbox per entry, started in this order (the scheduler runs them round-robin). */
  readonly programs: readonly GuestProgram[];
  /** Instructions per time slice. */
  readonly budget: number;
  /** Syscalls the programs make in total, to take the syscall charge off the clock. */
  readonly syscalls: number;
  /** Wall milliseconds between turns of the host's event loop (Kernel.run); default the kernel's. */
  readonly sliceMs?: number;
}

export async function runOnKernel(repoRoot: string, spec: KernelRunSpec): Promise<KernelRun> {
  const pki = workspacePki(repoRoot);
  const keys = { signer: identity(pki, 'signer'), timestamp: identity(pki, 'timestamp') };
  const machine = await UnicornMachine.create({ memoryBytes: 64 * 1024 * 1024 });
  try {
    const k = new Kernel(machine, { trust: { roots: [rootCertificate(pki)] } });
    spec.programs.forEach((p, i) => {
      k.spawn({ name: `bench-${i}`, quotaBytes: 1 << 20, budget: spec.budget, stackBytes: 16384 }, k.modules.verify(signModule(p.module, keys, Date.now()), p.name));
    });
    const t0 = process.hrtime.bigint();
    const halt = await k.run(undefined, spec.sliceMs === undefined ? {} : { sliceMs: spec.sliceMs });
    const wallNs = Number(process.hrtime.bigint() - t0);

    const faults = k.events.of('fault');
    if (faults.length > 0) throw new BenchError(`guest fault in ${faults[0]!.sandbox}: ${JSON.stringify(faults[0]!.fault)}`);
    const exits = k.events.of('exit');
    if (halt !== 'idle' || exits.length !== spec.programs.length || exits.some((e) => e.status !== 0)) {
      throw new BenchError(`kernel halted '${halt}' with ${exits.length} of ${spec.programs.length} sandboxes exited`);
    }
    // clock = instructions * instructionNs + syscalls * syscallNs, by the CPU's cost model.
    const { instructionNs, syscallNs } = machine.costs;
    return { wallNs, instructions: (machine.clock.now - spec.syscalls * syscallNs) / instructionNs };
  } finally {
    machine.dispose();
  }
}
