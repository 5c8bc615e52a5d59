// One sandbox's CPU: a Unicorn engine, the address space mapped into it, and the threads that
// take turns on it. A thread is a saved register context; the context resident in the engine is
// swapped only when another thread of the same sandbox runs, so a single-threaded sandbox never
// pays for a save/restore.
//
// Syscalls are handled inside the engine's trap: a call that does not block returns to the guest
// without leaving uc_emu_start, and only blocking, yielding and exiting stop the engine. The trap's
// native half reads the arguments and writes the result (one koffi crossing per syscall: the
// frame below reads the registers it was handed and keeps the result for the trap to return).
//
// Virtual time (cost model): every executed instruction costs instructionNs and every syscall trap
// syscallNs. The engine's native counter is exact at any moment, so the clock is brought up to
// date at each trap (a guest reading the time sees its own work) and at the end of each run. The
// charge is a pure function of the guest's own execution, hence deterministic.
//
// Guests run at privilege level 3 (Engine.enterUserMode, before any thread exists), so the CPU
// itself refuses ring-0 instructions with #GP. What the guest can learn about the machine is
// HIC's, never the host's: rdtsc and rdtscp (#GP under CR4.TSD) return virtual time, cpuid a
// fixed table (cpuid.ts), rdrand and rdseed do not exist (invalid instructions, as cpuid says);
// port I/O is refused. docs/guest-cpu.md is the guest-facing description.

import { AddressSpace, AddressSpaceError } from './address-space.ts';
import { cpuidAnswer } from './cpuid.ts';
import { generalProtectionKind, type Fault, type FaultKind } from './fault.ts';
import { CpuDebugPort, type CpuInternals } from './cpu-debug.ts';
import type { Disassembler } from './disasm.ts';
import type { PhysicalMemory } from './physmem.ts';
import type { VirtualClock } from './clock.ts';
import {
  UC_MEM_FETCH_PROT, UC_MEM_FETCH_UNMAPPED, UC_MEM_READ_PROT, UC_MEM_READ_UNMAPPED, UC_MEM_WRITE_PROT,
  UC_MEM_WRITE_UNMAPPED, type UcErrName,
} from './unicorn/consts.ts';
import { Engine, UnicornError, type CpuContext, type MmioHandlers, type RegisterBatch } from './unicorn/engine.ts';
import { inKernelHalf } from './unicorn/user-mode.ts';
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
  /** When Unicorn's RIP is not the faulting instruction's (port I/O, descriptor-table reads). */
  rip?: number;
}

/** rdtsc or rdtscp stopped at #GP, to be answered before the run goes on. */
interface TimeStampRead {
  rip: number;
  size: number;
  withProcessorId: boolean;
}

/** rdtscp's ECX (IA32_TSC_AUX): the number of the processor, and a sandbox has one. */
export const PROCESSOR_ID = 0;

