// A device's register window as a kernel object: who holds a capability to it may map it (reads
// with right R, writes too with right W) at the device's physical address. Never memory: loads
// and stores reach the device itself.

import type { AttachedDevice } from '../../emulator/types.ts';
import type { KernelObject } from './capability.ts';

export class MmioRegion implements KernelObject {
  readonly capType = 'MMIO' as const;
  constructor(readonly attached: AttachedDevice) {}
}
