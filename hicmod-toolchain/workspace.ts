// The workspace: every service and library under services/ built into a signed .hicmod with the
// workspace's test PKI (build/pki, made on first use), and published into the workspace's trusted
// repository (build/repo), which is what images boot from. A module is re-signed only when its
// unsigned bytes or the signing certificates change, and the repository is rebuilt only then — so
// boots of the same sources see the same files. The event log's hash does not depend on that: a
// fresh build (new keys, new signing times) hashes the same (core0/events.ts, provenance).

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

export interface WorkspaceOptions {
  /** Where the PKI, objects, modules and repository go (default <repoRoot>/build). */
  readonly buildDir?: string;
  /** Build and publish only these services (default: every one under services/). */
  readonly services?: readonly string[];
}

export function workspacePki(repoRoot: string, buildDir = join(repoRoot, 'build')): string {
  const dir = join(buildDir, 'pki');
  if (!existsSync(join(dir, 'root.cert.pem'))) initPki(dir, { organization: 'HIC Workspace Test PKI' });
  return dir;
}

export function workspace(repoRoot: string, opts: WorkspaceOptions = {}): Workspace {
  const buildDir = opts.buildDir ?? join(repoRoot, 'build');
  const pkiDir = workspacePki(repoRoot, buildDir);
  const modulesDir = join(buildDir, 'modules');
  const repoDir = join(buildDir, 'repo');
  mkdirSync(modulesDir, { recursive: true });
  const keys = { signer: identity(pkiDir, 'signer'), timestamp: identity(pkiDir, 'timestamp') };
  const files: string[] = [];
  const modules: { name: string; version: string; rebuilt: boolean }[] = [];
  for (const service of opts.services ?? listServices(repoRoot)) {
    const built = buildModule(repoRoot, service, join(buildDir, 'services'));
    const { name, version } = built.content.meta;
    const file = join(modulesDir, moduleFileName(name, version));
    const stampFile = file + '.stamp';
    // The signing certificates are part of the stamp: a new PKI means every module is re-signed.
    const stamp = createHash('sha256').update(built.unsigned).update(keys.signer.cert.raw).update(keys.timestamp.cert.raw).digest('hex');
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
