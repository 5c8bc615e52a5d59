// What a module may ask of the kernel, as its signed metadata says (module.json `capabilities`):
// the syscall families it uses (abi.ts FAMILIES) and the service names it may register under —
// its own module name, and each `registry:<service>` it lists. An image may grant a sandbox less
// than its module declares, never more; the syscall layer refuses an undeclared family with
// NOT_DECLARED.

import { FAMILIES, FAMILY_BIT, type CapTypeName, type FamilyName } from '../abi/abi.ts';

export interface Declared {
  /** FAMILY_BIT of each declared family, or'ed. */
  readonly families: number;
  /** Service names it may register under; undefined: any (a host sandbox). */
  readonly services: ReadonlySet<string> | undefined;
}

const ALL_FAMILIES = FAMILIES.reduce((all, f) => all | FAMILY_BIT[f.name], 0);

/** A sandbox of the host's own (spawnHost): TypeScript code trusted as the kernel is. */
export const HOST_DECLARED: Declared = { families: ALL_FAMILIES, services: undefined };

const REGISTRY_NAME = /^registry:([a-z][a-z0-9_]{0,31})$/;

export function declaredBy(meta: { readonly name: string; readonly capabilities: readonly string[] }): Declared {
  let families = 0;
  const services = new Set([meta.name]);
  for (const c of meta.capabilities) {
    if (c in FAMILY_BIT) families |= FAMILY_BIT[c as FamilyName];
    const r = REGISTRY_NAME.exec(c);
    if (r) services.add(r[1]!);
  }
  return { families, services };
}

export function declares(d: Declared, family: FamilyName): boolean {
  return (d.families & FAMILY_BIT[family]) !== 0;
}

/** Is `c` a capability name the kernel knows (a family, or registry:<service>)? */
export function isKnownCapability(c: string): boolean {
  return c in FAMILY_BIT || REGISTRY_NAME.test(c);
}

/**
 * The family a module must declare to be handed a capability of this type, by an image or a
 * module_spawn grant: a capability it could not use would only be a way round its declaration.
 */
const FAMILY_FOR_CAP: { readonly [T in CapTypeName]: FamilyName } = {
  ENDPOINT: 'ipc',
  NOTIFICATION: 'ipc',
  MEMORY: 'memory',
  MMIO: 'mmio',
  IRQ: 'irq',
  SANDBOX: 'sandbox_control',
  REGISTRY: 'registry',
  LOADER: 'module_control',
  RESERVATION: 'module_control',
};

export function familyFor(type: CapTypeName): FamilyName {
  return FAMILY_FOR_CAP[type];
}
