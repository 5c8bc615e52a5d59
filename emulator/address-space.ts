// A sandbox's address space: its page table (the truth) and the engine mapping derived from it —
// shadow mapping, as hypervisors did before nested paging (DESIGN.md).
//
// Every change goes through map/unmap/protect here: the page table is edited first, then the
// engine mapping follows it. The space is counted as its maximal runs — pages contiguous in both
// virtual and physical memory with one protection (`regions`) — and the count is capped
// (mappingLimit) because Unicorn slows steeply with many mappings and aborts the process near
// 4,096 (docs/unicorn.md#few-mappings). A change that would pass the cap is refused with nothing
// changed.
//
// The engine holds the same pages as `pieces`, each contiguous with one protection but not
// necessarily maximal: a change unmaps only the pieces it overlaps and maps only what it adds,
// instead of rebuilding the merged run around it. Each uc_mem_map_ptr costs Unicorn time that
// grows with the square of the engine's mappings (it searches its RAM blocks for a free offset
// against every other block: ~15 µs with 4 mappings, ~0.2 ms with 256), so a page allocated next
// to the stack and freed again costs one map and one unmap, not two of each. Pieces are merged
// back into the runs (consolidate) once they outnumber them by SLACK, so the engine never holds
// many more mappings than are counted, and never more than the cap.

import { PageTable, type PageEntry, type PageFlags } from './page-table.ts';
import { OutOfFramesError, PAGE_SIZE, type PhysicalMemory } from './physmem.ts';
import { UC_PROT_EXEC, UC_PROT_READ, UC_PROT_WRITE } from './unicorn/consts.ts';
import type { HostMemory } from './unicorn/host-memory.ts';

export const DEFAULT_MAPPING_LIMIT = 256;

/** Engine mappings allowed beyond the counted runs before they are merged into them. */
const SLACK = 8;

export type AddressSpaceErrorCode = 'MAPPING_LIMIT' | 'ALREADY_MAPPED' | 'NOT_MAPPED' | 'BAD_RANGE';

export class AddressSpaceError extends Error {
  constructor(readonly code: AddressSpaceErrorCode, message: string) {
    super(message);
  }
}

/** The refusals of the address space in the normal course, as values; anything else is rethrown. */
function refusalOf(f: () => void): 'OK' | 'MAPPING_LIMIT' | 'NO_FRAMES' {
  try {
    f();
    return 'OK';
  } catch (e) {
    if (e instanceof AddressSpaceError && e.code === 'MAPPING_LIMIT') return 'MAPPING_LIMIT';
    if (e instanceof OutOfFramesError) return 'NO_FRAMES';
    throw e;
  }
}

/** What the address space drives: an engine's memory map. Engine implements it. */
export interface MappingTarget {
  mapHost(address: number, size: number, perms: number, mem: HostMemory, offset: number): void;
  unmap(address: number, size: number): void;
  removeTranslations(start: number, end: number): void;
}

/** A run of pages [va, va + pages*4K) onto frames [frame, frame + pages) with one protection. */
export interface Region extends PageFlags {
  readonly va: number;
  readonly pages: number;
  readonly frame: number;
}

const end = (r: Region) => r.va + r.pages * PAGE_SIZE;
const same = (a: Region, b: Region) => a.va === b.va && a.pages === b.pages && a.frame === b.frame && a.writable === b.writable && a.executable === b.executable;

export class AddressSpace {
  readonly table: PageTable;
  /** The maximal runs: what counts against the limit. */
  private regionList: Region[] = [];
  /** What the engine has mapped: the same pages, cut at least as finely, sorted by va. */
  private pieces: Region[] = [];
  /** Engine mappings that are not memory (device register windows): they count against the limit too. */
  private extra = 0;
  /** Recent page-table lookups, as a TLB would keep them; emptied on every change. */
  private readonly tlb = new Map<number, PageEntry | undefined>();

  constructor(
    private readonly memory: PhysicalMemory,
    private readonly target: MappingTarget,
    tableOwner: number,
    readonly mappingLimit = DEFAULT_MAPPING_LIMIT,
  ) {
    this.table = new PageTable(memory, tableOwner);
  }

