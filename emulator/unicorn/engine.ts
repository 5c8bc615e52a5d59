// A typed x86-64 Unicorn engine. One Engine is one CPU with its own address space; HIC gives each
// sandbox its own (DESIGN.md, "isolation by shadow mapping").
//
// Errors: every uc_err from a management call becomes a thrown UnicornError carrying Unicorn's own
// message. uc_emu_start is different: a guest-caused stop (unmapped access, protection, invalid
// instruction) is an outcome, not a failure of the binding, so start() returns the uc_err name.
//
// Hooks: koffi allows a bounded number of registered callbacks, so one native callback per hook
// kind is registered for the whole process and the engine's index in a table of open engines
// travels in user_data: every syscall trap finds its engine by indexing an array. A JS exception
// inside a hook does not stop the guest (docs/unicorn.md#hook-exceptions): each trampoline catches
// it, stops the engine and start() rethrows it — a throw there is a bug in HIC, never guest
// behaviour.

import { COUNT_INSTRUCTION, koffi, proto, SYSCALL_TRAP, uc } from './lib.ts';
import {
  UC_ARCH_X86, UC_CTL_TB_REMOVE_CACHE, UC_ERR_NAMES, UC_HOOK_CODE, UC_HOOK_INSN, UC_HOOK_INSN_INVALID,
  UC_HOOK_INTR, UC_HOOK_MEM_INVALID, UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE, UC_MEM_WRITE, UC_MODE_64, UC_PROT_EXEC, UC_PROT_READ,
  UC_X86_INS_CPUID, UC_X86_INS_IN, UC_X86_INS_OUT, UC_X86_INS_SYSCALL, UC_X86_MMR_SIZE, UC_X86_REG_GDTR, X86,
  type UcErrName, type X86Reg,
} from './consts.ts';
import { HostMemory, hostAddress } from './host-memory.ts';
import { SyscallSlot } from './syscall-trap.ts';
import { CR4_TSD, KERNEL_DATA, layout, SYSTEM_PAGE, SYSTEM_PAGE_SIZE, systemPageBytes, USER_CODE } from './user-mode.ts';

export class UnicornError extends Error {
  readonly code: `UC_ERR_${UcErrName}`;
  constructor(readonly op: string, readonly ucErr: number) {
    const name = UC_ERR_NAMES[ucErr] ?? 'EXCEPTION';
    super(`${op}: ${uc.strerror(ucErr) as string} (UC_ERR_${name})`);
    this.code = `UC_ERR_${name}`;
  }
}

function check(op: string, err: number): void {
  if (err !== 0) throw new UnicornError(op, err);
}

export type MemAccessHandler = (type: number, address: number, size: number) => void;

/**
 * Called from the native syscall trap with the arguments in Engine.syscallArgs. A number is
 * written to rax by the trap; undefined leaves rax as it is.
 */
export type SyscallHandler = () => number | undefined | void;

interface Handlers {
  syscall?: SyscallHandler;
  interrupt?: (intno: number) => void;
  memInvalid?: MemAccessHandler;
  insnInvalid?: () => void;
  code?: (address: number, size: number) => void;
  cpuid?: () => boolean;
  portIo?: PortIoHandler;
  memAccess?: (write: boolean, address: number, size: number, value: bigint) => void;
}

/** in/out/ins/outs: `value` is what an out writes; an in receives the result. */
export type PortIoHandler = (port: number, size: number, direction: 'in' | 'out', value: number) => number;

/** Open engines by index (the user_data of their hooks); a closed engine's index is reused. */
const engines: (Engine | undefined)[] = [];
const freeIndexes: number[] = [];
let nextEngineId = 1;

/** Device register windows mapped with uc_mmio_map, by the id passed as user_data. */
export interface MmioHandlers {
  read(offset: number, size: number): number | bigint;
  write(offset: number, size: number, value: number): void;
}
const mmioRegions = new Map<number, { engine: Engine; handlers: MmioHandlers }>();
let nextMmioId = 1;

