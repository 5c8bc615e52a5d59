// The exceptions Core-0 expects from the machine below it (emulator/), each a refusal the kernel
// turns into an error code for the guest: the frame pool has no free run long enough, a sandbox's
// engine would need more mappings than its limit allows, the engine refuses to map a range. core0/
// never imports the emulator's error classes (they pull in Unicorn), so it knows them by their
// stable `code`. Anything else thrown from below is a bug: catch only these, rethrow the rest.

/**
 * HIC_OUT_OF_FRAMES: Frames.allocate found no contiguous run (emulator/physmem.ts OutOfFramesError).
 * MAPPING_LIMIT: the sandbox's engine mapping limit (emulator/address-space.ts AddressSpaceError).
 * UC_ERR_MAP: Unicorn refused a mapping, e.g. over one that exists (emulator/unicorn/engine.ts).
 */
export type MachineRefusal = 'HIC_OUT_OF_FRAMES' | 'MAPPING_LIMIT' | 'UC_ERR_MAP';

/** Is `e` the machine's refusal `code`, and not some other error that happens to pass by? */
export function isRefusal(e: unknown, code: MachineRefusal): boolean {
  return e instanceof Error && (e as { code?: unknown }).code === code;
}
