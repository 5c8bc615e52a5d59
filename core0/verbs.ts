// The syscall verbs for kernel objects: capabilities, IPC, notifications, memory objects, the
// service registry, interrupts and sandbox control. Each checks its capability (slot, type,
// rights) and every argument before it acts; syscalls.ts holds the table that names them.

import { Err, Flag, Right } from './abi/abi.ts';
import type { SyscallFrame } from '../emulator/types.ts';
import { BLOCK, notify, recv, reply, send, wait, type Blocked, type Core, type Handoff } from './ipc.ts';
import { destroyCapability, revoke, type Capability, type ErrName } from './objects/capability.ts';
import { Endpoint, Alias } from './objects/endpoint.ts';
import type { IrqLine } from './objects/irq-line.ts';
import { MemoryObject } from './objects/memory-object.ts';
import type { MmioRegion } from './objects/mmio-region.ts';
import type { Notification } from './objects/notification.ts';
import type { Sandbox, SandboxControl } from './objects/sandbox.ts';
import type { ServiceRegistry } from './objects/service-registry.ts';
import type { Thread } from './objects/thread.ts';

/** What the verbs need from the kernel beyond IPC's blocking and waking. */
export interface KernelServices extends Core {
  newEndpoint(): Capability;
  newNotification(): Capability;
  newMemory(s: Sandbox, pages: number): Capability | ErrName;
  readonly registry: ServiceRegistry;
  /** The capability a server registered a name with: clients' capabilities derive from it. */
  readonly registered: Map<string, Capability>;
  aliasCapability(a: Alias): Capability;
  endpointSwitched(alias: string, from: string, to: string, by: string): void;
  bindIrq(line: IrqLine, n: Notification, bits: bigint, by: string): void;
  ackIrq(line: IrqLine): void;
  control(target: Sandbox, op: 'suspend' | 'resume' | 'destroy', by: Thread): number | { readonly kind: 'exit'; readonly status: number } | { readonly kind: 'yield' };
}

export interface ObjectContext {
  readonly thread: Thread;
  readonly sandbox: Sandbox;
  readonly k: KernelServices;
}

export type ObjectOutcome = number | Blocked | Handoff | { readonly kind: 'exit'; readonly status: number } | { readonly kind: 'yield' };
type Verb = (c: ObjectContext, f: SyscallFrame) => ObjectOutcome;

const err = (e: ErrName) => -Err[e];
const MAX_NAME = 128;
const ascii = new TextDecoder('utf-8', { fatal: false });

/** A slot argument: slots are small; anything else is simply not a slot. */
const slot = (f: SyscallFrame, i: number) => {
  const v = f.arg(i);
  return v >= 0 && v < 1 << 16 ? v : -1;
};

function insert(s: Sandbox, c: Capability | undefined): number {
  if (!c) return err('NO_RIGHT');
  const at = s.cspace.insert(c);
  if (at === 'NO_SLOT') {
    c.parent?.children.delete(c);
    return err('NO_SLOT');
  }
  return at;
}

/** A registry name from guest memory; the registry itself checks its form. */
function name(s: Sandbox, at: number, len: number): { readonly name: string } | ErrName {
  if (len <= 0 || len > MAX_NAME) return 'INVALID_ARGUMENT';
  const b = at < 0 ? undefined : s.cpu.space.view(at, len);
  return b ? { name: ascii.decode(b) } : 'BAD_ADDRESS';
}

function timeout(f: SyscallFrame, i: number): number {
  return f.arg(i); // -1 (≥ 2^53) is refused by the callers
}

