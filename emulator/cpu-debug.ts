// The debugger's hold on one sandbox CPU (CpuDebug in types.ts): breakpoints as code hooks on
// single addresses (the guest's code pages are never written), watchpoints as memory hooks,
// syscalls held before they are handled, stops at an exact instruction count, and the registers
// of any of the CPU's threads.
//
// Every stop lands between two instructions and leaves the instruction counter as if the run had
// ended there by its budget, so the next run goes on from exactly there and neither the guest nor
// the virtual clock can tell (measured in tests/cpu-debug.test.ts):
//   - a code hook stops *before* its instruction: the counter hook, first in line, has already
//     counted it, so the count is taken back (Engine.uncount);
//   - a memory hook stops *after* its instruction: Engine.stop() there would leave RIP on the
//     instruction, already executed, and run it again on resume; the counter's limit stops the
//     run before the next instruction instead (Engine.stopBeforeNext);
//   - a held syscall stops before the `syscall` instruction: uncounted, and RIP put back on it
//     (inside the syscall hook RIP is the instruction itself), so it runs again when resumed.

import type { AddressSpace } from './address-space.ts';
import type { DeviceWindow } from './cpu.ts';
import type { CpuContext, Engine, HookHandle } from './unicorn/engine.ts';
import type { X86Reg } from './unicorn/consts.ts';
import {
  DEBUG_REGISTERS, type CpuDebug, type DebugHook, type DebugRegister, type EngineMapping, type RegisterValues, type SavedRegisters,
  type SyscallFrame, type ThreadHandle, type WatchAccess,
} from './types.ts';

/** What the port needs of the CPU as a whole for checkpoints (cpu.ts owns it). */
export interface CpuInternals {
  readonly space: AddressSpace;
  threads(): Iterable<ThreadHandle & { readonly context: CpuContext }>;
  resident(): ThreadHandle | undefined;
  /** The device windows mapped: address, window, and its registration now. */
  devices(): (readonly [number, DeviceWindow, number])[];
  /** After a restore: the engine maps the windows `before` lists; make it map those devices() lists now. */
  syncDevices(before: readonly (readonly [number, DeviceWindow, number])[]): void;
  /** Closes the engine and frees the register batches (what destroy() does without retain). */
  close(): void;
}

/** What the port needs to know of one of the CPU's threads (cpu.ts owns them). */
export interface DebugThreadState {
  readonly context: CpuContext;
  /** Its registers are in the engine, not in `context`. */
  readonly resident: boolean;
  /** A blocking syscall's result, written to rax when the thread next runs. */
  pendingResult: number | undefined;
}

const X86_NAME = Object.fromEntries(DEBUG_REGISTERS.map((r) => [r, r.toUpperCase()])) as Record<DebugRegister, X86Reg>;

interface Breakpoint {
  readonly native: HookHandle;
  readonly fns: Map<number, () => boolean>;
}

interface Watch {
  readonly native: HookHandle;
  readonly start: number;
  readonly end: number; // exclusive
  readonly write: boolean;
  readonly fn: (a: WatchAccess) => boolean;
}

export class CpuDebugPort implements CpuDebug {
  holdSyscall: ((frame: SyscallFrame) => boolean) | undefined;
  retain = false;
  /** Set while the CPU is destroyed but retained: what its engine still maps, and the contexts kept. */
  private retired: { mapping: EngineMapping; contexts: CpuContext[] } | undefined;
  private nextId = 1;
  private readonly breakpoints = new Map<number, Breakpoint>(); // by address
  private readonly hookAddress = new Map<number, number>(); // breakpoint hook id → address
  private readonly watches = new Map<number, Watch>(); // by hook id
  private countLimit: number | undefined;
  private skip: number | undefined;
  // Per run.
  private stopped = false;
  private runStart = 0;
  private rewind: number | undefined;

  constructor(
    private readonly engine: Engine,
    private readonly threadState: (t: ThreadHandle) => DebugThreadState,
    private readonly cpu: CpuInternals,
  ) {}

  breakAt(address: number, fn: () => boolean): DebugHook {
    const id = this.nextId++;
    let bp = this.breakpoints.get(address);
    if (!bp) {
      bp = { native: this.engine.hookCode(address, address, (a) => this.onCode(a)), fns: new Map() };
      this.breakpoints.set(address, bp);
    }
    bp.fns.set(id, fn);
    this.hookAddress.set(id, address);
    return { id };
  }

  watch(address: number, length: number, access: 'read' | 'write', fn: (a: WatchAccess) => boolean): DebugHook {
    const id = this.nextId++;
    const native = this.engine.hookMemory(access, address, address + length - 1, (write, at, size, value) => this.onMemory(write, at, size, value));
    this.watches.set(id, { native, start: address, end: address + length, write: access === 'write', fn });
    return { id };
  }

  remove(hook: DebugHook): void {
    const address = this.hookAddress.get(hook.id);
    if (address !== undefined) {
      this.hookAddress.delete(hook.id);
      const bp = this.breakpoints.get(address)!;
      bp.fns.delete(hook.id);
      if (bp.fns.size === 0) {
        this.engine.deleteHook(bp.native);
        this.breakpoints.delete(address);
      }
      return;
    }
    const w = this.watches.get(hook.id);
    if (w) {
      this.engine.deleteHook(w.native);
      this.watches.delete(hook.id);
    }
  }

  removeAll(): void {
    if (this.engine.closed) return;
    for (const bp of this.breakpoints.values()) this.engine.deleteHook(bp.native);
    for (const w of this.watches.values()) this.engine.deleteHook(w.native);
    this.breakpoints.clear();
    this.hookAddress.clear();
    this.watches.clear();
  }

  stop(): void {
    this.stopped = true;
    this.engine.stopBeforeNext();
  }

