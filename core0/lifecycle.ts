// The life of a sandbox: created from a verified module with its initial capabilities (spawn),
// or for a TypeScript system service with no code of its own (spawnHost); suspended, resumed or
// destroyed through a sandbox-control capability (control); ended with everything it held
// (destroy). Each refusal leaves nothing behind: no sandbox, no frame, no mapping.

import type { PageFlags, SyscallFrame } from '../emulator/types.ts';
import { Err, Right } from './abi/abi.ts';
import { cancelWait } from './ipc.ts';
import { ModuleError } from './module/errors.ts';
import { placeModule } from './module/loader.ts';
import { encodeConfigPage, resolveConfig, wordValue, type FieldValue } from './module/values.ts';
import type { VerifiedModule } from './module/verify.ts';
import { destroyCapability, originalCapability, type Capability } from './objects/capability.ts';
import { PAGE, Sandbox, SandboxControl } from './objects/sandbox.ts';
import { Thread } from './objects/thread.ts';
import type { ControlOp, ControlResult } from './kernel-services.ts';
import { declaredBy, declares, familyFor } from './module/declared.ts';
import { liveSandboxes, TABLE_TAG, type DestroyReason, type KernelState } from './state.ts';
import { dispatch, type Outcome } from './syscalls.ts';
import { contextFor, type TrapFactory } from './trap.ts';

export interface SandboxSpec {
  readonly name: string;
  readonly quotaBytes: number;
  /** Instructions per time slice (the CPU share); default 100,000. */
  readonly budget?: number;
  readonly mappingLimit?: number;
}

export interface StartSpec {
  readonly stackBytes: number;
  /**
   * Values for the module's declared configuration fields, by name, as a manifest writes them
   * ("abort", "450ms", 20, true); fields not named take their defaults (docs/configuration.md).
   */
  readonly config?: Readonly<Record<string, unknown>>;
}

export type KernelErrorCode = 'SANDBOX_EXISTS' | 'QUOTA_EXCEEDED' | 'NO_MEMORY' | 'MAPPING_LIMIT' | 'BAD_SPEC';

/**
 * A refused spawn or host request. `field` names the part of the request that was refused, in
 * the words of an image manifest's sandbox entry (`quota`, `caps.channels`, …), so whoever built
 * the request can point at the line to change.
 */
export class KernelError extends Error {
  constructor(readonly code: KernelErrorCode, message: string, readonly field = FIELD_OF[code]) {
    super(message);
  }
}

const FIELD_OF: Record<KernelErrorCode, string> = {
  SANDBOX_EXISTS: 'name',
  QUOTA_EXCEEDED: 'quota',
  NO_MEMORY: 'quota',
  MAPPING_LIMIT: 'quota',
  BAD_SPEC: 'quota',
};

export const DEFAULT_BUDGET = 100_000;

/**
 * Capabilities a sandbox starts with, in this slot order: registry (slot 0), the module loader,
 * IRQ lines, device windows, sandbox controls, channels, grants. The loader comes right after
 * the registry so that images without one keep their slots.
 */
export interface InitialCaps {
  /** Rights on the service registry (default R|W: look up and register; G also switches aliases). */
  readonly registry?: number;
  /** Rights on the module loader (R query, W reserve and spawn); absent or 0: none. */
  readonly loader?: number;
  readonly irqs?: readonly number[];
  /** Device register windows it may map: device name and rights (R, or R|W). */
  readonly mmio?: readonly { readonly device: string; readonly rights: number }[];
  /** Sandboxes this one may suspend, resume and destroy. */
  readonly control?: readonly string[];
  /**
   * Channels: endpoints Core-0 creates by name, the first time a sandbox lists one, and shares
   * only with the sandboxes that list it (rights R: receive on it, W: call and send on it). The
   * migration control channel of a rolling update is one (docs/migration-protocol.md).
   */
  readonly channels?: readonly { readonly name: string; readonly rights: number }[];
  /**
   * Capabilities of another sandbox, each derived with these rights (module_spawn's grants, which
   * the caller checked): revoking the original takes them back.
   */
  readonly grants?: readonly { readonly from: Capability; readonly rights: number }[];
}

