// Endpoint verbs: endpoint_create, send, recv, call, reply. They check the capability (type,
// right W to send or call, R to receive) and the flags and timeout; the message itself -- its
// memory, payload size and the capability it passes -- is checked by the IPC mechanics in
// ../ipc.ts, before anything moves.
//
// A send through an alias resolves it now (Alias.resolve): that is what makes a registry switch
// atomic for senders.

import type { SyscallFrame } from '../../emulator/types.ts';
import { Flag, Right } from '../abi/abi.ts';
import * as ipc from '../ipc.ts';
import { Endpoint, type EndpointLike } from '../objects/endpoint.ts';
import { badFlags, err, place, slot, timeout, type Outcome, type SyscallContext } from './verb.ts';

export function endpointCreate(c: SyscallContext): Outcome {
  return place(c.sandbox, () => c.k.newEndpoint());
}

export function send(c: SyscallContext, f: SyscallFrame): Outcome {
  const cap = c.sandbox.cspace.lookup(slot(f, 0), 'ENDPOINT', Right.W);
  if (typeof cap === 'string') return err(cap);
  const flags = f.arg(2);
  if (badFlags(flags)) return err('INVALID_ARGUMENT');
  const ep = (cap.object as EndpointLike).resolve();
  if (!ep) return err('PEER_GONE');
  return ipc.send(c.k, c.thread, { endpoint: ep, msgAt: f.arg(1), nonblock: (flags & Flag.NONBLOCK) !== 0, badge: cap.badge });
}

/** Only on an endpoint itself: an alias is send-only. */
export function recv(c: SyscallContext, f: SyscallFrame): Outcome {
  const cap = c.sandbox.cspace.lookup(slot(f, 0), 'ENDPOINT', Right.R);
  if (typeof cap === 'string') return err(cap);
  if (!(cap.object instanceof Endpoint) || cap.object.dead) return err('PEER_GONE');
  const flags = f.arg(2);
  const t = timeout(f, 3);
  if (badFlags(flags) || t < 0) return err('INVALID_ARGUMENT');
  return ipc.recv(c.k, c.thread, cap.object, f.arg(1), flags, t);
}

export function call(c: SyscallContext, f: SyscallFrame): Outcome {
  const cap = c.sandbox.cspace.lookup(slot(f, 0), 'ENDPOINT', Right.W);
  if (typeof cap === 'string') return err(cap);
  const flags = f.arg(2);
  const t = timeout(f, 3);
  if (badFlags(flags) || t < 0) return err('INVALID_ARGUMENT');
  const ep = (cap.object as EndpointLike).resolve();
  if (!ep) return err('PEER_GONE');
  return ipc.send(c.k, c.thread, { endpoint: ep, msgAt: f.arg(1), nonblock: (flags & Flag.NONBLOCK) !== 0, call: { timeoutNs: t }, badge: cap.badge });
}

/** Needs no capability: the thread answers whoever it owes a reply (ipc.reply checks there is one). */
export function reply(c: SyscallContext, f: SyscallFrame): Outcome {
  return ipc.reply(c.k, c.thread, f.arg(0));
}
