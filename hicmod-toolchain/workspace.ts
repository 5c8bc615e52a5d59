// The workspace: every service and library under services/ built into a signed .hicmod with the
// workspace's test PKI (build/pki, made on first use), and published into the workspace's trusted
// repository (build/repo), which is what images boot from. A module is re-signed only when its
// unsigned bytes or the signing certificates change, and the repository is republished only when
// what it holds differs from what was built (or its metadata nears expiry) — so boots of the same
// sources see the same files. The event log's hash does not depend on that: a fresh build (new
// keys, new signing times) hashes the same (core0/events.ts, provenance).
//
// Three promises:
//  - A service that does not build affects only the images that need it: the others are published,
//    and fetching the failed one names it and its build error (BUILD_FAILED).
//  - A rebuild killed at any moment leaves build/repo complete, old or new (repository/versioned.ts);
//    the next call repairs whatever is behind: it compares the repository with the builds, file by file.
//  - One process builds a workspace at a time (an flock on build/workspace.lock); the next waits.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { ModuleError } from '../core0/module/errors.ts';
import type { FetchedModule, ModuleSource } from '../core0/module/source.ts';
import type { TrustStore } from '../core0/module/verify.ts';
import { waitForLock } from '../emulator/flock.ts';
import { BuildError, listServices } from './build.ts';
import { ElfError } from './elf.ts';
import { buildModule, libraryProviders, moduleFileName } from './hicmod/module-build.ts';
import { signModule } from './hicmod/sign.ts';
import { readSpec, SpecError } from './hicmod/spec.ts';
import { crashPoint } from './crash-point.ts';
import { LinkError } from './link.ts';
import { identity, initPki, rootCertificate } from './pki/pki.ts';
import { Repository, publishVersioned, sha384Hex } from './repository/index.ts';

/** The repository is re-signed when its metadata would expire within this (boots judge it at the end of their UTC day). */
const REFRESH_MARGIN = 2 * 86_400_000;

export interface WorkspaceOptions {
  /** Where pki/, modules/, repo and repos/ go (default <repoRoot>/build). */
  readonly buildDir?: string;
  /** Build and publish only these services (default: every one under services/). */
  readonly services?: readonly string[];
  /** Where compiled objects go (default <buildDir>/services). */
  readonly objectDir?: string;
  /** Recompile even when nothing changed. */
  readonly force?: boolean;
  /** When modules and metadata are signed and freshness is judged (ms since 1970; default: the host clock). */
  readonly now?: number;
}

/** A service under services/ that did not build, and why. */
export interface BuildFailure {
  readonly service: string;
  /** Its module's name and version from module.json, when that much could be read. */
  readonly module: string;
  readonly version?: string;
  readonly code: string;
  readonly message: string;
}

export interface Workspace {
  readonly pkiDir: string;
  readonly repoDir: string;
  readonly trust: TrustStore;
  readonly repository: Repository;
  /** What images boot from: the repository, which names a module that failed to build and why. */
  readonly source: ModuleSource;
  /** Every module built from services/, in service order, and whether this call (re)signed it. */
  readonly modules: readonly { readonly name: string; readonly version: string; readonly rebuilt: boolean }[];
  readonly failures: readonly BuildFailure[];
  /** Modules the repository held before this call that no service under services/ makes any more
   * (its directory removed, or its module.json renamed or re-versioned): this call withdrew them. */
  readonly withdrawn: readonly { readonly name: string; readonly version: string }[];
  /** Whether this call published a new repository. */
  readonly published: boolean;
}

export function workspacePki(repoRoot: string, buildDir = join(repoRoot, 'build')): string {
  const dir = join(buildDir, 'pki');
  if (!existsSync(join(dir, 'root.cert.pem'))) initPki(dir, { organization: 'HIC Workspace Test PKI' });
  return dir;
}

export function workspace(repoRoot: string, options: WorkspaceOptions = {}): Workspace {
  const buildDir = options.buildDir ?? join(repoRoot, 'build');
  mkdirSync(buildDir, { recursive: true });
  const lock = waitForLock(join(buildDir, 'workspace.lock'));
  try {
    return build(repoRoot, buildDir, options);
  } finally {
    lock.release();
  }
}

/** The errors that mean "this service does not build"; anything else is a bug and propagates. */
const isBuildFailure = (e: unknown): e is Error & { code: string } =>
  e instanceof BuildError || e instanceof SpecError || e instanceof LinkError || e instanceof ElfError || e instanceof ModuleError;