/**
 * Creates a sandbox and starts a verified service module in it, or changes nothing. The
 * module's dependencies must be loaded; image pages, an unmapped guard page and the stack are one
 * contiguous run; the image is relocated against its real address and every import resolved to
 * a shared library; each segment is mapped with its own protection (W^X), the libraries it uses
 * read-execute; its configuration, checked against the module's declaration, is a read-only page
 * whose address the first thread, starting at its `_service_entry`, finds in rdi. On any
 * refusal the sandbox, its frames and its mappings are gone again and only an audit event says
 * what happened.
 */
export function spawn(k: KernelState, spec: SandboxSpec & StartSpec & { readonly caps?: InitialCaps }, m: VerifiedModule, trap: TrapFactory): Sandbox {
  const quotaPages = Math.floor(spec.quotaBytes / PAGE);
  const budget = spec.budget ?? DEFAULT_BUDGET;
  const refuse = (e: unknown): never => {
    const code = (e as { code?: string }).code ?? 'INTERNAL';
    k.events.emit({ kind: 'moduleRejected', source: `${m.meta.name} ${m.meta.version} for ${spec.name}`, code, reason: (e as Error).message });
    throw e;
  };
  if (k.sandboxes.get(spec.name)?.state === 'live') refuse(new KernelError('SANDBOX_EXISTS', `a sandbox named ${spec.name} already runs`));
  if (!(quotaPages > 0)) refuse(new KernelError('BAD_SPEC', `bad quota for ${spec.name}`, 'quota'));
  if (!(Number.isInteger(budget) && budget > 0)) refuse(new KernelError('BAD_SPEC', `bad budget for ${spec.name}`, 'budget'));
  const config = resolveConfig(m.meta.config, spec.config ?? {});
  if ('error' in config) return refuse(new KernelError('BAD_SPEC', `${spec.name}: config.${config.key}: ${config.error}`, `config.${config.key}`));
  const { words } = config;
  try {
    k.modules.checkDependencies(m.meta);
  } catch (e) {
    refuse(e);
  }
  if (m.meta.kind !== 'service') refuse(new ModuleError('NOT_A_SERVICE', `${m.meta.name} ${m.meta.version} is a library, not a service`));
  // The image may grant less than the module's signed metadata declares, never more.
  const declared = declaredBy(m.meta);
  const who = `${m.meta.name} ${m.meta.version}`;
  if (spec.quotaBytes > m.meta.memory) {
    refuse(new KernelError('BAD_SPEC', `${spec.name}: a quota of ${spec.quotaBytes} bytes is more than ${who} declares in its signed metadata (memory ${m.meta.memory})`, 'quota'));
  }
  const caps = spec.caps ?? {};
  for (const [family, field, granted] of [
    ['irq', 'caps.irqs', (caps.irqs?.length ?? 0) > 0],
    ['mmio', 'caps.mmio', (caps.mmio?.length ?? 0) > 0],
    ['sandbox_control', 'caps.control', (caps.control?.length ?? 0) > 0],
    ['ipc', 'caps.channels', (caps.channels?.length ?? 0) > 0],
    ['module_control', 'caps.loader', (caps.loader ?? 0) !== 0],
    ...(caps.grants ?? []).map((g) => [familyFor(g.from.object.capType), 'grants', true] as const),
  ] as const) {
    if (granted && !declares(declared, family)) refuse(new KernelError('BAD_SPEC', `${spec.name}: ${who} does not declare "${family}" in its signed metadata, so it cannot be granted ${field}`, field));
  }

  // A CPU's page table takes its first frame at once, before anything can be refused as a value.
  if (k.machine.frames.accounting().free === 0) refuse(new KernelError('NO_MEMORY', `${spec.name}: no free frame for its page table`));

  const id = k.ids.sandbox++;
  const module = { name: m.meta.name, version: m.meta.version, records: m.meta.records, cpuPermille: m.meta.cpuPermille };
  const s = new Sandbox(id, spec.name, quotaPages, budget, k.machine.createCpu(TABLE_TAG | id, spec.mappingLimit), k.machine.frames, declared, module);
  let t: Thread;
  let placedAt: { base: number; entry: number; stackTop: number; config: number };
  try {
    grantInitial(k, s, caps);
    ({ t, placedAt } = load(k, s, m, spec.stackBytes, words, trap));
  } catch (e) {
    // What was granted goes first, so nothing derived stays in the tree of a sandbox that never ran.
    for (const c of [...s.cspace.all()]) destroyCapability(c);
    s.teardown();
    refuse(e);
    throw e; // unreachable: refuse throws
  }
  k.sandboxes.set(spec.name, s);
  k.modules.install(m);
  k.modules.started(m.meta.name, m.meta.version);
  k.events.emit({ kind: 'sandboxCreated', sandbox: s.name, id, quota: quotaPages * PAGE });
  const values: Record<string, FieldValue> = {};
  m.meta.config.forEach((f, i) => (values[f.name] = wordValue(f, words[i]!)!));
  k.events.emit({ kind: 'moduleLoaded', sandbox: s.name, module: m.meta.name, version: m.meta.version, base: placedAt.base, pages: m.pages, entry: placedAt.entry, sha384: m.hash, config: values });
  k.events.emit({ kind: 'threadStarted', sandbox: s.name, thread: t.id, entry: placedAt.entry, stackTop: placedAt.stackTop, config: placedAt.config });
  k.scheduler.makeRunnable(t);
  return s;
}


