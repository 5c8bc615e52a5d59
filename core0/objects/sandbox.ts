// A sandbox: an isolated address space on its own CPU, a memory quota, a time slice, and the
// threads running in it. Its memory is a set of regions (the loaded image, the stack, and what
// mem_alloc handed out), each a contiguous run of frames tagged with the sandbox id and mapped
// at its physical address — one address space for the whole machine, so an address names the
// same byte for whoever is allowed to see it, and relocations resolve to real physical addresses
// as the seed's loader does.
//
// Invariants: usedPages = sum of owned runs (guard pages included) ≤ quotaPages; every owned
// frame carries owner tag `id`; a dead sandbox owns no frames and has no CPU.

import type { Cpu, Frames, PageFlags } from '../../emulator/types.ts';
import { ConsoleBudget } from '../console-budget.ts';
import { HOST_DECLARED, type Declared } from '../module/declared.ts';
import type { RecordType } from '../module/config-records.ts';
import { CSpace, type Capability, type CapabilityOwner, type KernelObject } from './capability.ts';
import { MemoryObject } from './memory-object.ts';
import type { Thread } from './thread.ts';

export const PAGE = 4096;
/** Versioned registry names one sandbox may hold at once, so a guest cannot grow the registry without end. */
export const REGISTRATIONS_MAX = 32;

export type SandboxState = 'live' | 'dead';

/** What a sandbox runs, as far as its own syscalls need to know: the record types it may emit. */
export interface SandboxModule {
  readonly name: string;
  readonly version: string;
  readonly records: readonly RecordType[];
  /** Its signed CPU share, permille: what the scheduler guarantees it under contention (scheduler.ts). */
  readonly cpuPermille: number;
}

/** A contiguous run of frames the sandbox owns; `mapped` pages start at frame `first + skip`. */
export interface OwnedRegion {
  readonly kind: 'image' | 'stack' | 'alloc';
  readonly first: number;
  readonly pages: number;
}

export type AllocError = 'INVALID_ARGUMENT' | 'QUOTA_EXCEEDED' | 'NO_MEMORY' | 'MAPPING_LIMIT' | 'NOT_FOUND';

export class Sandbox implements CapabilityOwner {
  state: SandboxState = 'live';
  /** Suspended sandboxes keep their state but are not scheduled. */
  suspended = false;
  readonly threads = new Set<Thread>();
  readonly cspace: CSpace = new CSpace(this);
  /** What it may still write to the console (console-budget.ts). */
  readonly console = new ConsoleBudget();
  /** The scheduler's account of its CPU share (scheduler.ts): the period it counts, and its CPU time when that period began. Plain fields, so a debugger's checkpoint restores them with the rest. */
  sharePeriod = -1;
  shareBase = 0;
  /** Syscalls its threads have made (counted by the trap; read by the host's metrics). */
  syscalls = 0;
  private used = 0;
  /** Owned regions by the physical (= virtual) address of their first frame. */
  private readonly regions = new Map<number, OwnedRegion>();

  constructor(
    /** Never reused: frames carry it as their owner tag, so a stale id names nothing. */
    readonly id: number,
    readonly name: string,
    readonly quotaPages: number,
    /** Instructions per time slice: this sandbox's CPU share. */
    readonly budget: number,
    readonly cpu: Cpu,
    private readonly frames: Frames,
    /** What its module's signed metadata lets it ask for (declared.ts). */
    readonly declared: Declared = HOST_DECLARED,
    /** The module it was started from; none for a host sandbox, which has no code of its own. */
    readonly module?: SandboxModule,
  ) {}

  get usedPages(): number {
    return this.used;
  }

  /** Counts pages held outside the regions (memory objects) against the quota. */
  charge(pages: number): boolean {
    if (this.used + pages > this.quotaPages) return false;
    this.used += pages;
    return true;
  }

  uncharge(pages: number): void {
    this.used -= pages;
  }

  /** A capability left this sandbox's CSpace: a memory mapping made through it goes too. */
  capabilityRemoved(c: Capability): void {
    if (c.mappedAt !== undefined && this.state === 'live') {
      if (c.object instanceof MemoryObject) this.cpu.space.unmap(c.mappedAt, c.object.pages);
      else if (c.object.capType === 'MMIO') this.cpu.unmapDevice(c.mappedAt);
    }
    c.mappedAt = undefined;
  }

