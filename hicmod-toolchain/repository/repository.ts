// A trusted module repository in a directory:
//
//   <dir>/targets/<name>-<version>.hicmod   the signed modules
//   <dir>/metadata/targets.json             which modules exist: length, SHA-384, signer, dependencies
//   <dir>/metadata/snapshot.json            pins targets.json (version, length, SHA-384)
//   <dir>/metadata/timestamp.json           pins snapshot.json; the freshest, shortest-lived file
//
// Opening walks timestamp → snapshot → targets, each file authenticated by its own role's key and
// pinned by the one above, so a replaced, rolled back or mixed-up file is refused before the index
// is believed. Module bytes are checked against the index when they are read, not before: a
// tampered module is refused when someone asks for it (HASH_MISMATCH).

import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import type { FetchedModule, ModuleSource } from '../../core0/module/source.ts';
import { fail } from '../../core0/module/errors.ts';
import type { TrustStore } from '../../core0/module/verify.ts';
import { moduleFileName } from '../hicmod/module-build.ts';
import { MAX_METADATA, checkFresh, metadataPath, openEnvelope, sha384Hex, type MetadataRole } from './metadata.ts';
import { snapshotBody, targetsBody, timestampBody, type FileRef, type TargetEntry, type TargetsSigned } from './schema.ts';

export interface RepositoryState {
  /** Version of each metadata file. */
  readonly targets: number;
  readonly snapshot: number;
  readonly timestamp: number;
  /** When the repository last vouched for itself: timestamp.json's signing time. */
  readonly signedAt: string;
  /** Each metadata file's expiry. */
  readonly expires: Readonly<Record<MetadataRole, string>>;
}

export interface OpenOptions {
  /** Judge expiry at this time (ms since 1970). Default: timestamp.json's signedAt, so no host clock. */
  readonly now?: number;
  /** Metadata versions the caller saw before; anything older is a replayed repository (REPLAYED). */
  readonly lastSeen?: Partial<Readonly<Record<MetadataRole, number>>>;
}

export interface VerifiedMetadata {
  readonly state: RepositoryState;
  readonly targets: TargetsSigned;
}

export type MetadataFiles = Readonly<Record<MetadataRole, Uint8Array>>;

/** Checks the bytes of the three metadata files as one consistent, fresh, signed set. */
export function verifyMetadata(files: MetadataFiles, trust: TrustStore, opts: OpenOptions = {}, dir = '.'): VerifiedMetadata {
  const path = (role: MetadataRole) => join(dir, metadataPath(role));
  const pinned = (ref: FileRef, role: MetadataRole, by: MetadataRole) => {
    const bytes = files[role];
    if (bytes.length !== ref.length || sha384Hex(bytes) !== ref.sha384) {
      fail('BAD_REPOSITORY', `${path(role)} is not the file ${path(by)} pins (version ${ref.version}, ${ref.length} bytes, SHA-384 ${ref.sha384.slice(0, 16)}…): it was replaced or changed`);
    }
  };
  const sameVersion = (version: number, ref: FileRef, role: MetadataRole, by: MetadataRole) => {
    if (version !== ref.version) fail('BAD_REPOSITORY', `${path(role)} is version ${version}; ${path(by)} says version ${ref.version}`);
  };
  const notOlder = (version: number, role: MetadataRole) => {
    const seen = opts.lastSeen?.[role];
    if (seen !== undefined && version < seen) fail('REPLAYED', `${path(role)} is version ${version}, older than version ${seen} seen before: a replayed repository`);
  };

  const tsEnv = openEnvelope(files.timestamp, 'timestamp', trust, path('timestamp'));
  const ts = timestampBody(tsEnv, path('timestamp'));
  const now = opts.now ?? tsEnv.signedAt;
  checkFresh(tsEnv, now, path('timestamp'));
  notOlder(ts.version, 'timestamp');

  pinned(ts.snapshot, 'snapshot', 'timestamp');
  const snapEnv = openEnvelope(files.snapshot, 'snapshot', trust, path('snapshot'));
  const snap = snapshotBody(snapEnv, path('snapshot'));
  sameVersion(snap.version, ts.snapshot, 'snapshot', 'timestamp');
  checkFresh(snapEnv, now, path('snapshot'));
  notOlder(snap.version, 'snapshot');

  pinned(snap.targets, 'targets', 'snapshot');
  const targetsEnv = openEnvelope(files.targets, 'targets', trust, path('targets'));
  const targets = targetsBody(targetsEnv, path('targets'));
  sameVersion(targets.version, snap.targets, 'targets', 'snapshot');
  checkFresh(targetsEnv, now, path('targets'));
  notOlder(targets.version, 'targets');

  const state: RepositoryState = {
    targets: targets.version,
    snapshot: snap.version,
    timestamp: ts.version,
    signedAt: ts.signedAt,
    expires: { targets: targets.expires, snapshot: snap.expires, timestamp: ts.expires },
  };
  return { state, targets };
}

