// The operator's channel to the Module Manager: the one thing the host does in an update besides
// devices, storage and rendering. A request (from an image's `updates` or `hic ctl update`) is
// queued, recorded as an `updateRequested` event, and handed to the Module Manager through a host
// sandbox's send on cap://module_manager/requests when it waits for one. The host never blocks:
// while the Module Manager is busy (or not yet registered) the send is refused with WOULD_BLOCK or
// NOT_FOUND and tried again a virtual millisecond later, so requests reach it in order, one at a
// time, at deterministic virtual times.

import { HostCallError, HostClient } from '../../core0/host-client.ts';
import type { Kernel } from '../../core0/kernel.ts';
import { encodeRequest, MM_REQUEST_UPDATE, resolvePolicy, type UpdateRequest } from './request.ts';

const REQUESTS = 'cap://module_manager/requests';
const RETRY_NS = 1_000_000;

export class OperatorChannel {
  private readonly queue: { readonly id: number; readonly request: UpdateRequest }[] = [];
  private nextId = 1;
  private client: HostClient | undefined;
  private endpoint: number | undefined;
  private scheduled = false;

  constructor(private readonly kernel: Kernel) {}

  /** Queues a request now (virtual time); returns its update id. */
  request(request: UpdateRequest): number {
    const id = this.nextId++;
    this.queue.push({ id, request });
    this.kernel.events.emit({ kind: 'updateRequested', id, service: request.service, to: request.to, allowDowngrade: request.allowDowngrade, policy: JSON.stringify(resolvePolicy(request.policy)) });
    this.schedule(this.kernel.machine.clock.now);
    return id;
  }

  /** Queues a request at virtual time `atNs` (an image's update). */
  requestAt(atNs: number, request: UpdateRequest): void {
    this.kernel.at(atNs, () => this.request(request));
  }

  get pending(): number {
    return this.queue.length;
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
    if (!next) return;
    this.client ??= HostClient.attach(this.kernel, 'operator');
    try {
      this.endpoint ??= this.client.lookup(REQUESTS);
      this.client.sendNow(this.endpoint, { label: MM_REQUEST_UPDATE, payload: encodeRequest(next.id, next.request) });
    } catch (e) {
      if (!(e instanceof HostCallError) || !['WOULD_BLOCK', 'NOT_FOUND', 'PEER_GONE'].includes(e.code)) throw e;
      if (e.code === 'PEER_GONE') this.endpoint = undefined;
      this.schedule(this.kernel.machine.clock.now + RETRY_NS);
      return;
    }
    this.queue.shift();
    this.kernel.events.emit({ kind: 'updateDelivered', id: next.id });
    if (this.queue.length > 0) this.schedule(this.kernel.machine.clock.now + RETRY_NS);
  }
}
