// A replay: the machine of a recorded live run, run again with the recording in place of the
// outside world. ReplayPacer is a host pacer (system/realtime.ts) whose wall clock and inputs are
// the recording's: it ends a slice exactly where each recorded boundary fell — the same virtual
// time after the same number of turns (core0/pacer.ts) — and admits the same inputs there, each
// recorded again as the same `input` event. Nothing waits for the wall clock, so a replay runs as
// fast as the machine can; under the debugger (`hic debug --replay`) it steps and goes back like
// any deterministic run, the pacer's place in the recording restored with the machine's
// checkpoints (it is an ordinary field; the recording itself is frozen, so checkpoints skip it).
//
// A recorded input enters as it did live: a frame into the NIC's receive ring; a control command
// through the control protocol's own command table (system/control/commands.ts), so a command
// added there replays without a change here, provided it enters the machine at once (its
// `input` call made before it awaits anything).
//
// Where the machine does not reach a recorded boundary as recorded (another event number, a time
// passed), the replay has diverged: the pacer says where and ends the run there.

import { existsSync, readFileSync } from 'node:fs';
import type { KernelEvent } from '../../core0/events.ts';
import { COMMANDS, decodeArguments, type CommandContext } from '../control/commands.ts';
import { LiveMachine } from '../live.ts';
import { MachineMetrics } from '../metrics.ts';
import { HostPacer } from '../realtime.ts';
import type { RunResult, System } from '../run-image.ts';
import { RecordedState, type MachineState } from '../state/system-state.ts';
import { parseManifest, type Manifest } from '../manifest.ts';
import { readRecording, RecordingError, type RecordedBatch, type RecordedInput, type Recording } from './format.ts';

const yieldToHost = () => new Promise<void>((resolve) => setImmediate(resolve));

export class ReplayPacer extends HostPacer {
  /** The batch due next; the pacer's whole state in the recording. */
  private next = 0;
  private divergedAt: string | undefined;
  private system: System | undefined;

  constructor(
    readonly recording: Recording,
    record: (e: Extract<KernelEvent, { kind: 'input' }>) => void,
  ) {
    super({ realtime: false, record });
  }

  /** The machine inputs enter (System.assemble connects it once it exists). */
  connect(system: System): void {
    this.system = system;
  }

  /** Why the replay left the recording, if it did. */
  get divergence(): string | undefined {
    return this.divergedAt;
  }

  /** Recorded boundaries admitted so far, and in all. */
  get progress(): { readonly admitted: number; readonly of: number } {
    return { admitted: this.next, of: this.recording.batches.length };
  }

  override horizon(now = 0, turn = 0): number {
    if (this.divergedAt) return now;
    const b = this.recording.batches[this.next];
    if (!b) return Infinity;
    // At the boundary's turn but short of its time: the recorded run idled up to the wall clock
    // there (core0/kernel.ts counts no turn for that), so idle up to the boundary's time.
    if (turn === b.turn && now < b.t) return b.t;
    if (turn >= b.turn) return now; // the boundary is here (past it, admit says so)
    // Before it: idle time goes no further than the boundary's time; a turn at that time which
    // does not advance time (core0/pacer.ts) may still come first.
    return now < b.t ? b.t : now + 1;
  }

  override pause(): Promise<void> {
    return yieldToHost();
  }

  override admit(now: number, turn = 0): boolean {
    const b = this.recording.batches[this.next];
    if (!this.divergedAt && b) {
      const events = this.system!.kernel.events.length;
      if (turn > b.turn || (turn === b.turn && now !== b.t) || (turn < b.turn && now > b.t)) {
        this.diverge(b, `the machine reached turn ${turn} at ${now} ns; the recording's next inputs entered after turn ${b.turn} at ${b.t} ns`);
      } else if (turn === b.turn && events !== b.seq) {
        this.diverge(b, `the machine had emitted ${events} events when its inputs were due; the recorded run had emitted ${b.seq}`);
      } else if (turn === b.turn) {
        this.next++;
        for (const input of b.inputs) {
          this.record({ kind: 'input', source: input.source, what: input.what, data: input.data });
          this.admittedCount++;
          const why = this.enter(input, now);
          if (why) {
            this.diverge(b, why);
            break;
          }
        }
      }
    }
    // A recording whose run died ends after its last input: nothing says what came next.
    const over = this.recording.end === undefined && this.next === this.recording.batches.length;
    return !this.quitting && !this.divergedAt && !over;
  }