function trampoline<A extends unknown[], R>(run: (e: Engine, ...a: A) => R, fallback: R) {
  return (ud: number | bigint, ...a: A): R => {
    const e = engines[Number(ud)];
    if (!e) return fallback;
    try {
      return run(e, ...a);
    } catch (err) {
      e.recordHookError(err);
      return fallback;
    }
  };
}

// Registered lazily once; user_data is the last native argument, moved first for the trampoline.
let callbacks:
  | Record<'syscall' | 'intr' | 'memInvalid' | 'memValid' | 'memAccess' | 'code' | 'insnInvalid' | 'cpuid' | 'portIn' | 'portOut' | 'mmioRead' | 'mmioWrite', bigint>
  | undefined;
function nativeCallbacks() {
  if (callbacks) return callbacks;
  const intr = trampoline((e, intno: number) => e.handlers.interrupt?.(intno), undefined);
  const memInvalid = trampoline((e, type: number, address: number | bigint, size: number) => {
    // koffi hands a uint64 above 2^63 over as a negative number: the kernel half would look small.
    e.handlers.memInvalid?.(type, Number(BigInt.asUintN(64, BigInt(address))), size);
    return false; // never map on demand: the access fails and emulation stops
  }, false);
  const code = trampoline((e, address: number | bigint, size: number) => e.handlers.code?.(Number(address), size), undefined);
  const memAccess = trampoline((e, type: number, address: number | bigint, size: number, value: number | bigint) =>
    e.handlers.memAccess?.(type === UC_MEM_WRITE, Number(address), size, BigInt.asUintN(64, BigInt(value))), undefined);
  const insnInvalid = trampoline((e) => {
    e.handlers.insnInvalid?.();
    return false;
  }, false);
  // Without a handler cpuid executes as Unicorn's model defines it and port I/O reads 0.
  const cpuid = trampoline((e) => (e.handlers.cpuid?.() ? 1 : 0), 0);
  const portIn = trampoline((e, port: number, size: number) => e.handlers.portIo?.(port, size, 'in', 0) ?? 0, 0);
  const portOut = trampoline((e, port: number, size: number, value: number) => void e.handlers.portIo?.(port, size, 'out', value), undefined);
  callbacks = {
    syscall: koffi.register((index: number) => engines[index]?.syscallTrapped() ?? 0, proto.syscall),
    intr: koffi.register((_uc: unknown, intno: number, ud: number) => intr(ud, intno), proto.intr),
    memInvalid: koffi.register(
      (_uc: unknown, type: number, address: number, size: number, _v: unknown, ud: number) => memInvalid(ud, type, address, size),
      proto.memInvalid,
    ),
    // The precise-RIP hook (docs/unicorn.md#imprecise-rip) never fires: it watches a range nothing maps.
    memValid: koffi.register(() => undefined, proto.memValid),
    memAccess: koffi.register(
      (_uc: unknown, type: number, address: number, size: number, value: number | bigint, ud: number) => memAccess(ud, type, address, size, value),
      proto.memValid,
    ),
    code: koffi.register((_uc: unknown, address: number, size: number, ud: number) => code(ud, address, size), proto.code),
    insnInvalid: koffi.register((_uc: unknown, ud: number) => insnInvalid(ud), proto.insnInvalid),
    cpuid: koffi.register((_uc: unknown, ud: number) => cpuid(ud), proto.cpuid),
    portIn: koffi.register((_uc: unknown, port: number, size: number, ud: number) => portIn(ud, port, size), proto.portIn),
    portOut: koffi.register((_uc: unknown, port: number, size: number, value: number, ud: number) => portOut(ud, port, size, value), proto.portOut),
    mmioRead: koffi.register((_uc: unknown, offset: number | bigint, size: number, ud: number | bigint) => {
      const r = mmioRegions.get(Number(ud));
      if (!r) return 0;
      try {
        return BigInt(r.handlers.read(Number(offset), size));
      } catch (err) {
        r.engine.recordHookError(err);
        return 0;
      }
    }, proto.mmioRead),
    mmioWrite: koffi.register((_uc: unknown, offset: number | bigint, size: number, value: number | bigint, ud: number | bigint) => {
      const r = mmioRegions.get(Number(ud));
      if (!r) return;
      try {
        r.handlers.write(Number(offset), size, Number(BigInt.asUintN(64, BigInt(value))));
      } catch (err) {
        r.engine.recordHookError(err);
      }
    }, proto.mmioWrite),
  };
  return callbacks;
}

