// One way to turn an image into a running machine, for the CLI, the tests and the benchmarks
// alike: a fresh machine with the manifest's memory and devices, a kernel, every sandbox booted
// from the module source, the image's traffic on the wire; then a run to the manifest's time
// limit in slices that leave the host's event loop free, a shutdown, and the outcome.
//
//   const system = await assemble(manifest, { modules, trust });   // staged, not yet run
//   system.kernel.at(t, …);                                        // act as the host, if wanted
//   const result = await system.run();                             // run, shut down, compare
//   system.dispose();
//
// `runImage` does the first three steps at once.

import type { AuditLog } from '../core0/audit.ts';
import type { EventLog, KernelEvent, StampedEvent } from '../core0/events.ts';
import { Kernel, type HaltReason } from '../core0/kernel.ts';
import type { ModuleSource } from '../core0/module/source.ts';
import type { TrustStore } from '../core0/module/verify.ts';
import { DEVICE_FACTORIES } from '../emulator/devices/index.ts';
import { NicDevice } from '../emulator/devices/nic.ts';
import { UnicornMachine } from '../emulator/machine.ts';
import type { PcapWriter } from '../emulator/net/pcap.ts';
import { bootSandboxes } from './boot.ts';
import type { Manifest } from './manifest.ts';
import type { TrafficConfig } from '../traffic/generator.ts';
import { deviationsFrom, recordOutcome, type Outcome } from './outcome.ts';
import { HostPacer, type PacerOptions } from './realtime.ts';
import { RecordingError, type Recording } from './recording/format.ts';
import { ReplayPacer } from './recording/replay.ts';
import { attachTraffic, trafficConfig, trafficDeviations, type AttachedTraffic } from './traffic.ts';
import { MonitorChannel } from './update/monitor-channel.ts';
import { OperatorChannel, OperatorSandbox } from './update/operator.ts';
import { UpdateLog } from './update/outcome.ts';
import type { MachineState } from './state/system-state.ts';

export interface SystemOptions {
  /** Where modules come from, and the roots their signatures must chain to. */
  readonly modules: ModuleSource;
  readonly trust: TrustStore;
  /** The hash-chained audit log (default: in memory). */
  readonly audit?: AuditLog;
  /** Sees every event as it happens, from the boot event on. */
  readonly onEvent?: (e: StampedEvent) => void;
  /**
   * The emulated clients on the wire: by default the manifest's `traffic` section; a full
   * generator configuration instead (a test's own clients), or 'none'.
   */
  readonly traffic?: TrafficConfig | 'none';
  /** Every frame crossing the NIC goes into this capture. */
  readonly pcap?: PcapWriter;
  /** Wall milliseconds between turns of the host's event loop (Kernel.run; default 20, a live machine 5). */
  readonly sliceMs?: number;
  /** Events kept in memory (EventLogOptions.retain); the rest reach only subscribers. Default: all. */
  readonly retainEvents?: number;
  /**
   * A live machine (realtime.ts): a host pacer holds the run, outside inputs (a TAP bridge, a
   * control socket) enter through it, and with `realtime` virtual time keeps to the wall clock.
   */
  readonly live?: { readonly realtime: boolean; readonly onAdmit?: PacerOptions['onAdmit'] };
  /** Virtual ns to run to instead of the manifest's `run.until` (Infinity: until quit). */
  readonly until?: number;
  /** The date (UTC, YYYY-MM-DD) `modules` judged metadata expiry at; recorded as an event. */
  readonly wallClock?: string;
  /**
   * The machine's persistent system state (installed versions, bad marks, the journal), in its
   * data directory: it decides the versions that boot (the manifest's `boot`), and the running
   * machine's commits go to its journal. Without it nothing is durable and the image's versions boot.
   */
  readonly state?: MachineState;
  /**
   * A replay (system/recording/): the recording of a live run takes the outside world's place,
   * its inputs entering where they entered live. With replayOptions() for until, traffic and date.
   */
  readonly replay?: Recording;
}

