// Booting an image: every module is fetched and verified first — services and the libraries they
// depend on — so a missing or refused module stops the boot before any sandbox exists. Then
// libraries are loaded, sandboxes created and started in manifest order, the kernel runs until
// idle or the manifest's time limit, whatever still runs is shut down, and the outcome is compared
// with the manifest's expectation.

import type { Machine } from '../emulator/types.ts';
import type { FaultKind } from '../emulator/fault.ts';
import type { StampedEvent } from './events.ts';
import { Kernel, KernelError } from './kernel.ts';
import { ManifestError, type Manifest } from './manifest.ts';
import { ModuleError } from './module/errors.ts';
import type { AuditLog } from './audit.ts';
import type { TrustStore, VerifiedModule } from './module/verify.ts';

/** A module file as a source hands it over. */
export interface FetchedModule {
  readonly bytes: Uint8Array;
  /** Where it came from, for messages: a repository path or a file. */
  readonly label: string;
  /** The signer the source vouches for (certificate SHA-256 fingerprint), if it records one. */
  readonly signer?: string;
}

/** Where modules come from: the trusted repository, or a directory of signed builds. */
export interface ModuleSource {
  /** The newest module `name` whose version satisfies `range`, or undefined when there is none. */
  fetch(name: string, range: string): FetchedModule | undefined;
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

/**
 * Verifies a module and, depth first, everything it depends on, collecting libraries in load
 * order (dependencies first). Nothing is loaded here: a refusal anywhere leaves no trace.
 */
function verifyClosure(kernel: Kernel, modules: ModuleSource, name: string, range: string, chain: readonly string[], libraries: Map<string, VerifiedModule>): VerifiedModule {
  if (chain.includes(name)) throw new ModuleError('DEPENDENCY_CYCLE', `dependency cycle: ${[...chain, name].join(' → ')}`);
  const f = modules.fetch(name, range);
  if (!f) throw new ModuleError('MODULE_NOT_FOUND', `no module ${name} ${range} (looked in ${modules.describe(name)})`);
  const v = kernel.modules.verify(f.bytes, f.label, { signer: f.signer });
  for (const d of v.meta.dependencies) {
    if (libraries.has(d.name)) continue;
    const dep = verifyClosure(kernel, modules, d.name, d.range, [...chain, name], libraries);
    if (dep.meta.kind === 'library') libraries.set(d.name, dep);
  }
  return v;
}

export interface BootOptions {
  readonly onEvent?: (e: StampedEvent) => void;
  readonly audit?: AuditLog;
  /** Called once every sandbox is running, before the clock starts: devices, scenario steps. */
  readonly beforeRun?: (kernel: Kernel) => void;
}

export function boot(manifest: Manifest, machine: Machine, modules: ModuleSource, trust: TrustStore, options: BootOptions = {}): BootResult {
  const kernel = new Kernel(machine, { trust, ...(options.audit ? { audit: options.audit } : {}) });
  const onEvent = options.onEvent;
  if (onEvent) kernel.events.subscribe(onEvent);
  kernel.events.emit({ kind: 'boot', image: manifest.name });

  manifest.sandboxes.forEach((s, i) => {
    if (!modules.fetch(s.module, s.version)) {
      throw new ManifestError(manifest.file, `sandboxes[${i}].module`, `no module "${s.module}" ${s.version} (looked in ${modules.describe(s.module)})`);
    }
  });
  const libraries = new Map<string, VerifiedModule>();
  const verified = manifest.sandboxes.map((s) => verifyClosure(kernel, modules, s.module, s.version, [], libraries));

  let i = 0;
  try {
    for (const lib of libraries.values()) kernel.modules.loadLibrary(lib);
    for (; i < manifest.sandboxes.length; i++) {
      const s = manifest.sandboxes[i]!;
      kernel.spawn({ name: s.name, quotaBytes: s.quota, budget: s.budget, stackBytes: s.stack, arg: s.arg, caps: s.caps }, verified[i]!);
    }
  } catch (e) {
    kernel.shutdown();
    if (e instanceof KernelError) throw new ManifestError(manifest.file, `sandboxes[${i}].quota`, e.message);
    throw e;
  }

  options.beforeRun?.(kernel);
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
