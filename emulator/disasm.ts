// x86-64 disassembly through capstone (WebAssembly). Loaded once, asynchronously; after that
// every call is synchronous, so fault handlers and the inspector can use it freely.
//
// Nothing here throws on guest bytes. Capstone's cs_disasm fails outright (it throws) when not
// even the first instruction decodes — exactly the bytes a hostile guest executes to fault — and a
// fault's description must never be worse than the fault: undecodable bytes are described as
// such, with the bytes.

import capstoneFactory from '@alexaltea/capstone-js';

interface CsInstruction {
  address: bigint | number;
  size: number;
  mnemonic: string;
  op_str: string;
}
interface CsDecoder {
  disasm(bytes: number[] | Uint8Array, address: bigint | number, count?: number): CsInstruction[];
}
interface CsModule {
  Capstone: new (arch: number, mode: number) => CsDecoder;
  ARCH_X86: number;
  MODE_64: number;
}

export interface Instruction {
  readonly address: number;
  readonly size: number;
  readonly text: string;
  readonly bytes: Uint8Array;
}

/** The architectural maximum: a longer instruction is #GP on the CPU. */
const MAX_INSTRUCTION = 15;
/** Legacy prefixes (lock, rep, segment, operand and address size). REX (0x40–0x4f) is tested apart. */
const PREFIXES = new Set([0xf0, 0xf2, 0xf3, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65, 0x66, 0x67]);

export class Disassembler {
  private constructor(private readonly decoder: CsDecoder) {}

  private static loading: Promise<Disassembler> | undefined;

  static load(): Promise<Disassembler> {
    this.loading ??= (async () => {
      const cs = (await (capstoneFactory as unknown as () => Promise<CsModule>)()) as CsModule;
      return new Disassembler(new cs.Capstone(cs.ARCH_X86, cs.MODE_64));
    })();
    return this.loading;
  }

  /** Instructions in `bytes` located at `address`, stopping at the first undecodable byte. */
  disassemble(bytes: Uint8Array, address: number, count = 0): Instruction[] {
    let out: CsInstruction[];
    try {
      out = this.decoder.disasm(Array.from(bytes), BigInt(address), count);
    } catch {
      return []; // nothing decoded at all (capstone throws rather than return an empty list)
    }
    return out.map((i) => {
      const at = Number(i.address);
      return { address: at, size: i.size, text: `${i.mnemonic} ${i.op_str}`.trim(), bytes: bytes.subarray(at - address, at - address + i.size) };
    });
  }

  /** The one instruction at `address`, or '(undecodable: f0 90)' naming its bytes. */
  one(bytes: Uint8Array, address: number): string {
    return this.disassemble(bytes, address, 1)[0]?.text ?? this.undecodable(bytes, address);
  }

  /**
   * Capstone refuses some prefix combinations outright (lock on an instruction that cannot take
   * it: `f0 90`). When what follows the prefixes decodes, its end is the instruction's end and
   * exactly those bytes are shown; otherwise the length is unknown and the first four bytes after
   * the prefixes are shown, with an ellipsis when more follow.
   */
  private undecodable(bytes: Uint8Array, address: number): string {
    if (bytes.length === 0) return '(undecodable)';
    let p = 0;
    while (p < bytes.length && p < MAX_INSTRUCTION && (PREFIXES.has(bytes[p]!) || (bytes[p]! & 0xf0) === 0x40)) p++;
    const rest = p > 0 ? this.disassemble(bytes.subarray(p), address + p, 1)[0] : undefined;
    const shown = rest ? p + rest.size : Math.min(bytes.length, p + 4);
    const hex = Array.from(bytes.subarray(0, shown), (b) => b.toString(16).padStart(2, '0')).join(' ');
    return `(undecodable: ${hex}${!rest && shown < bytes.length ? ' …' : ''})`;
  }
}
