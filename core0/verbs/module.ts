// Module loader verbs (family module_control): query the trusted repository (right R on the
// loader), reserve frames, start a module in a new sandbox, and mark a version bad (right W) — the mechanism the
// Module Manager drives an update with (seed §3.1 steps 1.2–1.3, §3.2 step 2.1). The structures
// come from guest memory in the layouts abi.ts describes; every field is decoded and checked
// here, then the kernel fetches, verifies and spawns (module-loader.ts). A refusal of a request
// that names a module is recorded once, as moduleRejected, and changes nothing else.

import semver from 'semver';
import type { SyscallFrame } from '../../emulator/types.ts';
import { Flag, Limit, MODULE_DEP, MODULE_HEALTH, MODULE_INFO, MODULE_REQ, Right, SPAWN_GRANT, SPAWN_SPEC } from '../abi/abi.ts';
import type { FetchedModule, FetchRefusal, SpawnRequest } from '../module-loader.ts';
import { declaredBy, declares, familyFor } from '../module/declared.ts';
import { NAME_PATTERN, type ModuleMetadata } from '../module/format.ts';
import { resolveConfig } from '../module/values.ts';
import type { Capability, ErrName } from '../objects/capability.ts';
import type { Reservation } from '../objects/reservation.ts';
import { PAGE } from '../objects/sandbox.ts';
import { err, place, slot, type Outcome, type SyscallContext } from './verb.ts';

/** The most one reservation may ask for (1 GiB, as for a memory object); the pool refuses well below it. */
const RESERVATION_MAX = 1 << 30;
/** Stack sizes an image may give (system/manifest.ts), and so a spawn. */
const STACK_MIN = PAGE;
const STACK_MAX = 16 << 20;
/** Sandbox names as an image manifest writes them. */
const SANDBOX_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
const CONFIG_ITEM = /^([a-z][a-z0-9_]{0,31})=(.+)$/;

const ascii = new TextDecoder('latin1');

/** The string in a NUL-padded field: printable ASCII ending with a NUL inside the field, or undefined. */
function field(b: Uint8Array, at: number, size: number): string | undefined {
  const end = b.subarray(at, at + size).indexOf(0);
  if (end < 0) return undefined;
  const bytes = b.subarray(at, at + end);
  return bytes.every((x) => x >= 0x20 && x < 0x7f) ? ascii.decode(bytes) : undefined;
}

/** A 64-bit field as a number, or -1 when it is 2^53 or more (never a valid size or count). */
function word(v: DataView, at: number): number {
  const w = v.getBigUint64(at, true);
  return w <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(w) : -1;
}

function put(b: Uint8Array, at: number, size: number, text: string): void {
  b.set(Buffer.from(text, 'latin1').subarray(0, size), at); // the field was zeroed: NUL-padded
}

function isFetched(r: FetchedModule | 'NOT_FOUND' | FetchRefusal): r is FetchedModule {
  return typeof r !== 'string' && 'module' in r;
}

// --- module_query ---------------------------------------------------------------------------------

/**
 * The struct hic_module_req at argument 1 and, when `outSize` is not 0, the caller's output
 * structure of that size at argument 2, writable: BAD_ADDRESS if either is not there, then
 * INVALID_ARGUMENT for a string not NUL-terminated within its field, not a module name, or a range
 * that is not one (`kind` 'range': any version range; 'exact': one version).
 */
