// Capabilities and capability spaces.
//
// A capability is an unforgeable reference to a kernel object with rights. A sandbox names its
// capabilities only by slot in its own CSpace; it cannot name, guess or forge any other. Every
// capability except an original one was derived from a parent, with equal or fewer rights, and
// the derivation tree spans sandboxes: revoking a capability removes every descendant, wherever it
// is held (what makes "take back everything given out" one operation).
//
// Invariants: a live capability is in exactly one slot of exactly one CSpace; its rights are a
// subset of its parent's; children of a dead capability are dead.

import { Err, Right, type CapTypeName } from '../abi/abi.ts';

export type ErrName = keyof typeof Err;

/** What a capability points at. Each object kind is a class in core0/objects/. */
export interface KernelObject {
  readonly capType: CapTypeName;
  /** Called when the last capability to the object is gone. */
  released?(): void;
}

export class Capability {
  readonly children = new Set<Capability>();
  holder: CSpace | null = null;
  slot = -1;
  /** A memory object mapped through this capability, at this address (memory caps only). */
  mappedAt: number | undefined;

  constructor(
    readonly object: KernelObject,
    readonly rights: number,
    readonly parent: Capability | null,
    /** Chosen by whoever derived it; IPC receivers see it (who is calling). */
    readonly badge = 0,
  ) {}

  get live(): boolean {
    return this.holder !== null;
  }

  has(rights: number): boolean {
    return (this.rights & rights) === rights;
  }

  /** A child with a subset of the rights; `undefined` if more were asked for. */
  derive(rights: number, badge = this.badge): Capability | undefined {
    if ((rights & ~this.rights & Right.ALL) !== 0 || rights & ~Right.ALL) return undefined;
    const c = new Capability(this.object, rights, this, badge);
    this.children.add(c);
    return c;
  }

  /** Every descendant, deepest first, so removal never leaves an orphan in between. */
  descendants(): Capability[] {
    const out: Capability[] = [];
    for (const c of this.children) out.push(...c.descendants(), c);
    return out;
  }
}

/** Hooks a CSpace calls when a capability leaves it, so mappings and bindings go with it. */
export interface CapabilityOwner {
  capabilityRemoved(c: Capability): void;
}

export const CSPACE_SLOTS = 64;

export class CSpace {
  private readonly slots: (Capability | undefined)[] = new Array(CSPACE_SLOTS).fill(undefined);

  constructor(readonly owner: CapabilityOwner) {}

  /** The capability in `slot` if it has the type and rights; else the error the guest gets. */
  lookup(slot: number, type: CapTypeName | undefined, rights = 0): Capability | ErrName {
    const c = slot >= 0 && slot < CSPACE_SLOTS ? this.slots[slot] : undefined;
    if (!c) return 'BAD_SLOT';
    if (type !== undefined && c.object.capType !== type) return 'WRONG_TYPE';
    if (!c.has(rights)) return 'NO_RIGHT';
    return c;
  }

  get free(): number {
    return this.slots.filter((s) => s === undefined).length;
  }

  /** Puts a capability in the lowest free slot. */
  insert(c: Capability): number | 'NO_SLOT' {
    const slot = this.slots.indexOf(undefined);
    if (slot < 0) return 'NO_SLOT';
    this.slots[slot] = c;
    c.holder = this;
    c.slot = slot;
    return slot;
  }

  /** Takes a capability out (its tree links stay: it may move to another CSpace). */
  take(c: Capability): void {
    if (c.holder !== this) throw new Error('take: capability not held here');
    this.slots[c.slot] = undefined;
    c.holder = null;
    c.slot = -1;
    this.owner.capabilityRemoved(c);
  }

  *all(): Generator<Capability> {
    for (const c of this.slots) if (c) yield c;
  }
}

/** Removes every descendant of `c` from wherever it is held; returns how many. */
export function revoke(c: Capability): number {
  const gone = c.descendants();
  for (const d of gone) {
    d.holder?.take(d);
    d.parent?.children.delete(d);
    if (!hasLiveCapability(d.object, d)) d.object.released?.();
  }
  return gone.length;
}

/** Deletes `c` and everything derived from it. */
export function destroyCapability(c: Capability): void {
  revoke(c);
  c.holder?.take(c);
  c.parent?.children.delete(c);
  if (!hasLiveCapability(c.object, c)) c.object.released?.();
}

// Objects count their live capabilities through the tree: the root capability of an object is
// kept by the kernel object itself (see Kernel.original), so this walks from there.
const roots = new WeakMap<KernelObject, Capability>();

export function originalCapability(object: KernelObject, rights: number = Right.ALL): Capability {
  const c = new Capability(object, rights, null);
  roots.set(object, c);
  return c;
}

/** Is any capability to `object` other than `except` held anywhere? */
export function hasLiveCapability(object: KernelObject, except: Capability): boolean {
  const root = roots.get(object);
  if (!root) return false;
  const stack = [root];
  while (stack.length > 0) {
    const c = stack.pop()!;
    if (c !== except && c.live) return true;
    stack.push(...c.children);
  }
  return false;
}