  get ownedRegions(): ReadonlyMap<number, OwnedRegion> {
    return this.regions;
  }

  /** Takes `pages` contiguous frames from the pool, charged to the quota; not yet mapped. */
  claim(kind: OwnedRegion['kind'], pages: number): { first: number } | AllocError {
    if (!(Number.isInteger(pages) && pages > 0)) return 'INVALID_ARGUMENT';
    if (this.used + pages > this.quotaPages) return 'QUOTA_EXCEEDED';
    const first = this.frames.tryAllocate(pages, this.id);
    if (first === 'NO_FRAMES') return 'NO_MEMORY';
    this.regions.set(first * PAGE, { kind, first, pages });
    this.used += pages;
    return { first };
  }

  /** Returns a claimed region's frames to the pool (zeroed there); unmaps what is mapped. */
  release(address: number): void {
    const r = this.regions.get(address);
    if (!r) throw new Error(`sandbox ${this.name}: no region at 0x${address.toString(16)}`);
    if (this.state === 'live') this.unmapAll(address, r.pages);
    this.frames.free(r.first, r.pages, this.id);
    this.regions.delete(address);
    this.used -= r.pages;
  }

  /** Unmaps the mapped pages of [va, va+pages), a run at a time. */
  private unmapAll(va: number, pages: number): void {
    let start = -1;
    for (let i = 0; i <= pages; i++) {
      const mapped = i < pages && this.cpu.space.translate(va + i * PAGE) >= 0;
      if (mapped && start < 0) start = i;
      if (!mapped && start >= 0) {
        this.cpu.space.unmap(va + start * PAGE, i - start);
        start = -1;
      }
    }
  }

  /** Claims and maps a region in one step; nothing is left behind on failure. */
  allocate(pages: number, flags: PageFlags): number | AllocError {
    const c = this.claim('alloc', pages);
    if (typeof c === 'string') return c;
    const va = c.first * PAGE;
    const mapped = this.cpu.space.tryMap(va, c.first, pages, flags);
    if (mapped !== 'OK') {
      this.release(va);
      return mapped === 'NO_FRAMES' ? 'NO_MEMORY' : mapped;
    }
    return va;
  }

  /** The mem_alloc region starting exactly at va, if any. */
  allocRegion(va: number): OwnedRegion | undefined {
    const r = this.regions.get(va);
    return r?.kind === 'alloc' ? r : undefined;
  }

  /**
   * The physical bytes [address, address+length) a device this sandbox drives may reach by DMA,
   * or undefined: only while the sandbox lives, and only where every frame carries its tag and is
   * mapped in its own space with that access — so a device reaches neither another sandbox's
   * memory nor a page its driver could not write itself (its code: W^X).
   */
  dmaView(address: number, length: number, access: 'read' | 'write'): Uint8Array | undefined {
    if (this.state !== 'live' || !(length > 0)) return undefined;
    // space.view checks the range (safe integers, no wrap); virtual = physical in HIC's mappings.
    const bytes = this.cpu.space.view(address, length, access);
    if (!bytes || this.cpu.space.translate(address, access) !== address) return undefined;
    for (let f = Math.floor(address / PAGE); f * PAGE < address + length; f++) {
      if (this.frames.ownerOf(f) !== this.id) return undefined;
    }
    return bytes;
  }

  /** Frees every frame and the CPU. Called once, when the sandbox ends. */
  teardown(): number {
    // The engine goes first: with no CPU left there is nothing to unmap page by page.
    this.cpu.destroy();
    this.state = 'dead';
    let returned = 0;
    for (const [address, r] of [...this.regions]) {
      returned += r.pages;
      this.release(address);
    }
    return returned;
  }
}

/** The object a sandbox-control capability names: whoever holds it may suspend, resume, destroy. */
export class SandboxControl implements KernelObject {
  readonly capType = 'SANDBOX' as const;
  constructor(readonly sandbox: Sandbox) {}
}