/** A fixed set of registers read or written with one native call (docs/unicorn.md#register-batches). */
export class RegisterBatch {
  /** The values, valid until the next read(); write() sends whatever is here. */
  readonly values: BigUint64Array;
  /** The same memory as 32-bit halves, for callers that want numbers without BigInt. */
  readonly halves: Uint32Array;
  private readonly ids: HostMemory;
  private readonly ptrs: HostMemory;
  private readonly vals: HostMemory;
  private readonly idsAt: bigint;
  private readonly ptrsAt: bigint;

  /** Made by Engine.batch(), which passes its native handle. */
  constructor(private readonly uc: unknown, readonly regs: readonly X86Reg[]) {
    const n = regs.length;
    this.ids = HostMemory.allocate(4 * n);
    this.vals = HostMemory.allocate(8 * n);
    this.ptrs = HostMemory.allocate(8 * n);
    const ids = new Int32Array(this.ids.bytes.buffer, this.ids.bytes.byteOffset, n);
    const ptrs = new BigUint64Array(this.ptrs.bytes.buffer, this.ptrs.bytes.byteOffset, n);
    regs.forEach((r, i) => {
      ids[i] = X86[r];
      ptrs[i] = hostAddress(this.vals) + BigInt(8 * i);
    });
    this.idsAt = hostAddress(this.ids);
    this.ptrsAt = hostAddress(this.ptrs);
    this.values = new BigUint64Array(this.vals.bytes.buffer, this.vals.bytes.byteOffset, n);
    this.halves = new Uint32Array(this.vals.bytes.buffer, this.vals.bytes.byteOffset, 2 * n);
  }

  read(): BigUint64Array {
    check('uc_reg_read_batch', uc.regReadBatch(this.uc, this.idsAt, this.ptrsAt, this.regs.length));
    return this.values;
  }

  write(): void {
    check('uc_reg_write_batch', uc.regWriteBatch(this.uc, this.idsAt, this.ptrsAt, this.regs.length));
  }

  /** Value i as a number when it is below 2^53, else -1 (callers treat -1 as out of range). */
  number(i: number): number {
    const hi = this.halves[2 * i + 1]!;
    if (hi >= 0x200000) return -1;
    return hi * 0x1_0000_0000 + this.halves[2 * i]!;
  }

  free(): void {
    this.ids.free();
    this.vals.free();
    this.ptrs.free();
  }
}

const contexts = new WeakMap<CpuContext, unknown>();
function nativeContext(c: CpuContext): unknown {
  const n = contexts.get(c);
  if (n === undefined) throw new Error('CpuContext used after free');
  return n;
}

/** A saved CPU context (all registers), restorable into the engine that allocated it. */
export class CpuContext {
  constructor(readonly engine: Engine, native: unknown) {
    contexts.set(this, native);
  }
  free(): void {
    const n = contexts.get(this);
    if (n !== undefined) uc.contextFree(n);
    contexts.delete(this);
  }
}

export interface HookHandle {
  readonly id: number | bigint;
}

export class Engine {
  readonly id: number;
  /** In `engines`, while open; the user_data of its hooks. */
  private readonly index: number;
  /** The native uc_engine*; null once closed. */
  private handle: unknown;
  /** @internal read by the native trampolines. */
  readonly handlers: Handlers = {};
  private hookError: unknown = undefined;
  private readonly scratch = HostMemory.allocate(8);
  private readonly scratchView: BigUint64Array;
  private readonly scratchAt: bigint;
  /** The native instruction counter: [executed, limit, last address] (emulator/native/counter.c). */
  private readonly counter = HostMemory.allocate(24);
  private readonly count: BigUint64Array;
  private readonly countHalves: Uint32Array;
  /** Host memory blocks mapped into this engine: held so they outlive the mapping (docs/unicorn.md#map-ptr-lifetime). */
  private readonly pinned = new Set<HostMemory>();
  /** For clearExceptionInFlight. */
  private scratchContext: CpuContext | undefined;
  /** What the native syscall trap shares with the handler (emulator/native/trap.c). */
  private readonly trapSlot: SyscallSlot;
  /** Inside the syscall handler: stop() then asks the native trap to stop, without a crossing. */
  private trapping = false;