function moduleRequest(c: SyscallContext, f: SyscallFrame, outSize: number, kind: 'range' | 'exact'): { name: string; range: string; out: Uint8Array } | ErrName {
  const space = c.sandbox.cpu.space;
  const req = f.arg(1) < 0 ? undefined : space.view(f.arg(1), MODULE_REQ.size);
  const out = outSize === 0 ? new Uint8Array(0) : f.arg(2) < 0 ? undefined : space.view(f.arg(2), outSize, 'write');
  if (!req || !out) return 'BAD_ADDRESS';
  const name = field(req, MODULE_REQ.at.name, Limit.NAME_MAX);
  const range = field(req, MODULE_REQ.at.range, Limit.NAME_MAX);
  if (name === undefined || range === undefined || !NAME_PATTERN.test(name)) return 'INVALID_ARGUMENT';
  const ok = kind === 'exact' ? semver.valid(range) === range : range !== '' && semver.validRange(range) !== null;
  return ok ? { name, range, out } : 'INVALID_ARGUMENT';
}

/** The flags argument of module_query and module_spawn: 0 or HIC_DOWNGRADE, which needs W on the loader. */
function downgradeFlag(c: SyscallContext, loaderSlot: number, flags: number): boolean | ErrName {
  if (flags !== 0 && flags !== Flag.DOWNGRADE) return 'INVALID_ARGUMENT';
  if (flags === 0) return false;
  const w = c.sandbox.cspace.lookup(loaderSlot, 'LOADER', Right.W);
  return typeof w === 'string' ? w : true;
}

export function moduleQuery(c: SyscallContext, f: SyscallFrame): Outcome {
  const loader = c.sandbox.cspace.lookup(slot(f, 0), 'LOADER', Right.R);
  if (typeof loader === 'string') return err(loader);
  const downgrade = downgradeFlag(c, slot(f, 0), f.arg(3));
  if (typeof downgrade === 'string') return err(downgrade);
  const q = moduleRequest(c, f, MODULE_INFO.size, 'range');
  if (typeof q === 'string') return err(q);
  const { name, range, out } = q;

  const r = c.k.fetchModule(name, range, downgrade);
  if (r === 'NOT_FOUND') return err('NOT_FOUND');
  if (!isFetched(r)) {
    c.k.moduleRejected(`${name} ${range} (module_query by ${c.sandbox.name})`, r.refused.code, r.refused.message, r.source, c.sandbox.name);
    return err('MODULE_REFUSED');
  }
  c.k.moduleVerified(r);
  writeInfo(out, r.module.meta, c.k.installedVersion(name), c.k.isBad(name, r.module.meta.version));
  return 0;
}

// --- module_mark ----------------------------------------------------------------------------------

export function moduleMark(c: SyscallContext, f: SyscallFrame): Outcome {
  const loader = c.sandbox.cspace.lookup(slot(f, 0), 'LOADER', Right.W);
  if (typeof loader === 'string') return err(loader);
  const q = moduleRequest(c, f, 0, 'exact');
  if (typeof q === 'string') return err(q);
  const bad = f.arg(2);
  if (bad !== 0 && bad !== 1) return err('INVALID_ARGUMENT');
  const r = c.k.mark(q.name, q.range, bad === 1, c.sandbox.name);
  return r === true ? 0 : err(r);
}

// --- module_collect -------------------------------------------------------------------------------

export function moduleCollect(c: SyscallContext, f: SyscallFrame): Outcome {
  const loader = c.sandbox.cspace.lookup(slot(f, 0), 'LOADER', Right.W);
  if (typeof loader === 'string') return err(loader);
  const q = moduleRequest(c, f, 0, 'exact');
  if (typeof q === 'string') return err(q);
  const r = c.k.collect(q.name, q.range, c.sandbox.name);
  return r === true ? 0 : err(r);
}

// --- module_health --------------------------------------------------------------------------------

