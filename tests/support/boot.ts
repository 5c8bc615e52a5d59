// Boots an image from images/ on a fresh machine with the real toolchain output, for tests that
// look at a whole run: its event log, its outcome, and the machine afterwards.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { boot, type BootResult } from '../../core0/boot.ts';
import { parseManifest } from '../../core0/manifest.ts';
import { UnicornMachine } from '../../emulator/machine.ts';
import { workspace } from '../../cli/modules.ts';
import { DEVICE_FACTORIES } from '../../emulator/device.ts';

export const REPO = join(import.meta.dirname, '..', '..');

export interface Booted extends BootResult {
  readonly machine: UnicornMachine;
}

/** Boots images/<name>.himg; the caller disposes the machine. */
export async function bootImage(name: string): Promise<Booted> {
  const file = join('images', `${name}.himg`);
  const manifest = parseManifest(file, readFileSync(join(REPO, file), 'utf8'));
  const machine = await UnicornMachine.create({ memoryBytes: manifest.memory, devices: manifest.devices.map((d) => DEVICE_FACTORIES[d]!()) });
  const ws = workspace(REPO);
  return { ...boot(manifest, machine, ws.repository, ws.trust), machine };
}