  private constructor(handle: unknown) {
    this.handle = handle;
    this.id = nextEngineId++;
    this.index = freeIndexes.pop() ?? engines.length;
    this.scratchView = new BigUint64Array(this.scratch.bytes.buffer, this.scratch.bytes.byteOffset, 1);
    this.scratchAt = hostAddress(this.scratch);
    this.count = new BigUint64Array(this.counter.bytes.buffer, this.counter.bytes.byteOffset, 3);
    this.countHalves = new Uint32Array(this.counter.bytes.buffer, this.counter.bytes.byteOffset, 2);
    this.trapSlot = new SyscallSlot(nativeCallbacks().syscall, this.index);
    engines[this.index] = this;
  }

  static open(): Engine {
    const out: unknown[] = [null];
    check('uc_open', uc.open(UC_ARCH_X86, UC_MODE_64, out));
    const e = new Engine(out[0]);
    const cb = nativeCallbacks();
    // First, before any code is translated: the instruction counter runs before every instruction.
    e.addHook(UC_HOOK_CODE, COUNT_INSTRUCTION, 1n, 0n, undefined, hostAddress(e.counter));
    // Exact RIP after a data fault requires some memory hook to exist (docs/unicorn.md#imprecise-rip).
    e.addHook(UC_HOOK_MEM_READ, cb.memValid, 0xffff_ffff_ffff_f000n, 0xffff_ffff_ffff_ffffn);
    e.addHook(UC_HOOK_MEM_INVALID, cb.memInvalid, 1n, 0n);
    e.addHook(UC_HOOK_INTR, cb.intr, 1n, 0n);
    e.addHook(UC_HOOK_INSN_INVALID, cb.insnInvalid, 1n, 0n);
    e.addHook(UC_HOOK_INSN, SYSCALL_TRAP, 1n, 0n, UC_X86_INS_SYSCALL, e.trapSlot.address);
    e.addHook(UC_HOOK_INSN, cb.cpuid, 1n, 0n, UC_X86_INS_CPUID);
    e.addHook(UC_HOOK_INSN, cb.portIn, 1n, 0n, UC_X86_INS_IN);
    e.addHook(UC_HOOK_INSN, cb.portOut, 1n, 0n, UC_X86_INS_OUT);
    return e;
  }

  close(): void {
    if (this.handle === null) return;
    this.scratchContext?.free();
    this.scratchContext = undefined;
    uc.close(this.handle);
    this.handle = null;
    // No hook of a closed engine runs again, so its index can go to the next engine opened.
    engines[this.index] = undefined;
    freeIndexes.push(this.index);
    for (const [id, r] of mmioRegions) if (r.engine === this) mmioRegions.delete(id);
    this.scratch.free();
    this.counter.free();
    this.trapSlot.free();
    this.pinned.clear();
  }

  get closed(): boolean {
    return this.handle === null;
  }

  // --- handlers -------------------------------------------------------------------------------

  /**
   * Handles each `syscall`. The native trap has read the argument registers into syscallArgs
   * before fn runs, and writes fn's number to rax after it returns (one crossing per syscall).
   */
  onSyscall(fn: SyscallHandler | undefined): void {
    this.handlers.syscall = fn;
  }

  /** The argument registers of the syscall being handled: rax (the number), rdi, rsi, rdx, r10, r8, r9. */
  get syscallArgs(): SyscallSlot {
    return this.trapSlot;
  }

