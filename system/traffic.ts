// Puts the traffic generator on a booted machine's wire: the generator plays every remote host,
// sending through the NIC and hearing what the guest transmits, driven by one kernel timer kept at
// its earliest wake-up. Used by `hic boot` / `hic test` for images with a `traffic` section and by
// the end-to-end tests. Host-side glue: the generator itself knows nothing of the kernel.

import type { Kernel } from '../core0/kernel.ts';
import type { TrafficSpec } from './manifest.ts';
import type { Machine } from '../emulator/types.ts';
import { NicDevice } from '../emulator/devices/nic.ts';
import { TrafficError } from '../traffic/errors.ts';
import { TrafficGenerator, type TrafficConfig } from '../traffic/generator.ts';

export interface AttachedTraffic {
  readonly generator: TrafficGenerator;
  readonly nic: NicDevice;
  /** Frames the NIC's RX ring had no room for (the generator's retransmissions recover them). */
  readonly dropped: () => number;
  /** Virtual time the generator finished, if it has. */
  readonly doneAt: () => number | undefined;
  readonly state: Readonly<TrafficState>;
}

export function attachTraffic(kernel: Kernel, machine: Machine, config: TrafficConfig): AttachedTraffic {
  const nic = machine.devices.map((d) => d.device).find((d): d is NicDevice => d instanceof NicDevice);
  if (!nic) throw new TrafficError('TRAFFIC_NO_NIC', 'the image has traffic but no NIC (machine.devices must include "nic")');
  const clock = machine.clock;
  // Kept in an object the attached traffic holds, not in the closures' variables, so a
  // debugger's checkpoint (system/debug/checkpoint.ts), which sees objects, sees it too.
  const state: TrafficState = { dropped: 0, doneAt: undefined, armed: undefined };
  const generator = new TrafficGenerator(config, { send: (f) => void (nic.receive(f) || state.dropped++) });

  // One kernel timer for the generator's earliest wake-up; a later one already pending is
  // superseded by an earlier one, and a stale one merely ticks early.
  const arm = () => {
    if (generator.done) return void (state.doneAt ??= clock.now);
    const w = generator.nextWake();
    if (w === undefined || (state.armed !== undefined && state.armed <= w)) return;
    const at = Math.max(w, clock.now);
    state.armed = at;
    kernel.at(at, () => {
      if (state.armed === at) state.armed = undefined;
      generator.tick(clock.now);
      arm();
    });
  };
  nic.onTransmit = (f) => {
    generator.receive(f, clock.now);
    arm();
  };
  arm();
  return { generator, nic, state, dropped: () => state.dropped, doneAt: () => state.doneAt };
}

interface TrafficState {
  dropped: number;
  doneAt: number | undefined;
  /** When the pending kernel timer for the generator fires, if one is pending. */
  armed: number | undefined;
}

/** What a run's rollbacks could not undo, and the traffic check therefore allows (run-image.ts). */
export interface TrafficAllowance {
  /** Connections an emergency rollback gave up (the Module Manager's `rollback` records, seed §4.3
   * 步骤5.2.3): up to that many may fail, and lose what they had in flight. */
  readonly abandoned?: number;
  /** The end of a rollback for corrupted payloads: bytes changed before then on connections that
   * closed are the harm the version did before it was caught. */
  readonly corruptionUntil?: number;
  /** The end of a rollback for a critical function that failed: connections refused before then
   * were refused by the failing version. */
  readonly refusalsUntil?: number;
  /** The end of a rollback for the error rate: server errors (5xx) answered before then were
   * the failing version's. */
  readonly serverErrorsUntil?: number;
}

/**
 * How the traffic differs from a clean run: every connection closed, nothing lost, changed,
 * duplicated or reordered, beyond what `allow` says a rollback could not undo. That harm is not
 * hidden: the summary and the report count it; it only stops being a deviation, and only when all
 * of it came before the rollback ended.
 */
export function trafficDeviations(t: AttachedTraffic, allow: TrafficAllowance = {}): string[] {
  const s = t.generator.summary();
  const out: string[] = [];
  const abandoned = allow.abandoned ?? 0;
  const refused = allow.refusalsUntil !== undefined && s.refused.lastAt <= allow.refusalsUntil ? s.refused.connections : 0;
  if (!t.generator.done) out.push('traffic: the generator did not finish within the run');
  if (s.failed > abandoned + refused) {
    const why = [...(abandoned ? [`the ${abandoned} an emergency rollback gave up`] : []), ...(refused ? [`the ${refused} a failing version refused`] : [])];
    out.push(`traffic: ${s.failed} connection(s) failed${why.length ? `, more than ${why.join(' and ')}` : ''}`);
  }
  const given = s.failed <= abandoned + refused;
  let lost = given ? s.lost - s.lostOnFailed : s.lost;
  let corrupted = given ? s.corrupted - s.corruptedOnFailed : s.corrupted;
  if (allow.corruptionUntil !== undefined && given && corrupted > 0 && s.corruptedClosed.lastAt <= allow.corruptionUntil) {
    lost -= s.corruptedClosed.lost;
    corrupted = 0;
  }
  const serverErrors = allow.serverErrorsUntil !== undefined && s.serverErrors.lastAt <= allow.serverErrorsUntil ? 0 : s.serverErrors.responses;
  for (const [k, v] of Object.entries({ lost, corrupted, duplicated: s.duplicated, reordered: s.reordered, 'seq gaps': s.seqGaps, 'bad http': s.httpErrors, 'server errors (5xx)': serverErrors })) {
    if (v > 0) out.push(`traffic: ${v} ${k}`);
  }
  return out;
}

/** The generator's configuration for an image's `traffic` section. */
export function trafficConfig(t: TrafficSpec): TrafficConfig {
  return {
    seed: t.seed,
    server: { ip: t.server },
    clients: { count: t.clients },
    connections: t.connections,
    ...(t.dns > 0 ? { dns: { queries: t.dns } } : {}),
    ...(t.pings > 0 ? { ping: { streams: Math.min(2, t.pings), count: Math.ceil(t.pings / Math.min(2, t.pings)) } } : {}),
    ...(t.durationNs !== undefined ? { durationNs: t.durationNs } : {}),
    ...(t.shares !== undefined ? { shares: t.shares } : {}),
  };
}
