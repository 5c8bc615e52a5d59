// Capability verbs: copy (derive with fewer rights), delete, revoke and describe a capability,
// named by slot in the caller's own space. They work on any capability type; what an object's
// capability lets its holder do is checked by that object's own verbs.

import type { SyscallFrame } from '../../emulator/types.ts';
import { CapType, Right } from '../abi/abi.ts';
import { destroyCapability, revoke } from '../objects/capability.ts';
import { err, place, slot, type Outcome, type SyscallContext } from './verb.ts';

export function capCopy(c: SyscallContext, f: SyscallFrame): Outcome {
  const cap = c.sandbox.cspace.lookup(slot(f, 0), undefined);
  if (typeof cap === 'string') return err(cap);
  const rights = f.arg(1);
  if (rights < 0 || rights > Right.ALL) return err('INVALID_ARGUMENT');
  return place(c.sandbox, () => cap.derive(rights));
}

/** Deletes the capability and, with it, everything derived from it (counted in the event). */
export function capDelete(c: SyscallContext, f: SyscallFrame): Outcome {
  const cap = c.sandbox.cspace.lookup(slot(f, 0), undefined);
  if (typeof cap === 'string') return err(cap);
  const revoked = cap.descendants().length;
  destroyCapability(cap);
  c.k.events.emit({ kind: 'capRevoked', sandbox: c.sandbox.name, type: cap.object.capType, revoked: revoked + 1 });
  return 0;
}

export function capRevoke(c: SyscallContext, f: SyscallFrame): Outcome {
  const cap = c.sandbox.cspace.lookup(slot(f, 0), undefined);
  if (typeof cap === 'string') return err(cap);
  const revoked = revoke(cap);
  c.k.events.emit({ kind: 'capRevoked', sandbox: c.sandbox.name, type: cap.object.capType, revoked });
  return revoked;
}

export function capInfo(c: SyscallContext, f: SyscallFrame): Outcome {
  const cap = c.sandbox.cspace.lookup(slot(f, 0), undefined);
  if (typeof cap === 'string') return err(cap);
  return (CapType[cap.object.capType] << 8) | cap.rights;
}
