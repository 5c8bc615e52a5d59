// The machine as Core-0 sees it: interfaces only, no Unicorn. core0/ imports this file (types
// only) and receives a Machine built by whoever boots it, so the kernel can also be driven by a
// fake CPU. machine.ts implements these on Unicorn.

import type { Region } from './address-space.ts';
import type { PageEntry, PageFlags } from './page-table.ts';
import type { FrameAccounting } from './physmem.ts';
import type { Fault } from './fault.ts';
import type { Instruction } from './disasm.ts';
import type { AttachedDevice, Device } from './device.ts';

export type { AttachedDevice, Device } from './device.ts';

export type { Fault, FaultKind } from './fault.ts';
export type { PageFlags, PageEntry, Region, FrameAccounting, Instruction };

/**
 * The machine as Core-0 calls it: what the machine may refuse in the normal course (no free run
 * of frames, a sandbox's mapping limit, a range mapped already) comes back as a value; a throw
 * from here is a bug, in the machine or in the kernel's use of it.
 */
export type MachineRefusal = 'NO_FRAMES' | 'MAPPING_LIMIT' | 'ALREADY_MAPPED';

export interface Frames {
  /** The first of `count` contiguous free frames, now owned by `owner`; or NO_FRAMES. */
  tryAllocate(count: number, owner: number, high?: boolean): number | 'NO_FRAMES';
  free(first: number, count: number, owner: number): void;
  retag(first: number, count: number, from: number, to: number): void;
  ownerOf(frame: number): number;
  runsOf(owner: number): [number, number][];
  accounting(): FrameAccounting;
  view(address: number, length: number): Uint8Array;
}

export interface Space {
  readonly regions: readonly Region[];
  readonly mappingLimit: number;
  /** Maps pages [va, va+pages) onto frames from `frame`; every page must be unmapped (else a bug). */
  tryMap(va: number, frame: number, pages: number, flags: PageFlags): 'OK' | 'MAPPING_LIMIT' | 'NO_FRAMES';
  unmap(va: number, pages: number): [first: number, count: number][];
  tryProtect(va: number, pages: number, flags: PageFlags): 'OK' | 'MAPPING_LIMIT' | 'NO_FRAMES';
  moveTo(to: Space, va: number, pages: number, toVa: number): void;
  translate(va: number, access?: 'read' | 'write' | 'execute'): number;
  view(va: number, length: number, access?: 'read' | 'write'): Uint8Array | undefined;
  pageTable(): Iterable<[number, PageEntry]>;
}

/** Registers a syscall sees: number, six arguments, and a place for the result. */
export interface SyscallFrame {
  readonly nr: number;
  /** Argument i (0..5) as a number, or -1 when it is 2^53 or more (never a valid value). */
  arg(i: number): number;
  /** Argument i as the full unsigned 64-bit value. */
  wideArg(i: number): bigint;
  setResult(value: number): void;
}

/** What the kernel tells the CPU after handling a syscall inside the trap. */
export type TrapAction = 'continue' | 'stop';

export type StopReason =
  | { readonly kind: 'budget' } // the instruction budget ran out: preempted
  | { readonly kind: 'trap' } // the syscall handler asked to stop (block, yield, exit)
  | { readonly kind: 'fault'; readonly fault: Fault }
  | { readonly kind: 'debug' }; // a debugger stopped the run between two instructions (CpuDebug)

/** The registers a debugger sees and sets, by their x86-64 names. */
export const DEBUG_REGISTERS = [
  'rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15',
  'rip', 'rflags', 'cs', 'ss', 'ds', 'es', 'fs', 'gs', 'fs_base', 'gs_base',
] as const;
export type DebugRegister = (typeof DEBUG_REGISTERS)[number];
export type RegisterValues = Record<DebugRegister, bigint>;

/** One guest memory access a watchpoint saw. */
export interface WatchAccess {
  readonly write: boolean;
  readonly address: number;
  readonly size: number;
  /** The value stored (writes only). */
  readonly value: bigint;
}

export interface DebugHook {
  readonly id: number;
}

/**
 * A debugger's hold on one CPU (emulator/cpu-debug.ts). A stop ends the current run between two
 * instructions, and run() reports { kind: 'debug' }; the next run goes on from exactly there, so
 * the guest computes, and the clock charges, the same as if it had never stopped.
 */
