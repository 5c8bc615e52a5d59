// The TypeScript side of the syscall interface. System services written in TypeScript (the
// Module Manager, the Monitor) hold capabilities in a host sandbox like any guest and make the
// same calls through the same dispatch table — same slot lookups, same rights checks, same
// errors — with arguments staged in the host sandbox's scratch page instead of registers set by
// guest code. Host calls never block: IPC from the host uses HIC_NONBLOCK, and a call that would
// have to wait is refused.

import { Err, Flag, MESSAGE, SYSCALLS, type SyscallName } from './abi/abi.ts';
import type { SyscallFrame } from '../emulator/types.ts';
import type { InitialCaps, Kernel } from './kernel.ts';

const NR = new Map<string, number>(SYSCALLS.map((s) => [s.name, s.nr]));
const ERROR_NAME = new Map<number, string>(Object.entries(Err).map(([k, v]) => [v, k]));

export class HostCallError extends Error {
  constructor(readonly code: string, readonly call: string) {
    super(`${call}: ${code}`);
  }
}

export interface HostMessage {
  readonly label?: bigint;
  readonly words?: readonly bigint[];
  readonly cap?: number;
  readonly capMove?: boolean;
  readonly payload?: Uint8Array;
}

export class HostClient {
  private constructor(
    readonly name: string,
    private readonly call: (frame: SyscallFrame) => unknown,
    private readonly scratch: number,
    private readonly bytes: (at: number, len: number) => Uint8Array,
  ) {}

  /** Creates the host sandbox `name` with its initial capabilities (slot 0: the registry). */
  static attach(kernel: Kernel, name: string, caps: InitialCaps = {}): HostClient {
    const h = kernel.spawnHost(name, caps);
    return new HostClient(name, h.call, h.scratch, (at, len) => h.sandbox.cpu.space.view(at, len, 'write')!);
  }

  /** One raw call: the result, or a HostCallError naming the error. */
  syscall(name: SyscallName, ...args: number[]): number {
    const nr = NR.get(name)!;
    let result = 0;
    const frame: SyscallFrame = {
      nr,
      arg: (i) => args[i] ?? 0,
      wideArg: (i) => BigInt.asUintN(64, BigInt(args[i] ?? 0)),
      setResult: (v) => (result = v),
    };
    const out = this.call(frame);
    if (typeof out !== 'number') throw new HostCallError('WOULD_BLOCK', name); // host calls never wait
    result = out;
    if (result < 0) throw new HostCallError(ERROR_NAME.get(-result) ?? `error ${-result}`, name);
    return result;
  }

  /** Stages a string in the scratch page's second half; returns [address, length]. */
  private text(s: string, slot: 0 | 1): [number, number] {
    const b = Buffer.from(s, 'utf8');
    const at = this.scratch + 4096 + slot * 512;
    this.bytes(at, b.length).set(b);
    return [at, b.length];
  }

  register(name: string, endpointSlot: number): void {
    this.syscall('registry_register', 0, ...this.text(name, 0), endpointSlot);
  }

  lookup(name: string): number {
    return this.syscall('registry_lookup', 0, ...this.text(name, 0));
  }

  switchAlias(alias: string, target: string): void {
    this.syscall('registry_switch', 0, ...this.text(alias, 0), ...this.text(target, 1));
  }

  capInfo(slot: number): { type: number; rights: number } {
    const v = this.syscall('cap_info', slot);
    return { type: v >> 8, rights: v & 0xff };
  }

  /** Sends without waiting (a receiver must be waiting, else WOULD_BLOCK). */
  sendNow(slot: number, m: HostMessage): void {
    const b = this.bytes(this.scratch, MESSAGE.size);
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    b.fill(0);
    const at = MESSAGE.at;
    v.setBigUint64(at.label, m.label ?? 0n, true);
    (m.words ?? []).forEach((w, i) => v.setBigUint64(at.words + 8 * i, w, true));
    v.setBigInt64(at.cap, BigInt(m.cap ?? -1), true);
    v.setBigUint64(at.cap_move, m.capMove ? 1n : 0n, true);
    v.setBigUint64(at.len, BigInt(m.payload?.length ?? 0), true);
    if (m.payload) b.set(m.payload, at.payload);
    this.syscall('send', slot, this.scratch, Flag.NONBLOCK);
  }
}
