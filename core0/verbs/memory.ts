// Memory verbs. Two kinds of memory a sandbox holds: regions of its own (mem_alloc, mem_free,
// mem_protect), charged to its quota and never shared; and memory objects (memory_create, _map,
// _size, _unmap), frames named by a capability that can be passed or moved to another sandbox.
// Neither ever becomes executable: code comes only from the verified loader (W^X).

import type { SyscallFrame } from '../../emulator/types.ts';
import { Prot, Right } from '../abi/abi.ts';
import type { MemoryObject } from '../objects/memory-object.ts';
import { PAGE } from '../objects/sandbox.ts';
import { err, place, slot, type Outcome, type SyscallContext } from './verb.ts';

/** Whole pages for a byte length; -1 for none or a length that is not one (≥ 2^53 reads as -1). */
function pagesFor(len: number): number {
  return len <= 0 ? -1 : Math.ceil(len / PAGE);
}

/** A bound on memory_create's argument (1 GiB); the quota and the frame pool refuse well below it. */
const MEMORY_OBJECT_MAX = 1 << 30;

// --- regions of the sandbox's own -----------------------------------------------------------------

export function memAlloc(c: SyscallContext, f: SyscallFrame): Outcome {
  const pages = pagesFor(f.arg(0));
  if (pages < 0) return err('INVALID_ARGUMENT');
  const r = c.sandbox.allocate(pages, { writable: true, executable: false });
  return typeof r === 'string' ? err(r) : r;
}

/** Only a whole region, named by its start and its length as allocated. */
export function memFree(c: SyscallContext, f: SyscallFrame): Outcome {
  const va = f.arg(0);
  const r = va < 0 ? undefined : c.sandbox.allocRegion(va);
  if (!r) return err('NOT_FOUND');
  if (pagesFor(f.arg(1)) !== r.pages) return err('INVALID_ARGUMENT');
  c.sandbox.release(va);
  return 0;
}

export function memProtect(c: SyscallContext, f: SyscallFrame): Outcome {
  const va = f.arg(0);
  const pages = pagesFor(f.arg(1));
  const prot = f.arg(2);
  if (prot !== Prot.READ && prot !== Prot.WRITE) return err('INVALID_ARGUMENT');
  if (pages < 0 || va < 0 || va % PAGE !== 0) return err('INVALID_ARGUMENT');
  // The whole range must lie inside one mem_alloc region: code and stack are not the guest's to change.
  const region = [...c.sandbox.ownedRegions.values()].find((r) => r.kind === 'alloc' && va >= r.first * PAGE && va + pages * PAGE <= (r.first + r.pages) * PAGE);
  if (!region) return err('NOT_FOUND');
  const done = c.sandbox.cpu.space.tryProtect(va, pages, { writable: prot === Prot.WRITE, executable: false });
  return done === 'OK' ? 0 : err(done === 'NO_FRAMES' ? 'NO_MEMORY' : done);
}

// --- memory objects ---------------------------------------------------------------------------------

export function memoryCreate(c: SyscallContext, f: SyscallFrame): Outcome {
  const len = f.arg(0);
  if (len <= 0 || len > MEMORY_OBJECT_MAX) return err('INVALID_ARGUMENT');
  return place(c.sandbox, () => c.k.newMemory(c.sandbox, Math.ceil(len / PAGE)));
}

/** Maps at the object's physical address; mapping again through the same capability is a no-op. */
export function memoryMap(c: SyscallContext, f: SyscallFrame): Outcome {
  const cap = c.sandbox.cspace.lookup(slot(f, 0), 'MEMORY', Right.R);
  if (typeof cap === 'string') return err(cap);
  const m = cap.object as MemoryObject;
  if (cap.mappedAt !== undefined) return cap.mappedAt;
  if (c.sandbox.cpu.space.translate(m.address) >= 0) return err('INVALID_ARGUMENT'); // mapped through another capability
  const mapped = c.sandbox.cpu.space.tryMap(m.address, m.first, m.pages, { writable: cap.has(Right.W), executable: false });
  if (mapped !== 'OK') return err(mapped === 'NO_FRAMES' ? 'NO_MEMORY' : mapped);
  cap.mappedAt = m.address;
  return m.address;
}

export function memorySize(c: SyscallContext, f: SyscallFrame): Outcome {
  const cap = c.sandbox.cspace.lookup(slot(f, 0), 'MEMORY');
  if (typeof cap === 'string') return err(cap);
  return (cap.object as MemoryObject).pages * PAGE;
}

export function memoryUnmap(c: SyscallContext, f: SyscallFrame): Outcome {
  const cap = c.sandbox.cspace.lookup(slot(f, 0), 'MEMORY');
  if (typeof cap === 'string') return err(cap);
  if (cap.mappedAt === undefined) return err('NOT_FOUND');
  c.sandbox.cpu.space.unmap(cap.mappedAt, (cap.object as MemoryObject).pages);
  cap.mappedAt = undefined;
  return 0;
}