/** The three metadata files' bytes; a missing or oversized one is refused unread. */
export function readMetadataFiles(dir: string): MetadataFiles {
  const read = (role: MetadataRole) => {
    const file = join(dir, metadataPath(role));
    if (!existsSync(file)) fail('BAD_REPOSITORY', `${file} is missing: ${dir} is not a complete module repository`);
    const size = statSync(file).size;
    if (size > MAX_METADATA) fail('BAD_REPOSITORY', `${file} is ${size} bytes; metadata is at most ${MAX_METADATA}`);
    return new Uint8Array(readFileSync(file));
  };
  // Top down, so an empty or wrong directory is reported by its timestamp.json.
  const timestamp = read('timestamp');
  const snapshot = read('snapshot');
  return { targets: read('targets'), snapshot, timestamp };
}

/** An opened, verified repository: the index is believed; module files are checked when read. */
export class Repository implements ModuleSource {
  private readonly index: ReadonlyMap<string, ReadonlyMap<string, TargetEntry>>;

  private constructor(
    readonly dir: string,
    /** `dir` with symbolic links resolved when it was opened: every file is read from here. */
    private readonly root: string,
    readonly state: RepositoryState,
    targets: TargetsSigned,
  ) {
    this.index = new Map(Object.entries(targets.modules).map(([name, byVersion]) => [name, new Map(Object.entries(byVersion))]));
  }

  /**
   * Verifies the metadata of the repository in `dir` and opens it. A link (the workspace's
   * build/repo) is resolved once, here, so metadata and module files come from the same version
   * even if the link is switched to a newer one meanwhile.
   */
  static open(dir: string, trust: TrustStore, opts: OpenOptions = {}): Repository {
    const root = existsSync(dir) ? realpathSync(dir) : dir;
    const { state, targets } = verifyMetadata(readMetadataFiles(root), trust, opts, dir);
    return new Repository(dir, root, state, targets);
  }

  /** Module names, sorted. */
  names(): string[] {
    return [...this.index.keys()].sort();
  }

  /** Published versions of `name`, oldest first; empty when there is no such module. */
  versions(name: string): string[] {
    return [...(this.index.get(name)?.keys() ?? [])].sort(semver.compare);
  }

  /** The newest version of `name` satisfying `range`. */
  latest(name: string, range = '*'): string | undefined {
    return semver.maxSatisfying(this.versions(name), range) ?? undefined;
  }

  metadata(name: string, version: string): TargetEntry | undefined {
    return this.index.get(name)?.get(version);
  }

  /** Where a module's file lives, under the directory as it was named (build/repo, not the version it resolved to). */
  targetPath(name: string, version: string): string {
    return join(this.dir, 'targets', moduleFileName(name, version));
  }

  /** A published module's bytes, read from the version opened and checked against the index's length and SHA-384. */
  read(name: string, version: string): Uint8Array {
    const entry = this.metadata(name, version) ?? fail('MODULE_NOT_FOUND', `${this.describe(name)} has no version ${version}`);
    const file = this.targetPath(name, version);
    const real = join(this.root, 'targets', moduleFileName(name, version));
    if (!existsSync(real)) fail('BAD_REPOSITORY', `${file} is missing, though ${join(this.dir, metadataPath('targets'))} lists it`);
    // The size first, so a file swapped for something huge is refused without reading it.
    const size = statSync(real).size;
    if (size !== entry.length) fail('HASH_MISMATCH', `${file} is ${size} bytes; the repository index says ${entry.length}: it was changed after publishing`);
    const bytes = new Uint8Array(readFileSync(real));
    if (sha384Hex(bytes) !== entry.sha384) fail('HASH_MISMATCH', `${file} does not match the SHA-384 in the repository index: it was changed after publishing`);
    return bytes;
  }

  fetch(name: string, range: string): FetchedModule | undefined {
    const version = this.latest(name, range);
    if (version === undefined) return undefined;
    return { bytes: this.read(name, version), label: this.targetPath(name, version), signer: this.metadata(name, version)!.signer };
  }

  describe(name: string): string {
    const versions = this.versions(name);
    return `repository ${this.dir} (${versions.length ? `${name} ${versions.join(', ')}` : `no module ${name}`})`;
  }
}
