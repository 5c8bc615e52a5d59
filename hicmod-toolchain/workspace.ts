// The workspace: every service and library under services/ built into a signed .hicmod with the
// workspace's test PKI (build/pki, made on first use), and published into the workspace's trusted
// repository (build/repo), which is what images boot from. A module is re-signed only when its
// unsigned bytes change, and the repository is rebuilt only then — so boots of the same sources
// see the same files and the same event log.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TrustStore } from '../core0/module/verify.ts';
import { listServices } from './build.ts';
import { buildModule, moduleFileName } from './hicmod/module-build.ts';
import { signModule } from './hicmod/sign.ts';
import { identity, initPki, rootCertificate } from './pki/pki.ts';
import { Repository, initRepository, publish } from './repository/index.ts';

export interface Workspace {
  readonly pkiDir: string;
  readonly repoDir: string;
  readonly trust: TrustStore;
  readonly repository: Repository;
  /** Every module built from services/, in service order, and whether this call (re)signed it. */
  readonly modules: readonly { readonly name: string; readonly version: string; readonly rebuilt: boolean }[];
}

export function workspacePki(repoRoot: string): string {
  const dir = join(repoRoot, 'build', 'pki');
  if (!existsSync(join(dir, 'root.cert.pem'))) initPki(dir, { organization: 'HIC Workspace Test PKI' });
  return dir;
}

export function workspace(repoRoot: string): Workspace {
  const pkiDir = workspacePki(repoRoot);
  const modulesDir = join(repoRoot, 'build', 'modules');
  const repoDir = join(repoRoot, 'build', 'repo');
  mkdirSync(modulesDir, { recursive: true });
  const keys = { signer: identity(pkiDir, 'signer'), timestamp: identity(pkiDir, 'timestamp') };
  const files: string[] = [];
  const modules: { name: string; version: string; rebuilt: boolean }[] = [];
  for (const service of listServices(repoRoot)) {
    const built = buildModule(repoRoot, service);
    const { name, version } = built.content.meta;
    const file = join(modulesDir, moduleFileName(name, version));
    const stampFile = file + '.stamp';
    const stamp = createHash('sha256').update(built.unsigned).digest('hex');
    const stale = !existsSync(file) || !existsSync(stampFile) || readFileSync(stampFile, 'utf8') !== stamp;
    if (stale) {
      writeFileSync(file, signModule(built.content, keys, Date.now()));
      writeFileSync(stampFile, stamp);
    }
    modules.push({ name, version, rebuilt: stale });
    files.push(file);
  }
  const trust = { roots: [rootCertificate(pkiDir)] };
  // The workspace repository is derived from the builds: a changed module (same version, new
  // bytes) would be refused by a real repository, so here the repository is made anew.
  if (modules.some((m) => m.rebuilt) || !existsSync(join(repoDir, 'metadata', 'timestamp.json'))) {
    rmSync(repoDir, { recursive: true, force: true });
    const now = Date.now();
    initRepository(repoDir, pkiDir, now);
    publish(repoDir, pkiDir, files.map((f) => new Uint8Array(readFileSync(f))), now, { labels: files });
  }
  return { pkiDir, repoDir, trust, repository: Repository.open(repoDir, trust), modules };
}
