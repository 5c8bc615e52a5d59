// Core-0's module loader as guests reach it (module_query, module_spawn; seed §3.1 steps 1.2–1.3,
// §3.2 step 2.1): the kernel's half of what core0/verbs/module.ts decodes. Fetching from the
// trusted repository and verifying happen here with the same checks a boot makes
// (system/boot.ts); starting the module goes through lifecycle.ts's spawn, so a sandbox a guest
// asked for is made exactly as an image's are. Mechanism only: which module, when and why is the
// Module Manager's business.

import semver from 'semver';
import { Right } from './abi/abi.ts';
import { KernelError, spawn, type KernelErrorCode } from './lifecycle.ts';
import { ModuleError } from './module/errors.ts';
import { placeModule } from './module/loader.ts';
import type { VerifiedModule } from './module/verify.ts';
import { destroyCapability, originalCapability, type Capability, type ErrName } from './objects/capability.ts';
import { Reservation } from './objects/reservation.ts';
import { PAGE, SandboxControl, type Sandbox } from './objects/sandbox.ts';
import type { KernelState } from './state.ts';
import type { TrapFactory } from './trap.ts';

/** A module from the trusted repository that passed verification, and where the repository had it. */
export interface FetchedModule {
  readonly module: VerifiedModule;
  readonly source: string;
}

/** A module_spawn request, every part of it checked by the verb (decode), ready to apply. */
export interface SpawnRequest {
  readonly name: string;
  readonly fetched: FetchedModule;
  readonly quotaBytes: number;
  readonly stackBytes: number;
  /** Instructions per slice; undefined: the default. */
  readonly budget: number | undefined;
  /** Configuration values by field, as a manifest writes them (resolved once by the verb already). */
  readonly config: Readonly<Record<string, unknown>>;
  /** The caller's capabilities to derive into slots 1..n, with the rights each gets. */
  readonly grants: readonly { readonly from: Capability; readonly rights: number }[];
  /** The caller's reservation capability, consumed by the spawn; holding at least quotaBytes. */
  readonly reservation: Capability | undefined;
}

/** A module the repository has but Core-0 refused, and the repository's label for it when it got that far. */
export interface FetchRefusal {
  readonly refused: ModuleError;
  readonly source?: string;
}

/**
 * The newest module `name` satisfying `range`, verified with the boot's checks (signature chain,
 * expiry, rollback protection against what is installed, unless a rollback allows an older
 * version); records nothing. NOT_FOUND when the
 * repository has none, or there is no repository; a refusal carries the ModuleError that says why.
 */
export function fetchModule(k: KernelState, name: string, range: string, allowDowngrade = false): FetchedModule | 'NOT_FOUND' | FetchRefusal {
  if (!k.repository) return 'NOT_FOUND';
  let label: string | undefined;
  try {
    // A collected version (module_collect) is not there for this machine: the newest below it
    // that satisfies the range is, so the range narrows past each one found.
    for (let within = range; ; ) {
      const f = k.repository.fetch(name, within);
      if (!f) return 'NOT_FOUND';
      label = f.label;
      const v = k.modules.check(f.bytes, { signer: f.signer, allowDowngrade });
      // The repository is trusted to find files, not to name them: what it handed over must be what was asked for.
      if (v.meta.name !== name) return { refused: new ModuleError('BAD_REPOSITORY', `asked for ${name} ${range}, the repository handed over ${v.meta.name} ${v.meta.version}`), source: label };
      if (!k.modules.isCollected(name, v.meta.version)) return { module: v, source: f.label };
      within = below(within, v.meta.version);
    }
  } catch (e) {
    // A repository that fails its own checks (a tampered index, expired metadata) refuses the same way.
    if (e instanceof ModuleError) return label === undefined ? { refused: e } : { refused: e, source: label };
    throw e;
  }
}

/** `range` and below `version`: each of its comparator sets with `<version` added. */
function below(range: string, version: string): string {
  return new semver.Range(range).set.map((set) => [...set.map((c) => c.value).filter((x) => x !== ''), `<${version}`].join(' ')).join(' || ');
}

/**
 * Why a verified module could not be started now, or undefined: it must be a service, its
 * dependencies loaded, its imports resolvable and its entry table sound. Placement is pure, so
 * trying it at address 0 changes nothing; it spares the spawn a refusal after its reservation
 * went back to the pool.
 */
export function unloadable(k: KernelState, m: VerifiedModule): ModuleError | undefined {
  try {
    if (m.meta.kind !== 'service') return new ModuleError('NOT_A_SERVICE', `${m.meta.name} ${m.meta.version} is a library, not a service`);
    k.modules.checkDependencies(m.meta);
    placeModule(m, 0, (imp) => k.modules.exportAddress(imp));
    return undefined;
  } catch (e) {
    if (e instanceof ModuleError) return e;
    throw e;
  }
}

/** Frames set aside for `holder`, tagged with its id, not charged to its quota. */
export function reserve(k: KernelState, holder: Sandbox, pages: number): Capability | ErrName {
  const first = k.machine.frames.tryAllocate(pages, holder.id);
  if (first === 'NO_FRAMES') return 'NO_MEMORY';
  const by = holder.name;
  const r = new Reservation(first, pages, holder.id, k.machine.frames, (x) => k.events.emit({ kind: 'reservationReleased', by, bytes: x.pages * PAGE }));
  k.events.emit({ kind: 'reserved', by, bytes: pages * PAGE });
  return originalCapability(r, 0);
}

const ERROR_OF: Record<KernelErrorCode, ErrName> = {
  SANDBOX_EXISTS: 'NAME_TAKEN',
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  NO_MEMORY: 'NO_MEMORY',
  MAPPING_LIMIT: 'MAPPING_LIMIT',
  BAD_SPEC: 'INVALID_ARGUMENT',
};

/**
 * Starts a checked request through lifecycle.ts's spawn and answers a sandbox-control capability
 * (right W) on the new sandbox. The reservation's frames go back to the pool just before, so the
 * new sandbox's one run of image and stack finds room. Spawn can still refuse after that (the
 * page tables need frames of their own); it then leaves nothing behind, so the frames it freed
 * are free again and the reservation takes a run of the same length back: the caller still holds
 * what it held, and the refusal is answered as spawn's error.
 */
export function spawnRequested(k: KernelState, by: Sandbox, req: SpawnRequest, trap: TrapFactory): Capability | ErrName {
  const m = req.fetched.module;
  const reservation = req.reservation?.object as Reservation | undefined;
  reservation?.consume();
  let s: Sandbox;
  try {
    k.modules.verified(m, req.fetched.source);
    const spec = { name: req.name, quotaBytes: req.quotaBytes, stackBytes: req.stackBytes, config: req.config, caps: { registry: Right.R | Right.W, grants: req.grants } };
    s = spawn(k, req.budget === undefined ? spec : { ...spec, budget: req.budget }, m, trap);
  } catch (e) {
    reservation?.restore();
    if (e instanceof KernelError) return ERROR_OF[e.code];
    if (e instanceof ModuleError) return 'MODULE_REFUSED';
    throw e;
  }
  if (req.reservation && reservation) {
    destroyCapability(req.reservation); // consumed: released() finds no frames left to return
    k.events.emit({ kind: 'reservationReleased', by: by.name, bytes: reservation.pages * PAGE });
  }
  k.events.emit({ kind: 'moduleSpawned', by: by.name, sandbox: s.name, module: m.meta.name, version: m.meta.version });
  return originalCapability(new SandboxControl(s), Right.W);
}
