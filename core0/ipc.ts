// IPC mechanics: messages between guest memories, capability transfer, and the blocking and
// waking of threads on endpoints and notifications. Every entry point decodes and checks first
// (slots, rights, memory, payload size, the receiver's room for a capability) and only then
// changes anything, so a refused operation has no effect.
//
// A message passes directly from the sender's memory to the receiver's: the kernel reads it when
// it is sent and writes it when it is received. A call leaves the caller waiting for the reply of
// whichever thread received it; a timeout or the death of either side ends the wait with an error.

import { Err, Flag, MESSAGE, Right } from './abi/abi.ts';
import type { KernelServices } from './kernel-services.ts';
import { hasLiveCapability, type Capability, type ErrName } from './objects/capability.ts';
import type { Endpoint, Message } from './objects/endpoint.ts';
import { MemoryObject } from './objects/memory-object.ts';
import type { Notification } from './objects/notification.ts';
import type { Sandbox } from './objects/sandbox.ts';
import type { Thread } from './objects/thread.ts';

export type Blocked = { readonly kind: 'block' };
export const BLOCK: Blocked = { kind: 'block' };
/** A reply that woke its caller to the front of the run queue: the replier steps aside for it. */
export type Handoff = { readonly kind: 'handoff' };
export const HANDOFF: Handoff = { kind: 'handoff' };

const err = (e: ErrName) => -Err[e];

/** Where struct hic_msg's fields are (abi.ts, the same table the C header is generated from). */
const AT = MESSAGE.at;

// The header's 64-bit fields are read and written as 32-bit halves straight in the guest's bytes:
// every send, call and reply passes here, and a DataView, a BigInt per field or a closure per
// word would each be an allocation per message.

