// From sources to a .hicmod: compile (build.ts), link the ELF object into module content with the
// metadata of services/<name>/module.json (link.ts), encode — and, given keys, sign. The unsigned
// module is reproducible: the same sources give the same bytes.

import { readFileSync } from 'node:fs';
import type { ModuleContent } from '../../core0/module/format.ts';
import { buildService, listServices, type BuildOptions } from '../build.ts';
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
  return { content, unsigned: encodeModule(content) };
}

export function buildSignedModule(repoRoot: string, service: string, keys: SigningKeys, time: number): Uint8Array {
  return signModule(buildModule(repoRoot, service).content, keys, time);
}

export const moduleFileName = (name: string, version: string) => `${name}-${version}.hicmod`;
