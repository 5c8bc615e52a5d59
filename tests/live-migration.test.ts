// The reason for the live machine: a Linux TCP connection streaming through the TAP bridge while
// images/migration.himg's rolling update moves it from netstack 1.2.0 to 1.3.0. The image is
// booted in real time without its traffic generator, migctl starting at 5 s of virtual time
// (migctl's arg, bits 16+: the start in ms); the Linux client (the peer kernel's TCP) sends a
// pattern every 20 ms to the echo service and checks every byte that comes back. The update must
// move that connection (migctl: "migrated 1 … ok"), the stream must go on after it, byte-exact,
// with no reset on either side, and the image's outcome (migctl exits 0) must hold.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from './support/boot.ts';
import { cannotBridge, GUEST, LiveNet } from './support/live-net.ts';

/** Every wait here is for an event; this only bounds a machine that is stuck (real time, on a shared host). */
const LIMIT = 600_000;
const why = cannotBridge();
if (why && process.env.CI) throw new Error(`the live migration test must run in CI, but: ${why}`);

const START_MS = 5000;
const ECHO_CLIENT = new URL('./support/echo-client.mjs', import.meta.url).pathname;
const net = new LiveNet(`hic-lm-${process.pid}`, `hiclm${process.pid % 100000}`);

/** images/migration.himg with migctl starting at START_MS (mode update: migrate everything). */
function manifest(): string {
  const image = JSON.parse(readFileSync(join(REPO, 'images', 'migration.himg'), 'utf8')) as { name: string; sandboxes: { name: string; config?: Record<string, unknown> }[] };
  const migctl = image.sandboxes.find((s) => s.name === 'migctl')!;
  migctl.config = { ...migctl.config, mode: 'update', start: `${START_MS}ms` };
  image.name = 'live-migration';
  const file = join(net.dir, 'live-migration.himg');
  writeFileSync(file, JSON.stringify(image));
  return file;
}

describe.skipIf(why !== undefined)(`a rolling update under a live Linux TCP stream${why ? ` (skipped: ${why})` : ''}`, () => {
  beforeAll(async () => {
    await net.up();
    await net.start(manifest(), ['--no-traffic', '-q'], /netstack 1\.3\.0: instance 2 live/);
  }, LIMIT);

  afterAll(async () => {
    await net.close();
  }, LIMIT);

  it('moves the connection to netstack 1.3.0; the stream goes on byte-exact, with no reset', async () => {
    const client = net.spawn(['node', ECHO_CLIENT, GUEST, '5432', 'stream', '512', '20']);
    let out = '';
    client.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    client.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number>((resolve) => client.on('exit', (code) => resolve(code ?? 1)));
    const echoed = () => Number([...out.matchAll(/^echoed (\d+)$/gm)].pop()?.[1] ?? 0);
    const until = async (ok: () => boolean, what: string) => {
      while (!ok()) {
        if (client.exitCode !== null) throw new Error(`the client ended before ${what}:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      await until(() => echoed() > 0, 'its first echo');
      // Virtual time never runs ahead of the wall clock, so this holds unless set-up took > 5 s.
      const status = JSON.parse((await net.ctl('status', '--json')).stdout) as { virtualNs: number };
      expect(status.virtualNs, 'the stream must be up before the update starts').toBeLessThan(START_MS * 1e6);

      const result = (await net.waitFor(/migctl: RESULT .*/))[0];
      expect(result).toMatch(/^migctl: RESULT migrated 1 \(0 closed first\), failed 0, .* checks ok$/);
      const atSwitch = echoed();
      await net.waitFor(/migctl exited with status 0/);
      await until(() => echoed() >= atSwitch + 50 * 512, '50 more echoes after the update');
      client.stdin!.end('stop\n');
      expect(await exited).toBe(0);
    } finally {
      if (client.exitCode === null) client.kill();
    }
    const report = JSON.parse(out.trim().split('\n').pop()!) as { sent: number; received: number; exact: boolean; error: string | null; sha256Sent: string; sha256Received: string };
    expect(report).toMatchObject({ exact: true, error: null });
    expect(report.received).toBe(report.sent);
    expect(report.sha256Received).toBe(report.sha256Sent);

    const c = await net.tcpCounters();
    expect({ TcpEstabResets: c.TcpEstabResets, TcpOutRsts: c.TcpOutRsts, TcpExtTCPAbortOnData: c.TcpExtTCPAbortOnData, TcpExtTCPAbortOnTimeout: c.TcpExtTCPAbortOnTimeout }).toEqual({
      TcpEstabResets: 0, TcpOutRsts: 0, TcpExtTCPAbortOnData: 0, TcpExtTCPAbortOnTimeout: 0,
    });
    expect(c.TcpRetransSegs).toBeLessThan(c.TcpOutSegs! / 100 + 10);
  }, LIMIT);

  it('the update went through the registry: cap://netstack/stats names 1.3.0, and the run ends as the image expects', async () => {
    const metrics = JSON.parse((await net.ctl('metrics', '--json')).stdout) as { name: string; values: { labels: Record<string, string> }[] }[];
    const aliases = metrics.find((m) => m.name === 'hic_registry_alias_target')!.values.map((v) => v.labels);
    expect(aliases).toContainEqual({ alias: 'cap://netstack/stats', target: 'cap://netstack/v1.3.0/stats' });
    expect(await net.quit()).toBe(0);
    expect(net.log).toMatch(/outcome: as expected/);
  }, LIMIT);
});
