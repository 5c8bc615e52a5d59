// What a syscall means to the debugger, read at its entry before the kernel handles it: its name
// and arguments, the endpoint an IPC call names, and — on a migration control channel — the
// protocol call or reply it carries, with a connection package decoded when one travels with it.
// Also the small readers every kind of stop shares: guest memory as an integer, an event as
// condition names and as one line. Read-only: nothing here changes the machine (guest memory is
// read through the sandbox's own page table, capabilities through its capability space).

import { MESSAGE, SYSCALLS } from '../../core0/abi/abi.ts';
import type { Kernel } from '../../core0/kernel.ts';
import type { Capability } from '../../core0/objects/capability.ts';
import { Alias, Endpoint } from '../../core0/objects/endpoint.ts';
import { MemoryObject } from '../../core0/objects/memory-object.ts';
import type { Sandbox } from '../../core0/objects/sandbox.ts';
import type { Thread } from '../../core0/objects/thread.ts';
import type { Frames, SyscallFrame } from '../../emulator/types.ts';
import type { StampedEvent } from '../../core0/events.ts';
import type { EvalContext, Value } from './expr.ts';
import { decodeMessage, decodePackage, describeRecord, type DecodedMessage, type MigrationNames, type Package } from './migration.ts';

const hex = (n: number | bigint) => '0x' + n.toString(16);
const NAMES = new Map<number, string>(SYSCALLS.map((s) => [s.nr, s.name]));
const NR = Object.fromEntries(SYSCALLS.map((s) => [s.name, s.nr])) as Record<string, number>;

export interface SyscallEntry {
  readonly nr: number;
  readonly name: string;
  readonly args: readonly bigint[];
}

export function syscallEntry(frame: SyscallFrame): SyscallEntry {
  return { nr: frame.nr, name: NAMES.get(frame.nr) ?? `syscall ${frame.nr}`, args: [0, 1, 2, 3, 4, 5].map((i) => frame.wideArg(i)) };
}

export function describeSyscall(s: SyscallEntry): string {
  const def = SYSCALLS.find((x) => x.nr === s.nr);
  const args = def ? def.args.map(([name], i) => `${name}=0x${s.args[i]!.toString(16)}`) : s.args.map((a) => '0x' + a.toString(16));
  return `${s.name}(${args.join(', ')})`;
}

/** Condition names a syscall provides: nr, name, arg0…arg5 and the ABI's argument names. */
export function syscallNames(s: SyscallEntry): Record<string, Value> {
  const out: Record<string, Value> = { nr: BigInt(s.nr), name: s.name };
  s.args.forEach((a, i) => (out[`arg${i}`] = a));
  const def = SYSCALLS.find((x) => x.nr === s.nr);
  def?.args.forEach(([name], i) => (out[name] = s.args[i]!));
  return out;
}

/** The endpoint a send, call or recv names (an alias resolved now, as the kernel will). */
export function endpointOf(sandbox: Sandbox, s: SyscallEntry): Endpoint | undefined {
  if (s.nr !== NR.send && s.nr !== NR.call && s.nr !== NR.recv) return undefined;
  const c = sandbox.cspace.lookup(Number(BigInt.asUintN(32, s.args[0]!)), 'ENDPOINT');
  if (typeof c === 'string') return undefined;
  const o = c.object;
  return o instanceof Endpoint ? o : o instanceof Alias ? o.resolve() : undefined;
}

/** An endpoint as a user names it: a channel name, a registry name (cap://…), or #id. */
export function namedEndpoint(kernel: Kernel, name: string): Endpoint | undefined {
  if (name.startsWith('#')) return undefined; // compared by id, see endpointMatches
  const ch = kernel.channels.get(name);
  if (ch) return ch.object instanceof Endpoint ? ch.object : undefined;
  const r = kernel.objects.registry.lookup(name);
  return r instanceof Endpoint ? r : r instanceof Alias ? r.resolve() : undefined;
}

export function endpointMatches(kernel: Kernel, name: string, ep: Endpoint): boolean {
  if (name.startsWith('#')) return Number(name.slice(1)) === ep.id;
  return namedEndpoint(kernel, name) === ep;
}

