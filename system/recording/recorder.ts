// Recording a live run (`hic boot --record FILE`, format.ts): the header once the machine is
// assembled, then each slice boundary at which outside inputs enter, as the pacer admits them
// (HostPacer's onAdmit: before they enter, so the event number their first `input` event gets is
// the log's length then), then how the run ended.

import type { HaltReason } from '../../core0/kernel.ts';
import type { OutsideInput } from '../realtime.ts';
import type { System } from '../run-image.ts';
import { RECORDING_FORMAT, RECORDING_VERSION, RecordingWriter, type RecordingHeader } from './format.ts';

export class RunRecorder {
  private readonly writer: RecordingWriter;
  private system: System | undefined;

  constructor(readonly file: string) {
    this.writer = RecordingWriter.create(file);
  }

  /** For System.assemble's `live.onAdmit`. */
  readonly onAdmit = (now: number, turn: number, inputs: readonly OutsideInput[]): void => {
    if (!this.system) throw new Error('RunRecorder: inputs admitted before the recording began');
    this.writer.batch({ t: now, turn, seq: this.system.kernel.events.length, inputs: inputs.map(({ source, what, data }) => ({ source, what, data })) });
  };

  /** The assembled machine, not yet run: the header. */
  begin(system: System, run: Pick<RecordingHeader, 'image' | 'date' | 'until' | 'traffic'>): void {
    this.system = system;
    const events = system.kernel.events;
    const found = events.all.find((e) => e.kind === 'systemState');
    const state = found?.kind === 'systemState' ? (({ kind: _k, t: _t, seq: _s, ...rest }) => rest)(found) : undefined;
    this.writer.header({ format: RECORDING_FORMAT, version: RECORDING_VERSION, ...run, boot: { events: events.length, hash: events.hash() }, ...(state ? { state } : {}) });
  }

  /** The run ended (System.finish has run): the end line, and the file closed. */
  end(halt: HaltReason, logHash: string): void {
    const system = this.system!;
    this.writer.end({ halt, t: system.machine.clock.now, events: system.kernel.events.length, logHash });
  }

  /** Closes the file without an end line (the run failed): it replays up to its last input. */
  close(): void {
    this.writer.close();
  }
}
