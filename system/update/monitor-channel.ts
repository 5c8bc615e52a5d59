// The operator's channel to the Monitor (services/monitor, hic/monitor.h): a rollback that waits
// for confirmation confirmed or vetoed (seed §4.3 步骤5.1.3), and the maintenance silence of
// alerts (§5.2.2 维护期告警静默). It works as the channel to the Module Manager does (operator.ts):
// a message is queued, recorded as an `operatorMessage` event, and sent from the host sandbox
// 'operator' on cap://monitor/watch when the Monitor waits on it. The host never blocks: while the
// Monitor is busy (probing, deciding) the send is refused with WOULD_BLOCK and tried again a
// virtual millisecond later, so messages reach it in order, one at a time, at deterministic
// virtual times. The messages are sends and get no reply; the Monitor records what it made of
// each (its `silence` and `confirmation` records).

import type { HostMessage } from '../../core0/host-client.ts';
import type { Kernel } from '../../core0/kernel.ts';
import { OperatorSender, type OperatorSandbox } from './operator.ts';

const WATCH = 'cap://monitor/watch';
/** hic/monitor.h */
const MON_SILENCE = 4n;
const MON_CONFIRM = 5n;
const MON_VETO = 6n;
/** Messages that may wait for the Monitor at once; one more is refused. */
export const MAX_PENDING_MONITOR_MESSAGES = 8;

export type MonitorMessage =
  | { readonly what: 'confirm' | 'veto'; readonly id: number }
  | { readonly what: 'silence'; readonly from: number; readonly until: number };

/** A message refused with nothing recorded: no Monitor to take it, or too many waiting. */
export class MonitorChannelError extends Error {
  constructor(readonly code: 'NO_MONITOR' | 'MONITOR_QUEUE_FULL', message: string) {
    super(message);
  }
}

function encode(m: MonitorMessage): HostMessage {
  return m.what === 'silence' ? { label: MON_SILENCE, words: [BigInt(m.from), BigInt(m.until)] } : { label: m.what === 'confirm' ? MON_CONFIRM : MON_VETO, words: [BigInt(m.id)] };
}

export class MonitorChannel {
  private readonly queue: OperatorSender<MonitorMessage>;

  constructor(
    private readonly kernel: Kernel,
    sandbox: OperatorSandbox,
  ) {
    this.queue = new OperatorSender(kernel, sandbox, WATCH, encode);
  }

  /** Go ahead with the rollback update `id` waits on. */
  confirm(id: number): void {
    this.enqueue({ what: 'confirm', id });
  }

  /** Do not roll update `id` back (a more drastic decision asks again). */
  veto(id: number): void {
    this.enqueue({ what: 'veto', id });
  }

  /** Keep alerts from the operator's sinks over [from, until), virtual ns; silence(0, 0) lifts it. */
  silence(fromNs: number, untilNs: number): void {
    if (!(Number.isSafeInteger(fromNs) && Number.isSafeInteger(untilNs) && fromNs >= 0 && (untilNs === 0 || untilNs > fromNs))) {
      throw new RangeError(`silence [${fromNs}, ${untilNs}): not a span of virtual time`);
    }
    this.enqueue({ what: 'silence', from: fromNs, until: untilNs });
  }

  get pending(): number {
    return this.queue.length;
  }

  private enqueue(m: MonitorMessage): void {
    // Asked of a machine whose Monitor is not (yet) registered, a message would wait for ever.
    const ep = this.kernel.objects.registry.lookup(WATCH);
    if (typeof ep === 'string' || !ep.resolve()) throw new MonitorChannelError('NO_MONITOR', `no Monitor answers on ${WATCH} (the image runs none, or it has not started yet)`);
    if (this.queue.length >= MAX_PENDING_MONITOR_MESSAGES) {
      throw new MonitorChannelError('MONITOR_QUEUE_FULL', `${this.queue.length} messages are waiting for the Monitor, the most the operator's channel holds (${MAX_PENDING_MONITOR_MESSAGES}); ask again once one is delivered`);
    }
    this.kernel.events.emit({ kind: 'operatorMessage', to: 'monitor', what: m.what, id: m.what === 'silence' ? 0 : m.id, from: m.what === 'silence' ? m.from : 0, until: m.what === 'silence' ? m.until : 0 });
    this.queue.push(m);
  }
}
