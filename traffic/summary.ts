// What a traffic run amounts to: the counts object every test asserts on, and the one line a log
// or a benchmark prints. The line is stable in form so that runs can be compared by eye or by
// diff: same seed and same stack give the same line.

import { TRAFFIC_CLASSES, type TrafficClass } from './classes.ts';
import type { ArpCounters } from './hosts.ts';
import type { ProbeCounters } from './probes.ts';
import type { TcpCounters } from './tcp-client.ts';

export interface LatencySummary {
  readonly exchanges: number;
  /** Virtual nanoseconds, nearest-rank percentiles; 0 when there were no exchanges. */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export interface TrafficSummary {
  readonly connections: number;
  readonly byClass: Readonly<Record<TrafficClass, number>>;
  /** Every exchange answered and both FINs through. */
  readonly closed: number;
  /** Reset, aborted, cut short by the server, or a broken HTTP stream. */
  readonly failed: number;
  /** Neither yet (the run was summarised early). */
  readonly running: number;
  /** Application bytes, both directions. */
  readonly bytes: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  /** Echoed bytes never delivered, delivered twice, or delivered after later ones. */
  readonly lost: number;
  /** ... of them, lost on connections that failed (reset or aborted with bytes in flight). */
  readonly lostOnFailed: number;
  readonly duplicated: number;
  readonly reordered: number;
  /** Echoed bytes that match nothing we sent. */
  readonly corrupted: number;
  /** ... of them, on connections that failed. */
  readonly corruptedOnFailed: number;
  /** The connections that did not fail yet received changed bytes: how many, when the last
   * changed byte came (virtual ns, 0: none), and the bytes their changes left lost (each changed
   * byte is also a hole where the right one belonged). */
  readonly corruptedClosed: { readonly connections: number; readonly lastAt: number; readonly lost: number };
  /** Connections whose SYN the server answered with a reset: how many, and when the last was
   * refused (virtual ns, 0: none). */
  readonly refused: { readonly connections: number; readonly lastAt: number };
  /** Holes in the server's sequence space never filled. */
  readonly seqGaps: number;
  /** A moved FIN or ISN, data past the FIN, an ACK of unsent bytes. */
  readonly seqErrors: number;
  readonly httpResponses: number;
  readonly httpErrors: number;
  /** Well-formed HTTP responses with a server-error status (5xx), and when the last came (virtual
   * ns, 0: none). */
  readonly serverErrors: { readonly responses: number; readonly lastAt: number };
  readonly latency: LatencySummary;
  /** The same per class: what a migration that serves real-time traffic first should improve. */
  readonly latencyByClass: Readonly<Record<TrafficClass, LatencySummary>>;
  readonly tcp: Readonly<TcpCounters>;
  readonly arp: Readonly<ArpCounters>;
  readonly probes: Readonly<ProbeCounters>;
  readonly framesSent: number;
  readonly framesReceived: number;
  /** Frames that failed to parse (bad checksum, truncated, ...) and frames for nobody here. */
  readonly badFrames: number;
  readonly strayFrames: number;
  /** The first few reasons connections failed, for test messages. */
  readonly failures: readonly string[];
}

export function latencySummary(samples: readonly number[]): LatencySummary {
  const s = [...samples].sort((a, b) => a - b);
  const rank = (p: number) => s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)] ?? 0;
  return { exchanges: s.length, p50: rank(50), p90: rank(90), p99: rank(99), max: s[s.length - 1] ?? 0 };
}

const ms = (ns: number) => `${(ns / 1e6).toFixed(3)}ms`;

/**
 * `traffic: N connections (by class …; closed C, failed F, bad http H), B bytes, lost L,
 * duplicated D, reordered R, seq gaps G, dns Q/A, ping P/R, latency p50 … p90 … p99 … max …`,
 * with "(refused N)" after F, "5xx E" after H and "corrupted X" after R only when there are any.
 * "seq gaps" counts every sequence discontinuity: holes never filled and sequence errors.
 */
export function summaryLine(s: TrafficSummary): string {
  const classes = TRAFFIC_CLASSES.map((c) => `${c} ${s.byClass[c]}`).join(', ');
  const state = `closed ${s.closed}, failed ${s.failed}${s.refused.connections ? ` (refused ${s.refused.connections})` : ''}${s.running ? `, running ${s.running}` : ''}, bad http ${s.httpErrors}${s.serverErrors.responses ? `, 5xx ${s.serverErrors.responses}` : ''}`;
  const l = s.latency;
  return (
    `traffic: ${s.connections} connections (${classes}; ${state}), ${s.bytes} bytes, lost ${s.lost}, duplicated ${s.duplicated}, ` +
    `reordered ${s.reordered}, ${s.corrupted ? `corrupted ${s.corrupted}, ` : ''}seq gaps ${s.seqGaps + s.seqErrors}, dns ${s.probes.dnsQueries}/${s.probes.dnsAnswers}, ` +
    `ping ${s.probes.pingSent}/${s.probes.pingReceived}, latency p50 ${ms(l.p50)} p90 ${ms(l.p90)} p99 ${ms(l.p99)} max ${ms(l.max)}`
  );
}
