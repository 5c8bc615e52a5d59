// Booting an image: every module is resolved first (a missing one is a manifest error before
// anything runs), then sandboxes are created and started in manifest order, the kernel runs until
// idle or the manifest's time limit, whatever still runs is shut down, and the outcome is
// compared with the manifest's expectation.

import type { Machine } from '../emulator/types.ts';
import { Kernel, KernelError } from './kernel.ts';
import type { ModuleImage } from './loader.ts';
import { ManifestError, type Manifest } from './manifest.ts';
import type { StampedEvent } from './events.ts';
import type { FaultKind } from '../emulator/fault.ts';

/** Where modules come from: the toolchain's build output today, the signed repository later. */
export interface ModuleSource {
  /** The module's image, or undefined when there is no such module. Throws on a malformed one. */
  load(name: string): ModuleImage | undefined;
  describe(name: string): string;
}

export interface Outcome {
  readonly exits: Record<string, number>;
  readonly faults: Record<string, FaultKind>;
}

export interface BootResult {
  readonly kernel: Kernel;
  readonly halt: 'idle' | 'timeLimit';
  readonly outcome: Outcome;
  /** One line per way the outcome differs from the manifest's expectation. */
  readonly deviations: string[];
}

export function boot(manifest: Manifest, machine: Machine, modules: ModuleSource, onEvent?: (e: StampedEvent) => void): BootResult {
  const images = manifest.sandboxes.map((s, i) => {
    const m = modules.load(s.module);
    if (!m) throw new ManifestError(manifest.file, `sandboxes[${i}].module`, `no module "${s.module}" (looked for ${modules.describe(s.module)})`);
    return m;
  });

  const kernel = new Kernel(machine);
  if (onEvent) kernel.events.subscribe(onEvent);
  kernel.events.emit({ kind: 'boot', image: manifest.name });
  manifest.sandboxes.forEach((s, i) => {
    const sandbox = kernel.createSandbox({ name: s.name, quotaBytes: s.quota, budget: s.budget });
    try {
      kernel.start(sandbox, images[i]!, { stackBytes: s.stack, arg: s.arg });
    } catch (e) {
      kernel.shutdown();
      if (e instanceof KernelError) throw new ManifestError(manifest.file, `sandboxes[${i}].quota`, e.message);
      throw e;
    }
  });

  const halt = kernel.run(manifest.until);
  kernel.shutdown();

  const outcome: Outcome = { exits: {}, faults: {} };
  for (const e of kernel.events.of('exit')) outcome.exits[e.sandbox] = e.status;
  for (const e of kernel.events.of('fault')) outcome.faults[e.sandbox] = e.fault.kind;
  return { kernel, halt, outcome, deviations: compare(manifest, outcome) };
}

function compare(m: Manifest, o: Outcome): string[] {
  if (!m.expect) return [];
  const out: string[] = [];
  for (const [name, status] of Object.entries(m.expect.exits)) {
    if (o.exits[name] !== status) out.push(`${name}: expected exit ${status}, ${o.exits[name] === undefined ? 'it did not exit' : `it exited ${o.exits[name]}`}`);
  }
  for (const [name, kind] of Object.entries(m.expect.faults)) {
    if (o.faults[name] !== kind) out.push(`${name}: expected fault ${kind}, ${o.faults[name] === undefined ? 'it did not fault' : `got ${o.faults[name]}`}`);
  }
  for (const name of Object.keys(o.faults)) {
    if (!(name in m.expect.faults)) out.push(`${name}: unexpected fault ${o.faults[name]}`);
  }
  return out;
}