  /** @internal Called by the native trap's callback: runs the handler, answers the trap. */
  syscallTrapped(): number {
    const fn = this.handlers.syscall;
    this.trapping = true;
    try {
      const v = fn?.();
      if (typeof v === 'number') return v;
      this.trapSlot.keepRax();
      return 0;
    } catch (err) {
      this.trapSlot.keepRax();
      this.recordHookError(err);
      return 0;
    } finally {
      this.trapping = false;
    }
  }
  onInterrupt(fn: ((intno: number) => void) | undefined): void {
    this.handlers.interrupt = fn;
  }
  onMemInvalid(fn: MemAccessHandler | undefined): void {
    this.handlers.memInvalid = fn;
  }
  onInsnInvalid(fn: (() => void) | undefined): void {
    this.handlers.insnInvalid = fn;
  }
  /** Called at each cpuid with the leaf in RAX/RCX; returning true means it wrote the answer. */
  onCpuid(fn: (() => boolean) | undefined): void {
    this.handlers.cpuid = fn;
  }
  /**
   * Called at each port access. Unicorn 2.0.1 executes in/out at CPL 3 without any I/O
   * permission check, so this hook is the only thing between a guest and the (absent) ports.
   * Unicorn's RIP inside it is not exact: use lastInstruction.
   */
  onPortIo(fn: PortIoHandler | undefined): void {
    this.handlers.portIo = fn;
  }

  /**
   * Calls fn before each instruction in [begin, end]. Code already translated in that range is
   * dropped from the cache first, or the hook would never fire there (docs/unicorn.md#stale-translations).
   */
  hookCode(begin: number, end: number, fn: (address: number, size: number) => void): HookHandle {
    this.handlers.code = fn;
    const h = this.addHook(UC_HOOK_CODE, nativeCallbacks().code, BigInt(begin), BigInt(end));
    this.removeTranslations(begin, end + 1);
    return h;
  }

  /**
   * Calls fn on each guest load (`read`) or store (`write`) touching [begin, end]: watchpoints.
   * A stop() from fn ends the run after the accessing instruction, before the next one is counted.
   */
  hookMemory(access: 'read' | 'write', begin: number, end: number, fn: (write: boolean, address: number, size: number, value: bigint) => void): HookHandle {
    this.handlers.memAccess = fn;
    return this.addHook(access === 'write' ? UC_HOOK_MEM_WRITE : UC_HOOK_MEM_READ, nativeCallbacks().memAccess, BigInt(begin), BigInt(end));
  }

  /**
   * Takes back the count of the instruction a code hook is stopping before: the counter hook,
   * first in line, has already counted it, but it has not run and will be counted again when the
   * run resumes there.
   */
  uncount(): void {
    this.count[0] = this.count[0]! - 1n;
  }

  /**
   * Ends the run before the next instruction is counted: from a memory hook, where stop() would
   * leave RIP on the accessing instruction, already executed, and run it a second time on resume.
   */
  stopBeforeNext(): void {
    this.count[1] = this.count[0]!;
  }

  deleteHook(h: HookHandle): void {
    check('uc_hook_del', uc.hookDel(this.handle, h.id));
  }

  private addHook(type: number, cb: bigint, begin: bigint, end: bigint, insn?: number, userData: bigint | number = this.index): HookHandle {
    const out = [0];
    const err =
      insn === undefined
        ? uc.hookAdd(this.handle, out, type, cb, userData, begin, end)
        : uc.hookAdd(this.handle, out, type, cb, userData, begin, end, 'int', insn);
    check('uc_hook_add', err);
    return { id: out[0]! };
  }

  /** @internal */
  recordHookError(err: unknown): void {
    if (this.hookError === undefined) this.hookError = err;
    uc.emuStop(this.handle);
  }

  // --- registers ------------------------------------------------------------------------------

  regRead(reg: X86Reg): bigint {
    this.scratchView[0] = 0n; // segment registers fill only the low bytes
    check('uc_reg_read', uc.regRead(this.handle, X86[reg], this.scratchAt));
    return this.scratchView[0]!;
  }

  regWrite(reg: X86Reg, value: bigint | number): void {
    this.scratchView[0] = BigInt.asUintN(64, BigInt(value));
    check('uc_reg_write', uc.regWrite(this.handle, X86[reg], this.scratchAt));
  }

  batch(regs: readonly X86Reg[]): RegisterBatch {
    return new RegisterBatch(this.handle, regs);
  }

