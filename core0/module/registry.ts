// The kernel's module table: verification against the trust store (with anti-replay against what
// is installed), the shared library modules loaded so far, and dependency checks. A refused module
// leaves an audit event and nothing else.
//
// Libraries are loaded once, into frames the kernel owns, relocated at their own physical address
// and mapped read-execute (code) and read-only (constants) into every sandbox that depends on
// them: the same frames for all, none of them writable by anyone.

import semver from 'semver';
import type { Frames } from '../../emulator/types.ts';
import type { EventLog } from '../events.ts';
import { ModuleError, fail } from './errors.ts';
import { PAGE, type Import, type ModuleMetadata } from './format.ts';
import { placeModule, type PlacedModule } from './loader.ts';
import { verifyModule, type Installed, type TrustStore, type VerifiedModule } from './verify.ts';

/** A source label without its directories: where a build put its files is no part of the run. */
const fileName = (label: string) => label.slice(label.lastIndexOf('/') + 1);

/** Frames of library modules carry this tag (with the library's index). */
export const LIBRARY_TAG = 0x2000_0000;

export interface LoadedLibrary {
  readonly module: VerifiedModule;
  readonly base: number;
  readonly placed: PlacedModule;
}

export interface VerifyOptions {
  readonly allowDowngrade?: boolean;
  readonly signer?: string;
}

/** Versions that may be marked bad at once: far more than updates that roll back in a run. */
export const MAX_BAD_MARKS = 256;

export class ModuleRegistry {
  private readonly libraries = new Map<string, LoadedLibrary>();
  private readonly installed = new Map<string, Installed>();

  constructor(
    private readonly frames: Frames,
    private readonly trust: TrustStore,
    private readonly events: EventLog,
  ) {}

  /**
   * Verifies a module file; on refusal records why and rethrows.
   *
   * The signer and the signing time go into the event's provenance, not its hashed part. The
   * signing time stays the real time the timestamp authority vouched for, rather than one derived
   * from the sources so that builds agree: anti-replay orders signatures of one version by that
   * time, so a derived time would let a rebuild carry an earlier time than the build it fixes (and
   * be refused, or lose to a replay of the flawed one), and the authority would sign a time it
   * never saw. What is the same in every clean build — name, version, SHA-384 of the signed
   * region, the verdict — is what the hash covers. A refusal's reason stays in the hashed part even
   * when it quotes a signing time or a certificate's dates (REPLAYED, CERT_EXPIRED): there those
   * values decided the verdict.
   */
  verify(file: Uint8Array, source: string, opts: VerifyOptions = {}): VerifiedModule {
    try {
      const v = this.check(file, opts);
      this.verified(v, source);
      return v;
    } catch (e) {
      if (e instanceof ModuleError) this.rejected(e, source);
      throw e;
    }
  }

  /**
   * Verifies a module file as `verify` does but records nothing, for a caller that records the
   * verdict itself once the rest of its request is checked (module_spawn): a ModuleError refuses.
   */
  check(file: Uint8Array, opts: VerifyOptions = {}): VerifiedModule {
    return verifyModule(file, this.trust, { installed: (name) => this.installed.get(name), ...opts });
  }

  /** Records a module found good (see `verify` for what the event's hashed part holds). */
  verified(v: VerifiedModule, source: string): void {
    this.events.emit({
      kind: 'moduleVerified', module: v.meta.name, version: v.meta.version, sha384: v.hash, downgrade: v.downgrade, build: v.meta.build ?? [],
      provenance: { signer: v.signer.subject, signerFingerprint: v.signer.fingerprint, signedAt: new Date(v.timestamp).toISOString(), source },
    });
  }

  /** Records why a module was refused; `context` says for whom, when someone asked. */
  rejected(e: ModuleError, source: string, context?: string): void {
    const label = fileName(source) + (context ? ` ${context}` : '');
    this.events.emit({ kind: 'moduleRejected', source: label, code: e.code, reason: e.message, provenance: { source } });
  }

  /** Records a module as installed: later verifications refuse older versions and replays. */
  install(v: VerifiedModule): void {
    const prev = this.installed.get(v.meta.name);
    if (!prev || semver.gt(v.meta.version, prev.version) || v.downgrade || (v.meta.version === prev.version && v.timestamp > prev.timestamp)) {
      this.installed.set(v.meta.name, { version: v.meta.version, timestamp: v.timestamp });
    }
  }

  installedVersion(name: string): Installed | undefined {
    return this.installed.get(name);
  }

  /** Per "name@version": the sandboxes started from it since boot, and those of them that ended by
   * a fault (module_health). One entry per version ever started: bounded by the repository. */
  private readonly seen = new Map<string, { started: number; faults: number }>();

  started(name: string, version: string): void {
    const key = `${name}@${version}`;
    const h = this.seen.get(key) ?? { started: 0, faults: 0 };
    this.seen.set(key, { ...h, started: h.started + 1 });
  }

  faulted(name: string, version: string): void {
    const key = `${name}@${version}`;
    const h = this.seen.get(key) ?? { started: 0, faults: 0 };
    this.seen.set(key, { ...h, faults: h.faults + 1 });
  }

  health(name: string, version: string): { readonly started: number; readonly faults: number } {
    return this.seen.get(`${name}@${version}`) ?? { started: 0, faults: 0 };
  }

  /** Versions marked bad (module_mark), as "name@version": a failed update's version, until cleared. */
  private readonly bad = new Set<string>();