/** A live machine's slices: inputs enter at every boundary, so boundaries come often. */
const LIVE_SLICE_MS = 5;

export interface RunResult {
  readonly halt: HaltReason;
  readonly outcome: Outcome;
  /**
   * One line per way the run differs from what the image expects: the manifest's `expect`, and
   * for an image with traffic, what the generator's checks found.
   */
  readonly deviations: string[];
  /** SHA-256 of the whole event log. */
  readonly logHash: string;
}

export class System {
  private ran = false;

  private constructor(
    readonly manifest: Manifest,
    readonly machine: UnicornMachine,
    readonly kernel: Kernel,
    /** The emulated clients on the wire, when the image has a `traffic` section. */
    readonly traffic: AttachedTraffic | undefined,
    /** The host's hold on a live machine: real time, stop/cont, outside inputs. */
    readonly pacer: HostPacer | undefined,
    private readonly runOptions: { readonly sliceMs?: number; readonly until: number },
    private readonly outcome: Outcome,
    /** The operator's channel to the Module Manager: image updates and `hic ctl update` go through it. */
    readonly operator: OperatorChannel,
    /** What each update came to, from the event log. */
    readonly updates: UpdateLog,
    /** The operator's channel to the Monitor: `hic ctl confirm|veto|silence` go through it. */
    readonly monitor: MonitorChannel,
  ) {}

  /** A machine with every sandbox of the manifest created and started, not yet run. */
  static async assemble(manifest: Manifest, options: SystemOptions): Promise<System> {
    const machine = await UnicornMachine.create({ memoryBytes: manifest.memory, devices: manifest.devices.map((d) => DEVICE_FACTORIES[d]!()) });
    try {
      const kernel = new Kernel(machine, {
        trust: options.trust,
        repository: options.modules,
        ...(options.audit ? { audit: options.audit } : {}),
        ...(options.retainEvents !== undefined ? { events: { retain: options.retainEvents } } : {}),
      });
      const outcome = recordOutcome(kernel.events);
      // Wall time goes only into the update reports (as wall-clock figures), never into the event log.
      const assembledAt = performance.now();
      const updates = new UpdateLog(kernel.events, () => performance.now() - assembledAt);
      if (options.onEvent) kernel.events.subscribe(options.onEvent);
      const pcap = options.pcap;
      if (pcap) {
        // A captured frame leaves the process: the audit records before it are written first.
        const capture = (frame: Uint8Array) => {
          kernel.audit.flush();
          pcap.write(machine.clock.now, frame);
        };
        for (const d of machine.devices) if (d.device instanceof NicDevice) d.device.tap = (_dir, frame) => capture(frame);
      }
      const state = options.state?.boot(manifest);
      if (state) manifest = state.manifest;
      bootSandboxes(kernel, manifest, options.modules, options.wallClock, state?.event);
      options.state?.attach(kernel);
      const config = options.traffic ?? (manifest.traffic ? trafficConfig(manifest.traffic) : 'none');
      const traffic = config === 'none' ? undefined : attachTraffic(kernel, machine, config);
      const operatorSandbox = new OperatorSandbox(kernel);
      const operator = new OperatorChannel(kernel, operatorSandbox);
      const monitor = new MonitorChannel(kernel, operatorSandbox);
      for (const u of manifest.updates) operator.requestAt(u.atNs, u.request);
      const record = (e: Extract<KernelEvent, { kind: 'input' }>) => kernel.events.emit(e);
      const live = options.live;
      const pacer = options.replay
        ? new ReplayPacer(options.replay, record)
        : live ? new HostPacer({ realtime: live.realtime, record, ...(live.onAdmit ? { onAdmit: live.onAdmit } : {}) }) : undefined;
      const sliceMs = options.sliceMs ?? (live ? LIVE_SLICE_MS : undefined);
      const until = options.until ?? manifest.until;
      const system = new System(manifest, machine, kernel, traffic, pacer, { ...(sliceMs === undefined ? {} : { sliceMs }), until: Math.min(until, Number.MAX_SAFE_INTEGER) }, outcome, operator, updates, monitor);
      if (pacer instanceof ReplayPacer) {
        pacer.connect(system);
        checkReplayBoot(options.replay!, kernel.events);
      }
      return system;
    } catch (e) {
      machine.dispose();
      throw e;
    }
  }

