// One sandbox's CPU: a Unicorn engine, the address space mapped into it, and the threads that
// take turns on it. A thread is a saved register context; the context resident in the engine is
// swapped only when another thread of the same sandbox runs, so a single-threaded sandbox never
// pays for a save/restore.
//
// Syscalls are handled inside the engine's trap: a call that does not block returns to the guest
// without leaving uc_emu_start (~0.3 µs), and only blocking, yielding and exiting stop the engine.
//
// Virtual time (cost model): every executed instruction costs instructionNs and every syscall trap
// syscallNs. The engine's native counter is exact at any moment, so the clock is brought up to
// date at each trap (a guest reading the time sees its own work) and at the end of each run. The
// charge is a pure function of the guest's own execution, hence deterministic.

import { AddressSpace } from './address-space.ts';
import type { Fault, FaultKind } from './fault.ts';
import { CpuDebugPort, type CpuInternals } from './cpu-debug.ts';
import type { Disassembler } from './disasm.ts';
import type { PhysicalMemory } from './physmem.ts';
import type { VirtualClock } from './clock.ts';
import {
  UC_MEM_FETCH_PROT, UC_MEM_FETCH_UNMAPPED, UC_MEM_READ_PROT, UC_MEM_READ_UNMAPPED, UC_MEM_WRITE_PROT,
  UC_MEM_WRITE_UNMAPPED, type UcErrName,
} from './unicorn/consts.ts';
import { Engine, type CpuContext, type MmioHandlers, type RegisterBatch } from './unicorn/engine.ts';
import type { Cpu, CpuDebug, Device, StopReason, SyscallFrame, ThreadHandle, TrapAction } from './types.ts';

const MEM_FAULT: Record<number, FaultKind> = {
  [UC_MEM_READ_UNMAPPED]: 'readUnmapped',
  [UC_MEM_WRITE_UNMAPPED]: 'writeUnmapped',
  [UC_MEM_FETCH_UNMAPPED]: 'fetchUnmapped',
  [UC_MEM_WRITE_PROT]: 'writeProtected',
  [UC_MEM_READ_PROT]: 'readProtected',
  [UC_MEM_FETCH_PROT]: 'fetchProtected',
};

// uc_err results of uc_emu_start that a guest can cause, for when no hook saw the details.
const ERR_FAULT: Partial<Record<UcErrName, FaultKind>> = {
  READ_UNMAPPED: 'readUnmapped',
  WRITE_UNMAPPED: 'writeUnmapped',
  FETCH_UNMAPPED: 'fetchUnmapped',
  WRITE_PROT: 'writeProtected',
  READ_PROT: 'readProtected',
  FETCH_PROT: 'fetchProtected',
  INSN_INVALID: 'invalidInstruction',
  READ_UNALIGNED: 'cpuException',
  WRITE_UNALIGNED: 'cpuException',
  FETCH_UNALIGNED: 'cpuException',
  EXCEPTION: 'cpuException',
};

/** A device register window mapped into the engine (id: its uc_mmio_map registration). */
export interface DeviceWindow {
  id: number;
  readonly size: number;
  readonly device: Device;
  readonly writable: boolean;
}

interface PendingFault {
  kind: FaultKind;
  address?: number;
  detail?: number;
}

class Thread implements ThreadHandle {
  pendingResult: number | undefined;
  constructor(readonly id: number, readonly context: CpuContext) {}
}

export interface CpuCosts {
  readonly instructionNs: number;
  readonly syscallNs: number;
}

export class UnicornCpu implements Cpu {
  readonly space: AddressSpace;
  private readonly engine: Engine;
  private readonly args: RegisterBatch;
  private readonly result: RegisterBatch;
  private readonly threads = new Set<Thread>();
  private readonly devices = new Map<number, DeviceWindow>();
  private resident: Thread | undefined;
  private nextThreadId = 1;
  /** Engine instruction count already charged to the clock. */
  private charged = 0;
  // Per-run state, set by the hooks.
  private fault: PendingFault | undefined;
  private trapStop = false;
  private handler: ((frame: SyscallFrame) => TrapAction) | undefined;
  private readonly frame: SyscallFrame;
  private debugPort: CpuDebugPort | undefined;