/** Names an endpoint for display: its channel or registry name, else #id. */
export function endpointName(kernel: Kernel, ep: Endpoint): string {
  for (const [name, c] of kernel.channels) if (c.object === ep) return name;
  for (const [name, e] of kernel.objects.registry.listing().endpoints) if (e === ep) return name;
  return `#${ep.id}`;
}

/**
 * The endpoint a sandbox serves the migration protocol on when it was not given a named channel:
 * the one its configuration's `migration_slot` names (a Module Manager creates it and grants it
 * to the instance it starts), shown as "<sandbox>:migration".
 */
function migrationEndpointOf(kernel: Kernel, s: Sandbox): Endpoint | undefined {
  let slot = migrationSlots.get(s);
  if (slot === undefined) {
    // Configuration is fixed for a sandbox's life: read it from the event log once.
    const loaded = kernel.events.of('moduleLoaded').filter((e) => e.sandbox === s.name).at(-1);
    const v = loaded?.config.migration_slot;
    migrationSlots.set(s, (slot = typeof v === 'number' ? v : 0));
  }
  if (slot <= 0) return undefined;
  const c = s.cspace.lookup(slot, 'ENDPOINT');
  return typeof c !== 'string' && c.object instanceof Endpoint && c.has(1) ? c.object : undefined;
}
const migrationSlots = new WeakMap<Sandbox, number>();

function channelOf(kernel: Kernel, ep: Endpoint): string | undefined {
  for (const [name, c] of kernel.channels) if (c.object === ep) return name;
  for (const s of kernel.liveSandboxes) if (migrationEndpointOf(kernel, s) === ep) return `${s.name}:migration`;
  return undefined;
}

/** The control channel a server answers a client on: it holds R, the client W. */
function channelBetween(kernel: Kernel, server: Sandbox, client: Sandbox): string | undefined {
  const holds = (s: Sandbox, obj: unknown, right: number) => [...s.cspace.all()].some((c) => c.object === obj && c.has(right));
  for (const [name, root] of kernel.channels) if (holds(server, root.object, 1) && holds(client, root.object, 2)) return name;
  const own = migrationEndpointOf(kernel, server);
  return own && holds(client, own, 2) ? `${server.name}:migration` : undefined;
}

