// Page tables in the hardware format, and the engine mapping derived from them: runs become single
// mappings, the mapping limit refuses with nothing changed, frames move between spaces without a
// copy, and an unmapped page really faults in the engine.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AddressSpace, AddressSpaceError } from '../emulator/address-space.ts';
import { PAGE_SIZE, PhysicalMemory } from '../emulator/physmem.ts';
import { Engine } from '../emulator/unicorn/engine.ts';
import { assemble } from '../hicmod-toolchain/asm.ts';

const RW = { writable: true, executable: false };
const RX = { writable: false, executable: true };
let mem: PhysicalMemory;
const engines: Engine[] = [];

function space(limit?: number): { s: AddressSpace; e: Engine } {
  const e = Engine.open();
  engines.push(e);
  return { s: new AddressSpace(mem, e, 0x4000_0001, limit), e };
}

beforeEach(() => {
  mem = new PhysicalMemory(8 << 20);
});
afterEach(() => {
  for (const e of engines.splice(0)) e.close();
  mem.dispose();
});

describe('page table', () => {
  it('writes real x86-64 entries: present, writable, user, no-execute, frame address', () => {
    const { s } = space();
    const f = mem.allocate(1, 1);
    s.map(0x400000, f, 1, RW);
    // Walk by hand, as the CPU would: PML4[0] → PDPT[0] → PD[2] → PT[0].
    const q = (phys: number) => Buffer.from(mem.view(phys, 8)).readBigUInt64LE();
    const next = (entry: bigint) => Number(entry & 0x000f_ffff_ffff_f000n);
    const pml4e = q(s.table.root * PAGE_SIZE);
    expect(pml4e & 7n).toBe(7n);
    const pdpte = q(next(pml4e));
    const pde = q(next(pdpte) + 2 * 8);
    const pte = q(next(pde));
    expect(pte & 0xfffn).toBe(0b111n); // present | writable | user
    expect(pte >> 63n).toBe(1n); // NX
    expect(next(pte)).toBe(f * PAGE_SIZE);
    s.protect(0x400000, 1, RX);
    const rx = q(next(pde));
    expect(rx & 0xfffn).toBe(0b101n);
    expect(rx >> 63n).toBe(0n);
    expect([...s.pageTable()]).toEqual([[0x400000, { frame: f, writable: false, executable: true }]]);
  });

  it('works in a machine of exactly 4 GiB, whose tables sit in the top frames (the words view once had length 0 there)', () => {
    const big = new PhysicalMemory(4 * 1024 * 1024 * 1024); // host pages are only touched when used
    const e = Engine.open();
    try {
      const s = new AddressSpace(big, e, 0x4000_0001);
      const f = big.allocate(1, 1);
      s.map(0x400000, f, 1, RW);
      expect(s.table.root).toBe(big.frameCount - 1);
      expect(s.table.lookup(0x400000)).toEqual({ frame: f, writable: true, executable: false });
      const q = (phys: number) => Buffer.from(big.view(phys, 8)).readBigUInt64LE();
      expect(Number(q(s.table.root * PAGE_SIZE) & 0x000f_ffff_ffff_f000n)).toBe((big.frameCount - 2) * PAGE_SIZE); // the PDPT, one frame below
      s.destroy();
    } finally {
      e.close();
      big.dispose();
    }
  });

  it('charges its own frames to the table owner and frees them when destroyed', () => {
    const { s } = space();
    s.map(0x400000, mem.allocate(1, 1), 1, RW);
    expect(mem.runsOf(0x4000_0001).reduce((n, [, c]) => n + c, 0)).toBe(4); // PML4, PDPT, PD, PT
    s.destroy();
    expect(mem.runsOf(0x4000_0001)).toEqual([]);
  });
});

