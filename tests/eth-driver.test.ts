// The Ethernet driver (services/eth_driver) with two network stack instances (services/frame_sink)
// through the NIC (images/ethdrv.himg): the test plays the wire in virtual time -- SYNs and data
// segments of 100 TCP connections, ARP, ICMP, UDP and segments of unknown connections -- while
// instance 1 is the default; at 60 ms instance 2 attaches and makes itself the default (as a new
// stack version does in a rolling update), and instance 1 hands five of its connections over to
// it and drops a sixth from the table (a "HANDOVER" payload makes the sink STEER). Every frame
// must come back exactly once, stamped by the instance its connection belonged to at that moment,
// and the driver's, the sinks' and the NIC's counters must agree with the test's own model.
// Then version 1.2.0 of the same driver, with a prober that tries every call of the protocol once
// to succeed and every refusal once with its exact error.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NIC_REG as R, type NicDevice } from '../emulator/devices/nic.ts';
import { arpFrame, icmpEchoFrame, parseFrame, tcpFrame, udpFrame } from '../emulator/net/frames.ts';
import { parseIp } from '../emulator/net/ipv4.ts';
import { TcpFlag } from '../emulator/net/tcp.ts';
import { consoleOf, recordsOf } from './support/kernel.ts';
import { stage } from './support/boot.ts';
import { type System, type RunResult } from '../system/run-image.ts';

const ms = 1_000_000;
const NIC_MAC = Uint8Array.of(0x02, 0x48, 0x49, 0x43, 0x00, 0x01);
const HOST_MAC = Uint8Array.of(0x02, 0x00, 0x00, 0x00, 0x00, 0xaa);
const LOCAL_IP = parseIp('192.0.2.1');
const STRANGER_IP = parseIp('203.0.113.9');
const LOCAL_PORT = 80;
const CONNECTIONS = 100;
const OLD = 50; // connections 0..49 open while instance 1 is the default
const NO_INSTANCE = 0xff;
const STAMP = 11; // frame_sink writes its id into the last byte of the Ethernet source address
const SWITCH_AT = 60 * ms; // sink2 attaches and claims the default (its config in ethdrv.himg)
const HANDED = [0, 1, 2, 3, 4]; // steered to instance 2
const DROPPED = 5; // removed from the table: its later segments are misses, to the default

const remoteIp = (c: number) => parseIp('198.51.100.1') + c;
const remotePort = (c: number) => 40000 + c;
const reg = (nic: NicDevice, at: number) => Number(nic.read(at, 4)) + Number(nic.read(at + 4, 4)) * 2 ** 32;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

type Kind = 'syn' | 'data' | 'handover' | 'udp' | 'icmp' | 'arp' | 'unknown';

interface Step {
  readonly t: number;
  readonly kind: Kind;
  readonly conn: number;
  /** handover: the instance the connection goes to. */
  readonly to?: number;
  /** syn: a new connection on the addresses and ports of an earlier one (another ISN). */
  readonly reopen?: boolean;
}

interface Planned extends Step {
  readonly frame: Uint8Array;
  /** The instance the driver must deliver it to. */
  readonly expect: number;
}

/** The wire's script: what arrives when. */
function script(): Step[] {
  const steps: Step[] = [];
  const at = (base: number, i: number) => base * ms + i * 100_000;
  for (let c = 0; c < OLD; c++) steps.push({ t: at(10, c), kind: 'syn', conn: c });
  for (let c = 0; c < OLD; c++) steps.push({ t: at(20, c), kind: 'data', conn: c });
  const others: Kind[] = ['udp', 'icmp', 'arp', 'unknown'];
  others.forEach((kind, i) => steps.push({ t: at(30, i), kind, conn: -1 }));
  steps.push({ t: at(30, 4), kind: 'syn', conn: 3 }); // a retransmitted SYN keeps its entry
  HANDED.forEach((c, i) => steps.push({ t: at(66, i), kind: 'handover', conn: c, to: 2 }));
  steps.push({ t: at(66, 5), kind: 'handover', conn: DROPPED, to: NO_INSTANCE });
  for (let c = OLD; c < CONNECTIONS; c++) steps.push({ t: at(70, c - OLD), kind: 'syn', conn: c });
  steps.push({ t: 76 * ms, kind: 'syn', conn: 3 }); // now instance 2's
  steps.push({ t: 77 * ms, kind: 'syn', conn: 10, reopen: true }); // instance 1's, reopened: to the default
  for (let c = 0; c < CONNECTIONS; c++) steps.push({ t: at(80, c), kind: 'data', conn: c });
  others.forEach((kind, i) => steps.push({ t: at(95, i), kind, conn: -1 }));
  for (let c = 0; c < CONNECTIONS; c++) steps.push({ t: at(100, c), kind: 'data', conn: c });
  return steps.sort((a, b) => a.t - b.t);
}

