// What the parts of Core-0 share: the machine, the logs, the object services, the scheduler and
// the tables of sandboxes and named roots. kernel.ts owns it and hands it to the lifecycle
// (lifecycle.ts) and the trap (trap.ts); nothing outside core0/ sees it.

import type { Machine } from '../emulator/types.ts';
import type { EventLog } from './events.ts';
import type { ModuleRegistry } from './module/registry.ts';
import type { ModuleSource } from './module/source.ts';
import type { ObjectServices } from './object-services.ts';
import type { Capability } from './objects/capability.ts';
import type { Sandbox } from './objects/sandbox.ts';
import type { Scheduler } from './scheduler.ts';

export type DestroyReason = 'exit' | 'fault' | 'shutdown' | 'destroyed';

export interface KernelState {
  readonly machine: Machine;
  readonly events: EventLog;
  readonly modules: ModuleRegistry;
  /** The trusted repository module_query and module_spawn fetch from; none: they find nothing. */
  readonly repository: ModuleSource | undefined;
  readonly objects: ObjectServices;
  readonly scheduler: Scheduler;
  /** Every sandbox by name, live or ended (an ended one is replaced when the name is reused). */
  readonly sandboxes: Map<string, Sandbox>;
  /** The capability roots of the machine's device windows, by device name. */
  readonly mmioRoots: Map<string, Capability>;
  /** The roots of the channels Core-0 created, by name (InitialCaps.channels). */
  readonly channels: Map<string, Capability>;
  readonly ids: { sandbox: number; thread: number };
}

/** Page-table frames are tagged apart from the sandbox's own frames: they are the kernel's. */
export const TABLE_TAG = 0x4000_0000;

export function liveSandboxes(k: KernelState): Sandbox[] {
  return [...k.sandboxes.values()].filter((s) => s.state === 'live');
}
