// The disassembler on bytes it cannot decode: the bytes a hostile guest executes to fault. Capstone
// throws on them; describing a fault must never throw, so each becomes '(undecodable: …)'.

import { beforeAll, describe, expect, it } from 'vitest';
import { Disassembler } from '../emulator/disasm.ts';

let d: Disassembler;
beforeAll(async () => {
  d = await Disassembler.load();
});

const at = 0x40_1000;
const bytes = (...b: number[]) => new Uint8Array(b);

describe('disassembler on undecodable bytes', () => {
  it('names an instruction whose prefixes capstone refuses by its exact bytes', () => {
    expect(d.one(bytes(0xf0, 0x90, 0xc3), at)).toBe('(undecodable: f0 90)'); // lock nop, then ret
    expect(d.one(bytes(0xf0, 0x0f, 0x0b, 0xc3), at)).toBe('(undecodable: f0 0f 0b)'); // lock ud2
    expect(d.one(bytes(0x67, 0xf0, 0x90), at)).toBe('(undecodable: 67 f0 90)');
    // 15 prefixes and a nop: 16 bytes, one more than an instruction may have.
    expect(d.one(bytes(...Array(15).fill(0x66), 0x90, 0xc3), at)).toBe(`(undecodable: ${'66 '.repeat(15)}90)`);
  });

  it('shows the first bytes, with an ellipsis, when the length cannot be told', () => {
    expect(d.one(bytes(0xd6, 0xc3, 0x90, 0x90, 0x90), at)).toBe('(undecodable: d6 c3 90 90 …)');
    expect(d.one(bytes(0xfe, 0xf0, 0xc3), at)).toBe('(undecodable: fe f0 c3)'); // all there is
    expect(d.one(bytes(0x06), at)).toBe('(undecodable: 06)'); // push es: not in 64-bit mode
    expect(d.one(bytes(0xce), at)).toBe('(undecodable: ce)'); // into: likewise
    expect(d.one(bytes(), at)).toBe('(undecodable)');
  });

  it('returns no instructions instead of throwing, and stops at the first undecodable one', () => {
    for (const b of [[0xf0, 0x90], [0xd6], [0x06], [0xfe, 0xf0], [0xce]]) expect(d.disassemble(bytes(...b), at)).toEqual([]);
    const list = d.disassemble(bytes(0x90, 0x0f, 0x31, 0xf0, 0x90, 0xc3), at);
    expect(list.map((i) => [i.address, i.size, i.text])).toEqual([[at, 1, 'nop'], [at + 1, 2, 'rdtsc']]);
  });
});