export const objectVerbs = {
  cap_copy(c, f) {
    const cap = c.sandbox.cspace.lookup(slot(f, 0), undefined);
    if (typeof cap === 'string') return err(cap);
    const rights = f.arg(1);
    if (rights < 0 || rights > Right.ALL) return err('INVALID_ARGUMENT');
    return insert(c.sandbox, cap.derive(rights));
  },

  cap_delete(c, f) {
    const cap = c.sandbox.cspace.lookup(slot(f, 0), undefined);
    if (typeof cap === 'string') return err(cap);
    const revoked = cap.descendants().length;
    destroyCapability(cap);
    c.k.events.emit({ kind: 'capRevoked', sandbox: c.sandbox.name, type: cap.object.capType, revoked: revoked + 1 });
    return 0;
  },

  cap_revoke(c, f) {
    const cap = c.sandbox.cspace.lookup(slot(f, 0), undefined);
    if (typeof cap === 'string') return err(cap);
    const revoked = revoke(cap);
    c.k.events.emit({ kind: 'capRevoked', sandbox: c.sandbox.name, type: cap.object.capType, revoked });
    return revoked;
  },

  cap_info(c, f) {
    const cap = c.sandbox.cspace.lookup(slot(f, 0), undefined);
    if (typeof cap === 'string') return err(cap);
    const type = { ENDPOINT: 1, NOTIFICATION: 2, MEMORY: 3, MMIO: 4, IRQ: 5, SANDBOX: 6, REGISTRY: 7 }[cap.object.capType];
    return (type << 8) | cap.rights;
  },

  endpoint_create: (c) => insert(c.sandbox, c.k.newEndpoint()),

  send(c, f) {
    const cap = c.sandbox.cspace.lookup(slot(f, 0), 'ENDPOINT', Right.W);
    if (typeof cap === 'string') return err(cap);
    const flags = f.arg(2);
    if (flags < 0 || flags & ~Flag.NONBLOCK) return err('INVALID_ARGUMENT');
    const ep = (cap.object as Endpoint | Alias).resolve();
    if (!ep) return err('PEER_GONE');
    return send(c.k, c.thread, { endpoint: ep, msgAt: f.arg(1), nonblock: (flags & Flag.NONBLOCK) !== 0, badge: cap.badge });
  },

  recv(c, f) {
    const cap = c.sandbox.cspace.lookup(slot(f, 0), 'ENDPOINT', Right.R);
    if (typeof cap === 'string') return err(cap);
    if (!(cap.object instanceof Endpoint) || cap.object.dead) return err('PEER_GONE');
    const flags = f.arg(2);
    const t = timeout(f, 3);
    if (flags < 0 || flags & ~Flag.NONBLOCK || t < 0) return err('INVALID_ARGUMENT');
    return recv(c.k, c.thread, cap.object, f.arg(1), flags, t);
  },

  call(c, f) {
    const cap = c.sandbox.cspace.lookup(slot(f, 0), 'ENDPOINT', Right.W);
    if (typeof cap === 'string') return err(cap);
    const flags = f.arg(2);
    const t = timeout(f, 3);
    if (flags < 0 || flags & ~Flag.NONBLOCK || t < 0) return err('INVALID_ARGUMENT');
    const ep = (cap.object as Endpoint | Alias).resolve();
    if (!ep) return err('PEER_GONE');
    return send(c.k, c.thread, { endpoint: ep, msgAt: f.arg(1), nonblock: (flags & Flag.NONBLOCK) !== 0, call: { timeoutNs: t }, badge: cap.badge });
  },

  reply: (c, f) => reply(c.k, c.thread, f.arg(0)),

  notification_create: (c) => insert(c.sandbox, c.k.newNotification()),

  notify(c, f) {
    const cap = c.sandbox.cspace.lookup(slot(f, 0), 'NOTIFICATION', Right.W);
    if (typeof cap === 'string') return err(cap);
    const bits = f.arg(1);
    if (bits <= 0 || bits > 0xffff_ffff) return err('INVALID_ARGUMENT');
    notify(c.k, cap.object as Notification, BigInt(bits));
    return 0;
  },

  wait(c, f) {
    const cap = c.sandbox.cspace.lookup(slot(f, 0), 'NOTIFICATION', Right.R);
    if (typeof cap === 'string') return err(cap);
    const flags = f.arg(1);
    const t = timeout(f, 2);
    if (flags < 0 || flags & ~Flag.NONBLOCK || t < 0) return err('INVALID_ARGUMENT');
    return wait(c.k, c.thread, cap.object as Notification, flags, t);
  },

  memory_create(c, f) {
    const len = f.arg(0);
    if (len <= 0 || len > 1 << 30) return err('INVALID_ARGUMENT');
    const cap = c.k.newMemory(c.sandbox, Math.ceil(len / 4096));
    return typeof cap === 'string' ? err(cap) : insert(c.sandbox, cap);
  },

  memory_map(c, f) {
    const cap = c.sandbox.cspace.lookup(slot(f, 0), 'MEMORY', Right.R);
    if (typeof cap === 'string') return err(cap);
    const m = cap.object as MemoryObject;
    if (cap.mappedAt !== undefined) return cap.mappedAt;
    if (c.sandbox.cpu.space.translate(m.address) >= 0) return err('INVALID_ARGUMENT'); // mapped through another capability
    try {
      c.sandbox.cpu.space.map(m.address, m.first, m.pages, { writable: cap.has(Right.W), executable: false });
    } catch (e) {
      if ((e as { code?: string }).code === 'MAPPING_LIMIT') return err('MAPPING_LIMIT');
      throw e;
    }
    cap.mappedAt = m.address;
    return m.address;
  },

  memory_size(c, f) {
    const cap = c.sandbox.cspace.lookup(slot(f, 0), 'MEMORY');
    if (typeof cap === 'string') return err(cap);
    return (cap.object as MemoryObject).pages * 4096;
  },

  memory_unmap(c, f) {
    const cap = c.sandbox.cspace.lookup(slot(f, 0), 'MEMORY');
    if (typeof cap === 'string') return err(cap);
    if (cap.mappedAt === undefined) return err('NOT_FOUND');
    c.sandbox.cpu.space.unmap(cap.mappedAt, (cap.object as MemoryObject).pages);
    cap.mappedAt = undefined;
    return 0;
  },

  mmio_map(c, f) {
    const cap = c.sandbox.cspace.lookup(slot(f, 0), 'MMIO', Right.R);
    if (typeof cap === 'string') return err(cap);
    const d = (cap.object as MmioRegion).attached;
    if (cap.mappedAt !== undefined) return cap.mappedAt;
    try {
      c.sandbox.cpu.mapDevice(d.base, d.device, cap.has(Right.W));
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'MAPPING_LIMIT') return err('MAPPING_LIMIT');
      if (code === 'UC_ERR_MAP') return err('INVALID_ARGUMENT'); // already mapped through another capability
      throw e;
    }
    cap.mappedAt = d.base;
    // Its driver: a DMA-capable device now reaches this sandbox's own memory, and only that.
    if (cap.has(Right.W)) d.device.bind?.((at, length, access) => c.sandbox.dmaView(at, length, access));
    return d.base;
  },

  registry_register(c, f) {
    const reg = c.sandbox.cspace.lookup(slot(f, 0), 'REGISTRY', Right.W);
    if (typeof reg === 'string') return err(reg);
    const n = name(c.sandbox, f.arg(1), f.arg(2));
    if (typeof n === 'string') return err(n);
    const ep = c.sandbox.cspace.lookup(slot(f, 3), 'ENDPOINT', Right.R);
    if (typeof ep === 'string') return err(ep);
    if (!(ep.object instanceof Endpoint)) return err('WRONG_TYPE');
    const r = c.k.registry.register(n.name, ep.object);
    if (typeof r === 'string') return err(r);
    c.k.registered.set(n.name, ep);
    c.k.events.emit({ kind: 'endpointRegistered', sandbox: c.sandbox.name, name: n.name, alias: r.alias, isDefault: r.defaulted });
    return 0;
  },

  registry_lookup(c, f) {
    const reg = c.sandbox.cspace.lookup(slot(f, 0), 'REGISTRY', Right.R);
    if (typeof reg === 'string') return err(reg);
    const n = name(c.sandbox, f.arg(1), f.arg(2));
    if (typeof n === 'string') return err(n);
    const found = c.k.registry.lookup(n.name);
    if (typeof found === 'string') return err(found);
    // An alias's capabilities derive from a root the registry keeps (held by no sandbox); a
    // versioned name's from the capability its server registered, which must still be live.
    const from = found instanceof Alias ? c.k.aliasCapability(found) : c.k.registered.get(n.name);
    if (!from || (!(found instanceof Alias) && !from.live)) return err('NOT_FOUND');
    return insert(c.sandbox, from.derive(Right.W | Right.G, from.badge));
  },

  registry_switch(c, f) {
    const reg = c.sandbox.cspace.lookup(slot(f, 0), 'REGISTRY', Right.G);
    if (typeof reg === 'string') return err(reg);
    const alias = name(c.sandbox, f.arg(1), f.arg(2));
    if (typeof alias === 'string') return err(alias);
    const target = name(c.sandbox, f.arg(3), f.arg(4));
    if (typeof target === 'string') return err(target);
    const r = c.k.registry.switch(alias.name, target.name);
    if (typeof r === 'string') return err(r);
    c.k.endpointSwitched(r.alias, r.from, r.to, c.sandbox.name);
    return 0;
  },

  irq_bind(c, f) {
    const irq = c.sandbox.cspace.lookup(slot(f, 0), 'IRQ', Right.W);
    if (typeof irq === 'string') return err(irq);
    const n = c.sandbox.cspace.lookup(slot(f, 1), 'NOTIFICATION', Right.W);
    if (typeof n === 'string') return err(n);
    const bits = f.arg(2);
    if (bits <= 0 || bits > 0xffff_ffff) return err('INVALID_ARGUMENT');
    c.k.bindIrq(irq.object as IrqLine, n.object as Notification, BigInt(bits), c.sandbox.name);
    return 0;
  },

  irq_ack(c, f) {
    const irq = c.sandbox.cspace.lookup(slot(f, 0), 'IRQ', Right.W);
    if (typeof irq === 'string') return err(irq);
    c.k.ackIrq(irq.object as IrqLine);
    return 0;
  },

  sandbox_suspend: (c, f) => control(c, f, 'suspend'),
  sandbox_resume: (c, f) => control(c, f, 'resume'),
  sandbox_destroy: (c, f) => control(c, f, 'destroy'),
} satisfies Record<string, Verb>;

function control(c: ObjectContext, f: SyscallFrame, op: 'suspend' | 'resume' | 'destroy'): ObjectOutcome {
  const cap = c.sandbox.cspace.lookup(slot(f, 0), 'SANDBOX', Right.W);
  if (typeof cap === 'string') return err(cap);
  const target = (cap.object as SandboxControl).sandbox;
  if (target.state !== 'live') return err('PEER_GONE');
  return c.k.control(target, op, c.thread);
}

export { BLOCK };