function build(repoRoot: string, buildDir: string, options: WorkspaceOptions): Workspace {
  const pkiDir = workspacePki(repoRoot, buildDir);
  const modulesDir = join(buildDir, 'modules');
  const repoDir = join(buildDir, 'repo');
  mkdirSync(modulesDir, { recursive: true });
  const keys = { signer: identity(pkiDir, 'signer'), timestamp: identity(pkiDir, 'timestamp') };
  const objectDir = options.objectDir ?? join(buildDir, 'services');
  const now = options.now ?? Date.now();
  const files: string[] = [];
  const modules: { name: string; version: string; rebuilt: boolean }[] = [];
  const failures: BuildFailure[] = [];
  // Listed once, and the libraries' exports read once, for every module below.
  const services = listServices(repoRoot);
  const provider = libraryProviders(repoRoot, services);
  for (const service of options.services ?? services) {
    let module = service;
    let version: string | undefined;
    try {
      ({ name: module, version } = readSpec(repoRoot, service).meta);
      const built = buildModule(repoRoot, service, { outDir: objectDir, services, provider, ...(options.force ? { force: true } : {}) });
      const file = join(modulesDir, moduleFileName(module, version));
      const stampFile = file + '.stamp';
      // The signing certificates are part of the stamp: a new PKI means every module is re-signed.
      const stamp = createHash('sha256').update(built.unsigned).update(keys.signer.cert.raw).update(keys.timestamp.cert.raw).digest('hex');
      const stale = !existsSync(file) || !existsSync(stampFile) || readFileSync(stampFile, 'utf8') !== stamp;
      if (stale) {
        // Module before stamp, each by rename: a kill between them leaves a stale stamp, which
        // only means the module is signed again next time.
        writeAtomic(file, signModule(built.content, keys, now));
        writeAtomic(stampFile, stamp);
      }
      modules.push({ name: module, version, rebuilt: stale });
      files.push(file);
    } catch (e) {
      if (!isBuildFailure(e)) throw e;
      failures.push({ service, module, ...(version ? { version } : {}), code: e.code, message: e.message });
    }
  }
  const trust = { roots: [rootCertificate(pkiDir)] };
  const bytes = files.map((f) => new Uint8Array(readFileSync(f)));
  const current = openCurrent(repoDir, trust);
  // What the repository held that nothing here builds or tried to: gone from services/ (a failed
  // build is reported as a failure, not as withdrawn). A build of some services only withdraws nothing.
  const made = new Set([...modules.map((m) => `${m.name}@${m.version}`), ...failures.map((f) => `${f.module}@${f.version}`)]);
  const withdrawn = options.services || !current ? [] : current.names().flatMap((name) => current.versions(name).map((version) => ({ name, version }))).filter((m) => !made.has(`${m.name}@${m.version}`));
  const published = !current || !holdsExactly(current, modules, bytes) || !freshUntil(current, now + REFRESH_MARGIN);
  if (published) publishVersioned(repoDir, pkiDir, bytes, now, current?.state, { labels: files });
  const repository = Repository.open(repoDir, trust);
  return { pkiDir, repoDir, trust, repository, source: withBuildFailures(repository, failures), modules, failures, withdrawn, published };
}

function writeAtomic(file: string, data: Uint8Array | string): void {
  writeFileSync(`${file}.tmp`, data);
  crashPoint(`${file.split('/').pop()} written`);
  renameSync(`${file}.tmp`, file);
  crashPoint(`${file.split('/').pop()} in place`);
}

/** The repository build/repo names now, if it opens at all (a missing or broken one is replaced). */
function openCurrent(repoDir: string, trust: TrustStore): Repository | undefined {
  try {
    return Repository.open(repoDir, trust);
  } catch (e) {
    if (e instanceof ModuleError) return undefined;
    throw e;
  }
}

/** The repository holds these modules and no others, each file intact and byte for byte the build's. */
function holdsExactly(repo: Repository, modules: readonly { name: string; version: string }[], bytes: readonly Uint8Array[]): boolean {
  const held = repo.names().flatMap((n) => repo.versions(n).map((v) => `${n}@${v}`));
  if (held.length !== modules.length) return false;
  return modules.every((m, i) => {
    if (repo.metadata(m.name, m.version)?.sha384 !== sha384Hex(bytes[i]!)) return false;
    try {
      repo.read(m.name, m.version);
      return true;
    } catch (e) {
      if (e instanceof ModuleError) return false;
      throw e;
    }
  });
}

function freshUntil(repo: Repository, time: number): boolean {
  return Object.values(repo.state.expires).every((iso) => Date.parse(iso) > time);
}

/** The first line of a build error that says what is wrong (gcc's "error:" line), for one-line messages. */
export function buildErrorLine(f: BuildFailure): string {
  const lines = f.message.split('\n');
  return (lines.find((l) => /\berror\b/.test(l) && l !== lines[0]) ?? lines[0]!).trim();
}

/** A module source that can say which version it would hand over (Repository, TrustedRepository). */
export type VersionedSource = ModuleSource & { latest(name: string, range: string): string | undefined };

/** `source` as images see it: a module whose build failed is an error that names it and the error. */
export function withBuildFailures(source: VersionedSource, failures: readonly BuildFailure[]): ModuleSource {
  return failures.length === 0 ? source : new WorkspaceSource(source, failures);
}

class WorkspaceSource implements ModuleSource {
  constructor(
    private readonly repository: VersionedSource,
    private readonly failures: readonly BuildFailure[],
  ) {}

  fetch(name: string, range: string): FetchedModule | undefined {
    const have = this.repository.latest(name, range);
    // A failed build the range admits, newer than anything published, is what was asked for.
    const failed = this.failures.find((f) => f.module === name && (f.version === undefined || (semver.satisfies(f.version, range) && (have === undefined || semver.gt(f.version, have)))));
    if (failed) {
      throw new BuildError('BUILD_FAILED', `module ${name}${failed.version ? ` ${failed.version}` : ''} did not build (services/${failed.service}): ${buildErrorLine(failed)}; \`hic build\` shows the whole error`);
    }
    return this.repository.fetch(name, range);
  }

  describe(name: string): string {
    return this.repository.describe(name);
  }
}