export interface CpuDebug {
  /** fn runs before each execution of the instruction at `address`; true stops the run before it. */
  breakAt(address: number, fn: () => boolean): DebugHook;
  /** fn runs on each guest load or store touching [address, address+length); true stops the run after that instruction. */
  watch(address: number, length: number, access: 'read' | 'write', fn: (a: WatchAccess) => boolean): DebugHook;
  remove(hook: DebugHook): void;
  /** Removes every breakpoint and watchpoint hook of this CPU. */
  removeAll(): void;
  /**
   * Consulted at every syscall before it is handled; true stops the run before the syscall
   * instruction, as if it had not started: it executes (and is handled) when the thread runs again.
   */
  holdSyscall: ((frame: SyscallFrame) => boolean) | undefined;
  /** Ends the current run before the next instruction (from any hook, or the syscall handler). */
  stop(): void;
  /** Ends runs before this CPU's executed count would pass `count` (undefined: no such limit). */
  stopAtCount(count: number | undefined): void;
  /** The next run starts on an instruction where a stop was already reported: no breakpoint or held syscall there stops it again. */
  resumePast(address: number): void;
  registers(thread: ThreadHandle): RegisterValues;
  setRegister(thread: ThreadHandle, reg: DebugRegister, value: bigint): void;
  /** Drops translated code for [start, end) after its bytes were changed from outside the guest. */
  codeChanged(start: number, end: number): void;

  // Checkpoints (system/debug/checkpoint.ts) keep the JS objects of a machine themselves; these
  // keep the rest: registers held by the engine, and the engine's memory map.
  /** When set, destroying the CPU keeps its engine and saved registers (a checkpoint may bring it back). */
  retain: boolean;
  /** Closes what retain kept, once the CPU is dead and no checkpoint will bring it back. */
  release(): void;
  /** Every thread's registers, copied out of the engine. */
  saveRegisters(): SavedRegisters;
  /** What the engine maps now; taken just before a checkpoint's JS objects are put back. */
  engineMapping(): EngineMapping;
  /** After the JS objects are back: the saved registers into every thread, the engine's memory map rebuilt from the restored page table. */
  restoreRegisters(saved: SavedRegisters, before: EngineMapping): void;
}

export interface SavedRegisters {
  free(): void;
}

/** Opaque: what the engine mapped before a restore (memory regions, device windows). */
export interface EngineMapping {
  readonly regions: readonly Region[];
  readonly devices: readonly unknown[];
}

export interface ThreadHandle {
  readonly id: number;
}

export interface Cpu {
  readonly space: Space;
  /** A thread that will start at entry with rsp = stackTop and rdi = arg. */
  createThread(entry: number, stackTop: number, arg: number): ThreadHandle;
  /** Sets the value the thread sees in rax when it next runs (the result of a blocking syscall). */
  setResult(thread: ThreadHandle, value: number): void;
  /**
   * Runs the thread for at most `budget` instructions. Syscalls are handled inside the trap by
   * `onSyscall`; 'continue' resumes the guest without leaving the engine.
   */
  run(thread: ThreadHandle, budget: number, onSyscall: (frame: SyscallFrame) => TrapAction): StopReason;
  destroyThread(thread: ThreadHandle): void;
  /**
   * Maps a device's register window at va. Without `writable`, a store into it is a
   * writeProtected fault and never reaches the device. Counts against the mapping limit.
   */
  tryMapDevice(va: number, device: Device, writable: boolean): 'OK' | 'MAPPING_LIMIT' | 'ALREADY_MAPPED';
  unmapDevice(va: number): void;
  /** Instructions executed on this CPU so far (exact). */
  readonly executed: number;
  /** Virtual ns of this CPU's own work so far: everything it charged to the clock (its
   * instructions and syscall traps, at the clock's costs). Unlike the clock, it stands still while
   * other CPUs run and while time is fast-forwarded. */
  readonly cpuNs: number;
  /** The debugger's hold on this CPU, made on first use; costs nothing until then. */
  readonly debug: CpuDebug;
  /** Closes the engine and releases the page table. Mapped frames are the caller's to free. */
  destroy(): void;
}

export interface Clock {
  readonly now: number;
  advance(ns: number): void;
  fastForward(to: number): void;
}

export interface Machine {
  readonly frames: Frames;
  /** Devices attached to the machine, each with its register window and IRQ line. */
  readonly devices: readonly AttachedDevice[];
  readonly clock: Clock;
  /** Creates an empty CPU + address space whose page-table frames are charged to `owner`. */
  createCpu(owner: number, mappingLimit?: number): Cpu;
  disassemble(bytes: Uint8Array, address: number, count?: number): Instruction[];
  /** Virtual nanoseconds charged per executed instruction and per syscall trap. */
  readonly costs: { readonly instructionNs: number; readonly syscallNs: number };
}
