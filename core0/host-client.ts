// The TypeScript side of the syscall interface. System services written in TypeScript (the
// Module Manager, the Monitor) hold capabilities in a host sandbox like any guest and make the
// same calls through the same dispatch table — same slot lookups, same rights checks, same
// errors — with arguments staged in the host sandbox's scratch page instead of registers set by
// guest code. Host calls never block: IPC from the host uses HIC_NONBLOCK, and a call that would
// have to wait is refused.

import { Err, Flag, Limit, MESSAGE, MODULE_DEP, MODULE_HEALTH, MODULE_INFO, MODULE_REQ, SPAWN_GRANT, SPAWN_SPEC, SYSCALLS, type SyscallName } from './abi/abi.ts';
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

/** struct hic_module_info, decoded. */
export interface ModuleInfo {
  readonly name: string;
  readonly version: string;
  readonly versionPacked: number;
  readonly memory: number;
  readonly cpuPermille: number;
  readonly kind: 'service' | 'library';
  readonly stateSchema: number;
  /** The newest version of the module started on the machine so far, packed; 0: none. */
  readonly installed: number;
  /** This version is marked bad (module_mark). */
  readonly bad: boolean;
  readonly dependencies: readonly { readonly name: string; readonly range: string }[];
}

/** struct hic_spawn_spec's fields; the numbers default as a guest's zeroed struct would, reservation to -1. */
export interface SpawnSpec {
  readonly sandbox: string;
  readonly module: string;
  readonly version: string;
  readonly quota: number;
  readonly stack: number;
  readonly budget?: number;
  readonly reservation?: number;
  readonly grants?: readonly { readonly slot: number; readonly rights: number }[];
  readonly config?: string;
}

/** A NUL-padded string field (a string that fills it, or more, is cut: the kernel then refuses it). */
function putText(b: Uint8Array, at: number, size: number, text: string): void {
  b.set(Buffer.from(text, 'latin1').subarray(0, size), at);
}

function getText(b: Uint8Array, at: number, size: number): string {
  const f = b.subarray(at, at + size);
  const end = f.indexOf(0);
  return Buffer.from(end < 0 ? f : f.subarray(0, end)).toString('latin1');
}

/** The bytes of a struct hic_spawn_spec, as a guest lays it out. */
export function encodeSpawnSpec(spec: SpawnSpec): Uint8Array {
  const b = new Uint8Array(SPAWN_SPEC.size);
  const v = new DataView(b.buffer);
  const at = SPAWN_SPEC.at;
  putText(b, at.sandbox, Limit.NAME_MAX, spec.sandbox);
  putText(b, at.module, Limit.NAME_MAX, spec.module);
  putText(b, at.version, Limit.VERSION_MAX, spec.version);
  v.setBigUint64(at.quota, BigInt(spec.quota), true);
  v.setBigUint64(at.stack, BigInt(spec.stack), true);
  v.setBigUint64(at.budget, BigInt(spec.budget ?? 0), true);
  v.setBigInt64(at.reservation, BigInt(spec.reservation ?? -1), true);
  const grants = spec.grants ?? [];
  v.setBigUint64(at.ngrants, BigInt(grants.length), true);
  grants.slice(0, Limit.SPAWN_GRANTS_MAX).forEach((g, i) => {
    v.setBigUint64(at.grants + i * SPAWN_GRANT.size + SPAWN_GRANT.at.slot, BigInt(g.slot), true);
    v.setBigUint64(at.grants + i * SPAWN_GRANT.size + SPAWN_GRANT.at.rights, BigInt(g.rights), true);
  });
  putText(b, at.config, Limit.SPAWN_CONFIG_MAX, spec.config ?? '');
  return b;
}

