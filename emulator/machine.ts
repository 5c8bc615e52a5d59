// The emulated machine on Unicorn: physical memory, the virtual clock, the disassembler, and a
// factory of sandbox CPUs. This is what the CLI and tests hand to Core-0.

import { VirtualClock } from './clock.ts';
import { UnicornCpu, type CpuCosts } from './cpu.ts';
import { Disassembler, type Instruction } from './disasm.ts';
import { PhysicalMemory } from './physmem.ts';
import type { Cpu, Machine } from './types.ts';
import { DEVICE_BASE, DEVICE_SLOT, type AttachedDevice, type Device } from './device.ts';

export interface MachineOptions {
  /** Physical memory in bytes (default 256 MiB; host pages are only touched when used). */
  memoryBytes?: number;
  /** Devices to attach, in order: slot n's window is at DEVICE_BASE + n × 64 KiB, its IRQ line 16 + n. */
  devices?: readonly Device[];
  costs?: Partial<CpuCosts>;
}

/** 1 GHz at one instruction per cycle; a syscall trap costs what ~100 simple instructions do. */
export const DEFAULT_COSTS: CpuCosts = { instructionNs: 1, syscallNs: 100 };

export class UnicornMachine implements Machine {
  readonly clock = new VirtualClock();
  readonly frames: PhysicalMemory;
  readonly costs: CpuCosts;
  readonly devices: readonly AttachedDevice[];
  private readonly cpus = new Set<UnicornCpu>();

  private constructor(private readonly disassembler: Disassembler, options: MachineOptions) {
    this.frames = new PhysicalMemory(options.memoryBytes ?? 256 * 1024 * 1024);
    this.costs = { ...DEFAULT_COSTS, ...options.costs };
    this.devices = (options.devices ?? []).map((device, n) => ({ device, base: DEVICE_BASE + n * DEVICE_SLOT, irq: 16 + n }));
  }

  static async create(options: MachineOptions = {}): Promise<UnicornMachine> {
    return new UnicornMachine(await Disassembler.load(), options);
  }

  createCpu(owner: number, mappingLimit?: number): Cpu {
    const cpu = new UnicornCpu(this.frames, this.clock, this.disassembler, this.costs, owner, mappingLimit, (c) => this.cpus.delete(c));
    this.cpus.add(cpu);
    return cpu;
  }

  disassemble(bytes: Uint8Array, address: number, count?: number): Instruction[] {
    return this.disassembler.disassemble(bytes, address, count);
  }

  /** Closes every engine, then releases physical memory (engines must be gone first: docs/unicorn.md#map-ptr-lifetime). */
  dispose(): void {
    for (const cpu of [...this.cpus]) cpu.destroy();
    this.frames.dispose();
  }
}