/** Step i as a frame; every frame is distinct (sequence numbers, payloads, addresses carry i). */
function frameOf(s: Step, i: number): Uint8Array {
  const link = { srcMac: HOST_MAC, dstMac: NIC_MAC };
  const tcp = (srcIp: number, srcPort: number, flags: number, payload?: Uint8Array) =>
    tcpFrame({ ...link, srcIp, dstIp: LOCAL_IP, srcPort, dstPort: LOCAL_PORT, seq: 1000 * i, ack: flags & TcpFlag.ACK ? 1 : 0, flags, window: 65535, payload });
  switch (s.kind) {
    case 'syn': // a connection's SYN always carries its ISN, so a second one is a retransmission (the window tells them apart)
      return tcpFrame({ ...link, srcIp: remoteIp(s.conn), dstIp: LOCAL_IP, srcPort: remotePort(s.conn), dstPort: LOCAL_PORT, seq: 7000 * (s.conn + 1) + (s.reopen ? 1 : 0), ack: 0, flags: TcpFlag.SYN, window: 65535 - i });
    case 'data':
      return tcp(remoteIp(s.conn), remotePort(s.conn), TcpFlag.ACK | TcpFlag.PSH, new TextEncoder().encode(`segment ${i} of connection ${s.conn}`));
    case 'handover':
      return tcp(remoteIp(s.conn), remotePort(s.conn), TcpFlag.ACK | TcpFlag.PSH, Uint8Array.from([...new TextEncoder().encode('HANDOVER'), s.to!]));
    case 'unknown':
      return tcp(STRANGER_IP, 5000 + i, TcpFlag.ACK, new TextEncoder().encode(`stray ${i}`));
    case 'udp':
      return udpFrame({ ...link, srcIp: STRANGER_IP, dstIp: LOCAL_IP, srcPort: 5353, dstPort: 53, payload: new TextEncoder().encode(`query ${i}`) });
    case 'icmp':
      return icmpEchoFrame({ ...link, srcIp: STRANGER_IP, dstIp: LOCAL_IP, type: 'request', identifier: 7, sequence: i, data: new TextEncoder().encode(`ping ${i}`) });
    case 'arp':
      return arpFrame({ op: 'request', srcMac: HOST_MAC, srcIp: STRANGER_IP, targetIp: LOCAL_IP + i });
  }
}

/** The steering the driver must do, step by step: the table, the default, the misses. */
function model(steps: Step[]): { planned: Planned[]; table: number; misses: number; reopened: number } {
  const table = new Map<number, number>();
  let misses = 0;
  let reopened = 0;
  const planned = steps.map((s, i): Planned => {
    if (s.t > SWITCH_AT - 5 * ms && s.t < SWITCH_AT + 5 * ms) throw new Error('the script must leave the default switch alone');
    const fallback = s.t < SWITCH_AT ? 1 : 2;
    let expect = fallback;
    if (s.kind === 'syn') {
      if (s.reopen && table.has(s.conn) && table.get(s.conn) !== fallback) reopened++;
      if (!table.has(s.conn) || s.reopen) table.set(s.conn, fallback);
      expect = table.get(s.conn)!;
    } else if (s.kind === 'data' || s.kind === 'handover') {
      if (table.has(s.conn)) expect = table.get(s.conn)!;
      else misses++;
    } else if (s.kind === 'unknown') misses++;
    if (s.kind === 'handover') {
      if (s.to === NO_INSTANCE) table.delete(s.conn);
      else table.set(s.conn, s.to!);
    }
    return { ...s, frame: frameOf(s, i), expect };
  });
  return { planned, table: table.size, misses, reopened };
}

/** A transmitted frame turned back into the received one it answers (the stamp byte zeroed). */
function unreflect(tx: Uint8Array): Uint8Array {
  const o = tx.slice();
  o.set(tx.subarray(6, 12), 0);
  o.set(tx.subarray(0, 6), 6);
  o[5] = 0;
  if (o[12] === 0x08 && o[13] === 0x00) {
    o.set(tx.subarray(30, 34), 26);
    o.set(tx.subarray(26, 30), 30);
    const l4 = 14 + (o[14]! & 0xf) * 4;
    if (o[23] === 6 || o[23] === 17) {
      o.set(tx.subarray(l4 + 2, l4 + 4), l4);
      o.set(tx.subarray(l4, l4 + 2), l4 + 2);
    }
  }
  return o;
}

const keyOf = (rx: Uint8Array) => {
  const k = rx.slice();
  k[5] = 0;
  return hex(k);
};

