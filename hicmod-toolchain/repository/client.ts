// The client's side of the repository's rollback protection, as TUF asks of a client: remember
// what this system has trusted, in its data directory, and refuse anything older — whatever the
// repository, however validly signed.
//
//   <data>/trusted-repository.json   { metadata: highest version of each role,
//                                       modules: name → version → newest signing time trusted }
//
// Three refusals, each before the kernel sees a byte of the module:
//  - metadata older than the highest version trusted: a repository put back (REPLAYED);
//  - for a version range, a repository whose best match is older than a version of that module
//    trusted before that the range admits (DOWNGRADE). A range that excludes the newer version —
//    an image pinning `netstack 1.2.0` beside `1.3.0` — is a choice, not a rollback;
//  - a module version whose signature is older than the same version trusted before: an older
//    build of it put back (REPLAYED).
// Expiry is judged at `now`, which the caller takes from the wall clock (never the repository's
// own signing time, which a replayed repository brings along).

import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import semver from 'semver';
import { fail, ModuleError } from '../../core0/module/errors.ts';
import { decodeContainer } from '../../core0/module/format.ts';
import { decodeSignatureBlock } from '../../core0/module/signature.ts';
import type { FetchedModule, ModuleSource } from '../../core0/module/source.ts';
import type { TrustStore } from '../../core0/module/verify.ts';
import { isRecord, METADATA_ROLES, type MetadataRole } from './metadata.ts';
import { Repository } from './repository.ts';

export const TRUSTED_STATE_FILE = 'trusted-repository.json';

interface TrustedState {
  metadata: Record<MetadataRole, number>;
  /** name → version → newest signing time trusted, ms since 1970 */
  modules: Record<string, Record<string, number>>;
}

/** A module the kernel verified, as its moduleVerified event reports it. */
export interface VerifiedRecord {
  readonly module: string;
  readonly version: string;
  readonly provenance: { readonly signedAt: string };
}

export interface ClientOptions {
  /** Judge expiry at this time (ms since 1970): the boot's wall clock. */
  readonly now: number;
  /** The state file; without one nothing is remembered (a run that keeps no state). */
  readonly stateFile?: string;
}

const empty = (): TrustedState => ({ metadata: { targets: 0, snapshot: 0, timestamp: 0 }, modules: {} });

function readState(file: string | undefined): TrustedState {
  if (!file || !existsSync(file)) return empty();
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    return fail('BAD_REPOSITORY', `${file}: is not JSON; it records what this system trusted, and without it no rollback is caught (remove it to start afresh)`);
  }
  const bad = (what: string) => fail('BAD_REPOSITORY', `${file}: ${what}`);
  if (!isRecord(v) || !isRecord(v.metadata) || !isRecord(v.modules)) return bad('is not { metadata, modules }');
  const state = empty();
  for (const role of METADATA_ROLES) {
    const n = v.metadata[role];
    if (!Number.isSafeInteger(n) || (n as number) < 0) bad(`metadata.${role} is not a version`);
    state.metadata[role] = n as number;
  }
  for (const [name, versions] of Object.entries(v.modules)) {
    if (!isRecord(versions)) bad(`modules.${name} is not an object`);
    for (const [version, at] of Object.entries(versions as Record<string, unknown>)) {
      if (semver.valid(version) !== version || !Number.isSafeInteger(at)) bad(`modules.${name}["${version}"] is not a version and a time`);
    }
    state.modules[name] = { ...(versions as Record<string, number>) };
  }
  return state;
}

/** The signing time a module file claims (unverified: the kernel checks it before anything runs). */
function claimedSigningTime(bytes: Uint8Array): number | undefined {
  try {
    return decodeSignatureBlock(decodeContainer(bytes).signature).timestamp.time;
  } catch (e) {
    if (e instanceof ModuleError) return undefined; // malformed: the kernel's verification says how
    throw e;
  }
}

/** A repository opened with rollback protection; a ModuleSource for booting. */
export class TrustedRepository implements ModuleSource {
  private constructor(
    readonly repository: Repository,
    private readonly state: TrustedState,
    private readonly stateFile: string | undefined,
  ) {}

  static open(dir: string, trust: TrustStore, opts: ClientOptions): TrustedRepository {
    const state = readState(opts.stateFile);
    const repository = Repository.open(dir, trust, { now: opts.now, lastSeen: state.metadata });
    for (const role of METADATA_ROLES) state.metadata[role] = Math.max(state.metadata[role], repository.state[role]);
    return new TrustedRepository(repository, state, opts.stateFile);
  }

  latest(name: string, range: string): string | undefined {
    return this.repository.latest(name, range);
  }

  fetch(name: string, range: string): FetchedModule | undefined {
    const version = this.repository.latest(name, range);
    if (version === undefined) return undefined;
    const trusted = this.state.modules[name] ?? {};
    const newer = Object.keys(trusted).filter((v) => semver.gt(v, version) && semver.satisfies(v, range)).sort(semver.rcompare)[0];
    if (newer) {
      fail('DOWNGRADE', `the repository's newest ${name} for "${range}" is ${version}, but ${name} ${newer} was trusted before (${this.where()}): the repository was rolled back`);
    }
    const f = this.repository.fetch(name, range)!;
    const signed = claimedSigningTime(f.bytes);
    const before = trusted[version];
    if (signed !== undefined && before !== undefined && signed < before) {
      fail('REPLAYED', `${f.label}: ${name} ${version} was signed at ${new Date(signed).toISOString()}, before the ${name} ${version} trusted before (signed ${new Date(before).toISOString()}, ${this.where()}): an older build put back`);
    }
    return f;
  }

  describe(name: string): string {
    return this.repository.describe(name);
  }

  /** Remembers the metadata opened and the modules a boot verified; written beside the old file, then renamed over it. */
  remember(verified: readonly VerifiedRecord[]): void {
    for (const v of verified) {
      const at = Date.parse(v.provenance.signedAt);
      const versions = (this.state.modules[v.module] ??= {});
      versions[v.version] = Math.max(versions[v.version] ?? 0, at);
    }
    if (!this.stateFile) return;
    const sorted = Object.fromEntries(Object.keys(this.state.modules).sort().map((n) => [n, this.state.modules[n]]));
    writeFileSync(`${this.stateFile}.tmp`, JSON.stringify({ metadata: this.state.metadata, modules: sorted }, null, 2) + '\n');
    renameSync(`${this.stateFile}.tmp`, this.stateFile);
  }

  private where(): string {
    return this.stateFile ?? 'this run';
  }
}

/** The end of the UTC day of `wallMs`: a boot's expiry is judged at its date, a recorded input (see docs/reliability.md). */
export function endOfDate(date: string): number {
  return Date.parse(`${date}T23:59:59.999Z`);
}