describe('address space', () => {
  it('realizes a run contiguous in both spaces with one protection as one engine mapping', () => {
    const { s } = space();
    const f = mem.allocate(8, 1);
    s.map(0x400000, f, 4, RX);
    s.map(0x404000, f + 4, 4, RX); // adjacent, same protection: merges
    expect(s.regions).toEqual([{ va: 0x400000, pages: 8, frame: f, writable: false, executable: true }]);
    s.protect(0x402000, 1, RW); // splits into three
    expect(s.regions.map((r) => [r.va, r.pages, r.writable])).toEqual([[0x400000, 2, false], [0x402000, 1, true], [0x403000, 5, false]]);
    s.protect(0x402000, 1, RX); // and merges back
    expect(s.regions).toHaveLength(1);
  });

  it('refuses a change past the mapping limit and leaves table and engine as they were', () => {
    const { s } = space(3);
    const f = mem.allocate(16, 1);
    for (let i = 0; i < 3; i++) s.map(0x400000 + i * 2 * PAGE_SIZE, f + 2 * i, 1, RW); // three separate pages
    const before = [...s.pageTable()];
    try {
      s.map(0x500000, f + 10, 1, RW);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(AddressSpaceError);
      expect((e as AddressSpaceError).code).toBe('MAPPING_LIMIT');
    }
    expect([...s.pageTable()]).toEqual(before);
    expect(s.regions).toHaveLength(3);
    s.map(0x401000, f + 1, 1, RW); // fills a hole: merges, fewer mappings, allowed
    expect(s.regions).toHaveLength(2);
  });

  it('refuses to map a mapped page or unmap an unmapped one', () => {
    const { s } = space();
    const f = mem.allocate(2, 1);
    s.map(0x400000, f, 1, RW);
    expect(() => s.map(0x400000, f + 1, 1, RW)).toThrow(expect.objectContaining({ code: 'ALREADY_MAPPED' }));
    expect(() => s.unmap(0x401000, 1)).toThrow(expect.objectContaining({ code: 'NOT_MAPPED' }));
    expect(() => s.map(0x400123, f, 1, RW)).toThrow(expect.objectContaining({ code: 'BAD_RANGE' }));
    expect(() => s.map(2 ** 47 - PAGE_SIZE, f, 2, RW)).toThrow(expect.objectContaining({ code: 'BAD_RANGE' }));
  });

  it('checked views: permission, holes and overflow', () => {
    const { s } = space();
    const f = mem.allocate(3, 1);
    s.map(0x400000, f, 2, RW);
    s.map(0x403000, f + 2, 1, RX);
    expect(s.view(0x400ff0, 0x20)?.length).toBe(0x20); // crosses a page, contiguous frames
    expect(s.view(0x401ff0, 0x20)).toBeUndefined(); // runs into the hole
    expect(s.view(0x403000, 4, 'write')).toBeUndefined();
    expect(s.view(0x400000, Number.MAX_SAFE_INTEGER)).toBeUndefined();
    expect(s.view(-1, 1)).toBeUndefined();
  });

  it('moves frames to another space: the old owner faults, the new one reads the same bytes', () => {
    const a = space();
    const b = space();
    const code = mem.allocate(1, 1);
    const data = mem.allocate(1, 1);
    mem.view(code * PAGE_SIZE, 64).set(assemble('mov rax, [0x600000]\nhlt'));
    mem.view(data * PAGE_SIZE, 8).set([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const { s } of [a, b]) s.map(0x400000, code, 1, RX);
    a.s.map(0x600000, data, 1, RW);

    expect(a.e.start(0x400000, 10)).toBe('OK');
    expect(a.e.regRead('RAX')).toBe(0x0807060504030201n);
    a.s.moveTo(b.s, 0x600000, 1, 0x600000);
    expect(a.e.start(0x400000, 10)).toBe('READ_UNMAPPED');
    expect(b.e.start(0x400000, 10)).toBe('OK');
    expect(b.e.regRead('RAX')).toBe(0x0807060504030201n);
    expect(b.s.translate(0x600000)).toBe(data * PAGE_SIZE); // same frame: no copy
  });

  it('a refused move leaves both spaces as they were', () => {
    const a = space();
    const b = space(1);
    const f = mem.allocate(4, 1);
    a.s.map(0x600000, f, 2, RW);
    b.s.map(0x800000, f + 3, 1, RW);
    expect(() => a.s.moveTo(b.s, 0x600000, 2, 0x700000)).toThrow(expect.objectContaining({ code: 'MAPPING_LIMIT' }));
    expect(a.s.translate(0x600000)).toBe(f * PAGE_SIZE);
    expect(b.s.translate(0x700000)).toBe(-1);
    expect(b.s.regions).toHaveLength(1);
  });
});

describe('engine mappings', () => {
  /** A space whose engine calls are counted. */
  function counted(limit?: number) {
    const e = Engine.open();
    engines.push(e);
    const calls = { map: 0, unmap: 0 };
    const target = {
      mapHost: (...a: Parameters<Engine['mapHost']>) => (calls.map++, e.mapHost(...a)),
      unmap: (a: number, size: number) => (calls.unmap++, e.unmap(a, size)),
      removeTranslations: (a: number, b: number) => e.removeTranslations(a, b),
    };
    return { s: new AddressSpace(mem, target, 0x4000_0001, limit), e, calls };
  }

  it('a page mapped next to a run and unmapped again costs one engine map and one unmap', () => {
    // Each uc_mem_map_ptr costs Unicorn time quadratic in the engine's mappings: a mem_alloc next
    // to the stack must not remap the stack, nor its mem_free.
    const { s, e, calls } = counted();
    const f = mem.allocate(5, 1);
    const code = mem.allocate(1, 1);
    mem.view(code * PAGE_SIZE, 16).set(assemble('mov rax, [0x603ffc]\nhlt'));
    s.map(0x500000, code, 1, RX);
    s.map(0x600000, f, 4, RW);
    Object.assign(calls, { map: 0, unmap: 0 });
    s.map(0x604000, f + 4, 1, RW);
    expect(calls).toEqual({ map: 1, unmap: 0 });
    expect(s.regions[1]).toEqual({ va: 0x600000, pages: 5, frame: f, ...RW }); // counted as one run
    // Both sides of the seam between the two engine mappings work, for the host and the guest.
    expect(e.read(0x603ff8, 16)).toHaveLength(16);
    mem.view(f * PAGE_SIZE + 0x3ffc, 8).set([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(e.start(0x500000, 10)).toBe('OK');
    expect(e.regRead('RAX')).toBe(0x0807060504030201n);
    s.unmap(0x604000, 1);
    expect(calls).toEqual({ map: 1, unmap: 1 });
    expect(s.regions[1]).toEqual({ va: 0x600000, pages: 4, frame: f, ...RW });
    expect(() => e.read(0x604000, 1)).toThrow(expect.objectContaining({ code: 'UC_ERR_READ_UNMAPPED' }));
    expect(e.read(0x603000, 4096)).toHaveLength(4096);
  });

  it('merges pieces back into runs before they outnumber the runs by much, and never passes the limit', () => {
    const { s, e } = counted(16);
    const f = mem.allocate(40, 1);
    for (let i = 0; i < 40; i++) {
      s.map(0x600000 + i * PAGE_SIZE, f + i, 1, RW);
      expect(s.engineMappings).toBeLessThanOrEqual(s.regions.length + 8);
    }
    expect(s.regions).toHaveLength(1);
    for (let i = 1; i < 15; i += 2) s.protect(0x600000 + i * PAGE_SIZE, 1, RX); // 15 runs, nearly the limit
    expect(s.regions).toHaveLength(15);
    expect(s.engineMappings).toBeLessThanOrEqual(16);
    expect(e.read(0x600000, 40 * PAGE_SIZE)).toHaveLength(40 * PAGE_SIZE); // every page still there, once
  });

  it('code mapped again at an address runs as its new bytes, never as what was translated before', () => {
    const { s, e } = counted();
    const f = mem.allocate(1, 1);
    s.map(0x500000, f, 1, RW); // a neighbour below, so the change's window starts at a mapped page
    const code = mem.allocate(1, 1);
    for (const value of [1, 2, 3]) {
      mem.view(code * PAGE_SIZE, 16).set(assemble(`mov eax, ${value}\nhlt`));
      s.map(0x501000, code, 1, RX);
      expect(e.start(0x501000, 10)).toBe('OK');
      expect(e.regRead('RAX')).toBe(BigInt(value));
      s.unmap(0x501000, 1);
    }
  });
});