  // --- memory ---------------------------------------------------------------------------------

  /** Maps [address, address+size) onto host memory at mem[offset..]; size and address 4 KiB-aligned. */
  mapHost(address: number, size: number, perms: number, mem: HostMemory, offset: number): void {
    if (offset < 0 || offset + size > mem.size) throw new RangeError(`mapHost: [${offset}, +${size}) outside host block of ${mem.size}`);
    check(`uc_mem_map_ptr(0x${address.toString(16)}, 0x${size.toString(16)})`, uc.memMapPtr(this.handle, address, size, perms, hostAddress(mem) + BigInt(offset)));
    this.pinned.add(mem);
  }

  /**
   * Maps a device register window: every guest load or store in [address, address+size) calls
   * the handlers instead of touching memory. Returns the id to pass to unmapMmio.
   */
  mapMmio(address: number, size: number, handlers: MmioHandlers): number {
    const id = nextMmioId++;
    const cb = nativeCallbacks();
    mmioRegions.set(id, { engine: this, handlers });
    const err = uc.mmioMap(this.handle, address, size, cb.mmioRead, id, cb.mmioWrite, id);
    if (err !== 0) mmioRegions.delete(id);
    check(`uc_mmio_map(0x${address.toString(16)}, 0x${size.toString(16)})`, err);
    return id;
  }

  unmapMmio(id: number, address: number, size: number): void {
    mmioRegions.delete(id);
    this.unmap(address, size);
  }

  unmap(address: number, size: number): void {
    check(`uc_mem_unmap(0x${address.toString(16)}, 0x${size.toString(16)})`, uc.memUnmap(this.handle, address, size));
  }

  protect(address: number, size: number, perms: number): void {
    check(`uc_mem_protect(0x${address.toString(16)}, 0x${size.toString(16)})`, uc.memProtect(this.handle, address, size, perms));
  }

  read(address: number, size: number): Uint8Array {
    const out = new Uint8Array(size);
    check(`uc_mem_read(0x${address.toString(16)})`, uc.memRead(this.handle, address, out, size));
    return out;
  }

  write(address: number, bytes: Uint8Array): void {
    check(`uc_mem_write(0x${address.toString(16)})`, uc.memWrite(this.handle, address, bytes, bytes.length));
  }

  /** Drops translated code for [start, end) so changed bytes there are fetched anew (docs/unicorn.md#stale-translations). */
  removeTranslations(start: number | bigint, end: number | bigint): void {
    check('uc_ctl(TB_REMOVE_CACHE)', uc.ctl(this.handle, UC_CTL_TB_REMOVE_CACHE, 'uint64_t', start, 'uint64_t', end));
  }

  // --- execution ------------------------------------------------------------------------------

  /** Instructions executed by this engine since it was opened; exact, also inside a hook. */
  get executed(): number {
    return this.countHalves[1]! * 0x1_0000_0000 + this.countHalves[0]!; // exact below 2^53
  }

  /**
   * Address of the instruction started last: inside a hook, the instruction being executed;
   * after a fault, the faulting one (but not after a fetch fault: the target never started).
   */
  get lastInstruction(): number {
    return Number(this.count[2]!);
  }

  /**
   * Ends the run before the next instruction starts. uc_emu_stop from an instruction hook (port
   * I/O) lets the rest of the translated block run first; the counter's check runs before every
   * instruction, so lowering its limit stops exactly.
   */
  stopBeforeNextInstruction(): void {
    this.count[1] = this.count[0]!;
  }

  /**
   * Runs from `begin` for at most `budget` instructions, counted by the native counter (Unicorn's
   * own count is never used, so count=0 throughout: docs/unicorn.md#count-mode). Returns 'OK' when
   * the budget ran out, stop() was called or the guest executed hlt; otherwise the uc_err that
   * ended the run.
   */
  start(begin: number, budget: number): UcErrName {
    if (!(Number.isSafeInteger(budget) && budget > 0)) throw new RangeError('Engine.start: the instruction budget must be a positive integer');
    this.count[1] = this.count[0]! + BigInt(budget);
    // `until` is an address no guest code can reach (docs/unicorn.md#until-hides-staleness).
    const err = uc.emuStart(this.handle, begin, UNTIL, 0, 0) as number;
    if (this.trapSlot.takeFailure()) throw new UnicornError('uc_reg_read_batch in the syscall trap', UC_ERR_EXCEPTION_CODE);
    if (this.hookError !== undefined) {
      const e = this.hookError;
      this.hookError = undefined;
      throw e;
    }
    return UC_ERR_NAMES[err] ?? 'EXCEPTION';
  }

