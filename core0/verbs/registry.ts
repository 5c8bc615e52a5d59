// Service registry verbs: register an endpoint under a versioned name (right W on the registry),
// look a name up (R), and switch an alias to another version (G) -- the atomic endpoint switch of
// a rolling update. Names come from guest memory; the registry checks their form.

import type { SyscallFrame } from '../../emulator/types.ts';
import { Right } from '../abi/abi.ts';
import { Alias, Endpoint } from '../objects/endpoint.ts';
import { REGISTRATIONS_MAX } from '../objects/sandbox.ts';
import { ServiceRegistry } from '../objects/service-registry.ts';
import { err, guestName, place, slot, type Outcome, type SyscallContext } from './verb.ts';

export function registryRegister(c: SyscallContext, f: SyscallFrame): Outcome {
  const reg = c.sandbox.cspace.lookup(slot(f, 0), 'REGISTRY', Right.W);
  if (typeof reg === 'string') return err(reg);
  const n = guestName(c.sandbox, f.arg(1), f.arg(2));
  if (typeof n === 'string') return err(n);
  const ep = c.sandbox.cspace.lookup(slot(f, 3), 'ENDPOINT', Right.R);
  if (typeof ep === 'string') return err(ep);
  if (!(ep.object instanceof Endpoint)) return err('WRONG_TYPE'); // an alias names someone else's endpoint
  // A sandbox registers under its own module's name (or one its signed metadata lists as
  // registry:<service>), unless its registry capability carries G, the right to run the registry.
  const service = ServiceRegistry.parse(n.name)?.service;
  const mine = c.sandbox.declared.services;
  if (service !== undefined && mine !== undefined && !mine.has(service) && !reg.has(Right.G)) return err('NOT_DECLARED');
  if (c.sandbox.registrations >= REGISTRATIONS_MAX) return err('QUOTA_EXCEEDED');
  const r = c.k.registry.register(n.name, ep.object);
  if (typeof r === 'string') return err(r);
  c.sandbox.registrations++;
  c.k.registered.set(n.name, ep);
  c.k.events.emit({ kind: 'endpointRegistered', sandbox: c.sandbox.name, name: n.name, alias: r.alias, isDefault: r.defaulted });
  return 0;
}

/** Gives a send (and grant) capability: clients call a service, they never receive on its endpoint. */
export function registryLookup(c: SyscallContext, f: SyscallFrame): Outcome {
  const reg = c.sandbox.cspace.lookup(slot(f, 0), 'REGISTRY', Right.R);
  if (typeof reg === 'string') return err(reg);
  const n = guestName(c.sandbox, f.arg(1), f.arg(2));
  if (typeof n === 'string') return err(n);
  const found = c.k.registry.lookup(n.name);
  if (typeof found === 'string') return err(found);
  // An alias's capabilities derive from a root the registry keeps (held by no sandbox); a
  // versioned name's from the capability its server registered, which must still be live.
  const from = found instanceof Alias ? c.k.aliasCapability(found) : c.k.registered.get(n.name);
  if (!from || (!(found instanceof Alias) && !from.live)) return err('NOT_FOUND');
  return place(c.sandbox, () => from.derive(Right.W | Right.G, from.badge));
}

export function registrySwitch(c: SyscallContext, f: SyscallFrame): Outcome {
  const reg = c.sandbox.cspace.lookup(slot(f, 0), 'REGISTRY', Right.G);
  if (typeof reg === 'string') return err(reg);
  const alias = guestName(c.sandbox, f.arg(1), f.arg(2));
  if (typeof alias === 'string') return err(alias);
  const target = guestName(c.sandbox, f.arg(3), f.arg(4));
  if (typeof target === 'string') return err(target);
  const r = c.k.registry.switch(alias.name, target.name);
  if (typeof r === 'string') return err(r);
  c.k.endpointSwitched(r.alias, r.from, r.to, c.sandbox.name);
  return 0;
}