  stopAtCount(count: number | undefined): void {
    this.countLimit = count;
  }

  resumePast(address: number): void {
    this.skip = address;
  }

  registers(thread: ThreadHandle): RegisterValues {
    const st = this.threadState(thread);
    const out = {} as RegisterValues;
    for (const r of DEBUG_REGISTERS) out[r] = st.resident ? this.engine.regRead(X86_NAME[r]) : this.engine.contextRegRead(st.context, X86_NAME[r]);
    if (st.pendingResult !== undefined) out.rax = BigInt.asUintN(64, BigInt(st.pendingResult));
    return out;
  }

  setRegister(thread: ThreadHandle, reg: DebugRegister, value: bigint): void {
    const st = this.threadState(thread);
    if (reg === 'rax') st.pendingResult = undefined; // the debugger's value wins over a pending result
    if (st.resident) this.engine.regWrite(X86_NAME[reg], value);
    else this.engine.contextRegWrite(st.context, X86_NAME[reg], value);
  }

  codeChanged(start: number, end: number): void {
    this.engine.removeTranslations(start, end);
  }

  // --- checkpoints ---------------------------------------------------------------------------------

  saveRegisters(): SavedRegisters {
    const saved = new Map<ThreadHandle, CpuContext>();
    const resident = this.cpu.resident();
    const contextOf = (t: ThreadHandle) => {
      const c = this.engine.contextAlloc();
      saved.set(t, c);
      return c;
    };
    if (resident) this.engine.contextSave(contextOf(resident));
    for (const t of this.cpu.threads()) {
      if (t === resident) continue;
      this.engine.contextRestore(t.context);
      this.engine.contextSave(contextOf(t));
    }
    if (resident) this.engine.contextRestore(saved.get(resident)!);
    return new Saved(saved);
  }

  engineMapping(): EngineMapping {
    return this.retired?.mapping ?? { regions: [...this.cpu.space.regions], devices: this.cpu.devices() };
  }

  restoreRegisters(saved: SavedRegisters, before: EngineMapping): void {
    if (!(saved instanceof Saved)) throw new Error('restoreRegisters: not this port\'s registers');
    this.cpu.syncDevices(before.devices as (readonly [number, DeviceWindow, number])[]);
    this.retired = undefined;
    this.cpu.space.remapFrom(before.regions);
    const resident = this.cpu.resident();
    for (const t of this.cpu.threads()) {
      const c = saved.contexts.get(t);
      if (!c) throw new Error(`thread ${t.id} has no saved registers in this checkpoint`);
      this.engine.contextRestore(c);
      if (t !== resident) this.engine.contextSave(t.context);
    }
    if (resident) this.engine.contextRestore(saved.contexts.get(resident)!);
  }

  /** cpu.ts, in destroy(): true when the engine and contexts are kept (retain), what it maps noted. */
  retire(contexts: CpuContext[]): boolean {
    if (!this.retain) return false;
    this.retired = { mapping: { regions: [...this.cpu.space.regions], devices: this.cpu.devices() }, contexts: [...(this.retired?.contexts ?? []), ...contexts] };
    return true;
  }

  release(): void {
    if (!this.retired || this.engine.closed) return;
    for (const c of new Set(this.retired.contexts)) c.free();
    this.retired = undefined;
    this.cpu.close();
  }

  // --- called by cpu.ts ---------------------------------------------------------------------------

  /** Before a run from `rip`: how many instructions it may execute (0: stop before the first). */
  runStarts(budget: number): number {
    this.stopped = false;
    this.rewind = undefined;
    this.runStart = this.engine.executed;
    if (this.countLimit === undefined) return budget;
    return Math.max(0, Math.min(budget, this.countLimit - this.runStart));
  }

  /** After the engine returned: puts a held syscall's RIP back; true when the debugger stopped the run. */
  runEnded(): boolean {
    if (this.rewind !== undefined) this.engine.regWrite('RIP', this.rewind);
    this.rewind = undefined;
    this.skip = undefined;
    return this.stopped || (this.countLimit !== undefined && this.engine.executed >= this.countLimit);
  }

  /** At a syscall, before it is handled or charged: true when it is held (the run then stops). */
  syscallEntered(frame: SyscallFrame): boolean {
    if (!this.holdSyscall) return false;
    const rip = Number(this.engine.regRead('RIP')); // the syscall instruction itself, inside the hook
    if (this.skip === rip && this.firstInstruction()) return false;
    if (!this.holdSyscall(frame)) return false;
    this.engine.uncount();
    this.engine.stop();
    this.rewind = rip;
    this.stopped = true;
    return true;
  }

  // --- hooks --------------------------------------------------------------------------------------

  /** The counter has already counted this instruction: the first of the run is at runStart + 1. */
  private firstInstruction(): boolean {
    return this.engine.executed === this.runStart + 1;
  }

  private onCode(address: number): void {
    const bp = this.breakpoints.get(address);
    if (!bp || (this.skip === address && this.firstInstruction())) return;
    let stop = false;
    for (const fn of bp.fns.values()) if (fn()) stop = true; // every one sees the hit (hit counts)
    if (stop && !this.stopped) {
      this.engine.uncount();
      this.engine.stop();
      this.stopped = true;
    }
  }

  private onMemory(write: boolean, address: number, size: number, value: bigint): void {
    let stop = false;
    for (const w of this.watches.values()) {
      if (w.write === write && address < w.end && address + size > w.start && w.fn({ write, address, size, value })) stop = true;
    }
    if (stop) this.stop();
  }
}

class Saved implements SavedRegisters {
  constructor(readonly contexts: Map<ThreadHandle, CpuContext>) {}
  free(): void {
    for (const c of this.contexts.values()) c.free();
    this.contexts.clear();
  }
}