export function decodeModuleInfo(b: Uint8Array): ModuleInfo {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const at = MODULE_INFO.at;
  const n = (o: number) => Number(v.getBigUint64(o, true));
  return {
    name: getText(b, at.name, Limit.NAME_MAX),
    version: getText(b, at.version, Limit.VERSION_MAX),
    versionPacked: n(at.version_packed),
    memory: n(at.memory),
    cpuPermille: n(at.cpu_permille),
    kind: n(at.kind) === 0 ? 'service' : 'library',
    stateSchema: n(at.state_schema),
    installed: n(at.installed),
    bad: n(at.bad) === 1,
    dependencies: Array.from({ length: n(at.ndeps) }, (_, i) => {
      const d = at.deps + i * MODULE_DEP.size;
      return { name: getText(b, d + MODULE_DEP.at.name, Limit.NAME_MAX), range: getText(b, d + MODULE_DEP.at.range, Limit.NAME_MAX) };
    }),
  };
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

  /** module_query through the loader in `loader`: what the trusted repository has, verified. */
  moduleQuery(loader: number, name: string, range: string, flags = 0): ModuleInfo {
    const req = this.bytes(this.scratch, MODULE_REQ.size);
    req.fill(0);
    putText(req, MODULE_REQ.at.name, Limit.NAME_MAX, name);
    putText(req, MODULE_REQ.at.range, Limit.NAME_MAX, range);
    const out = this.scratch + 1024; // after the request, within the first scratch page
    this.syscall('module_query', loader, this.scratch, out, flags);
    return decodeModuleInfo(this.bytes(out, MODULE_INFO.size));
  }

  /** module_mark through the loader in `loader`: marks `name` `version` bad, or clears the mark (a
   * number is passed as it is: a test's bad argument). */
  moduleMark(loader: number, name: string, version: string, bad: boolean | number): void {
    const req = this.bytes(this.scratch, MODULE_REQ.size);
    req.fill(0);
    putText(req, MODULE_REQ.at.name, Limit.NAME_MAX, name);
    putText(req, MODULE_REQ.at.range, Limit.NAME_MAX, version);
    this.syscall('module_mark', loader, this.scratch, typeof bad === 'number' ? bad : bad ? 1 : 0);
  }

  /** module_collect through the loader in `loader`: `name` `version` out of what the machine may load. */
  moduleCollect(loader: number, name: string, version: string): void {
    const req = this.bytes(this.scratch, MODULE_REQ.size);
    req.fill(0);
    putText(req, MODULE_REQ.at.name, Limit.NAME_MAX, name);
    putText(req, MODULE_REQ.at.range, Limit.NAME_MAX, version);
    this.syscall('module_collect', loader, this.scratch);
  }

  /** module_health through the loader in `loader`: what Core-0 has seen of `name` `version` since boot. */
  moduleHealth(loader: number, name: string, version: string): { started: number; faults: number; running: number; memory: number; cpuNs: number } {
    const req = this.bytes(this.scratch, MODULE_REQ.size);
    req.fill(0);
    putText(req, MODULE_REQ.at.name, Limit.NAME_MAX, name);
    putText(req, MODULE_REQ.at.range, Limit.NAME_MAX, version);
    const out = this.scratch + 1024;
    this.syscall('module_health', loader, this.scratch, out);
    const b = this.bytes(out, MODULE_HEALTH.size);
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const word = (at: number) => Number(v.getBigUint64(at, true));
    const at = MODULE_HEALTH.at;
    return { started: word(at.started), faults: word(at.faults), running: word(at.running), memory: word(at.memory), cpuNs: word(at.cpu_ns) };
  }

  /** module_spawn of a spec, or of a struct's raw bytes (a test's malformed one) with this length argument. */
  moduleSpawn(loader: number, spec: SpawnSpec | Uint8Array, len: number = SPAWN_SPEC.size, flags = 0): number {
    const b = spec instanceof Uint8Array ? spec : encodeSpawnSpec(spec);
    this.bytes(this.scratch, b.length).set(b);
    return this.syscall('module_spawn', loader, this.scratch, len, flags);
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