  get regions(): readonly Region[] {
    return this.regionList;
  }

  /** Accounts for `n` more (or, negative, fewer) non-memory engine mappings; refuses past the limit. */
  reserveMappings(n: number): void {
    if (n > 0 && this.regionList.length + this.extra + n > this.mappingLimit) {
      throw new AddressSpaceError('MAPPING_LIMIT', `${this.regionList.length + this.extra + n} engine mappings would exceed this sandbox's limit of ${this.mappingLimit}`);
    }
    this.extra += n;
    if (this.pieces.length + this.extra > this.mappingLimit) this.consolidate();
  }

  /** Mappings the engine holds for memory (device windows apart); at least regions.length. */
  get engineMappings(): number {
    return this.pieces.length;
  }

  pageTable(): Iterable<[number, PageEntry]> {
    return this.table.entries();
  }

  /** Maps pages [va, va+pages) onto frames [frame, frame+pages). Every page must be unmapped. */
  map(va: number, frame: number, pages: number, flags: PageFlags): void {
    this.checkRange(va, pages);
    for (let i = 0; i < pages; i++) {
      if (this.table.lookup(va + i * PAGE_SIZE)) throw new AddressSpaceError('ALREADY_MAPPED', `page 0x${(va + i * PAGE_SIZE).toString(16)} is already mapped`);
    }
    this.change(va, pages, (page, i) => this.table.set(page, frame + i, flags));
  }

  /** map, with the sandbox's mapping limit or a full frame pool (for page tables) answered as a value. */
  tryMap(va: number, frame: number, pages: number, flags: PageFlags): 'OK' | 'MAPPING_LIMIT' | 'NO_FRAMES' {
    return refusalOf(() => this.map(va, frame, pages, flags));
  }

  tryProtect(va: number, pages: number, flags: PageFlags): 'OK' | 'MAPPING_LIMIT' | 'NO_FRAMES' {
    return refusalOf(() => this.protect(va, pages, flags));
  }

  /** Unmaps pages [va, va+pages), every one of which must be mapped; returns their frames as runs. */
  unmap(va: number, pages: number): [first: number, count: number][] {
    const entries = this.mappedEntries(va, pages);
    this.change(va, pages, (page) => this.table.clear(page));
    const runs: [number, number][] = [];
    for (const e of entries) {
      const last = runs[runs.length - 1];
      if (last && last[0] + last[1] === e.frame) last[1]++;
      else runs.push([e.frame, 1]);
    }
    return runs;
  }

  protect(va: number, pages: number, flags: PageFlags): void {
    const entries = this.mappedEntries(va, pages);
    this.change(va, pages, (page, i) => this.table.set(page, entries[i]!.frame, flags));
  }

  /**
   * Moves the frames behind [va, va+pages) to `to` at toVa, keeping their bytes (no copy) and
   * their protection: afterwards this space cannot touch them and `to` sees the same bytes.
   * The destination is mapped first, so a refusal there leaves both spaces as they were.
   */
  moveTo(to: AddressSpace, va: number, pages: number, toVa: number): void {
    const entries = this.mappedEntries(va, pages);
    to.checkRange(toVa, pages);
    const mapped: number[] = [];
    try {
      for (let i = 0; i < pages; ) {
        let n = 1;
        const e = entries[i]!;
        while (i + n < pages && entries[i + n]!.frame === e.frame + n && entries[i + n]!.writable === e.writable && entries[i + n]!.executable === e.executable) n++;
        to.map(toVa + i * PAGE_SIZE, e.frame, n, e);
        mapped.push(i, n);
        i += n;
      }
      this.unmap(va, pages); // can still be refused: splitting a region may pass the limit
    } catch (err) {
      for (let k = 0; k < mapped.length; k += 2) to.unmap(toVa + mapped[k]! * PAGE_SIZE, mapped[k + 1]!);
      throw err;
    }
  }

