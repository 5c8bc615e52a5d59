// An x86-64 4-level page table (PML4 → PDPT → PD → PT) kept in frames of physical memory, in the
// real hardware format, so a debugger can walk it exactly as a CPU would. Unicorn 2.0.1 ignores
// guest page tables, so this table is the truth from which each sandbox's engine mapping is
// derived (address-space.ts) — never the other way round.
//
// Only 4 KiB pages; no large pages. Intermediate tables are allocated on demand and released
// when the whole table is destroyed.

import { PAGE_SHIFT, PAGE_SIZE, type PhysicalMemory } from './physmem.ts';

/** Entry bits, as the hardware defines them. */
export const PTE = {
  PRESENT: 1 << 0,
  WRITABLE: 1 << 1,
  USER: 1 << 2,
  /** Bit 63; kept here as bit 31 of the entry's high word. */
  NO_EXECUTE_HIGH: 1 << 31,
} as const;

export interface PageFlags {
  readonly writable: boolean;
  readonly executable: boolean;
}

export interface PageEntry extends PageFlags {
  readonly frame: number;
}

/** Canonical user half of the 48-bit address space. */
export const USER_TOP = 0x0000_8000_0000_0000;

const ADDR_LOW_MASK = 0xffff_f000; // bits 12..31 of the entry's low word
const ADDR_HIGH_MASK = 0x000f_ffff; // bits 32..51 in the high word

export class PageTable {
  /** Frame number of the PML4. */
  readonly root: number;
  private readonly words: Uint32Array;
  private readonly tableFrames: number[] = [];

  constructor(private readonly memory: PhysicalMemory, private readonly owner: number) {
    const b = memory.bytes;
    this.words = new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    this.root = this.newTable();
  }

  /** Frames used by the table itself (PML4 and below). */
  get frames(): readonly number[] {
    return this.tableFrames;
  }

  lookup(va: number): PageEntry | undefined {
    const w = this.leafWord(va, false);
    if (w < 0) return undefined;
    const lo = this.words[w]!;
    if (!(lo & PTE.PRESENT)) return undefined;
    const hi = this.words[w + 1]!;
    return {
      frame: (hi & ADDR_HIGH_MASK) * 0x100000 + ((lo & ADDR_LOW_MASK) >>> PAGE_SHIFT),
      writable: (lo & PTE.WRITABLE) !== 0,
      executable: (hi & PTE.NO_EXECUTE_HIGH) === 0,
    };
  }

  /** Sets the leaf entry for va. Replaces whatever was there; the caller keeps the books. */
  set(va: number, frame: number, flags: PageFlags): void {
    const w = this.leafWord(va, true);
    const phys = frame * PAGE_SIZE;
    this.words[w] = ((phys % 0x1_0000_0000) & ADDR_LOW_MASK) | PTE.PRESENT | PTE.USER | (flags.writable ? PTE.WRITABLE : 0);
    this.words[w + 1] = (Math.floor(phys / 0x1_0000_0000) & ADDR_HIGH_MASK) | (flags.executable ? 0 : PTE.NO_EXECUTE_HIGH);
  }

  clear(va: number): void {
    const w = this.leafWord(va, false);
    if (w < 0) return;
    this.words[w] = 0;
    this.words[w + 1] = 0;
  }

  /** Every present leaf in address order, as [va, entry]. */
  *entries(): Generator<[number, PageEntry]> {
    yield* this.walk(this.root, 3, 0);
  }

  private *walk(table: number, level: number, base: number): Generator<[number, PageEntry]> {
    const span = 2 ** (PAGE_SHIFT + 9 * level);
    for (let i = 0; i < 512; i++) {
      const w = (table * PAGE_SIZE) / 4 + i * 2;
      const lo = this.words[w]!;
      if (!(lo & PTE.PRESENT)) continue;
      const va = base + i * span;
      if (level === 0) {
        const e = this.lookup(va);
        if (e) yield [va, e];
      } else {
        yield* this.walk(this.tableAt(w), level - 1, va);
      }
    }
  }

  /** Releases every frame of the table. The table must not be used afterwards. */
  destroy(): void {
    for (const f of this.tableFrames) this.memory.free(f, 1, this.owner);
    this.tableFrames.length = 0;
  }

  private newTable(): number {
    const f = this.memory.allocate(1, this.owner, true); // zeroed: every entry not present
    this.tableFrames.push(f);
    return f;
  }

  private tableAt(w: number): number {
    return (this.words[w + 1]! & ADDR_HIGH_MASK) * 0x100000 + ((this.words[w]! & ADDR_LOW_MASK) >>> PAGE_SHIFT);
  }

  /** Word index of va's leaf entry, creating intermediate tables if asked; -1 if absent. */
  private leafWord(va: number, create: boolean): number {
    if (!(va >= 0 && va < USER_TOP) || va % PAGE_SIZE !== 0) throw new RangeError(`page table: bad virtual address 0x${va.toString(16)}`);
    // The page number fits 35 bits: split it into the four 9-bit indexes without 64-bit math.
    const page = va / PAGE_SIZE;
    const high = Math.floor(page / 0x4_0000); // bits 18.. of the page number: PML4 and PDPT indexes
    const low = page % 0x4_0000; // bits 0..17: PD and PT indexes
    let table = this.root;
    for (let level = 3; level >= 0; level--) {
      const index = level >= 2 ? (high >>> (9 * (level - 2))) & 511 : (low >>> (9 * level)) & 511;
      const w = table * (PAGE_SIZE / 4) + index * 2;
      if (level === 0) return w;
      if (!(this.words[w]! & PTE.PRESENT)) {
        if (!create) return -1;
        const t = this.newTable();
        const phys = t * PAGE_SIZE;
        // Intermediate entries grant everything; the leaf decides.
        this.words[w] = ((phys % 0x1_0000_0000) & ADDR_LOW_MASK) | PTE.PRESENT | PTE.WRITABLE | PTE.USER;
        this.words[w + 1] = Math.floor(phys / 0x1_0000_0000) & ADDR_HIGH_MASK;
      }
      table = this.tableAt(w);
    }
    return -1;
  }
}
