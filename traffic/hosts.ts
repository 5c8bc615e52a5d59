// The emulated remote hosts behind the wire: consecutive IPv4 addresses (10.0.1.1, 10.0.1.2, ...)
// each with its own MAC (02:00 followed by the address bytes, so captures read easily). Each host
// resolves the server's MAC by ARP before its first packet, retrying on the RTO, and answers the
// server's ARP requests for its address — a stack under test that asks before replying is served.

import type { ArpPacket } from '../emulator/net/arp.ts';
import { macEquals, type Mac } from '../emulator/net/ethernet.ts';
import { arpFrame } from '../emulator/net/frames.ts';
import { badConfig } from './errors.ts';
import { Timer, type TimerQueue } from './timers.ts';

export interface ClientHost {
  readonly index: number;
  readonly ip: number;
  readonly mac: Mac;
  /** Learned by ARP; undefined until then. */
  serverMac: Mac | undefined;
  /** The next ephemeral port this host gives a connection or a DNS query. */
  nextPort: number;
}

export interface ArpCounters {
  requestsSent: number;
  repliesSent: number;
  /** Hosts that never got an answer about the server. */
  unresolved: number;
  /** Replies naming another MAC than the one configured for the server. */
  wrongServerMac: number;
}

const FIRST_EPHEMERAL_PORT = 49152;

export function hostMac(ip: number): Mac {
  return Uint8Array.of(0x02, 0x00, ip >>> 24, (ip >>> 16) & 0xff, (ip >>> 8) & 0xff, ip & 0xff);
}

interface Resolution {
  readonly timer: Timer;
  tries: number;
  readonly waiters: { ok(now: number): void; fail(now: number): void }[];
}

export class ClientHosts {
  readonly list: ClientHost[];
  readonly counters: ArpCounters = { requestsSent: 0, repliesSent: 0, unresolved: 0, wrongServerMac: 0 };
  private readonly byIp = new Map<number, ClientHost>();
  private readonly pending = new Map<ClientHost, Resolution>();

  constructor(
    firstIp: number,
    count: number,
    private readonly serverIp: number,
    private readonly expectedServerMac: Mac | undefined,
    private readonly timers: TimerQueue,
    private readonly send: (frame: Uint8Array) => void,
    private readonly retry: { readonly rtoNs: number; readonly maxRetries: number },
  ) {
    if (!Number.isInteger(count) || count < 1 || firstIp + count - 1 > 0xffffffff) badConfig(`${count} client hosts from address ${firstIp}`);
    this.list = Array.from({ length: count }, (_, index) => {
      const ip = firstIp + index;
      return { index, ip, mac: hostMac(ip), serverMac: undefined, nextPort: FIRST_EPHEMERAL_PORT };
    });
    for (const h of this.list) this.byIp.set(h.ip, h);
  }

  host(ip: number): ClientHost | undefined {
    return this.byIp.get(ip);
  }

  /** Calls ok once `host` knows the server's MAC (at once if it does), or fail if ARP gives up. */
  whenResolved(host: ClientHost, now: number, ok: (now: number) => void, fail: (now: number) => void): void {
    if (host.serverMac) {
      ok(now);
      return;
    }
    let r = this.pending.get(host);
    if (r === undefined) {
      r = { timer: new Timer(this.timers, (t) => this.ask(host, t)), tries: 0, waiters: [] };
      this.pending.set(host, r);
      this.ask(host, now);
    }
    r.waiters.push({ ok, fail });
  }

  /** An ARP packet from the wire. */
  arrived(p: ArpPacket, now: number): void {
    const ours = this.byIp.get(p.targetIp);
    if (ours === undefined) return;
    if (p.op === 'request') {
      this.send(arpFrame({ op: 'reply', srcMac: ours.mac, srcIp: ours.ip, targetMac: p.senderMac, targetIp: p.senderIp }));
      this.counters.repliesSent++;
      return;
    }
    if (p.senderIp !== this.serverIp || ours.serverMac) return;
    if (this.expectedServerMac && !macEquals(p.senderMac, this.expectedServerMac)) this.counters.wrongServerMac++;
    ours.serverMac = p.senderMac.slice();
    const r = this.pending.get(ours);
    if (r === undefined) return;
    this.pending.delete(ours);
    r.timer.clear();
    for (const w of r.waiters) w.ok(now);
  }

  private ask(host: ClientHost, now: number): void {
    const r = this.pending.get(host)!;
    if (r.tries++ > this.retry.maxRetries) {
      this.pending.delete(host);
      this.counters.unresolved++;
      for (const w of r.waiters) w.fail(now);
      return;
    }
    this.send(arpFrame({ op: 'request', srcMac: host.mac, srcIp: host.ip, targetIp: this.serverIp }));
    this.counters.requestsSent++;
    r.timer.set(now + this.retry.rtoNs);
  }
}