  isBad(name: string, version: string): boolean {
    return this.bad.has(`${name}@${version}`);
  }

  /** Marks or clears: 'NOT_FOUND' when clearing a mark that is not set, 'NO_MEMORY' when
   * MAX_BAD_MARKS are set already (a guest holding the loader must not grow the store without
   * bound); nothing changes then. */
  mark(name: string, version: string, bad: boolean, by: string): true | 'NOT_FOUND' | 'NO_MEMORY' {
    const key = `${name}@${version}`;
    if (!bad && !this.bad.has(key)) return 'NOT_FOUND';
    if (bad && !this.bad.has(key) && this.bad.size >= MAX_BAD_MARKS) return 'NO_MEMORY';
    if (bad) this.bad.add(key);
    else this.bad.delete(key);
    this.events.emit({ kind: 'moduleMarked', module: name, version, bad, by });
    return true;
  }

  /** Versions collected (module_collect), as "name@version": gone from what this machine may load. */
  private readonly collected = new Set<string>();

  isCollected(name: string, version: string): boolean {
    return this.collected.has(`${name}@${version}`);
  }

  /** Collects: 'NOT_FOUND' when collected already, 'NO_MEMORY' when MAX_BAD_MARKS are (the same
   * bound as the marks, for the same reason); nothing changes then. Whether a sandbox runs it is
   * the caller's to check. */
  collect(name: string, version: string, by: string): true | 'NOT_FOUND' | 'NO_MEMORY' {
    const key = `${name}@${version}`;
    if (this.collected.has(key)) return 'NOT_FOUND';
    if (this.collected.size >= MAX_BAD_MARKS) return 'NO_MEMORY';
    this.collected.add(key);
    this.events.emit({ kind: 'moduleCollected', module: name, version, by });
    return true;
  }

  library(name: string): LoadedLibrary | undefined {
    return this.libraries.get(name);
  }

  /** Loads a verified library module into kernel-owned frames, once; a refusal is audited. */
  loadLibrary(v: VerifiedModule): LoadedLibrary {
    try {
      return this.placeLibrary(v);
    } catch (e) {
      if (e instanceof ModuleError) this.events.emit({ kind: 'moduleRejected', source: `${v.meta.name} ${v.meta.version} as a library`, code: e.code, reason: e.message });
      throw e;
    }
  }

  private placeLibrary(v: VerifiedModule): LoadedLibrary {
    if (v.meta.kind !== 'library') fail('NOT_A_LIBRARY', `${v.meta.name} ${v.meta.version} is a ${v.meta.kind}`);
    const have = this.libraries.get(v.meta.name);
    if (have) {
      if (have.module.hash === v.hash) return have;
      fail('DEPENDENCY_CONFLICT', `library ${v.meta.name} ${have.module.meta.version} is already loaded; a second version cannot be shared beside it`);
    }
    this.checkDependencies(v.meta);
    const tag = LIBRARY_TAG | (this.libraries.size + 1);
    const first = this.frames.tryAllocate(v.pages, tag);
    if (first === 'NO_FRAMES') return fail('TOO_LARGE', `no room for library ${v.meta.name} (${v.pages} pages)`);
    const base = first * PAGE;
    try {
      const placed = placeModule(v, base, (imp) => this.exportAddress(imp));
      this.frames.view(base, placed.bytes.length).set(placed.bytes);
      const lib = { module: v, base, placed };
      this.libraries.set(v.meta.name, lib);
      this.install(v);
      this.events.emit({ kind: 'libraryLoaded', module: v.meta.name, version: v.meta.version, base, pages: v.pages });
      return lib;
    } catch (e) {
      this.frames.free(first, v.pages, tag);
      throw e;
    }
  }

  /** Frees every library's frames; called when no sandbox is left to use them. */
  unloadLibraries(): void {
    for (const [name, lib] of this.libraries) {
      const first = lib.base / PAGE;
      this.frames.free(first, lib.module.pages, this.frames.ownerOf(first));
      this.events.emit({ kind: 'libraryUnloaded', module: name, framesReturned: lib.module.pages });
    }
    this.libraries.clear();
  }

  /** Every dependency must be a loaded library, or an installed module, of a matching version. */
  checkDependencies(meta: ModuleMetadata): void {
    for (const d of meta.dependencies) {
      const have = this.libraries.get(d.name)?.module.meta.version ?? this.installed.get(d.name)?.version;
      if (!have) fail('UNSATISFIED_DEPENDENCY', `${meta.name} ${meta.version} needs ${d.name} ${d.range}, which is not loaded`);
      if (!semver.satisfies(have, d.range)) fail('UNSATISFIED_DEPENDENCY', `${meta.name} ${meta.version} needs ${d.name} ${d.range}; ${d.name} ${have} is loaded`);
    }
  }

  /** The libraries a module's dependencies name, in dependency order. */
  librariesOf(meta: ModuleMetadata): LoadedLibrary[] {
    return meta.dependencies.map((d) => this.libraries.get(d.name)).filter((l): l is LoadedLibrary => l !== undefined);
  }

  /** The library whose image holds this address, if any. */
  libraryAt(address: number): string | undefined {
    for (const [name, l] of this.libraries) if (address >= l.base && address < l.base + l.module.pages * PAGE) return name;
    return undefined;
  }

  exportAddress(imp: Import): number | undefined {
    return this.libraries.get(imp.module)?.placed.exports.get(imp.symbol);
  }
}