function grantInitial(k: KernelState, s: Sandbox, caps: InitialCaps): void {
  const give = (c: Capability | undefined, what: string, field: string) => {
    if (!c) throw new KernelError('BAD_SPEC', `${s.name}: cannot grant ${what}`, field);
    if (s.cspace.insert(c) === 'NO_SLOT') throw new KernelError('BAD_SPEC', `${s.name}: cannot grant ${what}: its capability space is full`, field);
  };
  give(k.objects.registryRoot.derive(caps.registry ?? Right.R | Right.W), 'the registry capability', 'caps.registry');
  if (caps.loader) give(k.objects.loaderRoot.derive(caps.loader), 'the module loader', 'caps.loader');
  for (const line of caps.irqs ?? []) give(k.objects.irqRoot(line).derive(Right.W), `IRQ ${line}`, 'caps.irqs');
  for (const m of caps.mmio ?? []) {
    const root = k.mmioRoots.get(m.device);
    if (!root) throw new KernelError('BAD_SPEC', `${s.name}: the machine has no device ${m.device}`, 'caps.mmio');
    give(root.derive(m.rights), `the ${m.device} registers`, 'caps.mmio');
  }
  for (const name of caps.control ?? []) {
    const target = k.sandboxes.get(name);
    if (target?.state !== 'live') throw new KernelError('BAD_SPEC', `${s.name}: no live sandbox ${name} to control`, 'caps.control');
    give(originalCapability(new SandboxControl(target)), `control of ${name}`, 'caps.control');
  }
  for (const { name, rights } of caps.channels ?? []) {
    let root = k.channels.get(name);
    if (!root) k.channels.set(name, (root = k.objects.newEndpoint()));
    give(root.derive(rights), `channel ${name}`, 'caps.channels');
    k.events.emit({ kind: 'channelGranted', channel: name, sandbox: s.name, rights });
  }
  for (const g of caps.grants ?? []) give(g.from.derive(g.rights), `a ${g.from.object.capType} capability with rights ${g.rights}`, 'grants');
}