  /** The machine's NIC, if it has one. */
  get nic(): NicDevice | undefined {
    return this.machine.devices.map((d) => d.device).find((d): d is NicDevice => d instanceof NicDevice);
  }

  /** Runs to the manifest's time limit (or until idle), shuts every sandbox down, and reports. */
  async run(): Promise<RunResult> {
    if (this.ran) throw new Error('System.run: this machine has already run');
    let halt: HaltReason | 'paused';
    do halt = await this.advance();
    while (halt === 'paused');
    return this.finish(halt);
  }

  /**
   * Runs towards the manifest's time limit until the machine halts, or a debugger attached to
   * the kernel pauses it ('paused': call again to go on). Then `finish`.
   */
  advance(): Promise<HaltReason | 'paused'> {
    if (this.ran) throw new Error('System.advance: this machine has already finished');
    const { until, sliceMs } = this.runOptions;
    return this.kernel.run(until, { ...(sliceMs === undefined ? {} : { sliceMs }), ...(this.pacer ? { pacer: this.pacer } : {}) });
  }

  /** After the machine halted: shuts every sandbox down, and compares the outcome with the image's. */
  finish(halt: HaltReason): RunResult {
    if (this.ran) throw new Error('System.finish: this machine has already finished');
    this.ran = true;
    this.kernel.shutdown();
    const outcome = this.outcome;
    const abandoned = this.updates.all.reduce((n, u) => n + Number(u.rollback?.abandoned ?? 0), 0);
    // The end of the last rollback the Monitor asked for because of `rule`: the failing instance
    // is out of the path from then on.
    const endOf = (rule: string) => {
      const ends = this.updates.all.filter((u) => u.rollback?.rule === rule).map((u) => Number(u.rollback!.end));
      return ends.length ? Math.max(...ends) : undefined;
    };
    const allow = { abandoned, corruptionUntil: endOf('corruption'), refusalsUntil: endOf('critical_function'), serverErrorsUntil: endOf('error_rate') };
    const deviations = [...deviationsFrom(this.manifest, outcome, this.updates.outcomes(), this.updates.alertRules()), ...(this.traffic ? trafficDeviations(this.traffic, allow) : [])];
    return { halt, outcome, deviations, logHash: this.kernel.events.hash() };
  }

  dispose(): void {
    this.machine.dispose();
  }
}

export const assemble = System.assemble;

/**
 * A replay's machine, assembled, must be the recorded one: the same events before it ran (the
 * same image, modules built from the same sources, the same date). Otherwise nothing after it
 * could be the same either.
 */
function checkReplayBoot(recording: Recording, events: EventLog): void {
  const { boot } = recording.header;
  const hash = events.hash();
  if (events.length === boot.events && hash === boot.hash) return;
  throw new RecordingError(
    'RECORDING_MISMATCH',
    `${recording.file}: this machine boots differently from the recorded one (${events.length} events before it runs, hash ${hash.slice(0, 16)}; recorded ${boot.events}, ${boot.hash.slice(0, 16)}): its image or a module differs — rebuilt from other sources?`,
  );
}

/** Assembles and runs an image; the caller disposes the system. */
export async function runImage(manifest: Manifest, options: SystemOptions): Promise<{ system: System; result: RunResult }> {
  const system = await System.assemble(manifest, options);
  try {
    return { system, result: await system.run() };
  } catch (e) {
    system.dispose();
    throw e;
  }
}
