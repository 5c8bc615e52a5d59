// The module loader as a kernel object: what a LOADER capability names. It holds no state of its
// own — the trusted repository and the module table are the kernel's — so the capability is only
// the permission: R to query the repository, W to reserve frames and spawn modules
// (core0/verbs/module.ts). An image grants it with `caps.loader`.

import type { KernelObject } from './capability.ts';

export class ModuleLoader implements KernelObject {
  readonly capType = 'LOADER' as const;
}