/**
 * A sandbox for a TypeScript system service (Module Manager, Monitor): a capability space and
 * a scratch page for message structures, but no code of its own. Its calls go through the same
 * dispatch table as a guest's, with the same checks (host-client.ts); it is never scheduled.
 */
export function spawnHost(k: KernelState, name: string, caps: InitialCaps): { sandbox: Sandbox; thread: Thread; scratch: number; call: (frame: SyscallFrame) => Outcome } {
  if (k.sandboxes.get(name)?.state === 'live') throw new KernelError('SANDBOX_EXISTS', `a sandbox named ${name} already runs`);
  const id = k.ids.sandbox++;
  const s = new Sandbox(id, name, 16, 1, k.machine.createCpu(TABLE_TAG | id), k.machine.frames);
  try {
    grantInitial(k, s, caps);
  } catch (e) {
    s.teardown();
    throw e;
  }
  const scratch = s.allocate(2, { writable: true, executable: false });
  if (typeof scratch === 'string') throw new KernelError('NO_MEMORY', `${name}: no scratch page (${scratch})`);
  const t = new Thread(k.ids.thread++, s, s.cpu.createThread(scratch, scratch + 8192 - 8, 0));
  t.state = 'blocked'; // never scheduled: the host calls in directly
  s.threads.add(t);
  k.sandboxes.set(name, s);
  k.events.emit({ kind: 'sandboxCreated', sandbox: name, id, quota: s.quotaPages * PAGE });
  const ctx = contextFor(k, t);
  return { sandbox: s, thread: t, scratch, call: (frame) => dispatch(ctx, frame) };
}


/**
 * Claims, places, maps and makes the first thread; the caller tears down on a throw. One run of
 * frames, charged to the quota: the image, the configuration page (when the module declares any
 * configuration: read-only, never executable, its address in the first thread's rdi), an
 * unmapped guard page, the stack.
 */
function load(k: KernelState, s: Sandbox, m: VerifiedModule, stackBytes: number, config: readonly bigint[], trap: TrapFactory): { t: Thread; placedAt: { base: number; entry: number; stackTop: number; config: number } } {
  const stackPages = Math.ceil(stackBytes / PAGE);
  const configPages = config.length > 0 ? 1 : 0; // the decoder allows at most a quarter page of fields
  const total = m.pages + configPages + 1 + stackPages;
  const claimed = s.claim('image', total);
  if (typeof claimed === 'string') {
    throw new KernelError(claimed === 'QUOTA_EXCEEDED' ? 'QUOTA_EXCEEDED' : 'NO_MEMORY', `${s.name}: ${total} pages for ${m.meta.name} (${claimed})`);
  }
  const base = claimed.first * PAGE;
  const placed = placeModule(m, base, (imp) => k.modules.exportAddress(imp));
  if (placed.entry === undefined) throw new ModuleError('NOT_A_SERVICE', `${m.meta.name} ${m.meta.version} is a library, not a service`);
  k.machine.frames.view(base, placed.bytes.length).set(placed.bytes);
  // A refusal here ends the spawn; the caller tears the sandbox down (spawn's catch).
  const map = (va: number, pages: number, flags: PageFlags) => {
    const r = s.cpu.space.tryMap(va, va / PAGE, pages, flags);
    if (r !== 'OK') throw new KernelError(r === 'NO_FRAMES' ? 'NO_MEMORY' : 'MAPPING_LIMIT', `${s.name}: mapping ${pages} pages at 0x${va.toString(16)}: ${r}`);
  };
  for (const seg of placed.segments) map(seg.va, seg.pages, seg);
  for (const lib of k.modules.librariesOf(m.meta)) {
    for (const seg of lib.placed.segments) map(seg.va, seg.pages, seg);
  }
  const configAt = configPages ? base + m.pages * PAGE : 0;
  if (configPages) {
    // Fresh frames are zero (frames are zeroed when freed), so the words are all there is to write.
    k.machine.frames.view(configAt, PAGE).set(encodeConfigPage(config));
    map(configAt, 1, { writable: false, executable: false });
  }
  const stackBase = base + (m.pages + configPages + 1) * PAGE;
  map(stackBase, stackPages, { writable: true, executable: false });
  const stackTop = stackBase + stackPages * PAGE - 8; // as if _start had been called
  const t = new Thread(k.ids.thread++, s, s.cpu.createThread(placed.entry, stackTop, configAt));
  t.stack = { guard: stackBase - PAGE, base: stackBase, top: stackBase + stackPages * PAGE };
  t.onSyscall = trap(t);
  s.threads.add(t);
  return { t, placedAt: { base, entry: placed.entry, stackTop, config: configAt } };
}