const GENERAL_PROTECTION = 13;

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
  private readonly result: RegisterBatch;
  private readonly threads = new Set<Thread>();
  private readonly devices = new Map<number, DeviceWindow>();
  private resident: Thread | undefined;
  private nextThreadId = 1;
  /** Engine instruction count already charged to the clock. */
  private charged = 0;
  /** Syscall traps charged to the clock so far. */
  private traps = 0;
  // Per-run state, set by the hooks.
  private fault: PendingFault | undefined;
  private timeStamp: TimeStampRead | undefined;
  /** An exception went through the interrupt hook in this run (see Engine.clearExceptionInFlight). */
  private exceptionTaken = false;
  private trapStop = false;
  private handler: ((frame: SyscallFrame) => TrapAction) | undefined;
  private readonly frame: SyscallFrame;
  /** The result the syscall being handled set, if any: the native trap writes it to rax. */
  private trapResult: number | undefined;
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
    this.engine.enterUserMode(); // first: every thread's context is saved after this
    this.space = new AddressSpace(memory, this.engine, owner, mappingLimit);
    this.result = this.engine.batch(['RAX']);
    const args = this.engine.syscallArgs;
    this.frame = {
      get nr() {
        return args.number(0);
      },
      arg: (i) => args.number(i + 1),
      wideArg: (i) => args.values[i + 1]!,
      setResult: (v) => {
        this.trapResult = v;
      },
    };
    this.engine.onSyscall(() => this.trap());
    this.engine.onMemInvalid((type, address, size) => {
      // The kernel half holds the system page (the descriptor table a segment load reads); the
      // engine's RIP is stale after such a read by a CPU helper, the counter's is not.
      if (inKernelHalf(address)) this.fault ??= { kind: 'generalProtection', rip: this.engine.lastInstruction };
      else this.fault ??= { kind: MEM_FAULT[type] ?? 'cpuException', address, detail: size };
    });
    this.engine.onInterrupt((intno) => {
      this.exceptionTaken = true;
      this.engine.stop();
      if (intno === GENERAL_PROTECTION) return this.generalProtection();
      const kind: FaultKind = intno === 0 ? 'divideError' : intno === 3 ? 'breakpoint' : intno === 6 ? 'invalidInstruction' : 'cpuException';
      this.fault ??= { kind, detail: intno };
    });
    this.engine.onInsnInvalid(() => {
      this.fault ??= { kind: 'invalidInstruction' };
    });
    // The port access itself completes (reading 0, writing nowhere); nothing after it runs.
    this.engine.onPortIo(() => {
      this.fault ??= { kind: 'privilegedInstruction', rip: this.engine.lastInstruction };
      this.engine.stopBeforeNextInstruction();
      return 0;
    });
    this.engine.onCpuid(() => {
      const [eax, ebx, ecx, edx] = cpuidAnswer(Number(this.engine.regRead('RAX') & 0xffff_ffffn));
      this.engine.regWrite('RAX', eax);
      this.engine.regWrite('RBX', ebx);
      this.engine.regWrite('RCX', ecx);
      this.engine.regWrite('RDX', edx);
      return true;
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
      this.writeRax(thread.pendingResult);
      thread.pendingResult = undefined;
    }
    this.fault = undefined;
    this.trapStop = false;
    this.handler = onSyscall;
    let rip = Number(this.engine.regRead('RIP'));
    const before = this.engine.executed;
    const allowed = this.debugPort ? this.debugPort.runStarts(budget) : budget;
    if (allowed === 0) return { kind: 'debug' };
    let err = this.engine.start(rip, allowed);
    let debugStop = this.debugPort?.runEnded() ?? false;
    this.charge();
    // rdtsc and rdtscp stop the run at their #GP; answered, the guest goes on where it was (as
    // far as a debugger attached lets it: the continuation is a run of its own for the port).
    while (this.timeStamp && !this.fault && err === 'OK' && !debugStop) {
      rip = this.answerTimeStamp(this.timeStamp);
      this.timeStamp = undefined;
      const left = budget - (this.engine.executed - before);
      if (left <= 0) break;
      const more = this.debugPort ? this.debugPort.runStarts(left) : left;
      if (more === 0) {
        debugStop = true;
        break;
      }
      err = this.engine.start(rip, more);
      debugStop = this.debugPort?.runEnded() ?? false;
      this.charge();
    }
    this.handler = undefined;
    this.timeStamp = undefined;
    if (this.exceptionTaken) {
      this.exceptionTaken = false;
      this.engine.clearExceptionInFlight();
    }

    if (this.fault || err !== 'OK') {
      const pending = this.fault ?? { kind: ERR_FAULT[err] ?? 'cpuException' };
      return { kind: 'fault', fault: this.describe(pending) };
    }
    if (this.trapStop) return { kind: 'trap' };
    if (this.engine.executed - before >= budget) return { kind: 'budget' };
    if (debugStop) return { kind: 'debug' };
    // Nothing else ends a run early with OK. At CPL 0 hlt did (RIP after it); at CPL 3 hlt is
    // #GP, so this is only a guard.
    return { kind: 'fault', fault: this.describe({ kind: 'privilegedInstruction' }, -1) };
  }

  /**
   * #GP, from the interrupt hook. Under CR4.TSD rdtsc and rdtscp land here and are answered
   * (the run stops and goes on: see run); any other instruction is a fault, privileged or not.
   */
  private generalProtection(): void {
    const rip = Number(this.engine.regRead('RIP')); // exact for #GP
    const insn = this.decode(rip);
    if (!this.fault && (insn?.text === 'rdtsc' || insn?.text === 'rdtscp')) {
      this.timeStamp = { rip, size: insn.size, withProcessorId: insn.text === 'rdtscp' };
      return;
    }
    this.fault ??= { kind: generalProtectionKind(insn?.text ?? ''), rip };
  }

  /**
   * The time stamp counter of a sandbox is the virtual clock in nanoseconds, read after the
   * instructions before rdtsc and rdtsc itself are charged: the same number for the same guest
   * on every host and every run. EDX:EAX as on hardware (upper halves of RAX and RDX zero);
   * rdtscp also sets ECX to the processor id. Returns where the guest goes on.
   */
  private answerTimeStamp(t: TimeStampRead): number {
    const now = this.clock.now;
    this.engine.clearExceptionInFlight();
    this.engine.regWrite('RAX', now % 0x1_0000_0000);
    this.engine.regWrite('RDX', Math.floor(now / 0x1_0000_0000));
    if (t.withProcessorId) this.engine.regWrite('RCX', PROCESSOR_ID);
    this.engine.regWrite('RIP', t.rip + t.size); // also where the next run starts, if this one ends here
    this.exceptionTaken = false;
    return t.rip + t.size;
  }

  /** Instructions this CPU has executed, exact (also inside a syscall trap). */
  get executed(): number {
    return this.engine.executed;
  }

  get cpuNs(): number {
    return this.engine.executed * this.costs.instructionNs + this.traps * this.costs.syscallNs;
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

  /** mapDevice, with the mapping limit or a window mapped already answered as a value. */
  tryMapDevice(va: number, device: Device, writable: boolean): 'OK' | 'MAPPING_LIMIT' | 'ALREADY_MAPPED' {
    try {
      this.mapDevice(va, device, writable);
      return 'OK';
    } catch (e) {
      if (e instanceof AddressSpaceError && e.code === 'MAPPING_LIMIT') return 'MAPPING_LIMIT';
      if (e instanceof UnicornError && e.code === 'UC_ERR_MAP') return 'ALREADY_MAPPED';
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
      this.result.free();
      this.engine.close();
    }
    this.space.destroy();
    this.onDestroy(this);
  }

  /** Inside the engine's syscall trap: returns what goes to rax, or undefined to leave it. */
  private trap(): number | undefined {
    if (this.debugPort?.syscallEntered(this.frame)) return undefined; // held: as if not yet executed
    this.charge();
    this.clock.advance(this.costs.syscallNs);
    this.traps++;
    this.trapResult = undefined;
    const action = this.handler ? this.handler(this.frame) : 'stop';
    if (action === 'stop') {
      this.trapStop = true;
      this.engine.stop();
    }
    return this.trapResult;
  }

  /** rax of the resident thread, outside a trap (a blocked call's result, before it resumes). */
  private writeRax(v: number): void {
    // Two's complement in 32-bit halves: no BigInt.
    const hi = Math.floor(v / 0x1_0000_0000);
    this.result.halves[0] = v - hi * 0x1_0000_0000;
    this.result.halves[1] = hi >>> 0;
    this.result.write();
  }

  /** ripAdjust: hlt leaves RIP after itself; the fault names the instruction. */
  private describe(p: PendingFault, ripAdjust = 0): Fault {
    const rip = p.rip ?? Number(this.engine.regRead('RIP')) + ripAdjust;
    return { kind: p.kind, address: p.address ?? rip, rip, instruction: this.instructionText(rip), ...(p.detail !== undefined ? { detail: p.detail } : {}) };
  }

  /** The guest's bytes at rip: up to 16, or up to the end of the page when the next is unmapped. */
  private code(rip: number): Uint8Array | undefined {
    return this.space.view(rip, 16) ?? this.space.view(rip, 4096 - (rip % 4096));
  }

  private decode(rip: number): { text: string; size: number } | undefined {
    const code = this.code(rip);
    return code ? this.disassembler.disassemble(code, rip, 1)[0] : undefined;
  }

  /** Never throws: describing a fault must not be worse than the fault. */
  private instructionText(rip: number): string {
    try {
      const code = this.code(rip);
      return code ? this.disassembler.one(code, rip) : '(unreadable)';
    } catch {
      return '(undescribable)';
    }
  }

  private own(handle: ThreadHandle): Thread {
    if (!(handle instanceof Thread) || !this.threads.has(handle)) throw new Error(`thread ${handle.id} does not belong to this CPU`);
    return handle;
  }
}