  /** Physical address for va with the access allowed, or -1. */
  translate(va: number, access: 'read' | 'write' | 'execute' = 'read'): number {
    if (!(va >= 0 && va < 0x0000_8000_0000_0000)) return -1;
    const page = va - (va % PAGE_SIZE);
    let e = this.tlb.get(page);
    if (e === undefined && !this.tlb.has(page)) {
      e = this.table.lookup(page);
      if (this.tlb.size >= 256) this.tlb.clear();
      this.tlb.set(page, e);
    }
    if (!e) return -1;
    if (access === 'write' && !e.writable) return -1;
    if (access === 'execute' && !e.executable) return -1;
    return e.frame * PAGE_SIZE + (va - page);
  }

  /**
   * A view of guest bytes [va, va+length) if every page is mapped with the access and the
   * frames are physically contiguous (always true for what HIC maps); else undefined.
   */
  view(va: number, length: number, access: 'read' | 'write' = 'read'): Uint8Array | undefined {
    // Both tests needed: a huge length could wrap past the top of the user half.
    if (!Number.isSafeInteger(va) || !Number.isSafeInteger(length) || length < 0 || va + length > 0x0000_8000_0000_0000) return undefined;
    if (length === 0) return new Uint8Array(0);
    const first = this.translate(va, access);
    if (first < 0) return undefined;
    for (let p = va - (va % PAGE_SIZE) + PAGE_SIZE; p < va + length; p += PAGE_SIZE) {
      if (this.translate(p, access) !== first + (p - va)) return undefined;
    }
    return this.memory.view(first, length);
  }

  /**
   * After the region list and page table were put back to an earlier state (a debugger's
   * checkpoint): makes the engine map again what they say, given what it maps now.
   */
  remapFrom(engineHas: readonly Region[]): void {
    const same = (a: Region, b: Region) => a.va === b.va && a.pages === b.pages && a.frame === b.frame && a.writable === b.writable && a.executable === b.executable;
    for (const r of engineHas) if (!this.regionList.some((x) => same(x, r))) this.target.unmap(r.va, r.pages * PAGE_SIZE);
    for (const r of this.regionList) {
      if (engineHas.some((x) => same(x, r))) continue;
      const perms = UC_PROT_READ | (r.writable ? UC_PROT_WRITE : 0) | (r.executable ? UC_PROT_EXEC : 0);
      this.target.mapHost(r.va, r.pages * PAGE_SIZE, perms, this.memory.host, r.frame * PAGE_SIZE);
    }
    for (const r of this.regionList) if (r.executable) this.target.removeTranslations(r.va, end(r));
    this.tlb.clear();
  }

  /** Releases the page table's frames. Mapped frames are the owner's to free. */
  destroy(): void {
    this.table.destroy();
    this.regionList = [];
    this.pieces = [];
  }

  private checkRange(va: number, pages: number): void {
    if (!Number.isSafeInteger(va) || va % PAGE_SIZE !== 0 || !Number.isInteger(pages) || pages <= 0 || va + pages * PAGE_SIZE > 0x0000_8000_0000_0000) {
      throw new AddressSpaceError('BAD_RANGE', `bad range 0x${va.toString(16)} + ${pages} pages`);
    }
  }

  private mappedEntries(va: number, pages: number): PageEntry[] {
    this.checkRange(va, pages);
    const out: PageEntry[] = [];
    for (let i = 0; i < pages; i++) {
      const e = this.table.lookup(va + i * PAGE_SIZE);
      if (!e) throw new AddressSpaceError('NOT_MAPPED', `page 0x${(va + i * PAGE_SIZE).toString(16)} is not mapped`);
      out.push(e);
    }
    return out;
  }

