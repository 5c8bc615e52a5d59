// Real Linux programs against the guest network stack, through the TAP bridge: images/netstack.himg
// booted by `hic boot --realtime --tap` (no traffic generator), its TAP in a network namespace of
// this test's own. ping, curl (one page byte-exact, then 50 at once), a 10 MB echo through the
// netstack's echo service (port 5432) checked by SHA-256, dig against dns_resolver; the peer
// kernel's TCP counters show no reset and no retransmission storm, and the capture written with
// --pcap holds the frames that crossed the bridge. Timings are never asserted: every wait is
// for an event, with generous limits.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { cannotBridge, exec, expectedBody, GUEST, HIC, LiveNet } from './support/live-net.ts';

/** Every wait here is for an event; this only bounds a machine that is stuck (real time, on a shared host). */
const LIMIT = 600_000;
const why = cannotBridge();
if (why && process.env.CI) throw new Error(`the TAP bridge tests must run in CI, but: ${why}`);

const ECHO_CLIENT = new URL('./support/echo-client.mjs', import.meta.url).pathname;
const net = new LiveNet(`hic-tb-${process.pid}`, `hictb${process.pid % 100000}`);

describe.skipIf(why !== undefined)(`the TAP bridge, with Linux on the other side${why ? ` (skipped: ${why})` : ''}`, () => {
  beforeAll(async () => {
    await net.up();
    await net.start('images/netstack.himg', ['--no-traffic', '-q'], /netstack 1\.2\.0: instance 1 live/);
  }, LIMIT);

  afterAll(async () => {
    await net.close();
  }, LIMIT);

  it('without CAP_NET_ADMIN, --tap and `hic net peer up` say so in one line, exit 2, and leave nothing behind', async () => {
    const unprivileged = ['--bounding-set=-net_admin', '--inh-caps=-net_admin', process.execPath, ...HIC];
    const boot = await exec('setpriv', [...unprivileged, 'boot', 'images/netstack.himg', '--realtime', '--tap', 'hicnoperm', '--data-dir', net.dir]);
    expect(boot.stderr).toMatch(/^hic: TAP hicnoperm: TUNSETIFF: Operation not permitted — creating or attaching a TAP device needs root or CAP_NET_ADMIN .*\[TAP_NO_PERMISSION\]\n$/);
    expect(boot.status).toBe(2);
    expect(boot.stdout).toBe('');
    const up = await exec('setpriv', [...unprivileged, 'net', 'peer', 'up', '--netns', 'hic-noperm', '--tap', 'hicnoperm']);
    expect(up.stderr).toMatch(/needs root or CAP_NET_ADMIN .*\[TAP_NO_PERMISSION\]\n$/);
    expect(up.status).toBe(2);
    expect(existsSync('/run/netns/hic-noperm')).toBe(false);
    expect(existsSync('/sys/class/net/hicnoperm')).toBe(false);
  }, LIMIT);

  it('`hic net peer up` refuses a namespace that exists, and bad names, in one line', async () => {
    const again = await exec(process.execPath, [...HIC, 'net', 'peer', 'up', '--netns', net.netns, '--tap', 'hicother']);
    expect(again.stderr).toMatch(/^hic: network namespace hic-tb-\d+ already exists; `hic net peer down` removes it \[NET_EXISTS\]\n$/);
    expect(again.status).toBe(2);
    const badTap = await exec(process.execPath, [...HIC, 'net', 'peer', 'up', '--netns', 'hic-bad', '--tap', 'a-name-far-too-long']);
    expect(badTap.stderr).toMatch(/is not a network interface name .*\[TAP_BAD_NAME\]\n$/);
    const badPeer = await exec(process.execPath, [...HIC, 'net', 'peer', 'up', '--netns', 'hic-bad', '--peer', '10.0.0.300']);
    expect(badPeer.stderr).toMatch(/^hic: --peer: "10\.0\.0\.300" is not an IPv4 address \[NET_BAD_ARGUMENT\]\n$/);
    expect(existsSync('/run/netns/hic-bad')).toBe(false);
  }, LIMIT);

  it('ping -c 5 gets 5 replies', async () => {
    const r = await net.run(['ping', '-n', '-c', '5', '-i', '0.2', '-W', '10', GUEST]);
    expect(r.stdout).toMatch(/5 packets transmitted, 5 received, 0% packet loss/);
    expect(r.status).toBe(0);
  }, LIMIT);

  it("curl gets web_server's page, byte-exact", async () => {
    for (const path of ['/', '/bulk/200000']) {
      const r = await net.run(['curl', '-sS', '--fail', '--max-time', '120', `http://${GUEST}${path}`]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.bytes.equals(expectedBody(path)), `the body of ${path}`).toBe(true);
    }
  }, LIMIT);

  it('50 parallel curls all succeed, each byte-exact', async () => {
    const paths = Array.from({ length: 50 }, (_, i) => `/item/${i}/parallel`);
    const results = await Promise.all(paths.map((p) => net.run(['curl', '-sS', '--fail', '--max-time', '240', `http://${GUEST}${p}`])));
    const failed = results.flatMap((r, i) => (r.status === 0 && r.bytes.equals(expectedBody(paths[i]!)) ? [] : [`${paths[i]}: exit ${r.status} ${r.stderr.trim()}`]));
    expect(failed).toEqual([]);
  }, LIMIT);

  it('10 MB through the echo service come back with the same SHA-256', async () => {
    const r = await net.run(['node', ECHO_CLIENT, GUEST, '5432', 'bulk', String(10_000_000)], { timeoutMs: 400_000 });
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!) as { sent: number; received: number; sha256Sent: string; sha256Received: string; exact: boolean; error: string | null };
    expect(report).toMatchObject({ sent: 10_000_000, received: 10_000_000, exact: true, error: null });
    expect(report.sha256Received).toBe(report.sha256Sent);
  }, LIMIT);

  it('dig gets the DNS answers of dns_resolver', async () => {
    const ask = (name: string) => net.run(['dig', '+time=10', '+tries=3', `@${GUEST}`, name, 'A']);
    const www = await ask('www.hic.test');
    expect(www.stdout).toMatch(/status: NOERROR/);
    expect(www.stdout).toMatch(/^www\.hic\.test\.\s+\d+\s+IN\s+A\s+10\.0\.0\.2$/m);
    expect((await ask('svc-3.hic.test')).stdout).toMatch(/^svc-3\.hic\.test\.\s+\d+\s+IN\s+A\s+10\.0\.2\.4$/m);
    expect((await ask('nowhere.hic.test')).stdout).toMatch(/status: NXDOMAIN/);
  }, LIMIT);

  it("the peer's TCP counters: no reset, no retransmission storm; no connection left behind", async () => {
    const c = await net.tcpCounters();
    expect(c.TcpOutSegs).toBeGreaterThan(7000); // the 10 MB went through here
    expect({ TcpEstabResets: c.TcpEstabResets, TcpOutRsts: c.TcpOutRsts, TcpAttemptFails: c.TcpAttemptFails, TcpExtTCPAbortOnData: c.TcpExtTCPAbortOnData, TcpExtTCPAbortOnTimeout: c.TcpExtTCPAbortOnTimeout }).toEqual({
      TcpEstabResets: 0, TcpOutRsts: 0, TcpAttemptFails: 0, TcpExtTCPAbortOnData: 0, TcpExtTCPAbortOnTimeout: 0,
    });
    // A storm is retransmitting a good part of what is sent; a stray segment on a loaded machine is not.
    expect(c.TcpRetransSegs).toBeLessThan(c.TcpOutSegs! / 100 + 10);
    const ss = await net.run(['ss', '-tnH', 'state', 'established']);
    expect(ss.stdout.trim()).toBe('');
  }, LIMIT);

  it('the capture holds what crossed the bridge, and the run ends as the image expects', async () => {
    expect(await net.quit()).toBe(0);
    expect(net.log).toMatch(/outcome: as expected/);
    expect(net.log).toMatch(/tap hictb\d+: \d+ frames to the guest, \d+ to Linux, 0 refused by the NIC/);
    // One pass over the capture: each frame's ICMP type, addresses, whether it is DNS, and whether tshark found it malformed.
    const r = await exec('tshark', ['-r', net.pcap, '-T', 'fields', '-E', 'separator=,', '-e', 'icmp.type', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'dns.id', '-e', '_ws.malformed']);
    expect(r.status).toBe(0);
    const frames = r.stdout.trim().split('\n').map((l) => l.split(','));
    expect(frames.filter(([type, src]) => type === '8' && src === '10.0.0.1')).toHaveLength(5);
    expect(frames.filter(([type, , dst]) => type === '0' && dst === '10.0.0.1')).toHaveLength(5);
    expect(frames.filter(([, src, , dns]) => src === GUEST && dns !== '').length).toBeGreaterThanOrEqual(3);
    expect(frames.filter((f) => f[4] !== '')).toEqual([]);
  }, LIMIT);
});
