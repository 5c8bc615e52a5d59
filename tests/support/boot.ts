// Boots an image from images/ on a fresh machine with the real toolchain output, through the
// one assembly path (system/run-image.ts), for tests that look at a whole run: its event log,
// its outcome, and the machine afterwards.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kernel } from '../../core0/kernel.ts';
import type { UnicornMachine } from '../../emulator/machine.ts';
import { workspace, type Workspace } from '../../hicmod-toolchain/workspace.ts';
import { parseManifest, type Manifest } from '../../system/manifest.ts';
import { System, type RunResult, type SystemOptions } from '../../system/run-image.ts';
import type { UpdateAccount } from '../../system/update/outcome.ts';
import type { TrafficSummary } from '../../traffic/summary.ts';
import { SystemState } from '../../system/state/system-state.ts';
import { expectEveryCut, journalOf } from './journal.ts';

export const REPO = join(import.meta.dirname, '..', '..');

let built: Workspace | undefined;

/**
 * The workspace (build/: every module built, signed and published), brought up to date by the
 * first call in a test process and the same object after that: nothing changes the sources while
 * tests run, and each check of ~30 modules costs a quarter of a second or more.
 */
export function builtWorkspace(): Workspace {
  return (built ??= workspace(REPO));
}

export interface Booted extends RunResult {
  readonly system: System;
  readonly kernel: Kernel;
  readonly machine: UnicornMachine;
}

/** images/<name>.himg, or a manifest object (validated as a file would be, named by `label`). */
export function loadManifest(source: string | { label: string; image: object }): Manifest {
  if (typeof source !== 'string') return parseManifest(source.label, JSON.stringify(source.image));
  const file = join('images', `${source}.himg`);
  return parseManifest(file, readFileSync(join(REPO, file), 'utf8'));
}

export type StageOptions = Omit<SystemOptions, 'modules' | 'trust'>;

/** Creates every sandbox of the manifest on a fresh machine, not yet run; the caller disposes it. */
export async function stage(source: string | { label: string; image: object }, options: StageOptions = {}): Promise<System> {
  const ws = builtWorkspace();
  return System.assemble(loadManifest(source), { modules: ws.source, trust: ws.trust, ...options });
}

/** Boots and runs an image to its end; the caller disposes the machine. */
export async function bootImage(source: string | { label: string; image: object }, options: StageOptions = {}): Promise<Booted> {
  const system = await stage(source, options);
  try {
    const result = await system.run();
    return { ...result, system, kernel: system.kernel, machine: system.machine };
  } catch (e) {
    system.dispose();
    throw e;
  }
}

/** An update image booted to its end, with what the update tests read of it: the traffic summary
 * and the first update's account. It boots with a data directory of its own, and the journal the
 * run leaves there is checked at every cut: a host dead after any of its entries would come back
 * as the update's last committed step says (support/journal.ts). */
export async function bootUpdate(source: string): Promise<{ run: Booted; summary: TrafficSummary; account: UpdateAccount }> {
  const run = await bootJournaled(source);
  return { run, summary: run.system.traffic!.generator.summary(), account: run.system.updates.all[0]! };
}

/** An image with updates booted to its end with a data directory of its own, and the journal the
 * run left there checked at every cut for the service its first update names (support/journal.ts). */
export async function bootJournaled(source: string): Promise<Booted> {
  const data = mkdtempSync(join(tmpdir(), 'hic-update-'));
  const state = SystemState.open(data);
  let run: Booted;
  try {
    run = await bootImage(source, { state });
  } finally {
    state.close();
  }
  const journal = journalOf(data);
  rmSync(data, { recursive: true, force: true });
  const account = run.system.updates.all[0]!;
  const service = run.system.manifest.sandboxes.find((s) => s.module === account.service)!;
  expectEveryCut(journal, account.service, service.version);
  return run;
}