  constructor(
    memory: PhysicalMemory,
    private readonly clock: VirtualClock,
    private readonly disassembler: Disassembler,
    private readonly costs: CpuCosts,
    owner: number,
    mappingLimit: number | undefined,
    private readonly onDestroy: (cpu: UnicornCpu) => void,
  ) {
    this.engine = Engine.open();
    this.space = new AddressSpace(memory, this.engine, owner, mappingLimit);
    this.args = this.engine.batch(['RAX', 'RDI', 'RSI', 'RDX', 'R10', 'R8', 'R9']);
    this.result = this.engine.batch(['RAX']);
    const args = this.args;
    const result = this.result;
    this.frame = {
      get nr() {
        return args.number(0);
      },
      arg: (i) => args.number(i + 1),
      wideArg: (i) => args.values[i + 1]!,
      setResult: (v) => {
        // Two's complement in 32-bit halves: no BigInt on the syscall path.
        const hi = Math.floor(v / 0x1_0000_0000);
        result.halves[0] = v - hi * 0x1_0000_0000;
        result.halves[1] = hi >>> 0;
        result.write();
      },
    };
    this.engine.onSyscall(() => this.trap());
    this.engine.onMemInvalid((type, address, size) => {
      this.fault ??= { kind: MEM_FAULT[type] ?? 'cpuException', address, detail: size };
    });
    this.engine.onInterrupt((intno) => {
      const kind: FaultKind = intno === 0 ? 'divideError' : intno === 3 ? 'breakpoint' : intno === 6 ? 'invalidInstruction' : 'cpuException';
      this.fault ??= { kind, detail: intno };
      this.engine.stop();
    });
    this.engine.onInsnInvalid(() => {
      this.fault ??= { kind: 'invalidInstruction' };
    });
  }

  createThread(entry: number, stackTop: number, arg: number): ThreadHandle {
    if (this.resident) this.engine.contextSave(this.resident.context);
    const init = this.engine.batch(['RAX', 'RBX', 'RCX', 'RDX', 'RSI', 'RDI', 'RBP', 'RSP', 'R8', 'R9', 'R10', 'R11', 'R12', 'R13', 'R14', 'R15', 'RIP', 'RFLAGS']);
    init.values.fill(0n);
    init.values[5] = BigInt(arg);
    init.values[7] = BigInt(stackTop);
    init.values[16] = BigInt(entry);
    init.values[17] = 0x2n; // the always-one bit of RFLAGS
    init.write();
    init.free();
    const t = new Thread(this.nextThreadId++, this.engine.contextAlloc());
    this.engine.contextSave(t.context);
    this.threads.add(t);
    this.resident = t;
    return t;
  }

  setResult(thread: ThreadHandle, value: number): void {
    this.own(thread).pendingResult = value;
  }

  run(handle: ThreadHandle, budget: number, onSyscall: (frame: SyscallFrame) => TrapAction): StopReason {
    const thread = this.own(handle);
    if (this.resident !== thread) {
      if (this.resident) this.engine.contextSave(this.resident.context);
      this.engine.contextRestore(thread.context);
      this.resident = thread;
    }
    if (thread.pendingResult !== undefined) {
      this.frame.setResult(thread.pendingResult);
      thread.pendingResult = undefined;
    }
    this.fault = undefined;
    this.trapStop = false;
    this.handler = onSyscall;
    const rip = Number(this.engine.regRead('RIP'));
    const before = this.engine.executed;
    const allowed = this.debugPort ? this.debugPort.runStarts(budget) : budget;
    if (allowed === 0) return { kind: 'debug' };
    const err = this.engine.start(rip, allowed);
    const debugStop = this.debugPort?.runEnded() ?? false;
    this.handler = undefined;
    this.charge();

    if (this.fault || err !== 'OK') {
      const pending = this.fault ?? { kind: ERR_FAULT[err] ?? 'cpuException' };
      return { kind: 'fault', fault: this.describe(pending) };
    }
    if (this.trapStop) return { kind: 'trap' };
    if (this.engine.executed - before >= budget) return { kind: 'budget' };
    if (debugStop) return { kind: 'debug' };
    // Nothing else ends a run early with OK: the guest executed hlt.
    return { kind: 'fault', fault: this.describe({ kind: 'privilegedInstruction' }, -1) };
  }

  /** Instructions this CPU has executed, exact (also inside a syscall trap). */
  get executed(): number {
    return this.engine.executed;
  }

