// `hic net peer up|down`: the Linux side of a TAP bridge. `up` creates a network namespace
// (default hic-peer) holding the TAP device `hic boot --tap` attaches to, with the peer's address
// (10.0.0.1/32), IPv6 off (no neighbour discovery chatter on the wire) and one route: to the
// guest's address (10.0.0.2/32) over the TAP. Nothing else is routed there, and the namespace has
// no other interface but its loopback, so real programs run in it reach the guest and nothing
// else: `ip netns exec hic-peer curl http://10.0.0.2/`. `down` deletes the namespace and the TAP
// with it. Both need root or CAP_NET_ADMIN, and iproute2's `ip`.

import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { checkInterfaceName, TapDevice } from '../system/tap.ts';
import { runCommand } from './errors.ts';

export const DEFAULT_NETNS = 'hic-peer';
export const DEFAULT_TAP = 'hic0';
/** The guest's address in images/netstack.himg and images/migration.himg (netstack.c, IP_ADDR). */
export const GUEST_ADDRESS = '10.0.0.2';
/** On the guest's 10.0.0.0/16, away from the traffic generator's clients (10.0.1.x). */
export const PEER_ADDRESS = '10.0.0.1';

export class NetError extends Error {
  constructor(readonly code: 'NET_NO_PERMISSION' | 'NET_NO_IP' | 'NET_EXISTS' | 'NET_BAD_ARGUMENT' | 'NET_FAILED', message: string) {
    super(message);
  }
}

interface PeerOptions {
  netns: string;
  tap: string;
  peer: string;
  guest: string;
}

/** Runs `ip …`; its stdout, or a NetError with the line ip printed. */
function ip(...args: string[]): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.error) throw new NetError('NET_NO_IP', `cannot run ip (${(r.error as NodeJS.ErrnoException).code}): install iproute2 (apt-get install iproute2)`);
  if (r.status !== 0) {
    const said = (r.stderr || r.stdout).trim().split('\n')[0] ?? '';
    if (/not permitted|permission denied/i.test(said)) throw new NetError('NET_NO_PERMISSION', `ip ${args.join(' ')}: ${said} — this needs root or CAP_NET_ADMIN`);
    throw new NetError('NET_FAILED', `ip ${args.join(' ')}: ${said}`);
  }
  return r.stdout;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

function checkOptions(o: PeerOptions): void {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(o.netns) || o.netns.startsWith('.')) throw new NetError('NET_BAD_ARGUMENT', `--netns: "${o.netns}" is not a namespace name (letters, digits, _ . -)`);
  checkInterfaceName(o.tap);
  for (const [flag, a] of [['--peer', o.peer], ['--guest', o.guest]] as const) {
    if (!IPV4.test(a)) throw new NetError('NET_BAD_ARGUMENT', `${flag}: "${a}" is not an IPv4 address`);
  }
  if (o.peer === o.guest) throw new NetError('NET_BAD_ARGUMENT', '--peer and --guest must differ');
}

/** 02:00 and the address's four bytes: the traffic generator's scheme, so captures read alike. */
const macOf = (address: string) => ['02', '00', ...address.split('.').map((b) => Number(b).toString(16).padStart(2, '0'))].join(':');

export function peerUp(o: PeerOptions): void {
  checkOptions(o);
  if (existsSync(`/run/netns/${o.netns}`)) throw new NetError('NET_EXISTS', `network namespace ${o.netns} already exists; \`hic net peer down\` removes it`);
  ip('netns', 'add', o.netns);
  try {
    // A TAP a running `hic boot --tap` made here already is moved in as it is; otherwise one is
    // made, persistent so that it outlives this command, for `hic boot --tap` to attach to.
    if (!existsSync(`/sys/class/net/${o.tap}`)) TapDevice.open(o.tap, { persist: true }).close();
    ip('link', 'set', o.tap, 'netns', o.netns);
    ip('netns', 'exec', o.netns, 'sysctl', '-q', '-w', `net.ipv6.conf.${o.tap}.disable_ipv6=1`);
    ip('-n', o.netns, 'link', 'set', o.tap, 'address', macOf(o.peer));
    ip('-n', o.netns, 'addr', 'add', `${o.peer}/32`, 'dev', o.tap);
    ip('-n', o.netns, 'link', 'set', 'lo', 'up');
    ip('-n', o.netns, 'link', 'set', o.tap, 'up');
    ip('-n', o.netns, 'route', 'add', `${o.guest}/32`, 'dev', o.tap, 'src', o.peer);
  } catch (e) {
    spawnSync('ip', ['netns', 'del', o.netns]); // takes the TAP with it
    throw e;
  }
}

/** Deletes the namespace (and the TAP in it); false when there was none. */
export function peerDown(netns: string): boolean {
  if (!existsSync(`/run/netns/${netns}`)) return false;
  ip('netns', 'del', netns);
  return true;
}

export function registerNetCommands(net: Command): void {
  const peer = net.command('peer').description(`a network namespace with the TAP device, ${PEER_ADDRESS}, and a route to the guest (${GUEST_ADDRESS}) only`);
  peer
    .command('up')
    .description('create the namespace and its TAP device; then: hic boot IMAGE --realtime --tap hic0, and ip netns exec hic-peer curl http://10.0.0.2/')
    .option('--netns <name>', 'the namespace', DEFAULT_NETNS)
    .option('--tap <name>', 'the TAP device in it', DEFAULT_TAP)
    .option('--peer <address>', "the namespace's own address", PEER_ADDRESS)
    .option('--guest <address>', "the guest's address: the one destination routed over the TAP", GUEST_ADDRESS)
    .action((o: PeerOptions) =>
      runCommand(() => {
        peerUp(o);
        process.stdout.write(`namespace ${o.netns}: ${o.tap} ${o.peer}/32, route to ${o.guest}; attach with: hic boot IMAGE --realtime --tap ${o.tap}${o.netns === DEFAULT_NETNS ? '' : ` --netns ${o.netns}`}\n`);
      }),
    );
  peer
    .command('down')
    .description('delete the namespace and the TAP device in it')
    .option('--netns <name>', 'the namespace', DEFAULT_NETNS)
    .action((o: { netns: string }) =>
      runCommand(() => {
        process.stdout.write(peerDown(o.netns) ? `namespace ${o.netns} deleted\n` : `no namespace ${o.netns}: nothing to do\n`);
      }),
    );
}
