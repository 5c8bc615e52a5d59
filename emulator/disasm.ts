// x86-64 disassembly through capstone (WebAssembly). Loaded once, asynchronously; after that
// every call is synchronous, so fault handlers and the inspector can use it freely.

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
    const out = this.decoder.disasm(Array.from(bytes), BigInt(address), count);
    return out.map((i) => {
      const at = Number(i.address);
      return { address: at, size: i.size, text: `${i.mnemonic} ${i.op_str}`.trim(), bytes: bytes.subarray(at - address, at - address + i.size) };
    });
  }

  /** The one instruction at `address`, or '(undecodable)'. */
  one(bytes: Uint8Array, address: number): string {
    return this.disassemble(bytes, address, 1)[0]?.text ?? '(undecodable)';
  }
}
