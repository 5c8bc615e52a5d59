// The device-window verb: mmio_map maps a device's registers at their physical address (right R;
// stores need W, else they fault). With W the sandbox is the device's driver, and a DMA-capable
// device is bound to reach that sandbox's own memory -- and nothing else (Sandbox.dmaView).

import type { SyscallFrame } from '../../emulator/types.ts';
import { Right } from '../abi/abi.ts';
import type { MmioRegion } from '../objects/mmio-region.ts';
import { err, slot, type Outcome, type SyscallContext } from './verb.ts';

/** Mapping again through the same capability returns the same address. */
export function mmioMap(c: SyscallContext, f: SyscallFrame): Outcome {
  const cap = c.sandbox.cspace.lookup(slot(f, 0), 'MMIO', Right.R);
  if (typeof cap === 'string') return err(cap);
  const d = (cap.object as MmioRegion).attached;
  if (cap.mappedAt !== undefined) return cap.mappedAt;
  const mapped = c.sandbox.cpu.tryMapDevice(d.base, d.device, cap.has(Right.W));
  if (mapped === 'MAPPING_LIMIT') return err('MAPPING_LIMIT');
  if (mapped === 'ALREADY_MAPPED') return err('INVALID_ARGUMENT'); // mapped through another capability
  cap.mappedAt = d.base;
  // Its driver: a DMA-capable device now reaches this sandbox's own memory, and only that.
  if (cap.has(Right.W)) d.device.bind?.((at, length, access) => c.sandbox.dmaView(at, length, access));
  return d.base;
}
