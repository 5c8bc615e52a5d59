// The workspace's modules: every service and library under services/ built into a signed .hicmod
// with the workspace's test PKI (build/pki, made on first use), kept in build/modules/. A module is
// re-signed only when its unsigned bytes change, so boots of the same sources see the same files.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModuleSource } from '../core0/boot.ts';
import type { TrustStore } from '../core0/module/verify.ts';
import semver from 'semver';
import { listServices } from '../hicmod-toolchain/build.ts';
import { buildModule, moduleFileName } from '../hicmod-toolchain/hicmod/module-build.ts';
import { signModule } from '../hicmod-toolchain/hicmod/sign.ts';
import { identity, initPki, rootCertificate } from '../hicmod-toolchain/pki/pki.ts';

export interface Workspace {
  readonly pkiDir: string;
  readonly modulesDir: string;
  readonly trust: TrustStore;
  /** name → version → signed module file path */
  readonly files: ReadonlyMap<string, ReadonlyMap<string, string>>;
}

export function workspacePki(repoRoot: string): string {
  const dir = join(repoRoot, 'build', 'pki');
  if (!existsSync(join(dir, 'root.cert.pem'))) initPki(dir, { organization: 'HIC Workspace Test PKI' });
  return dir;
}

export function workspace(repoRoot: string): Workspace {
  const pkiDir = workspacePki(repoRoot);
  const modulesDir = join(repoRoot, 'build', 'modules');
  mkdirSync(modulesDir, { recursive: true });
  const keys = { signer: identity(pkiDir, 'signer'), timestamp: identity(pkiDir, 'timestamp') };
  const files = new Map<string, Map<string, string>>();
  for (const service of listServices(repoRoot)) {
    const built = buildModule(repoRoot, service);
    const { name, version } = built.content.meta;
    const file = join(modulesDir, moduleFileName(name, version));
    const stampFile = file + '.stamp';
    const stamp = createHash('sha256').update(built.unsigned).digest('hex');
    if (!existsSync(file) || !existsSync(stampFile) || readFileSync(stampFile, 'utf8') !== stamp) {
      writeFileSync(file, signModule(built.content, keys, Date.now()));
      writeFileSync(stampFile, stamp);
    }
    files.set(name, new Map([...(files.get(name) ?? []), [version, file]]));
  }
  return { pkiDir, modulesDir, trust: { roots: [rootCertificate(pkiDir)] }, files };
}

/** A module source over the workspace's signed builds. */
export function workspaceModules(ws: Workspace): ModuleSource {
  return {
    fetch(name, range) {
      const versions = ws.files.get(name);
      const best = versions ? semver.maxSatisfying([...versions.keys()], range) : null;
      if (!versions || !best) return undefined;
      const path = versions.get(best)!;
      return { bytes: new Uint8Array(readFileSync(path)), label: `build/modules/${moduleFileName(name, best)}` };
    },
    describe: (name) => `build/modules/${name}-*.hicmod, built from services/${name}/`,
  };
}