export function moduleHealth(c: SyscallContext, f: SyscallFrame): Outcome {
  const loader = c.sandbox.cspace.lookup(slot(f, 0), 'LOADER', Right.R);
  if (typeof loader === 'string') return err(loader);
  const q = moduleRequest(c, f, MODULE_HEALTH.size, 'exact');
  if (typeof q === 'string') return err(q);
  const h = c.k.moduleHealth(q.name, q.range);
  const v = new DataView(q.out.buffer, q.out.byteOffset, q.out.byteLength);
  v.setBigUint64(MODULE_HEALTH.at.started, BigInt(h.started), true);
  v.setBigUint64(MODULE_HEALTH.at.faults, BigInt(h.faults), true);
  v.setBigUint64(MODULE_HEALTH.at.running, BigInt(h.running), true);
  v.setBigUint64(MODULE_HEALTH.at.memory, BigInt(h.memory), true);
  v.setBigUint64(MODULE_HEALTH.at.cpu_ns, BigInt(h.cpuNs), true);
  return 0;
}

/** struct hic_module_info from a module's signed metadata. */
function writeInfo(b: Uint8Array, meta: ModuleMetadata, installed: string | undefined, bad: boolean): void {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const at = MODULE_INFO.at;
  const version = semver.parse(meta.version)!; // the decoder accepted it as semver
  const deps = meta.dependencies.slice(0, Limit.MODULE_DEPS_MAX);
  b.fill(0);
  put(b, at.name, Limit.NAME_MAX, meta.name);
  put(b, at.version, Limit.VERSION_MAX, meta.version);
  const packed = (x: semver.SemVer) => (BigInt(x.major) << 16n) | (BigInt(x.minor) << 8n) | BigInt(x.patch);
  v.setBigUint64(at.version_packed, packed(version), true);
  v.setBigUint64(at.installed, installed === undefined ? 0n : packed(semver.parse(installed)!), true);
  v.setBigUint64(at.bad, bad ? 1n : 0n, true);
  v.setBigUint64(at.memory, BigInt(meta.memory), true);
  v.setBigUint64(at.cpu_permille, BigInt(meta.cpuPermille), true);
  v.setBigUint64(at.kind, meta.kind === 'service' ? 0n : 1n, true);
  v.setBigUint64(at.state_schema, BigInt(meta.stateSchema), true);
  v.setBigUint64(at.ndeps, BigInt(deps.length), true);
  deps.forEach((d, i) => {
    const base = at.deps + i * MODULE_DEP.size;
    put(b, base + MODULE_DEP.at.name, Limit.NAME_MAX, d.name);
    put(b, base + MODULE_DEP.at.range, Limit.NAME_MAX, d.range);
  });
}

// --- module_reserve -------------------------------------------------------------------------------

export function moduleReserve(c: SyscallContext, f: SyscallFrame): Outcome {
  const loader = c.sandbox.cspace.lookup(slot(f, 0), 'LOADER', Right.W);
  if (typeof loader === 'string') return err(loader);
  const bytes = f.arg(1);
  if (bytes <= 0 || bytes > RESERVATION_MAX) return err('INVALID_ARGUMENT');
  return place(c.sandbox, () => c.k.newReservation(c.sandbox, Math.ceil(bytes / PAGE)));
}

// --- module_spawn ---------------------------------------------------------------------------------

/** struct hic_spawn_spec as read, strings checked for form; what they name is checked later. */
interface SpawnFields {
  readonly sandbox: string;
  readonly module: string;
  readonly version: string;
  readonly quota: number;
  readonly stack: number;
  readonly budget: number;
  readonly reservation: bigint;
  readonly grants: readonly { readonly slot: number; readonly rights: number }[];
  readonly config: string;
}