  /**
   * Applies edit to each page of [va, va+pages) in the page table, recounts the runs of the window
   * the edit can affect, and brings the engine up to date. Over the limit: the table edits are
   * undone and nothing else has changed.
   */
  private change(va: number, pages: number, edit: (page: number, index: number) => void): void {
    this.tlb.clear();
    const saved: (PageEntry | undefined)[] = [];
    for (let i = 0; i < pages; i++) saved.push(this.table.lookup(va + i * PAGE_SIZE));
    for (let i = 0; i < pages; i++) edit(va + i * PAGE_SIZE, i);

    // Neighbouring regions may merge with or split around the edited range.
    let lo = va - PAGE_SIZE;
    let hi = va + pages * PAGE_SIZE + PAGE_SIZE;
    const touched = this.regionList.filter((r) => r.va < hi && end(r) > lo);
    for (const r of touched) {
      lo = Math.min(lo, r.va);
      hi = Math.max(hi, end(r));
    }
    lo = Math.max(lo, 0);
    const fresh = this.scan(lo, hi);
    const count = this.regionList.length - touched.length + fresh.length + this.extra;
    if (count > this.mappingLimit) {
      saved.forEach((e, i) => (e ? this.table.set(va + i * PAGE_SIZE, e.frame, e) : this.table.clear(va + i * PAGE_SIZE)));
      throw new AddressSpaceError('MAPPING_LIMIT', `${count} engine mappings would exceed this sandbox's limit of ${this.mappingLimit}`);
    }

    this.regionList = this.regionList.filter((r) => !touched.includes(r)).concat(fresh).sort((a, b) => a.va - b.va);

    // The engine: pieces overlapping the edited range go; what they held outside it comes back
    // as it was; the range itself is mapped as the table now says.
    const from = va;
    const to = va + pages * PAGE_SIZE;
    const overlapping = this.pieces.filter((r) => r.va < to && end(r) > from);
    const added: Region[] = [];
    for (const r of overlapping) {
      this.unmapPiece(r);
      if (r.va < from) added.push({ ...r, pages: (from - r.va) / PAGE_SIZE });
      if (end(r) > to) added.push({ ...r, va: to, frame: r.frame + (to - r.va) / PAGE_SIZE, pages: (end(r) - to) / PAGE_SIZE });
    }
    added.push(...this.scan(from, to));
    for (const r of added) this.mapPiece(r);
    this.pieces = this.pieces.filter((r) => !overlapping.includes(r)).concat(added).sort((a, b) => a.va - b.va);
    if (this.pieces.length > this.regionList.length + SLACK || this.pieces.length + this.extra > this.mappingLimit) this.consolidate();
  }

  /** Makes the engine's mappings the maximal runs again, touching only the pieces that differ. */
  private consolidate(): void {
    const stale = this.pieces.filter((p) => !this.regionList.some((r) => same(p, r)));
    const missing = this.regionList.filter((r) => !this.pieces.some((p) => same(p, r)));
    for (const p of stale) this.unmapPiece(p);
    for (const r of missing) this.mapPiece(r);
    this.pieces = [...this.regionList];
  }

  // Translated code: Unicorn keeps it by its own address for the backing memory, which it hands
  // out again to later mappings, so code translated under one mapping could run under another.
  // Dropping it whenever an executable piece is mapped or unmapped leaves none behind. It must
  // happen while the piece is mapped: Unicorn finds the code through the mapping, and from an
  // unmapped address drops nothing. No-execute pieces never have translated code.

  private mapPiece(r: Region): void {
    const perms = UC_PROT_READ | (r.writable ? UC_PROT_WRITE : 0) | (r.executable ? UC_PROT_EXEC : 0);
    this.target.mapHost(r.va, r.pages * PAGE_SIZE, perms, this.memory.host, r.frame * PAGE_SIZE);
    if (r.executable) this.target.removeTranslations(r.va, end(r));
  }

  private unmapPiece(r: Region): void {
    if (r.executable) this.target.removeTranslations(r.va, end(r));
    this.target.unmap(r.va, r.pages * PAGE_SIZE);
  }

  /** Maximal runs of present pages in [lo, hi) contiguous in both spaces with one protection. */
  private scan(lo: number, hi: number): Region[] {
    const runs: Region[] = [];
    let cur: { va: number; pages: number; frame: number; writable: boolean; executable: boolean } | undefined;
    for (let va = lo; va < hi; va += PAGE_SIZE) {
      const e = this.table.lookup(va);
      if (e && cur && cur.frame + cur.pages === e.frame && cur.writable === e.writable && cur.executable === e.executable) {
        cur.pages++;
        continue;
      }
      if (cur) runs.push(cur);
      cur = e ? { va, pages: 1, frame: e.frame, writable: e.writable, executable: e.executable } : undefined;
    }
    if (cur) runs.push(cur);
    return runs;
  }
}