describe('ethdrv image: steering frames to two stack instances through a rolling update', () => {
  const steps = script();
  const { planned, table, misses, reopened } = model(steps);
  const byKey = new Map(planned.map((p, i) => [keyOf(p.frame), i]));
  let staged: System;
  let done: RunResult;
  let nic: NicDevice;
  const accepted: boolean[] = [];
  const sent: { t: number; frame: Uint8Array }[] = [];
  let counters: Record<string, number> = {};
  const count = (instance: number) => planned.filter((p) => p.expect === instance).length;

  beforeAll(async () => {
    staged = await stage('ethdrv');
    nic = staged.machine.devices[0]!.device as NicDevice;
    const { kernel } = staged;
    nic.onTransmit = (frame) => sent.push({ t: kernel.machine.clock.now, frame });
    for (const p of planned) kernel.at(p.t, () => accepted.push(nic.receive(p.frame)));
    kernel.at(140 * ms, () => {
      counters = { rx: reg(nic, R.RX_COUNT), tx: reg(nic, R.TX_COUNT), dropped: reg(nic, R.RX_DROPPED) };
    });
    done = await staged.run();
  });
  afterAll(() => staged?.machine.dispose());

  it('the script is what it claims: 100 connections, both kinds of default traffic, before and after the switch', () => {
    expect(new Set(planned.filter((p) => p.kind === 'syn').map((p) => p.conn)).size).toBe(CONNECTIONS);
    expect(byKey.size).toBe(planned.length); // every frame distinct
    expect([table, misses]).toEqual([CONNECTIONS - 1, 4]); // conn 5 left the table; 2 strays + its 2 later segments
    expect([count(1), count(2), count(1) + count(2)]).toEqual([197, 170, planned.length]); // connection 10 moves to instance 2 when reopened
    expect(reopened).toBe(1);
  });

  it('the driver, both sinks and every call ran to their normal exits', () => {
    expect(done.deviations).toEqual([]);
    expect(done.outcome).toEqual({ exits: { driver: 0, sink1: 0, sink2: 0 }, faults: {} });
  });

  it('every frame came back exactly once -- none lost, none twice, none to both instances -- with valid checksums', () => {
    expect(accepted).toEqual(Array(planned.length).fill(true));
    expect(sent).toHaveLength(planned.length);
    const seen = new Array<number>(planned.length).fill(0);
    for (const { frame } of sent) {
      const i = byKey.get(keyOf(unreflect(frame)));
      expect(i, `an unknown frame came back: ${hex(frame).slice(0, 80)}`).toBeDefined();
      seen[i!] = (seen[i!] ?? 0) + 1;
      expect(() => parseFrame(frame)).not.toThrow();
    }
    expect(seen.filter((n) => n !== 1)).toEqual([]);
  });

  it('each frame was answered by the instance its connection belonged to at that moment', () => {
    const wrong: string[] = [];
    for (const { frame } of sent) {
      const p = planned[byKey.get(keyOf(unreflect(frame)))!]!;
      if (frame[STAMP] !== p.expect) wrong.push(`${p.kind} conn ${p.conn} at ${p.t / ms} ms: instance ${frame[STAMP]}, want ${p.expect}`);
    }
    expect(wrong).toEqual([]);
    // The cases that matter, named: old connections stay on 1, new ones go to 2, handed ones follow.
    const stamped = (kind: Kind, conn: number, after: number) =>
      sent.map((s) => ({ s, p: planned[byKey.get(keyOf(unreflect(s.frame)))!]! })).filter(({ p }) => p.kind === kind && p.conn === conn && p.t >= after).map(({ s }) => s.frame[STAMP]);
    expect(stamped('data', 40, 80 * ms)).toEqual([1, 1]);
    expect(stamped('data', 60, 80 * ms)).toEqual([2, 2]);
    expect(stamped('data', 2, 80 * ms)).toEqual([2, 2]);
    expect(stamped('handover', 2, 0)).toEqual([1]);
    expect(stamped('syn', 3, 0)).toEqual([1, 1, 2]);
  });

  it('the switch and the handovers happened where the script left room for them', () => {
    const claim = recordsOf(staged.kernel, 'sink2', 'default_claimed');
    expect(claim.map(({ status, was }) => ({ status, was }))).toEqual([{ status: 0, was: 1 }]);
    expect(recordsOf(staged.kernel, 'driver', 'default_changed').map(({ instance, was }) => ({ instance, was }))).toEqual([{ instance: 2, was: 1 }]);
    expect(claim[0]!.t).toBeGreaterThan(SWITCH_AT);
    expect(claim[0]!.t).toBeLessThan(SWITCH_AT + 5 * ms);
    const handovers = recordsOf(staged.kernel, 'sink1', 'handed');
    expect(handovers.map(({ t: _t, ...fields }) => fields)).toEqual([
      ...HANDED.map((c) => ({ remote_ip: remoteIp(c), remote_port: remotePort(c), local_port: 80, to: 2, status: 0, was: 1 })),
      { remote_ip: remoteIp(DROPPED), remote_port: remotePort(DROPPED), local_port: 80, to: NO_INSTANCE, status: 0, was: 1 },
    ]);
    expect(Math.max(...handovers.map((l) => l.t))).toBeLessThan(70 * ms);
  });

  it('the driver, the sinks and the NIC count the same frames', () => {
    const n = planned.length;
    const fields = (records: { t: number }[]) => records.map(({ t: _t, ...f }) => f);
    expect(fields(recordsOf(staged.kernel, 'driver', 'summary'))).toEqual([
      { in: n, out: n, dropped: 0, no_instance: 0, bad: 0, table, misses, table_full: 0, reopened, default_instance: 2 },
    ]);
    expect(fields(recordsOf(staged.kernel, 'driver', 'instance'))).toEqual([
      { id: 1, delivered: count(1), sent: count(1), dropped: 0 },
      { id: 2, delivered: count(2), sent: count(2), dropped: 0 },
    ]);
    for (const k of [1, 2]) {
      expect(fields(recordsOf(staged.kernel, `sink${k}`, 'totals'))).toEqual([{ received: count(k), sent: count(k), bad: 0, tx_full: 0 }]);
      // STATS, asked by each sink as it leaves, after the last frame went out.
      expect(fields(recordsOf(staged.kernel, `sink${k}`, 'driver_stats'))).toEqual([
        { status: 0, in: n, out: n, table, misses, default_instance: 2, version: 0x10100 },
      ]);
    }
    expect(counters).toEqual({ rx: n, tx: n, dropped: 0 });
    expect(sent.filter((s) => s.frame[STAMP] === 1)).toHaveLength(count(1));
  });
});

