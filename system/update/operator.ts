// The operator's channel to the Module Manager: the one thing the host does in an update besides
// devices, storage and rendering. A request (from an image's `updates` or `hic ctl update`) is
// queued, recorded as an `updateRequested` event, and handed to the Module Manager through a host
// sandbox's send on cap://module_manager/requests when it waits for one. The host never blocks:
// while the Module Manager is busy (or not yet registered) the send is refused with WOULD_BLOCK or
// NOT_FOUND and tried again a virtual millisecond later, so requests reach it in order, one at a
// time, at deterministic virtual times. At most MAX_PENDING_UPDATES wait at once; one more is
// refused (UpdateQueueFull) with nothing recorded. An image's requests keep their places from
// the start, so a control client cannot crowd out what the image declared.

import { HostCallError, HostClient, type HostMessage } from '../../core0/host-client.ts';
import type { Kernel } from '../../core0/kernel.ts';
import { encodeRequest, MAX_PENDING_UPDATES, requestLabel, resolvePolicy, ruleText, type UpdateRequest } from './request.ts';

const REQUESTS = 'cap://module_manager/requests';
const RETRY_NS = 1_000_000;

/** A request refused because the channel already holds MAX_PENDING_UPDATES: nothing was queued. */
export class UpdateQueueFull extends Error {
  readonly code = 'UPDATE_QUEUE_FULL';
  readonly limit = MAX_PENDING_UPDATES;
  constructor(readonly pending: number) {
    super(`${pending} update requests are waiting for the Module Manager, the most the operator's channel holds (${MAX_PENDING_UPDATES}); ask again once one is delivered`);
  }
}

/**
 * The host sandbox 'operator', created when a message first leaves: the operator's channels to the
 * Module Manager and to the Monitor (monitor-channel.ts) send from it, each with its own slots.
 */
export class OperatorSandbox {
  private attached: HostClient | undefined;

  constructor(private readonly kernel: Kernel) {}

  get client(): HostClient {
    return (this.attached ??= HostClient.attach(this.kernel, 'operator'));
  }
}

/**
 * Messages for one guest endpoint, sent in order from the operator's sandbox without ever
 * blocking: while the receiver is busy or not yet registered (WOULD_BLOCK, NOT_FOUND, PEER_GONE)
 * the send is tried again a virtual millisecond later. `delivered` runs as each one leaves.
 */
export class OperatorSender<T> {
  private readonly queue: T[] = [];
  private endpoint: number | undefined;
  private scheduled = false;

  constructor(
    private readonly kernel: Kernel,
    private readonly sandbox: OperatorSandbox,
    private readonly name: string,
    private readonly encode: (m: T) => HostMessage,
    private readonly delivered: (m: T) => void = () => {},
  ) {}

  get length(): number {
    return this.queue.length;
  }

  push(m: T): void {
    this.queue.push(m);
    this.schedule(this.kernel.machine.clock.now);
  }

  private schedule(at: number): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.kernel.at(at, () => {
      this.scheduled = false;
      this.deliver();
    });
  }

  private deliver(): void {
    const next = this.queue[0];
    if (next === undefined) return;
    const client = this.sandbox.client;
    try {
      this.endpoint ??= client.lookup(this.name);
      client.sendNow(this.endpoint, this.encode(next));
    } catch (e) {
      if (!(e instanceof HostCallError) || !['WOULD_BLOCK', 'NOT_FOUND', 'PEER_GONE'].includes(e.code)) throw e;
      if (e.code === 'PEER_GONE') this.endpoint = undefined;
      this.schedule(this.kernel.machine.clock.now + RETRY_NS);
      return;
    }
    this.queue.shift();
    this.delivered(next);
    if (this.queue.length > 0) this.schedule(this.kernel.machine.clock.now + RETRY_NS);
  }
}

export class OperatorChannel {
  private readonly queue: OperatorSender<{ readonly id: number; readonly request: UpdateRequest }>;
  /** An image's requests not yet due (requestAt): they count against the bound from the start. */
  private reserved = 0;
  private nextId = 1;

  constructor(
    private readonly kernel: Kernel,
    sandbox: OperatorSandbox = new OperatorSandbox(kernel),
  ) {
    this.queue = new OperatorSender(kernel, sandbox, REQUESTS, (m) => ({ label: requestLabel(m.request), payload: encodeRequest(m.id, m.request) }), (m) =>
      kernel.events.emit({ kind: 'updateDelivered', id: m.id }),
    );
  }

  /** Queues a request now (virtual time); returns its update id. UpdateQueueFull when full. */
  request(request: UpdateRequest): number {
    if (this.pending >= MAX_PENDING_UPDATES) throw new UpdateQueueFull(this.pending);
    return this.enqueue(request);
  }

  /** Queues a request at virtual time `atNs` (an image's update), keeping its place until then. */
  requestAt(atNs: number, request: UpdateRequest): void {
    if (this.pending >= MAX_PENDING_UPDATES) throw new UpdateQueueFull(this.pending);
    this.reserved++;
    this.kernel.at(atNs, () => {
      this.reserved--;
      this.enqueue(request);
    });
  }

  /** Requests not yet delivered: queued, or an image's not yet due. */
  get pending(): number {
    return this.queue.length + this.reserved;
  }

  private enqueue(request: UpdateRequest): number {
    const id = this.nextId++;
    this.kernel.events.emit({ kind: 'updateRequested', id, service: request.service, to: request.to, allowDowngrade: request.allowDowngrade, clearBad: request.clearBad === true, policy: JSON.stringify(resolvePolicy(request.policy)),
      ...(request.rules ? { rules: request.rules.map(ruleText) } : {}) });
    this.queue.push({ id, request });
    return id;
  }
}
