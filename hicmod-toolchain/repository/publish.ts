// The publishing side of the module repository: create an empty signed repository, and add signed
// modules to one. Everything is decided first — the existing repository verified, every module
// verified against the PKI's root, every conflict found, the new metadata signed and verified as a
// client would — and only then is anything written. A refused publish leaves the directory as it
// was.
//
// Writes are ordered modules, targets.json, snapshot.json, timestamp.json, each by rename: a crash
// midway leaves metadata that no longer pins together, which clients refuse (BAD_REPOSITORY), never
// a repository that vouches for files it did not check. To have the old repository or the new one
// whatever happens, publish into a new directory and switch to it (versioned.ts, which the
// workspace uses).

import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import semver from 'semver';
import { ModuleError, fail } from '../../core0/module/errors.ts';
import { verifyModule, type TrustStore } from '../../core0/module/verify.ts';
import { crashPoint } from '../crash-point.ts';
import { identity, rootCertificate } from '../pki/pki.ts';
import { METADATA_ROLES, encodeEnvelope, metadataPath, sha384Hex, signEnvelope, signingRole, type MetadataRole } from './metadata.ts';
import { Repository, verifyMetadata, type MetadataFiles, type RepositoryState } from './repository.ts';
import type { SnapshotSigned, TargetEntry, TargetsSigned, TimestampSigned } from './schema.ts';

const DAY = 86_400_000;
/** How long each role's metadata stays valid: the index long, the freshness statement briefly. */
export const DEFAULT_LIFETIMES: Readonly<Record<MetadataRole, number>> = { targets: 365 * DAY, snapshot: 30 * DAY, timestamp: 7 * DAY };

export interface PublishOptions {
  /** For initRepository: the versions to sign past (default 0: the first publish is version 1). */
  readonly previous?: Readonly<Record<MetadataRole, number>>;
  /** Metadata lifetimes in ms, per role. */
  readonly lifetimes?: Partial<Record<MetadataRole, number>>;
  /** Names for the files, in refusals (e.g. their paths). Default "module 1", "module 2", … */
  readonly labels?: readonly string[];
}

export interface Published {
  readonly name: string;
  readonly version: string;
}

export interface PublishResult {
  /** Modules added by this publish. */
  readonly published: readonly Published[];
  /** Modules that were already there with the same bytes. */
  readonly unchanged: readonly Published[];
  readonly state: RepositoryState;
}

type Index = Map<string, Map<string, TargetEntry>>;

const trustOf = (pkiDir: string): TrustStore => ({ roots: [rootCertificate(pkiDir)] });

/** Signs the three metadata files for `index` at `nowMs`, each one version past `previous`. */
function signMetadata(index: Index, previous: Record<MetadataRole, number>, pkiDir: string, nowMs: number, opts: PublishOptions): MetadataFiles {
  const common = (role: MetadataRole) => ({
    version: previous[role] + 1,
    signedAt: new Date(nowMs).toISOString(),
    expires: new Date(nowMs + (opts.lifetimes?.[role] ?? DEFAULT_LIFETIMES[role])).toISOString(),
  });
  const key = (role: MetadataRole) => identity(pkiDir, signingRole(role));
  const byName = [...index.keys()].sort();
  const modules = Object.fromEntries(byName.map((n) => {
    const versions = [...index.get(n)!.keys()].sort(semver.compare);
    return [n, Object.fromEntries(versions.map((v) => [v, index.get(n)!.get(v)!]))];
  }));
  const targetsSigned: TargetsSigned = { _type: 'targets', ...common('targets'), modules };
  const targets = encodeEnvelope(signEnvelope(targetsSigned, key('targets')));
  const snapshotSigned: SnapshotSigned = { _type: 'snapshot', ...common('snapshot'), targets: { version: targetsSigned.version, length: targets.length, sha384: sha384Hex(targets) } };
  const snapshot = encodeEnvelope(signEnvelope(snapshotSigned, key('snapshot')));
  const timestampSigned: TimestampSigned = { _type: 'timestamp', ...common('timestamp'), snapshot: { version: snapshotSigned.version, length: snapshot.length, sha384: sha384Hex(snapshot) } };
  const timestamp = encodeEnvelope(signEnvelope(timestampSigned, key('timestamp')));
  return { targets, snapshot, timestamp };
}