describe('eth_driver 1.2.0: the protocol, each call once to succeed and each refusal with its error', () => {
  const image = {
    label: 'tests/eth-driver.test.ts',
    image: {
      'hic-image': 1,
      name: 'ethdrv-probe',
      machine: { memory: '32MiB', devices: ['nic'] },
      sandboxes: [
        { name: 'driver', module: 'eth_driver', version: '1.2.0', quota: '1MiB', stack: '16KiB', config: { mode: 'until_detached', instances: 2 }, caps: { irqs: [16], mmio: ['nic'] } },
        { name: 'sink1', module: 'frame_sink', quota: '512KiB', stack: '16KiB', config: { instance: 1 } },
        // Instance 3, probing, 5 ms after boot (instance 1 is live by then).
        { name: 'prober', module: 'frame_sink', quota: '512KiB', stack: '16KiB', config: { instance: 3, probe: true, delay: '5ms' } },
      ],
      run: { until: '1s' },
      expect: { exits: { driver: 0, sink1: 0, prober: 0 } },
    },
  };
  let staged: System;
  let done: RunResult;
  let driverCaps = 0;

  beforeAll(async () => {
    staged = await stage(image);
    const { kernel } = staged;
    kernel.at(20 * ms, () => (driverCaps = [...kernel.sandbox('driver')!.cspace.all()].length));
    done = await staged.run();
  });
  afterAll(() => staged?.machine.dispose());

  it('boots 1.2.0 from the same source, under its own versioned names', () => {
    expect(done.deviations).toEqual([]);
    expect(done.outcome).toEqual({ exits: { driver: 0, sink1: 0, prober: 0 }, faults: {} });
    const loaded = staged.kernel.events.of('moduleLoaded').find((e) => e.sandbox === 'driver')!;
    expect([loaded.module, loaded.version]).toEqual(['eth_driver', '1.2.0']);
    const names = staged.kernel.events.of('endpointRegistered').filter((e) => e.sandbox === 'driver').map((e) => e.name);
    expect(names).toEqual(['cap://eth/v1.2.0/attach', 'cap://eth/v1.2.0/control']);
    expect(recordsOf(staged.kernel, 'prober', 'driver_stats').map(({ t: _t, ...f }) => f)).toEqual([
      { status: 0, in: 0, out: 0, table: 0, misses: 0, default_instance: 1, version: 0x10200 },
    ]);
  });

  it('every probe got exactly the answer it wanted', () => {
    const probes = consoleOf(staged.kernel, 'prober').map((l) => l.text).filter((t) => t.includes(': probe '));
    expect(probes).toHaveLength(27);
    expect(probes.filter((t) => t.endsWith('MISMATCH'))).toEqual([]);
    expect(probes[0]).toBe('frame_sink 3: probe ATTACH as instance 8: status 2 (want 2)');
  });

  it('refused calls left the driver no capability: it holds its own 8 and two per live instance', () => {
    expect(driverCaps).toBe(8 + 2 * 2);
  });
});