  private diverge(b: RecordedBatch, why: string): void {
    this.divergedAt = `replay diverged at recorded boundary ${this.recording.batches.indexOf(b) + 1} of ${this.recording.batches.length}: ${why}`;
  }

  /** Delivers one recorded input; a reason when it cannot. */
  private enter(input: RecordedInput, now: number): string | undefined {
    const system = this.system!;
    if (input.source === 'tap') {
      const nic = system.nic;
      if (!nic) return 'a TAP frame was recorded, and this machine has no NIC';
      nic.receive(Buffer.from(input.data, 'base64'));
      return undefined;
    }
    return this.command(input, now);
  }

  /** A control command, through the command table, entering at once. */
  private command(input: RecordedInput, now: number): string | undefined {
    const cmd = COMMANDS.find((c) => c.name === input.what && c.effect === 'input');
    if (!cmd) return `control command "${input.what}" is not an input this HIC knows`;
    let args: Record<string, unknown>;
    try {
      args = decodeArguments(cmd, JSON.parse(input.data));
    } catch (e) {
      return `control command "${input.what}": its recorded arguments do not decode (${(e as Error).message})`;
    }
    let entered = false;
    let live: LiveMachine | undefined;
    let metrics: MachineMetrics | undefined;
    const system = this.system!;
    const ctx: CommandContext = {
      get live() {
        return (live ??= new LiveMachine(system));
      },
      get metrics() {
        return (metrics ??= new MachineMetrics(ctx.live));
      },
      pacer: this,
      subscribe: () => undefined,
      input: (what, _args, apply) => {
        entered = what === input.what;
        if (entered) apply(now);
        return Promise.resolve(now);
      },
    };
    // What the command answers went to its client live; here only its entering matters.
    Promise.resolve(cmd.run(ctx, args)).catch(() => undefined);
    return entered ? undefined : `control command "${input.what}" did not enter the machine at once when replayed`;
  }
}

/** What a replay's System takes from its recording: how far to run, the traffic, the boot's date. */
export function replayOptions(recording: Recording): { until: number; traffic?: 'none'; wallClock: string; replay: Recording; state?: MachineState } {
  const { header } = recording;
  return {
    until: header.until === 'never' ? Infinity : header.until,
    ...(header.traffic ? {} : { traffic: 'none' as const }),
    wallClock: header.date,
    replay: recording,
    // What the live boot found in its data directory, booted again without touching one.
    ...(header.state ? { state: new RecordedState(header.state) } : {}),
  };
}

/** Whether a replay that has run to its end gave the recorded run's event log, in one line. */
export function replayVerdict(system: System, result: RunResult): { readonly same: boolean; readonly line: string } {
  const pacer = system.pacer;
  if (!(pacer instanceof ReplayPacer)) throw new Error('replayVerdict: this machine is no replay');
  const { end, file } = pacer.recording;
  if (pacer.divergence) return { same: false, line: `replay DIVERGED: ${pacer.divergence}` };
  if (!end) return { same: false, line: `replay: all ${pacer.admitted} recorded inputs entered as recorded; ${file} ends there (the recorded run did not finish), so nothing after it can be compared` };
  const same = result.logHash === end.logHash && system.kernel.events.length === end.events && result.halt === end.halt;
  return same
    ? { same, line: `replay: ${pacer.admitted} recorded inputs entered as recorded; the event log is the recorded run's, bit for bit (sha256 ${end.logHash.slice(0, 16)})` }
    : { same, line: `replay DIFFERS: the recorded run ended (${end.halt}) with ${end.events} events, sha256 ${end.logHash.slice(0, 16)}; this one (${result.halt}) with ${system.kernel.events.length}, ${result.logHash.slice(0, 16)}` };
}

/** The recording to replay, and its image: the one it holds, which `image`, if given, must be. */
export function replayedImage(file: string, image: string | undefined): { recording: Recording; manifest: Manifest } {
  const recording = readRecording(file);
  const { image: recorded } = recording.header;
  if (image !== undefined && !existsSync(image)) throw new RecordingError('RECORDING_UNREADABLE', `${image}: no such image manifest`);
  if (image !== undefined && readFileSync(image, 'utf8') !== recorded.text) {
    throw new RecordingError('RECORDING_MISMATCH', `${file} is a recording of ${recorded.file}, and ${image} is not that manifest (leave the image out: the recording holds it)`);
  }
  return { recording, manifest: parseManifest(recorded.file, recorded.text) };
}