/**
 * Ends a sandbox: its threads stop and leave every queue, callers waiting on its replies learn
 * the peer is gone, every capability it held is deleted (revoking what was derived from them,
 * everywhere), IRQ lines routed to it go pending, and its frames return to the pool.
 */
export function destroy(k: KernelState, s: Sandbox, reason: DestroyReason): void {
  if (s.state !== 'live') return;
  for (const t of s.threads) {
    cancelWait(t);
    k.scheduler.remove(t);
    t.state = 'dead';
  }
  for (const other of liveSandboxes(k)) {
    for (const t of other.threads) if (t.waiting?.kind === 'reply' && t.waiting.on.sandbox === s) k.objects.wake(t, -Err.PEER_GONE);
  }
  s.console.flush((lines, bytes) => k.events.emit({ kind: 'consoleDropped', sandbox: s.name, lines, bytes }));
  const owned = () => k.machine.frames.runsOf(s.id).reduce((n, [, count]) => n + count, 0);
  const before = owned();
  for (const c of [...s.cspace.all()]) if (c.live) destroyCapability(c);
  s.teardown();
  // Aliases it answered fall back to a live version of the same service, if one runs — not when
  // the whole machine is going down, where nobody is left to call them.
  if (reason !== 'shutdown') for (const r of k.objects.registry.fallBack()) k.objects.endpointSwitched(r.alias, r.from, r.to, 'core0');
  // Everything that carried its tag and is free now: regions, and memory objects nobody else holds.
  const framesReturned = before - owned();
  k.events.emit({ kind: 'sandboxDestroyed', sandbox: s.name, framesReturned, reason });
}

/** Ends every sandbox, then unloads the libraries nobody uses any more. */
export function shutdown(k: KernelState): void {
  for (const s of liveSandboxes(k)) destroy(k, s, 'shutdown');
  k.modules.unloadLibraries();
}


/** Sandbox control, from a guest's capability or the host. */
export function control(k: KernelState, target: Sandbox, op: ControlOp, by: Thread): ControlResult {
  if (op === 'destroy') {
    if (target === by.sandbox) return { kind: 'exit', status: 0 };
    destroy(k, target, 'destroyed');
    return 0;
  }
  if (op === 'suspend' && !target.suspended) {
    target.suspended = true;
    for (const t of target.threads) if (t.state === 'runnable') k.scheduler.remove(t);
    k.events.emit({ kind: 'sandboxSuspended', sandbox: target.name, by: by.sandbox.name });
  } else if (op === 'resume' && target.suspended) {
    target.suspended = false;
    for (const t of target.threads) {
      if (t.state !== 'runnable') continue;
      k.scheduler.remove(t); // it may still sit in the queue from a wake-up while suspended
      k.scheduler.makeRunnable(t);
    }
    k.events.emit({ kind: 'sandboxResumed', sandbox: target.name, by: by.sandbox.name });
  }
  // Suspending itself: the calling thread stops here and is not scheduled until resumed.
  return target === by.sandbox && op === 'suspend' ? { kind: 'yield' } : 0;
}

