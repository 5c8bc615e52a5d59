// Bringing an image's sandboxes up on a kernel: every module is fetched and verified first —
// services and the libraries they depend on — so a missing or refused module stops the boot
// before any sandbox exists, and so does a configuration its module's signed declaration does not
// allow. Then libraries are loaded and sandboxes created and started in manifest order. A refusal
// from the kernel is reported against the manifest field it concerns.

import { Kernel, KernelError } from '../core0/kernel.ts';
import { ModuleError } from '../core0/module/errors.ts';
import type { ModuleSource } from '../core0/module/source.ts';
import { resolveConfig } from '../core0/module/values.ts';
import type { VerifiedModule } from '../core0/module/verify.ts';
import { ManifestError, type Manifest } from './manifest.ts';
import type { SystemStateEvent } from './state/system-state.ts';

export type { FetchedModule, ModuleSource } from '../core0/module/source.ts';

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

/**
 * Creates and starts every sandbox of the manifest, or none: on a refusal everything is shut down
 * again. `wallClock`, the date the module source judged expiry at, is recorded as the input it is;
 * so is `state`, what the machine's data directory said (system/state/).
 */
export function bootSandboxes(kernel: Kernel, manifest: Manifest, modules: ModuleSource, wallClock?: string, state?: SystemStateEvent): void {
  kernel.events.emit({ kind: 'boot', image: manifest.name });
  if (wallClock !== undefined) kernel.events.emit({ kind: 'wallClock', date: wallClock });
  // What the data directory said, and the bad marks it keeps, before any module is looked at.
  if (state) {
    kernel.events.emit(state);
    for (const mark of state.bad) {
      const at = mark.indexOf('@');
      kernel.modules.mark(mark.slice(0, at), mark.slice(at + 1), true, 'boot');
    }
    for (const gone of state.collected ?? []) {
      const at = gone.indexOf('@');
      kernel.modules.collect(gone.slice(0, at), gone.slice(at + 1), 'boot');
    }
  }
  manifest.sandboxes.forEach((s, i) => {
    if (!modules.fetch(s.module, s.version)) {
      throw new ManifestError(manifest.file, `sandboxes[${i}].module`, `no module "${s.module}" ${s.version} (looked in ${modules.describe(s.module)})`);
    }
  });
  const libraries = new Map<string, VerifiedModule>();
  const verified = manifest.sandboxes.map((s) => verifyClosure(kernel, modules, s.module, s.version, [], libraries));
  // Every sandbox's configuration against its module's signed declaration, before any sandbox exists.
  manifest.sandboxes.forEach((s, i) => {
    const r = resolveConfig(verified[i]!.meta.config, s.config);
    if ('error' in r) throw new ManifestError(manifest.file, `sandboxes[${i}].config.${r.key}`, r.error);
  });

  let i = 0;
  try {
    for (const lib of libraries.values()) kernel.modules.loadLibrary(lib);
    for (; i < manifest.sandboxes.length; i++) {
      const s = manifest.sandboxes[i]!;
      kernel.spawn({ name: s.name, quotaBytes: s.quota, budget: s.budget, stackBytes: s.stack, config: s.config, caps: s.caps }, verified[i]!);
    }
  } catch (e) {
    kernel.shutdown();
    if (e instanceof KernelError) throw new ManifestError(manifest.file, `sandboxes[${i}].${e.field}`, e.message);
    throw e;
  }
}
