// IPC endpoints and registry aliases. An endpoint holds no messages, only the threads waiting on
// it: senders (with their message already read out of their memory) and receivers (with where to
// write). A message passes directly from one thread to the other; nothing is buffered in between.
//
// An alias is what clients of a service hold: a send-only reference to whatever versioned
// endpoint the registry says it names *now*. Every send resolves the alias at that moment, so
// switching the registry entry is atomic: a message sent before the switch is already queued on
// the old endpoint and completes there; one sent after goes to the new one.

import type { Capability, KernelObject } from './capability.ts';
import type { Thread } from './thread.ts';

/** A message in flight: read from the sender's memory when it sent. */
export interface Message {
  /**
   * The sender's struct hic_msg as it was, up to the end of its payload: the header (label,
   * words, len...) and `len` payload bytes, never the unused rest (ipc.ts reads and writes it).
   */
  readonly bytes: Uint8Array;
  /** A capability to pass, and whether it moves or a derived copy goes. */
  readonly cap: Capability | undefined;
  readonly capMove: boolean;
  readonly badge: number;
}

/** The message's label (struct hic_msg's first field, little-endian), for whoever shows it. */
export function messageLabel(m: Message): bigint {
  return new DataView(m.bytes.buffer, m.bytes.byteOffset, 8).getBigUint64(0, true);
}

export interface SendWait {
  readonly thread: Thread;
  readonly message: Message;
  /** Set for call: where the reply goes in the caller's memory. */
  readonly replyTo: number | undefined;
}

export interface RecvWait {
  readonly thread: Thread;
  readonly msgAt: number;
}

export class Endpoint implements KernelObject {
  readonly capType = 'ENDPOINT' as const;
  readonly senders: SendWait[] = [];
  readonly receivers: RecvWait[] = [];
  /** Set when the last capability is gone: waiters are woken with PEER_GONE by the kernel. */
  dead = false;
  onRelease: ((e: Endpoint) => void) | undefined;

  constructor(readonly id: number) {}

  resolve(): Endpoint | undefined {
    return this.dead ? undefined : this;
  }

  released(): void {
    this.dead = true;
    this.onRelease?.(this);
  }

  /** Forgets a thread wherever it waits here (timeout, destruction). */
  cancel(t: Thread): void {
    for (const q of [this.senders, this.receivers] as { thread: Thread }[][]) {
      const i = q.findIndex((w) => w.thread === t);
      if (i >= 0) q.splice(i, 1);
    }
  }
}

/** A name in the service registry whose target can change. Send-only for its holders. */
export class Alias implements KernelObject {
  readonly capType = 'ENDPOINT' as const;
  constructor(
    readonly name: string,
    private readonly lookup: (name: string) => Endpoint | undefined,
  ) {}

  resolve(): Endpoint | undefined {
    return this.lookup(this.name)?.resolve();
  }
}

export type EndpointLike = Endpoint | Alias;
