// A live machine: a System run under a host pacer (realtime.ts), with what the outside reads of
// it while it runs — its status (virtual and wall time, speed, lag, traffic, phase), its
// sandboxes and their capabilities — for the control socket, /metrics and the progress line.
// Everything here only reads: it runs on the host's event loop between slices, when nothing in
// the machine is in flight, and changes nothing (changes enter through the pacer).

import type { KernelEvent, StampedEvent } from '../core0/events.ts';
import { RIGHTS } from '../core0/abi/abi.ts';
import { TABLE_TAG } from '../core0/kernel.ts';
import type { Sandbox } from '../core0/objects/sandbox.ts';
import type { TapBridge } from './bridge.ts';
import type { HostPacer } from './realtime.ts';
import type { RunResult, System } from './run-image.ts';

export type Phase = 'booted' | 'running' | 'stopped' | 'ended';

export interface LiveStatus {
  readonly image: string;
  readonly phase: Phase;
  readonly realtime: boolean;
  /** Virtual time, ns. */
  readonly virtualNs: number;
  /** Wall time since the run began, ms. */
  readonly wallMs: number;
  /** Virtual time per wall time over the whole run (1: real time). */
  readonly speed: number;
  /** Wall minus virtual time at the last slice boundary, and the largest so far (ns). */
  readonly lagNs: number;
  readonly maxLagNs: number;
  readonly sandboxes: number;
  readonly inputs: number;
  readonly nic?: { readonly rx: number; readonly tx: number; readonly rxDropped: number; readonly rxRingSize: number; readonly rxRingFree: number };
  readonly traffic?: { readonly connections: number; readonly closed: number; readonly failed: number; readonly bytes: number; readonly done: boolean };
  readonly tap?: { readonly name: string; readonly toGuest: number; readonly toLinux: number; readonly refused: number };
  /** What the boot found in its data directory and did with it (the systemState event), when it has one. */
  readonly state?: Omit<Extract<KernelEvent, { kind: 'systemState' }>, 'kind'>;
}

export interface SandboxInfo {
  readonly name: string;
  readonly id: number;
  readonly module?: string;
  readonly version?: string;
  readonly state: string;
  readonly suspended: boolean;
  readonly threads: number;
  readonly frames: number;
  readonly instructions: number;
  readonly syscalls: number;
  readonly faults: number;
}

export interface CapInfo {
  readonly slot: number;
  readonly type: string;
  readonly rights: string;
  readonly badge: number;
  readonly name?: string;
}

export class LiveMachine {
  private phaseNow: Phase = 'booted';
  private startedWall: number | undefined;
  private endedWall: number | undefined;
  /** What each sandbox runs, and how often it faulted, from the event log. */
  private readonly modules = new Map<string, { module: string; version: string }>();
  private readonly faults = new Map<string, number>();
  /** Which versioned endpoint each registry alias names now, from the event log. */
  private readonly aliasTargets = new Map<string, string>();
  /** The boot's systemState event, without its kind and stamps (kept: the log may not retain it). */
  private bootState: LiveStatus['state'];

  /** The host's hold on the run, when it is live (the control socket needs one). */
  readonly pacer: HostPacer | undefined;

  constructor(readonly system: System, readonly bridge?: TapBridge) {
    this.pacer = system.pacer;
    for (const e of system.kernel.events.all) this.note(e);
    system.kernel.events.subscribe((e) => this.note(e));
  }

  /** Runs the machine to its end (time limit or quit); `drive` runs it instead of System.run (a debugger's). */
  async run(drive: () => Promise<RunResult> = () => this.system.run()): Promise<RunResult> {
    this.startedWall = performance.now();
    this.phaseNow = 'running';
    try {
      return await drive();
    } finally {
      this.phaseNow = 'ended';
      this.endedWall = performance.now();
    }
  }

  get phase(): Phase {
    return this.phaseNow === 'running' && this.pacer?.stopped ? 'stopped' : this.phaseNow;
  }

  status(): LiveStatus {
    const { system, pacer, bridge } = this;
    const virtualNs = system.machine.clock.now;
    const wallMs = this.startedWall === undefined ? 0 : (this.endedWall ?? performance.now()) - this.startedWall;
    const nic = system.nic;
    const traffic = system.traffic;
    const summary = traffic?.generator.summary();
    return {
      image: system.manifest.name,
      phase: this.phase,
      realtime: pacer?.realtime ?? false,
      virtualNs,
      wallMs,
      speed: wallMs > 0 ? virtualNs / 1e6 / wallMs : 0,
      lagNs: pacer?.lag.lastNs ?? 0,
      maxLagNs: pacer?.lag.maxNs ?? 0,
      sandboxes: system.kernel.liveSandboxes.length,
      inputs: pacer?.admitted ?? 0,
      ...(nic ? { nic: { ...nic.counters, rxRingSize: nic.rxRing.size, rxRingFree: nic.rxRing.free } } : {}),
      ...(summary && traffic
        ? { traffic: { connections: summary.connections, closed: summary.closed, failed: summary.failed, bytes: summary.bytes, done: traffic.generator.done } }
        : {}),
      ...(bridge ? { tap: { name: bridge.tap.name, ...bridge.counters } } : {}),
      ...(this.bootState ? { state: this.bootState } : {}),
    };
  }



  /** The live sandboxes, in the order they were created. */
  sandboxes(): SandboxInfo[] {
    return this.system.kernel.liveSandboxes.map((s) => this.describe(s));
  }

  describe(s: Sandbox): SandboxInfo {
    const m = this.modules.get(s.name);
    return {
      name: s.name,
      id: s.id,
      ...(m ? { module: m.module, version: m.version } : {}),
      state: s.state,
      suspended: s.suspended,
      threads: s.threads.size,
      frames: [s.id, TABLE_TAG | s.id].reduce((n, owner) => n + this.system.machine.frames.runsOf(owner).reduce((m, [, count]) => m + count, 0), 0),
      instructions: s.cpu.executed,
      syscalls: s.syscalls,
      faults: this.faults.get(s.name) ?? 0,
    };
  }

  /** The capabilities a live sandbox holds, slot by slot; undefined for no such sandbox. */
  caps(name: string): CapInfo[] | undefined {
    const s = this.system.kernel.sandbox(name);
    if (!s || s.state !== 'live') return undefined;
    return [...s.cspace.all()].map((c) => {
      const named = (c.object as { name?: unknown }).name;
      return {
        slot: c.slot,
        type: c.object.capType,
        rights: RIGHTS.filter((r) => c.rights & r.value).map((r) => r.name.toLowerCase()).join('') || '-',
        badge: c.badge,
        ...(typeof named === 'string' ? { name: named } : {}),
      };
    });
  }

  /** Each registry alias and the versioned endpoint it names now. */
  aliases(): { readonly alias: string; readonly target: string }[] {
    return [...this.aliasTargets].map(([alias, target]) => ({ alias, target }));
  }

  private note(e: StampedEvent): void {
    if (e.kind === 'endpointRegistered' && e.isDefault) this.aliasTargets.set(e.alias, e.name);
    if (e.kind === 'endpointSwitched') this.aliasTargets.set(e.alias, e.to);
    if (e.kind === 'moduleLoaded') this.modules.set(e.sandbox, { module: e.module, version: e.version });
    if (e.kind === 'fault') this.faults.set(e.sandbox, (this.faults.get(e.sandbox) ?? 0) + 1);
    if (e.kind === 'systemState') {
      const { kind: _kind, t: _t, seq: _seq, ...state } = e;
      this.bootState = state;
    }
  }
}
