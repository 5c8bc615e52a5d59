// `hic boot --gdb[=PORT]`: a boot gdb can attach to. The image is assembled under a debugging
// session that only goes forwards (no checkpoints; the boot's audit log, event file, capture and
// outside world keep what they were given), its gdb stub listening on 127.0.0.1. The machine
// waits for the first client before its first instruction; when the client detaches the boot
// runs on to its end and its usual report, and a client that connects later stops it at once
// (system/debug/attach.ts). Going back is `hic debug`'s: on the image, or on a recording.

import type { StampedEvent } from '../core0/events.ts';
import { AttachableRun } from '../system/debug/attach.ts';
import { startGdbStub, type GdbStub } from '../system/debug/gdb/stub.ts';
import { DebugSession } from '../system/debug/session.ts';
import type { Manifest } from '../system/manifest.ts';
import type { RunResult, System, SystemOptions } from '../system/run-image.ts';

export const FORWARD_ONLY = 'hic boot --gdb runs forwards only; to go back, debug the image with `hic debug IMAGE --gdb :PORT`, or record a live run (--record) and debug it with `hic debug --replay FILE --gdb :PORT`';

/** gdb's own default port, as QEMU's -s uses it. */
export const DEFAULT_GDB_PORT = 1234;

export class BootUnderGdb {
  private constructor(
    readonly session: DebugSession,
    readonly stub: GdbStub,
    private readonly attachable: AttachableRun,
  ) {}

  static async open(manifest: Manifest, options: SystemOptions, output: (e: StampedEvent) => void, repoRoot: string, port: number): Promise<BootUnderGdb> {
    const session = await DebugSession.open(manifest, options, repoRoot, { output, checkpointInterval: 0, forwardOnly: FORWARD_ONLY });
    try {
      const attachable = new AttachableRun(session);
      const stub = await startGdbStub(session, port, { attach: () => attachable.attach(), detach: () => attachable.detach() });
      return new BootUnderGdb(session, stub, attachable);
    } catch (e) {
      session.dispose();
      throw e;
    }
  }

  /** The machine: the session's only one (it never goes back, so never replaces it). */
  get system(): System {
    return this.session.machine.system;
  }

  /** Runs the machine to its end, standing still while a gdb client holds it. */
  run(): Promise<RunResult> {
    return this.attachable.run();
  }

  /** Whether a gdb client holds the machine now. */
  get attached(): boolean {
    return this.attachable.attached;
  }

  /** Runs on without waiting for a client (the user gave up waiting). */
  release(): void {
    this.attachable.release();
  }

  async close(): Promise<void> {
    await this.stub.close();
  }

  dispose(): void {
    this.session.dispose();
  }
}
