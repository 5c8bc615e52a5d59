// The module source the CLI boots from for now: guest services built by the toolchain into
// build/services/<name>.o and linked into module images on demand.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModuleSource } from '../core0/boot.ts';
import { buildAll } from '../hicmod-toolchain/build.ts';
import { linkModule } from '../hicmod-toolchain/link.ts';

export function builtModules(repoRoot: string): ModuleSource {
  buildAll(repoRoot, { quiet: true }); // incremental: a stamp check when nothing changed
  const dir = join(repoRoot, 'build', 'services');
  const path = (name: string) => join(dir, `${name}.o`);
  return {
    load: (name) => (existsSync(path(name)) ? linkModule(name, readFileSync(path(name))) : undefined),
    describe: (name) => `build/services/${name}.o, built from services/${name}/`,
  };
}