  stop(): void {
    if (this.trapping) this.trapSlot.stop();
    else check('uc_emu_stop', uc.emuStop(this.handle));
  }

  // --- privilege level ------------------------------------------------------------------------

  /**
   * Moves the CPU to privilege level 3 through the system page (user-mode.ts says why and how),
   * with CR4.TSD set. Call once, on a fresh engine, before any thread's context is saved. The
   * entry's one instruction is the kernel's: the instruction counter is left as it was.
   */
  enterUserMode(): void {
    const page = systemPage();
    check('uc_mem_map_ptr(system page)', uc.memMapPtr(this.handle, SYSTEM_PAGE, SYSTEM_PAGE_SIZE, UC_PROT_READ | UC_PROT_EXEC, hostAddress(page)));
    const [executed, limit, last] = [this.count[0]!, this.count[1]!, this.count[2]!];
    try {
      const gdtr = HostMemory.allocate(UC_X86_MMR_SIZE);
      try {
        const v = new DataView(gdtr.bytes.buffer, gdtr.bytes.byteOffset, UC_X86_MMR_SIZE);
        v.setBigUint64(8, layout.gdtBase, true);
        v.setUint32(16, layout.gdtLimit, true);
        check('uc_reg_write(GDTR)', uc.regWrite(this.handle, UC_X86_REG_GDTR, hostAddress(gdtr)));
      } finally {
        gdtr.free();
      }
      this.regWrite('SS', KERNEL_DATA);
      this.regWrite('CR4', this.regRead('CR4') | CR4_TSD);
      this.regWrite('RSP', layout.frame);
      this.count[1] = executed + 1n; // the iretq, then stop before the first instruction at CPL 3
      const err = uc.emuStart(this.handle, layout.entry, UNTIL, 0, 0) as number;
      if (err !== 0 || this.regRead('RIP') !== layout.landing || this.regRead('CS') !== BigInt(USER_CODE)) {
        throw new UnicornError('entering user mode', err !== 0 ? err : UC_ERR_EXCEPTION_CODE);
      }
      // While the page is still mapped: Unicorn finds the code to drop through the mapping, and
      // silently drops nothing once it is gone.
      this.removeTranslations(SYSTEM_PAGE, SYSTEM_PAGE + BigInt(SYSTEM_PAGE_SIZE));
    } finally {
      [this.count[0], this.count[1], this.count[2]] = [executed, limit, last];
      check('uc_mem_unmap(system page)', uc.memUnmap(this.handle, SYSTEM_PAGE, SYSTEM_PAGE_SIZE));
    }
  }

  /**
   * Forgets the exception in flight. QEMU remembers the last contributory exception (#DE, #TS,
   * #NP, #SS, #GP) until its delivery through the IDT completes, and an interrupt hook — HIC's
   * only way to see exceptions — means delivery never happens: the next one on this engine then
   * arrives as #DF (vector 8), and the one after that is a triple fault, which silently ends
   * uc_emu_start with OK. Unicorn 2.0.1 has no API for this state; it is one int in the saved
   * context, located once per process (exceptionInFlightOffset) and reset here.
   */
  clearExceptionInFlight(): void {
    const at = exceptionInFlightOffset();
    this.scratchContext ??= this.contextAlloc();
    this.contextSave(this.scratchContext);
    koffi.encode(nativeContext(this.scratchContext), at, 'int32_t', -1);
    this.contextRestore(this.scratchContext);
  }

  // --- contexts -------------------------------------------------------------------------------

  /** Bytes of a saved context, header included. */
  contextSize(): number {
    return Number(uc.contextSize(this.handle));
  }

