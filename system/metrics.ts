// A live machine's metrics in the Prometheus text format (prom-client), served at /metrics by
// `hic boot --metrics HOST:PORT` and returned as JSON by the control socket's `metrics` command.
// Every value is read at scrape time from what the host can see between slices: the kernel's
// sandboxes (instructions, syscalls, faults, frames, CPU share), the registry's aliases, the NIC
// (frames, drops, RX ring), the TAP bridge, the traffic generator and the pacer (lag).
//
// Per service instance: what Core-0 knows of it (module, version, the endpoint each alias names).
// Its own stats counters (the netstack's NS_STATS) are not read: a host sandbox's calls never
// block (core0/host-client.ts), and the netstack answers its stats endpoint only from its own
// loop with a non-blocking receive, so a reply can only reach a caller that waits — a guest.
// Reading them needs a guest agent that reports out (the Monitor's issue).

import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { LiveMachine, LiveStatus } from './live.ts';

export class MachineMetrics {
  readonly registry = new Registry();
  /** The machine's status, read once per scrape (every collector reads this one). */
  private snapshot: LiveStatus | undefined;

  constructor(private readonly live: LiveMachine) {
    const r = this.registry;
    const s = () => (this.snapshot ??= live.status());
    const gauge = (name: string, help: string, labelNames: readonly string[], collect: (g: Gauge) => void) =>
      new Gauge({ name, help, labelNames, registers: [r], collect() { this.reset(); collect(this); } });
    const counter = (name: string, help: string, labelNames: readonly string[], collect: (c: Counter) => void) =>
      new Counter({ name, help, labelNames, registers: [r], collect() { this.reset(); collect(this); } });

    gauge('hic_virtual_time_seconds', 'Virtual time inside the machine.', [], (g) => g.set(s().virtualNs / 1e9));
    gauge('hic_wall_time_seconds', 'Wall time since the run began.', [], (g) => g.set(s().wallMs / 1e3));
    gauge('hic_realtime_lag_seconds', 'Real time: wall minus virtual time at the last slice boundary (0 without --realtime).', [], (g) => g.set(s().lagNs / 1e9));
    gauge('hic_realtime_lag_max_seconds', 'Real time: the largest lag so far.', [], (g) => g.set(s().maxLagNs / 1e9));
    gauge('hic_stopped', '1 while the machine is stopped by a control command.', [], (g) => g.set(live.phase === 'stopped' ? 1 : 0));
    counter('hic_inputs_total', 'Outside inputs admitted into the machine (TAP frames, control commands).', [], (c) => c.inc(s().inputs));

    const perSandbox = ['sandbox', 'module', 'version'] as const;
    const labels = (x: { name: string; module?: string; version?: string }) => ({ sandbox: x.name, module: x.module ?? '', version: x.version ?? '' });
    counter('hic_sandbox_instructions_total', 'Guest instructions executed, per sandbox.', perSandbox, (c) => {
      for (const x of live.sandboxes()) c.inc(labels(x), x.instructions);
    });
    counter('hic_sandbox_syscalls_total', 'Syscalls made, per sandbox.', perSandbox, (c) => {
      for (const x of live.sandboxes()) c.inc(labels(x), x.syscalls);
    });
    counter('hic_sandbox_faults_total', 'Faults, per sandbox (a fault ends the sandbox; it is listed while live).', perSandbox, (c) => {
      for (const x of live.sandboxes()) c.inc(labels(x), x.faults);
    });
    gauge('hic_sandbox_frames', 'Physical 4 KiB frames held, per sandbox (page tables included).', perSandbox, (g) => {
      for (const x of live.sandboxes()) g.set(labels(x), x.frames);
    });
    gauge('hic_sandbox_cpu_share', "Share of all guest instructions executed so far that ran in this sandbox (0..1).", perSandbox, (g) => {
      const all = live.sandboxes();
      const total = all.reduce((n, x) => n + x.instructions, 0);
      for (const x of all) g.set(labels(x), total > 0 ? x.instructions / total : 0);
    });
    gauge('hic_service_instance_info', 'A service instance: the module and version a sandbox runs (value 1).', perSandbox, (g) => {
      for (const x of live.sandboxes()) if (x.module) g.set(labels(x), 1);
    });
    gauge('hic_registry_alias_target', 'The versioned endpoint each registry alias names now (value 1).', ['alias', 'target'], (g) => {
      for (const a of live.aliases()) g.set(a, 1);
    });

    counter('hic_nic_frames_total', 'Frames through the NIC: rx into its ring, tx from the guest.', ['direction'], (c) => {
      const nic = s().nic;
      if (nic) c.inc({ direction: 'rx' }, nic.rx), c.inc({ direction: 'tx' }, nic.tx);
    });
    counter('hic_nic_rx_dropped_total', 'Frames the NIC dropped (RX ring full or off).', [], (c) => {
      const nic = s().nic;
      if (nic) c.inc(nic.rxDropped);
    });
    gauge('hic_nic_rx_ring_descriptors', 'The NIC RX ring: its size, the descriptors free for frames, and those held by the driver.', ['state'], (g) => {
      const nic = s().nic;
      if (!nic) return;
      g.set({ state: 'size' }, nic.rxRingSize);
      g.set({ state: 'free' }, nic.rxRingFree);
      g.set({ state: 'occupied' }, nic.rxRingSize > 0 ? nic.rxRingSize - 1 - nic.rxRingFree : 0);
    });
    counter('hic_tap_frames_total', 'Frames across the TAP bridge.', ['direction'], (c) => {
      const tap = s().tap;
      if (tap) c.inc({ direction: 'to_guest' }, tap.toGuest), c.inc({ direction: 'to_linux' }, tap.toLinux);
    });
    counter('hic_tap_refused_total', 'Frames from Linux the NIC refused.', [], (c) => {
      const tap = s().tap;
      if (tap) c.inc(tap.refused);
    });
    gauge('hic_traffic_connections', "The traffic generator's connections, by state.", ['state'], (g) => {
      const t = s().traffic;
      if (t) g.set({ state: 'opened' }, t.connections), g.set({ state: 'closed' }, t.closed), g.set({ state: 'failed' }, t.failed);
    });
    counter('hic_traffic_bytes_total', 'Bytes the traffic generator has had checked.', [], (c) => {
      const t = s().traffic;
      if (t) c.inc(t.bytes);
    });
  }

  /** The exposition text. */
  async text(): Promise<string> {
    this.snapshot = undefined;
    return this.registry.metrics();
  }

  /** The same, as prom-client's JSON (the control socket's `metrics`). */
  async json(): Promise<{ name: string; help: string; type: string; values: { labels: Record<string, string | number>; value: number }[] }[]> {
    this.snapshot = undefined;
    const all = (await this.registry.getMetricsAsJSON()) as MetricObjectWithValues<MetricValue<string>>[];
    return all.map((m) => ({ name: m.name, help: m.help, type: String(m.type), values: m.values.map((v) => ({ labels: { ...v.labels } as Record<string, string | number>, value: v.value })) }));
  }

  /** Serves GET /metrics on host:port; resolves with the address it listens on. */
  serve(host: string, port: number): Promise<{ server: Server; url: string }> {
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /metrics\n');
        return;
      }
      this.text().then(
        (body) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(body),
        (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(e)}\n`),
      );
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        const a = server.address();
        const at = typeof a === 'object' && a ? a : { address: host, port };
        const h = at.address.includes(':') ? `[${at.address}]` : at.address;
        resolve({ server, url: `http://${h}:${at.port}/metrics` });
      });
    });
  }
}
