// What runs on top of each emulated TCP connection: the behaviour of its traffic class, from its
// plan. An echo session sends pattern bytes on a schedule (without waiting for answers, as
// real-time and tunnel traffic does) and checks every byte that comes back; an HTTP session sends
// one GET at a time and checks each response's framing. Both time every exchange in virtual time:
// from the request's first byte handed to TCP to the response's last byte delivered.

import type { SessionPlan } from './classes.ts';
import { getRequest, HttpResponseParser } from './http.ts';
import { pattern, StreamCheck } from './stream-check.ts';
import { RESET_BY_SERVER, type TcpApp, type TcpClient } from './tcp-client.ts';
import { Timer, type TimerQueue } from './timers.ts';

/** Shared by every session of a generator. */
export interface SessionMetrics {
  /** Virtual nanoseconds per completed exchange. */
  readonly latencies: number[];
  httpResponses: number;
  httpErrors: number;
  /** The first few HTTP errors, for test messages. */
  readonly httpErrorSamples: string[];
  /** Well-formed responses with a server-error status (5xx): how many, and when the last came
   * (virtual ns, 0: none). */
  readonly serverErrors: { responses: number; lastAt: number };
}

export abstract class Session implements TcpApp {
  /** Set when the server closed or the stream broke before the plan was done. */
  cutShort = false;
  protected nextExchange = 0;
  private closing = false;
  protected readonly timer: Timer;

  constructor(
    protected readonly plan: SessionPlan,
    protected readonly tcp: TcpClient,
    timers: TimerQueue,
    protected readonly metrics: SessionMetrics,
    /** This connection's class's latency samples (the same ones, also kept per class). */
    private readonly classLatencies: number[],
  ) {
    this.timer = new Timer(timers, (now) => this.fire(now));
  }

  /** Every exchange answered, and the connection closed in order. */
  get complete(): boolean {
    return !this.cutShort && this.nextExchange === this.plan.exchanges.length && !this.expecting() && this.tcp.state === 'done';
  }

  abstract expecting(): boolean;
  abstract onData(bytes: Uint8Array, now: number): void;
  /** Sends exchange `nextExchange - 1`. */
  protected abstract request(now: number): void;

  onEstablished(now: number): void {
    this.schedule(now);
  }

  onPeerClosed(now: number): void {
    if (this.expecting() || this.nextExchange < this.plan.exchanges.length) this.cutShort = true;
    this.timer.clear();
    this.tcp.close(now);
  }

  onEnd(_now: number): void {
    this.timer.clear();
  }

  /** Arms the timer for the next request, or, when all are answered, for the close. */
  protected schedule(now: number): void {
    const ex = this.plan.exchanges[this.nextExchange];
    if (ex !== undefined) this.timer.set(now + ex.afterNs);
    else if (!this.expecting() && !this.closing) {
      this.closing = true;
      this.timer.set(now + this.plan.holdNs);
    }
  }

  private fire(now: number): void {
    if (this.tcp.state !== 'established') return;
    if (this.closing) {
      this.tcp.close(now);
      return;
    }
    this.nextExchange++;
    this.request(now);
  }

  protected exchangeDone(startNs: number, now: number): void {
    this.metrics.latencies.push(now - startNs);
    this.classLatencies.push(now - startNs);
  }
}

export class EchoSession extends Session {
  readonly check: StreamCheck;
  /** When the last byte matching nothing sent arrived (virtual ns); undefined: none did. */
  corruptedAt: number | undefined;
  private sent = 0;
  /** Requests not fully echoed yet: where each ends in the stream, and when it was sent. */
  private readonly waiting: { end: number; start: number }[] = [];

  constructor(plan: SessionPlan, tcp: TcpClient, timers: TimerQueue, metrics: SessionMetrics, classLatencies: number[], private readonly key: number) {
    super(plan, tcp, timers, metrics, classLatencies);
    this.check = new StreamCheck(key);
  }

  expecting(): boolean {
    return this.waiting.length > 0;
  }

  protected request(now: number): void {
    const size = this.plan.exchanges[this.nextExchange - 1]!.size;
    this.tcp.send(pattern(this.key, this.sent, size), now);
    this.sent += size;
    this.check.sent = this.sent;
    this.waiting.push({ end: this.sent, start: now });
    this.schedule(now);
  }

  onData(bytes: Uint8Array, now: number): void {
    const before = this.check.corrupted;
    this.check.push(bytes);
    if (this.check.corrupted > before) this.corruptedAt = now;
    // An exchange is answered once the echo reaches its end, holes or not: the check counts holes.
    while (this.waiting[0] !== undefined && this.check.highest >= this.waiting[0].end) this.exchangeDone(this.waiting.shift()!.start, now);
    if (this.nextExchange === this.plan.exchanges.length) this.schedule(now);
  }

  override onEnd(now: number): void {
    super.onEnd(now);
    const before = this.check.corrupted;
    this.check.finish();
    if (this.check.corrupted > before) this.corruptedAt = now;
  }
}

export class HttpSession extends Session {
  private readonly parser = new HttpResponseParser();
  private pendingSince: number | undefined;

  constructor(plan: SessionPlan, tcp: TcpClient, timers: TimerQueue, metrics: SessionMetrics, classLatencies: number[], private readonly hostHeader: string) {
    super(plan, tcp, timers, metrics, classLatencies);
  }

  expecting(): boolean {
    return this.pendingSince !== undefined || this.parser.midResponse;
  }

  protected request(now: number): void {
    this.tcp.send(getRequest(this.plan.exchanges[this.nextExchange - 1]!.path!, this.hostHeader), now);
    this.pendingSince = now;
  }

  onData(bytes: Uint8Array, now: number): void {
    for (const ev of this.parser.push(bytes)) {
      if (ev.kind === 'error') {
        this.error(ev.message, now);
      } else if (this.pendingSince === undefined) {
        this.error(`a response (status ${ev.status}) nobody asked for`, now);
      } else {
        this.metrics.httpResponses++;
        if (ev.status >= 500) this.metrics.serverErrors.responses++, (this.metrics.serverErrors.lastAt = now);
        this.exchangeDone(this.pendingSince, now);
        this.pendingSince = undefined;
        this.schedule(now);
      }
    }
  }

  override onEnd(now: number): void {
    super.onEnd(now);
    // A response the server cut short with a reset is the failed connection's, counted as such
    // (an emergency rollback abandons connections so): it is not a malformed response.
    if (this.tcp.failure === RESET_BY_SERVER) return;
    for (const ev of this.parser.finish()) if (ev.kind === 'error') this.error(ev.message, now);
  }

  private error(message: string, now: number): void {
    this.metrics.httpErrors++;
    if (this.metrics.httpErrorSamples.length < 8) this.metrics.httpErrorSamples.push(message);
    this.cutShort = true;
    this.pendingSince = undefined;
    this.timer.clear();
    this.tcp.close(now);
  }
}
