// From sources to a .hicmod: compile (build.ts), link the ELF object into module content with the
// metadata of services/<name>/module.json (link.ts), encode — and, given keys, sign. The unsigned
// module is reproducible: the same sources give the same bytes.

import { readFileSync } from 'node:fs';
import type { ModuleContent } from '../../core0/module/format.ts';
import { BuildError, buildService, listServices, type BuildOptions } from '../build.ts';
import { linkModule } from '../link.ts';
import { encodeModule } from './encode.ts';
import { signModule, type SigningKeys } from './sign.ts';
import { readSpec, SpecError, type ModuleSpec } from './spec.ts';

/** Which library exports a symbol (a library's name, or undefined). */
export type Providers = (symbol: string) => string | undefined;

/**
 * Which library exports a symbol, from every library's module.json. A module.json that does not
 * read is that service's own build failure, not every module's: it is skipped here.
 */
export function libraryProviders(repoRoot: string, services: readonly string[] = listServices(repoRoot)): Providers {
  const bySymbol = new Map<string, string>();
  for (const name of services) {
    let spec: ModuleSpec;
    try {
      spec = readSpec(repoRoot, name);
    } catch (e) {
      if (e instanceof SpecError) continue;
      throw e;
    }
    if (spec.meta.kind === 'library') for (const e of spec.exports) bySymbol.set(e, spec.meta.name);
  }
  return (symbol) => bySymbol.get(symbol);
}

export interface BuiltModule {
  readonly content: ModuleContent;
  /** The unsigned .hicmod bytes (reproducible). */
  readonly unsigned: Uint8Array;
}

/** `provider`: libraryProviders, when the caller builds many modules (it reads every module.json). */
export function buildModule(repoRoot: string, service: string, options: BuildOptions & { readonly provider?: Providers } = {}): BuiltModule {
  const spec = readSpec(repoRoot, service);
  const { object } = buildService(repoRoot, service, options);
  const content = linkModule({ meta: spec.meta, elf: new Uint8Array(readFileSync(object)), exports: spec.exports, provider: options.provider ?? libraryProviders(repoRoot) });
  checkMemory(service, content);
  return { content, unsigned: encodeModule(content) };
}

const PAGE = 4096;
const size = (bytes: number) => (bytes >= 1 << 20 ? `${+(bytes / (1 << 20)).toFixed(2)} MiB` : `${+(bytes / 1024).toFixed(2)} KiB`);

/**
 * module.json's `memory` is what a sandbox running the service may be given at most; a service
 * whose own image does not fit in it could never start. The loader takes, from the quota, the
 * image, the configuration page (if any), an unmapped guard page and the stack (core0/lifecycle.ts,
 * load); at build time the stack's size is the image manifest's, so one page of it is counted.
 */
function checkMemory(service: string, c: ModuleContent): void {
  if (c.meta.kind !== 'service') return;
  const image = c.segments.reduce((n, s) => n + s.memSize, 0);
  const needed = image + (c.meta.config.length > 0 ? PAGE : 0) + 2 * PAGE;
  if (needed > c.meta.memory) {
    const parts = c.segments.map((s) => `${s.kind} ${size(s.memSize)}`).join(', ');
    throw new BuildError('BUILD_MEMORY_EXCEEDED', `services/${service}/module.json: memory: ${c.meta.memory} bytes (${size(c.meta.memory)}) is less than the ${needed} bytes (${size(needed)}) the module needs before its stack: an image of ${size(image)} (${parts})${c.meta.config.length > 0 ? ', a configuration page' : ''}, a guard page and at least one stack page`);
  }
}

export function buildSignedModule(repoRoot: string, service: string, keys: SigningKeys, time: number): Uint8Array {
  return signModule(buildModule(repoRoot, service).content, keys, time);
}

export const moduleFileName = (name: string, version: string) => `${name}-${version}.hicmod`;