function readMessage(sandbox: Sandbox, at: bigint): DecodedMessage | undefined {
  if (at > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  const bytes = sandbox.cpu.space.view(Number(at), MESSAGE.size);
  return bytes ? decodeMessage(bytes) : undefined;
}

/** The package in a memory object a message passes, if it holds one. */
function packageOf(frames: Frames, sandbox: Sandbox, msg: DecodedMessage): Package | string | undefined {
  if (msg.cap < 0n || msg.cap > 1000n) return undefined;
  const c = sandbox.cspace.lookup(Number(msg.cap), 'MEMORY');
  if (typeof c === 'string' || !(c.object instanceof MemoryObject)) return undefined;
  const m = c.object;
  try {
    return decodePackage(frames.view(m.address, m.pages * 4096));
  } catch (e) {
    return (e as Error).message;
  }
}

export interface MigrationHit {
  readonly op: string;
  readonly direction: 'call' | 'reply';
  readonly channel: string;
  readonly from: string;
  readonly to: string;
  readonly message: DecodedMessage;
  /** The reply's label as its name (OK, ERR_…), replies only. */
  readonly status?: string;
  readonly package?: Package;
  readonly packageError?: string;
}

/**
 * A migration-protocol call (send or call on a control channel) or reply (to a call that came in
 * on one), read at the syscall's entry; undefined for anything else.
 */
export function migrationHit(kernel: Kernel, names: MigrationNames, t: Thread, s: SyscallEntry): MigrationHit | undefined {
  let out: Omit<MigrationHit, 'package' | 'packageError'> | undefined;
  if (s.nr === NR.call || s.nr === NR.send) {
    const ep = endpointOf(t.sandbox, s);
    const channel = ep && channelOf(kernel, ep);
    const msg = channel ? readMessage(t.sandbox, s.args[1]!) : undefined;
    if (!channel || !msg) return undefined;
    const server = ep.receivers[0]?.thread.sandbox.name ?? serverOf(kernel, channel, t.sandbox) ?? '?';
    out = { op: names.calls.get(Number(msg.label)) ?? `label ${msg.label}`, direction: 'call', channel, from: t.sandbox.name, to: server, message: msg };
  } else if (s.nr === NR.reply) {
    const caller = t.replyTo;
    const w = caller?.waiting;
    if (!caller || w?.kind !== 'reply') return undefined;
    const channel = channelBetween(kernel, t.sandbox, caller.sandbox);
    const request = channel ? readMessage(caller.sandbox, BigInt(w.msgAt)) : undefined;
    const msg = request ? readMessage(t.sandbox, s.args[0]!) : undefined;
    if (!channel || !request || !msg) return undefined;
    out = {
      op: names.calls.get(Number(request.label)) ?? `label ${request.label}`, direction: 'reply', channel, from: t.sandbox.name, to: caller.sandbox.name,
      message: msg, status: names.replies.get(Number(msg.label)) ?? `label ${msg.label}`,
    };
  }
  if (!out) return undefined;
  const p = packageOf(kernel.machine.frames, t.sandbox, out.message);
  return typeof p === 'string' ? { ...out, packageError: p } : p ? { ...out, package: p } : out;
}

function serverOf(kernel: Kernel, channel: string, client: Sandbox): string | undefined {
  if (channel.endsWith(':migration')) return channel.slice(0, -':migration'.length);
  const root = kernel.channels.get(channel);
  for (const s of kernel.liveSandboxes) if (s !== client && [...s.cspace.all()].some((c: Capability) => c.object === root?.object && c.has(1))) return s.name;
  return undefined;
}

export function describeMigration(h: MigrationHit): string {
  const w = h.message.words.map((x) => x.toString());
  const base = h.direction === 'call'
    ? `migration ${h.op} call on ${h.channel}: ${h.from} -> ${h.to}, words ${w.join(' ')}`
    : `migration ${h.op} reply on ${h.channel}: ${h.from} -> ${h.to}: ${h.status}, words ${w.join(' ')}`;
  if (h.package) return `${base}\n  package ${h.package.bytes} B: ${describeRecord(h.package.record)}`;
  if (h.packageError) return `${base}\n  package unreadable: ${h.packageError}`;
  return base;
}

/** Condition names a migration hit provides. */
export function migrationNames(h: MigrationHit): Record<string, Value> {
  const out: Record<string, Value> = {
    op: h.op, direction: h.direction, channel: h.channel, from: h.from, to: h.to, label: h.message.label,
    conn: h.message.words[0]!, status: h.status ?? '',
  };
  h.message.words.forEach((x, i) => (out[`word${i}`] = x));
  if (h.package) out.package_conn = BigInt(h.package.record.id);
  return out;
}

export function readGuest(s: Sandbox, address: bigint, size: number): bigint | undefined {
  if (address > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  const b = s.cpu.space.view(Number(address), size);
  if (!b) return undefined;
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

export function eventContext(e: StampedEvent): EvalContext {
  const fields = e as unknown as Record<string, unknown>;
  // A record's own fields come first, by name (`phase`, `migrated`, …), then the event's.
  const own = e.kind === 'record' ? (e.fields as Record<string, unknown>) : {};
  return {
    lookup: (name) => {
      const key = name.startsWith('event.') ? name.slice(6) : name;
      const v = Object.hasOwn(own, key) ? own[key] : fields[key];
      return typeof v === 'number' ? BigInt(v) : typeof v === 'string' || typeof v === 'boolean' ? v : undefined;
    },
    read: () => undefined,
  };
}

/** One line for an event: its kind and fields. */
export function eventLine(e: StampedEvent): string {
  const { t, seq: _s, kind, ...fields } = e;
  const parts = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'number' && k !== 'id' && k !== 'thread' && k !== 'status' && v > 0xffff ? hex(v) : typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  return `[${(t / 1e9).toFixed(9)}s] ${kind} ${parts.join(' ')}`;
}