function writeAtomic(file: string, bytes: Uint8Array): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, bytes);
  crashPoint(`${basename(file)} written`);
  renameSync(`${file}.tmp`, file);
  crashPoint(`${basename(file)} in place`);
}

function writeMetadata(dir: string, files: MetadataFiles): void {
  for (const role of METADATA_ROLES) writeAtomic(join(dir, metadataPath(role)), files[role]);
}

/** Runs `fn`, naming `label` in a ModuleError it throws. */
function withLabel<T>(label: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ModuleError) throw new ModuleError(e.code, `${label}: ${e.message}`);
    throw e;
  }
}

/** Creates an empty signed repository in `dir`, which must not hold one already. */
export function initRepository(dir: string, pkiDir: string, nowMs: number, opts: PublishOptions = {}): RepositoryState {
  const existing = METADATA_ROLES.map((r) => join(dir, metadataPath(r))).find((f) => existsSync(f));
  if (existing) fail('BAD_REPOSITORY', `${dir} already holds a repository (${existing})`);
  const files = signMetadata(new Map(), opts.previous ?? { targets: 0, snapshot: 0, timestamp: 0 }, pkiDir, nowMs, opts);
  const { state } = verifyMetadata(files, trustOf(pkiDir), { now: nowMs }, dir);
  mkdirSync(join(dir, 'targets'), { recursive: true });
  writeMetadata(dir, files);
  return state;
}

/** Adds signed modules to the repository in `dir` and re-signs its metadata. */
export function publish(dir: string, pkiDir: string, files: readonly Uint8Array[], nowMs: number, opts: PublishOptions = {}): PublishResult {
  const trust = trustOf(pkiDir);
  const repo = Repository.open(dir, trust);
  const index: Index = new Map(repo.names().map((n) => [n, new Map(repo.versions(n).map((v) => [v, repo.metadata(n, v)!]))]));
  const added = new Map<string, { name: string; version: string; bytes: Uint8Array }>();
  const unchanged: Published[] = [];

  files.forEach((bytes, i) => {
    const label = opts.labels?.[i] ?? `module ${i + 1}`;
    const v = withLabel(label, () => verifyModule(bytes, trust));
    // (A module signed with a repository key fails verifyModule: those keys carry the
    // repository-metadata usage, not code signing.)
    const { name, version, uuid, kind, dependencies } = v.meta;
    const entry: TargetEntry = { length: bytes.length, sha384: sha384Hex(bytes), signer: v.signer.fingerprint, uuid, kind, dependencies: dependencies.map((d) => ({ name: d.name, range: d.range })) };
    const have = index.get(name)?.get(version);
    if (have) {
      if (have.sha384 !== entry.sha384) fail('VERSION_EXISTS', `${label}: ${name} ${version} is already published with different bytes; publish a new version instead`);
      if (!added.has(`${name}@${version}`) && !unchanged.some((u) => u.name === name && u.version === version)) unchanged.push({ name, version });
      return;
    }
    const other = [...(index.get(name)?.values() ?? [])].find((e) => e.uuid !== uuid);
    if (other) fail('BAD_METADATA', `${label}: ${name} ${version} has uuid ${uuid}; the published ${name} has ${other.uuid}`);
    added.set(`${name}@${version}`, { name, version, bytes });
    index.set(name, new Map([...(index.get(name) ?? []), [version, entry]]));
  });

  const published = [...added.values()].map(({ name, version }) => ({ name, version }));
  if (added.size === 0) return { published, unchanged, state: repo.state };
  const metadata = signMetadata(index, repo.state, pkiDir, nowMs, opts);
  const { state } = verifyMetadata(metadata, trust, { now: nowMs }, dir);
  for (const m of added.values()) writeAtomic(repo.targetPath(m.name, m.version), m.bytes);
  writeMetadata(dir, metadata);
  return { published, unchanged, state };
}