  contextAlloc(): CpuContext {
    const out: unknown[] = [null];
    check('uc_context_alloc', uc.contextAlloc(this.handle, out));
    return new CpuContext(this, out[0]);
  }

  contextSave(ctx: CpuContext): void {
    check('uc_context_save', uc.contextSave(this.handle, nativeContext(ctx)));
  }

  /** A register of a saved context, without restoring it. */
  contextRegRead(ctx: CpuContext, reg: X86Reg): bigint {
    check('uc_context_reg_read', uc.contextRegRead(nativeContext(ctx), X86[reg], this.scratchAt));
    return this.scratchView[0]!;
  }

  contextRegWrite(ctx: CpuContext, reg: X86Reg, value: bigint): void {
    this.scratchView[0] = BigInt.asUintN(64, value);
    check('uc_context_reg_write', uc.contextRegWrite(nativeContext(ctx), X86[reg], this.scratchAt));
  }

  contextRestore(ctx: CpuContext): void {
    if (ctx.engine !== this) throw new Error('contextRestore: context belongs to another engine');
    check('uc_context_restore', uc.contextRestore(this.handle, nativeContext(ctx)));
  }
}

const UNTIL = 0xffff_ffff_ffff_fff0n;
const UC_ERR_EXCEPTION_CODE = UC_ERR_NAMES.indexOf('EXCEPTION');

/** Shared by every engine: the same bytes, only ever mapped read-execute while entering user mode. */
let systemPageMemory: HostMemory | undefined;
function systemPage(): HostMemory {
  if (!systemPageMemory) {
    systemPageMemory = HostMemory.allocate(SYSTEM_PAGE_SIZE);
    systemPageMemory.bytes.set(systemPageBytes());
  }
  return systemPageMemory;
}

let inFlightOffset: number | undefined;

/**
 * Where the exception-in-flight int lives in a saved context, found by experiment on a scratch
 * engine: run a division by zero twice (#DE, vector 0, then the second arrives as #DF, vector 8)
 * and keep the one int that went -1 → 0 → 8; then prove it by resetting it and seeing a third
 * division arrive as #DE again. Any other outcome means a libunicorn laid out differently, and
 * HIC refuses to run rather than guess.
 */
function exceptionInFlightOffset(): number {
  if (inFlightOffset !== undefined) return inFlightOffset;
  const e = Engine.open();
  const code = HostMemory.allocate(4096);
  try {
    code.bytes.set([0x31, 0xc9, 0xf7, 0xf1]); // xor ecx, ecx; div ecx
    e.mapHost(0x1000, 4096, UC_PROT_READ | UC_PROT_EXEC, code, 0);
    let vector = -1;
    e.onInterrupt((v) => {
      vector = v;
      e.stop();
    });
    const ctx = e.contextAlloc();
    const size = e.contextSize();
    const snapshot = () => {
      e.contextSave(ctx);
      return new Int32Array(koffi.view(nativeContext(ctx), size).slice(0, size - (size % 4)));
    };
    const fault = () => ((vector = -1), e.start(0x1000, 10), vector);
    const before = snapshot();
    const first = fault();
    const once = snapshot();
    const second = fault();
    const twice = snapshot();
    const found = [...before.keys()].filter((i) => before[i] === -1 && once[i] === 0 && twice[i] === 8);
    if (first === 0 && second === 8 && found.length === 1) {
      koffi.encode(nativeContext(ctx), found[0]! * 4, 'int32_t', -1);
      e.contextRestore(ctx);
      if (fault() === 0) inFlightOffset = found[0]! * 4;
    }
    ctx.free();
  } finally {
    e.close();
    code.free();
  }
  if (inFlightOffset === undefined) throw new Error('libunicorn: the exception-in-flight state could not be located in a saved context (not Unicorn 2.0.1?)');
  return inFlightOffset;
}

export function unicornVersion(): string {
  const v = uc.version(null, null) as number;
  return `${(v >> 24) & 0xff}.${(v >> 16) & 0xff}.${(v >> 8) & 0xff}`;
}