/** The unsigned 32-bit little-endian value at b[o..o+4). */
function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** Stores v, a safe integer (negative in two's complement), as the 64-bit little-endian field at o. */
function put64(b: Uint8Array, o: number, v: number): void {
  const hi = Math.floor(v / 0x1_0000_0000);
  const lo = v - hi * 0x1_0000_0000;
  // A Uint8Array keeps the low 8 bits of what it is given.
  b[o] = lo;
  b[o + 1] = lo >>> 8;
  b[o + 2] = lo >>> 16;
  b[o + 3] = lo >>> 24;
  b[o + 4] = hi;
  b[o + 5] = hi >> 8;
  b[o + 6] = hi >> 16;
  b[o + 7] = hi >> 24;
}

/**
 * Reads struct hic_msg at `at` in the sender's memory, with the capability it passes. The whole
 * struct must be readable, but only the header and `len` payload bytes are copied: most messages
 * carry a few words and no payload.
 */
export function readMessage(s: Sandbox, at: number, badge: number): Message | ErrName {
  const b = at < 0 ? undefined : s.cpu.space.view(at, MESSAGE.size);
  if (!b) return 'BAD_ADDRESS';
  const len = u32(b, AT.len);
  if (u32(b, AT.len + 4) !== 0 || len > MESSAGE.payloadMax) return 'INVALID_ARGUMENT';
  const capLo = u32(b, AT.cap);
  const capHi = u32(b, AT.cap + 4);
  if (u32(b, AT.cap_move + 4) !== 0 || u32(b, AT.cap_move) > 1) return 'INVALID_ARGUMENT';
  let cap: Capability | undefined;
  if (capLo !== 0xffff_ffff || capHi !== 0xffff_ffff) {
    // The slot is the low 32 bits taken as signed, as the guest's int64_t would be truncated.
    const c = s.cspace.lookup(capLo | 0, undefined, Right.G);
    if (typeof c === 'string') return capHi !== 0 || capLo > 1024 ? 'BAD_SLOT' : c; // negative or past 1024
    cap = c;
  }
  return { bytes: b.slice(0, AT.payload + len), cap, capMove: u32(b, AT.cap_move) === 1, badge };
}

/** Is there room and quota on the receiving side for the capability a message carries? */
function canReceive(m: Message, to: Sandbox): ErrName | undefined {
  if (!m.cap) return undefined;
  if (!m.cap.live) return 'PEER_GONE';
  // Moving memory must leave the mover with no way back to the pages: only the sole capability
  // to a memory object moves (revoke the others first).
  if (m.capMove && m.cap.object instanceof MemoryObject && hasLiveCapability(m.cap.object, m.cap)) return 'NOT_SOLE';
  if (to.cspace.free === 0) return 'NO_SLOT';
  if (m.capMove && m.cap.object instanceof MemoryObject && m.cap.holder?.owner !== to && !to.charge(m.cap.object.pages)) return 'QUOTA_EXCEEDED'; // charged now: passCapability follows at once
  return undefined;
}

/** Moves or copies the message's capability into `to` (canReceive said it fits); returns the slot. */
function passCapability(m: Message, to: Sandbox): number {
  const c = m.cap!;
  if (!m.capMove) return to.cspace.insert(c.derive(c.rights, c.badge)!) as number;
  const from = c.holder!.owner as Sandbox;
  if (c.object instanceof MemoryObject) {
    // It is the object's sole capability (canReceive), so with it go the mover's mapping and
    // every way back. The quota was charged by canReceive.
    from.uncharge(c.object.pages);
    c.object.retag(to.id);
  }
  c.holder!.take(c);
  return to.cspace.insert(c) as number;
}

/**
 * Writes a delivered message into the receiver's struct hic_msg (checked writable at recv): the
 * sender's header and payload as read, then the fields the kernel sets for the receiver. The
 * rest of the receiver's payload area keeps what it held.
 */
function writeMessage(s: Sandbox, at: number, m: Message, capSlot: number): void {
  const b = s.cpu.space.view(at, m.bytes.length, 'write')!;
  b.set(m.bytes);
  put64(b, AT.cap, capSlot);
  put64(b, AT.cap_move, 0);
  put64(b, AT.badge, m.badge);
}

function writable(s: Sandbox, at: number): boolean {
  return at >= 0 && s.cpu.space.view(at, MESSAGE.size, 'write') !== undefined;
}

/** Delivers m from `sender` to the thread waiting in recv, or says why it cannot. */
function deliver(k: KernelServices, m: Message, receiver: Thread, msgAt: number): ErrName | undefined {
  const refused = canReceive(m, receiver.sandbox);
  if (refused) return refused;
  let slot = -1;
  if (m.cap) {
    const from = (m.cap.holder!.owner as Sandbox).name;
    slot = passCapability(m, receiver.sandbox);
    k.events.emit({ kind: 'capTransferred', from, to: receiver.sandbox.name, type: m.cap.object.capType, rights: m.cap.rights, moved: m.capMove });
  }
  writeMessage(receiver.sandbox, msgAt, m, slot);
  return undefined;
}

export interface SendArgs {
  readonly endpoint: Endpoint;
  readonly msgAt: number;
  readonly nonblock: boolean;
  /** call: wait for the reply (written back over the message) with this timeout. */
  readonly call?: { readonly timeoutNs: number };
  readonly badge: number;
}

export function send(k: KernelServices, t: Thread, a: SendArgs): number | Blocked {
  const m = readMessage(t.sandbox, a.msgAt, a.badge);
  if (typeof m === 'string') return err(m);
  if (a.call && !writable(t.sandbox, a.msgAt)) return err('BAD_ADDRESS');
  const ep = a.endpoint;
  const r = ep.receivers[0];
  if (r) {
    const refused = deliver(k, m, r.thread, r.msgAt);
    if (refused) return err(refused);
    ep.receivers.shift();
    if (a.call) r.thread.replyTo = t;
    k.wake(r.thread, 0);
    if (!a.call) return 0;
    k.block(t, { kind: 'reply', on: r.thread, msgAt: a.msgAt }, a.call.timeoutNs);
    return BLOCK;
  }
  if (a.nonblock) return err('WOULD_BLOCK');
  ep.senders.push({ thread: t, message: m, replyTo: a.call ? a.msgAt : undefined });
  k.block(t, { kind: 'send', on: ep }, a.call?.timeoutNs ?? 0);
  return BLOCK;
}

export function recv(k: KernelServices, t: Thread, ep: Endpoint, msgAt: number, flags: number, timeoutNs: number): number | Blocked {
  if (!writable(t.sandbox, msgAt)) return err('BAD_ADDRESS');
  for (;;) {
    const s = ep.senders[0];
    if (!s) break;
    const refused = deliver(k, s.message, t, msgAt);
    ep.senders.shift();
    if (refused) {
      k.wake(s.thread, err(refused)); // the sender learns why; this receiver tries the next one
      continue;
    }
    if (s.replyTo !== undefined) {
      t.replyTo = s.thread;
      s.thread.waiting = { kind: 'reply', on: t, msgAt: s.replyTo }; // still blocked, same deadline
    } else k.wake(s.thread, 0);
    return 0;
  }
  if (flags & Flag.NONBLOCK) return err('WOULD_BLOCK');
  ep.receivers.push({ thread: t, msgAt });
  k.block(t, { kind: 'recv', on: ep }, timeoutNs);
  return BLOCK;
}

/**
 * Answers the last call received. The caller usually runs next (Scheduler.wakeUp): then the
 * replier stops here and runs right after it, as a synchronous microkernel's reply switches to
 * the caller -- without it the answer would wait for the rest of the replier's slice.
 */
export function reply(k: KernelServices, t: Thread, msgAt: number): number | Handoff {
  const caller = t.replyTo;
  if (!caller) return err('NOT_FOUND');
  const m = readMessage(t.sandbox, msgAt, 0);
  if (typeof m === 'string') return err(m);
  const w = caller.waiting;
  if (w?.kind !== 'reply' || w.on !== t) {
    t.replyTo = undefined;
    return err('PEER_GONE'); // the caller timed out or was destroyed
  }
  const refused = deliver(k, m, caller, w.msgAt);
  if (refused) return err(refused);
  t.replyTo = undefined;
  return k.wake(caller, 0) ? HANDOFF : 0;
}

export function wait(k: KernelServices, t: Thread, n: Notification, flags: number, timeoutNs: number): number | Blocked {
  const bits = n.take();
  if (bits !== 0n) return Number(bits);
  if (flags & Flag.NONBLOCK) return err('WOULD_BLOCK');
  n.waiters.push(t);
  k.block(t, { kind: 'wait', on: n }, timeoutNs);
  return BLOCK;
}

export function notify(k: KernelServices, n: Notification, bits: bigint): void {
  const woken = n.signal(bits);
  if (woken) k.wake(woken.thread, Number(woken.bits));
}

/** Ends whatever t waits for (timeout, destruction of t or of what it waited on). */
export function cancelWait(t: Thread): void {
  const w = t.waiting;
  if (!w) return;
  if (w.kind === 'send' || w.kind === 'recv') w.on.cancel(t);
  else if (w.kind === 'wait') w.on.cancel(t);
  t.waiting = undefined;
}
