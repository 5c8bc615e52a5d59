// Boots a manifest the way core0/boot.ts does -- every module verified first, libraries loaded,
// sandboxes spawned in manifest order -- but stops before the run, so a test can act as the host
// in virtual time (switch a registry alias, raise an interrupt stream) with kernel.at(...) and
// then run to the end. The manifest is an images/*.himg file or an object written in the test.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Outcome } from '../../core0/boot.ts';
import { Kernel, type HaltReason } from '../../core0/kernel.ts';
import { parseManifest, type Manifest } from '../../core0/manifest.ts';
import type { VerifiedModule } from '../../core0/module/verify.ts';
import { UnicornMachine } from '../../emulator/machine.ts';
import { workspace } from '../../cli/modules.ts';
import { REPO } from './boot.ts';
import { DEVICE_FACTORIES } from '../../emulator/device.ts';

export interface Staged {
  readonly kernel: Kernel;
  readonly machine: UnicornMachine;
  readonly manifest: Manifest;
  /** Runs to the manifest's time limit (or idle), shuts everything down, reports the outcome. */
  finish(): Finished;
}

export interface Finished {
  readonly halt: HaltReason;
  readonly outcome: Outcome;
  /** One line per way the outcome differs from the manifest's expectation. */
  readonly deviations: string[];
}

/** images/<name>.himg, or a manifest object (validated as a file would be, named by `label`). */
export function loadManifest(source: string | { label: string; image: object }): Manifest {
  if (typeof source !== 'string') return parseManifest(source.label, JSON.stringify(source.image));
  const file = join('images', `${source}.himg`);
  return parseManifest(file, readFileSync(join(REPO, file), 'utf8'));
}

/** Creates every sandbox of the manifest, not yet run; the caller disposes the machine. */
export async function stage(source: string | { label: string; image: object }): Promise<Staged> {
  const manifest = loadManifest(source);
  const machine = await UnicornMachine.create({ memoryBytes: manifest.memory, devices: manifest.devices.map((d) => DEVICE_FACTORIES[d]!()) });
  const ws = workspace(REPO);
  const kernel = new Kernel(machine, { trust: ws.trust });
  kernel.events.emit({ kind: 'boot', image: manifest.name });

  const libraries = new Map<string, VerifiedModule>();
  const verify = (name: string, range: string): VerifiedModule => {
    const f = ws.repository.fetch(name, range);
    if (!f) throw new Error(`no module ${name} ${range} in the workspace repository (run: node bin/hic.mjs build)`);
    const v = kernel.modules.verify(f.bytes, f.label, { signer: f.signer });
    for (const d of v.meta.dependencies) {
      if (libraries.has(d.name)) continue;
      const dep = verify(d.name, d.range);
      if (dep.meta.kind === 'library') libraries.set(d.name, dep);
    }
    return v;
  };
  const verified = manifest.sandboxes.map((s) => verify(s.module, s.version));
  for (const lib of libraries.values()) kernel.modules.loadLibrary(lib);
  manifest.sandboxes.forEach((s, i) => {
    kernel.spawn({ name: s.name, quotaBytes: s.quota, budget: s.budget, stackBytes: s.stack, arg: s.arg, caps: s.caps }, verified[i]!);
  });

  return {
    kernel,
    machine,
    manifest,
    finish() {
      const halt = kernel.run(manifest.until);
      kernel.shutdown();
      const outcome: Outcome = { exits: {}, faults: {} };
      for (const e of kernel.events.of('exit')) outcome.exits[e.sandbox] = e.status;
      for (const e of kernel.events.of('fault')) outcome.faults[e.sandbox] = e.fault.kind;
      return { halt, outcome, deviations: compare(manifest, outcome) };
    },
  };
}

function compare(m: Manifest, o: Outcome): string[] {
  const out: string[] = [];
  for (const [name, status] of Object.entries(m.expect?.exits ?? {})) {
    if (o.exits[name] !== status) out.push(`${name}: expected exit ${status}, got ${o.exits[name] ?? 'no exit'}`);
  }
  for (const [name, kind] of Object.entries(m.expect?.faults ?? {})) {
    if (o.faults[name] !== kind) out.push(`${name}: expected fault ${kind}, got ${o.faults[name] ?? 'no fault'}`);
  }
  for (const name of Object.keys(o.faults)) if (!(name in (m.expect?.faults ?? {}))) out.push(`${name}: unexpected fault ${o.faults[name]}`);
  return out;
}

/** The console lines one sandbox wrote, with their virtual times. */
export function consoleOf(kernel: Kernel, sandbox: string): { t: number; text: string }[] {
  return kernel.events.of('console').filter((e) => e.sandbox === sandbox).map((e) => ({ t: e.t, text: e.text }));
}

/** rpc_client's summary line, parsed. */
export interface RpcSummary {
  calls: number;
  answered: number;
  v1: number;
  v2: number;
  lost: number;
  duplicated: number;
  bad: number;
}

export function rpcSummary(kernel: Kernel, sandbox = 'rpc_client'): RpcSummary | undefined {
  const re = /^rpc_client: (\d+) calls, (\d+) answered, v1 (\d+), v2 (\d+), lost (\d+), duplicated (\d+), bad (\d+)$/;
  for (const { text } of consoleOf(kernel, sandbox)) {
    const m = re.exec(text);
    if (m) {
      const [calls, answered, v1, v2, lost, duplicated, bad] = m.slice(1).map(Number) as [number, number, number, number, number, number, number];
      return { calls, answered, v1, v2, lost, duplicated, bad };
    }
  }
  return undefined;
}