  get debug(): CpuDebug {
    return (this.debugPort ??= this.makeDebugPort());
  }

  private makeDebugPort(): CpuDebugPort {
    const internals: CpuInternals = {
      space: this.space,
      threads: () => this.threads,
      resident: () => this.resident,
      devices: () => [...this.devices].map(([va, w]) => [va, w, w.id] as const),
      syncDevices: (before) => {
        // The engine maps what `before` lists (with the registrations it had); make it map what
        // the restored table lists.
        for (const [va, w, id] of before) {
          if (this.devices.get(va) === w) w.id = id;
          else this.engine.unmapMmio(id, va, w.size);
        }
        for (const [va, w] of this.devices) if (!before.some(([v, b]) => v === va && b === w)) w.id = this.engine.mapMmio(va, w.size, this.windowHandlers(va, w.device, w.writable));
      },
      close: () => {
        this.args.free();
        this.result.free();
        this.engine.close();
      },
    };
    return new CpuDebugPort(this.engine, (h) => {
      const t = this.own(h);
      return {
        context: t.context,
        resident: this.resident === t,
        get pendingResult() {
          return t.pendingResult;
        },
        set pendingResult(v) {
          t.pendingResult = v;
        },
      };
    }, internals);
  }

  private charge(): void {
    const now = this.engine.executed;
    this.clock.advance((now - this.charged) * this.costs.instructionNs);
    this.charged = now;
  }

  private windowHandlers(va: number, device: Device, writable: boolean): MmioHandlers {
    return {
      read: (offset, size) => device.read(offset, size),
      write: (offset, size, value) => {
        if (writable) return device.write(offset, size, value);
        this.fault ??= { kind: 'writeProtected', address: va + offset, detail: size };
        this.engine.stop();
      },
    };
  }

  mapDevice(va: number, device: Device, writable: boolean): void {
    this.space.reserveMappings(1);
    try {
      const id = this.engine.mapMmio(va, device.size, this.windowHandlers(va, device, writable));
      this.devices.set(va, { id, size: device.size, device, writable });
    } catch (e) {
      this.space.reserveMappings(-1);
      throw e;
    }
  }

  unmapDevice(va: number): void {
    const d = this.devices.get(va);
    if (!d) return;
    this.engine.unmapMmio(d.id, va, d.size);
    this.devices.delete(va);
    this.space.reserveMappings(-1);
  }

  destroyThread(handle: ThreadHandle): void {
    const t = this.own(handle);
    if (!this.debugPort?.retain) t.context.free(); // else a checkpoint may still restore into it
    this.threads.delete(t);
    if (this.resident === t) this.resident = undefined;
  }

  destroy(): void {
    // A debugger's checkpoint may bring this CPU back: then the engine and contexts stay (retain).
    const kept = this.debugPort?.retire([...this.threads].map((t) => t.context)) ?? false;
    if (!kept) for (const t of this.threads) t.context.free();
    this.threads.clear();
    this.resident = undefined;
    if (!kept) {
      this.args.free();
      this.result.free();
      this.engine.close();
    }
    this.space.destroy();
    this.onDestroy(this);
  }

  private trap(): void {
    this.args.read();
    if (this.debugPort?.syscallEntered(this.frame)) return; // held: as if not yet executed
    this.charge();
    this.clock.advance(this.costs.syscallNs);
    const action = this.handler ? this.handler(this.frame) : 'stop';
    if (action === 'stop') {
      this.trapStop = true;
      this.engine.stop();
    }
  }

  /** ripAdjust: hlt leaves RIP after itself; the fault names the instruction. */
  private describe(p: PendingFault, ripAdjust = 0): Fault {
    const rip = Number(this.engine.regRead('RIP')) + ripAdjust;
    const code = this.space.view(rip, 16) ?? this.space.view(rip, 4096 - (rip % 4096));
    const instruction = code ? this.disassembler.one(code, rip) : '(unreadable)';
    return { kind: p.kind, address: p.address ?? rip, rip, instruction, ...(p.detail !== undefined ? { detail: p.detail } : {}) };
  }

  private own(handle: ThreadHandle): Thread {
    if (!(handle instanceof Thread) || !this.threads.has(handle)) throw new Error(`thread ${handle.id} does not belong to this CPU`);
    return handle;
  }
}