function decodeSpec(b: Uint8Array): SpawnFields | undefined {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const at = SPAWN_SPEC.at;
  const sandbox = field(b, at.sandbox, Limit.NAME_MAX);
  const module = field(b, at.module, Limit.NAME_MAX);
  const version = field(b, at.version, Limit.VERSION_MAX);
  const config = field(b, at.config, Limit.SPAWN_CONFIG_MAX);
  const ngrants = word(v, at.ngrants);
  if (sandbox === undefined || module === undefined || version === undefined || config === undefined) return undefined;
  if (!SANDBOX_NAME.test(sandbox) || !NAME_PATTERN.test(module) || semver.valid(version) !== version) return undefined;
  if (ngrants < 0 || ngrants > Limit.SPAWN_GRANTS_MAX) return undefined;
  const grants = Array.from({ length: ngrants }, (_, i) => {
    const g = at.grants + i * SPAWN_GRANT.size;
    return { slot: word(v, g + SPAWN_GRANT.at.slot), rights: word(v, g + SPAWN_GRANT.at.rights) };
  });
  if (grants.some((g) => g.rights < 0 || (g.rights & ~Right.ALL) !== 0)) return undefined;
  const fields = { sandbox, module, version, config, grants, reservation: v.getBigInt64(at.reservation, true) };
  return { ...fields, quota: word(v, at.quota), stack: word(v, at.stack), budget: word(v, at.budget) };
}

/** "key=value;key=value" as a manifest's config object: a bool field's value as a boolean, the rest as written. */
function parseConfig(text: string, meta: ModuleMetadata): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  if (text === '') return out;
  for (const item of text.split(';')) {
    const m = CONFIG_ITEM.exec(item);
    if (!m || Object.hasOwn(out, m[1]!)) return undefined;
    const [, key, value] = m as unknown as [string, string, string];
    const type = meta.config.find((x) => x.name === key)?.type;
    out[key] = type === 'bool' && (value === 'true' || value === 'false') ? value === 'true' : value;
  }
  return out;
}

/** A refusal of a named request: why, for the moduleRejected event, and the guest's error. */
type Refusal = { readonly error: ErrName; readonly code: string; readonly reason: string; readonly source?: string };
const refusal = (error: ErrName, reason: string, code: string = error): Refusal => ({ error, code, reason });

/** Every check of a decoded request, in the order the ABI lists them; nothing changes here. */
function checkSpawn(c: SyscallContext, s: SpawnFields, downgrade: boolean): SpawnRequest | Refusal {
  const r = c.k.fetchModule(s.module, s.version, downgrade);
  if (r === 'NOT_FOUND') return refusal('NOT_FOUND', `the trusted repository has no ${s.module} ${s.version}`);
  if (!isFetched(r)) return { ...refusal('MODULE_REFUSED', r.refused.message, r.refused.code), ...(r.source === undefined ? {} : { source: r.source }) };
  const m = r.module;
  if (m.meta.version !== s.version) return refusal('MODULE_REFUSED', `asked for ${s.module} ${s.version}, the repository handed over ${m.meta.version}`, 'BAD_REPOSITORY');
  const bad = c.k.unloadable(m);
  if (bad) return refusal('MODULE_REFUSED', bad.message, bad.code);

  if (s.quota < PAGE) return refusal('INVALID_ARGUMENT', `a quota of ${s.quota} bytes is less than a page`);
  if (s.quota > m.meta.memory) return refusal('QUOTA_EXCEEDED', `a quota of ${s.quota} bytes is more than ${m.meta.name} ${m.meta.version} declares in its signed metadata (memory ${m.meta.memory})`);
  if (s.stack < STACK_MIN || s.stack > STACK_MAX) return refusal('INVALID_ARGUMENT', `a stack of ${s.stack} bytes is outside [${STACK_MIN}, ${STACK_MAX}]`);
  if (s.budget < 0 || s.budget > 0xffff_ffff) return refusal('INVALID_ARGUMENT', `a budget of ${s.budget} instructions is out of range`);
  // The one run lifecycle.ts claims: image, configuration page, guard page, stack.
  const needs = m.pages + (m.meta.config.length > 0 ? 1 : 0) + 1 + Math.ceil(s.stack / PAGE);
  if (needs > Math.floor(s.quota / PAGE)) return refusal('QUOTA_EXCEEDED', `a quota of ${s.quota} bytes cannot hold the image and a ${s.stack}-byte stack (${needs} pages)`);

  let reservation: Capability | undefined;
  if (s.reservation !== -1n) {
    const at = s.reservation >= 0n && s.reservation < 1n << 16n ? Number(s.reservation) : -1;
    const cap = c.sandbox.cspace.lookup(at, 'RESERVATION');
    if (typeof cap === 'string') return refusal(cap, `reservation slot ${s.reservation}: ${cap}`);
    const res = cap.object as Reservation;
    if (!res.holding) return refusal('INVALID_ARGUMENT', `the reservation in slot ${at} was consumed by an earlier spawn`);
    if (res.pages * PAGE < s.quota) return refusal('INVALID_ARGUMENT', `the reservation in slot ${at} holds ${res.pages * PAGE} bytes, less than the quota of ${s.quota}`);
    reservation = cap;
  }

  const declared = declaredBy(m.meta);
  const grants: { from: Capability; rights: number }[] = [];
  for (const [i, g] of s.grants.entries()) {
    const cap = c.sandbox.cspace.lookup(g.slot < 1 << 16 ? g.slot : -1, undefined);
    if (typeof cap === 'string') return refusal(cap, `grants[${i}]: slot ${g.slot}: ${cap}`);
    if (cap === reservation) return refusal('INVALID_ARGUMENT', `grants[${i}]: slot ${g.slot} is the reservation the spawn consumes`);
    if (!cap.has(g.rights)) return refusal('NO_RIGHT', `grants[${i}]: rights ${g.rights} are more than slot ${g.slot} holds (${cap.rights})`);
    const family = familyFor(cap.object.capType);
    if (!declares(declared, family)) return refusal('NOT_DECLARED', `grants[${i}]: ${m.meta.name} ${m.meta.version} does not declare "${family}", so it cannot be granted a ${cap.object.capType} capability`);
    grants.push({ from: cap, rights: g.rights });
  }

  const config = parseConfig(s.config, m.meta);
  if (!config) return refusal('INVALID_ARGUMENT', `config: expected "key=value;key=value", got "${s.config}"`);
  const resolved = resolveConfig(m.meta.config, config);
  if ('error' in resolved) return refusal('BAD_VALUE', `config.${resolved.key}: ${resolved.error}`);

  if (c.k.sandboxLive(s.sandbox)) return refusal('NAME_TAKEN', `a sandbox named ${s.sandbox} already runs`);
  if (c.sandbox.cspace.free === 0) return refusal('NO_SLOT', `${c.sandbox.name}'s capability space has no slot for the new sandbox's capability`);
  return { name: s.sandbox, fetched: r, quotaBytes: s.quota, stackBytes: s.stack, budget: s.budget === 0 ? undefined : s.budget, config, grants, reservation };
}

export function moduleSpawn(c: SyscallContext, f: SyscallFrame): Outcome {
  const loader = c.sandbox.cspace.lookup(slot(f, 0), 'LOADER', Right.W);
  if (typeof loader === 'string') return err(loader);
  if (f.arg(2) !== SPAWN_SPEC.size) return err('INVALID_ARGUMENT');
  const downgrade = downgradeFlag(c, slot(f, 0), f.arg(3));
  if (typeof downgrade === 'string') return err(downgrade);
  const b = f.arg(1) < 0 ? undefined : c.sandbox.cpu.space.view(f.arg(1), SPAWN_SPEC.size);
  if (!b) return err('BAD_ADDRESS');
  const s = decodeSpec(b);
  if (!s) return err('INVALID_ARGUMENT');

  const what = `${s.module} ${s.version} for ${s.sandbox} (module_spawn by ${c.sandbox.name})`;
  const req = checkSpawn(c, s, downgrade);
  if ('error' in req) {
    c.k.moduleRejected(what, req.code, req.reason, req.source, c.sandbox.name);
    return err(req.error);
  }
  // lifecycle.ts's spawn records its own refusal, if it refuses after all.
  return place(c.sandbox, () => c.k.spawnModule(c.sandbox, req));
}
