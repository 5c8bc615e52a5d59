// Set-up for the tests that put real Linux programs on the other side of the TAP bridge: a
// network namespace of the test's own (`hic net peer up` with a unique name), a live `hic boot`
// in real time bridged to its TAP, programs run inside the namespace, and a clean-up that removes
// the namespace (and so the TAP) even when a test fails or the process dies. Every program here
// talks only to the guest's address, inside the namespace this file created.
//
// They need root (or CAP_NET_ADMIN) and /dev/net/tun. CI has both and runs them; elsewhere they
// are skipped with the reason — but never under CI, where a missing privilege is a failure.

import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './boot.ts';

export const GUEST = '10.0.0.2';
export const HIC = [join(REPO, 'bin', 'hic.mjs')];

/** Why these tests cannot run here, or undefined when they can. */
export function cannotBridge(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (or CAP_NET_ADMIN) to create a TAP device and a network namespace';
  if (!existsSync('/dev/net/tun')) return 'needs /dev/net/tun';
  return undefined;
}

/** Runs a program; never rejects: the exit status and the output, stdout as bytes too. */
export function exec(file: string, args: readonly string[], options: { timeoutMs?: number } = {}): Promise<{ status: number; stdout: string; bytes: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, timeout: options.timeoutMs ?? 300_000 }, (error, stdout, stderr) => {
      const status = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ status, stdout: stdout.toString('utf8'), bytes: stdout, stderr: stderr.toString('utf8') });
    });
  });
}

export class LiveNet {
  readonly dir = mkdtempSync(join(tmpdir(), 'hic-live-'));
  readonly socket = join(this.dir, 'hic.sock');
  readonly pcap = join(this.dir, 'bridge.pcap');
  private boot: ChildProcess | undefined;
  private output = '';
  private exit: Promise<number> | undefined;
  private readonly onExit = () => this.removeNamespace();

  constructor(readonly netns: string, readonly tap: string) {
    process.once('exit', this.onExit);
  }

  /** hic net peer up, in this test's own namespace. */
  async up(): Promise<void> {
    this.removeNamespace(); // a leftover of an earlier run that died
    const r = await exec(process.execPath, [...HIC, 'net', 'peer', 'up', '--netns', this.netns, '--tap', this.tap]);
    if (r.status !== 0) throw new Error(`hic net peer up failed: ${r.stderr}`);
  }

  /** hic boot IMAGE --realtime --tap … --control …, resolved once `ready` appears in its output. */
  async start(image: string, extra: readonly string[], ready: RegExp): Promise<void> {
    const args = [...HIC, 'boot', image, '--realtime', '--until', 'never', '--tap', this.tap, '--netns', this.netns, '--control', this.socket, '--pcap', this.pcap, ...extra];
    const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    this.boot = child;
    this.exit = new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.output += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.output += d));
    await this.waitFor(ready);
  }

  /** Waits until the boot's output (stdout and stderr) matches. */
  async waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
    for (;;) {
      const m = this.output.match(pattern);
      if (m) return m;
      if (this.boot?.exitCode !== null) throw new Error(`hic boot ended (${this.boot?.exitCode}) before ${pattern}:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  get log(): string {
    return this.output;
  }

  /** A program run inside the namespace. */
  run(args: readonly string[], options: { timeoutMs?: number } = {}) {
    return exec('ip', ['netns', 'exec', this.netns, ...args], options);
  }

  /** A program started inside the namespace, left running. */
  spawn(args: readonly string[]): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.netns, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  }

  ctl(...args: string[]) {
    return exec(process.execPath, [...HIC, 'ctl', this.socket, ...args]);
  }

  /** The peer's kernel TCP counters (nstat, absolute: the namespace is new). */
  async tcpCounters(): Promise<Record<string, number>> {
    const r = await this.run(['nstat', '-a', '-z', '-j']);
    const all = JSON.parse(r.stdout) as { kernel: Record<string, number> };
    return all.kernel;
  }

  /** Quits the machine (control socket), then waits for hic boot to exit; its exit code. */
  async quit(): Promise<number> {
    if (!this.boot || this.boot.exitCode !== null) return this.boot?.exitCode ?? 0;
    await this.ctl('quit');
    return this.exit!;
  }

  /** Ends everything this object started, whatever state it is in. */
  async close(): Promise<void> {
    if (this.boot && this.boot.exitCode === null) {
      this.boot.kill('SIGKILL');
      await this.exit;
    }
    this.removeNamespace();
    process.off('exit', this.onExit);
  }

  private removeNamespace(): void {
    if (existsSync(`/run/netns/${this.netns}`)) spawnSync('ip', ['netns', 'del', this.netns]);
  }
}

/** The body web_server sends for a path: 64 + FNV-1a(path) % 1500 bytes ("/bulk/N": N) of a-z repeated. */
export function expectedBody(path: string): Buffer {
  let length: number;
  const bulk = /^\/bulk\/(\d{1,7})/.exec(path);
  if (bulk) length = Math.min(Number(bulk[1]), 1 << 20);
  else {
    let h = 2166136261;
    for (const b of Buffer.from(path)) h = Math.imul(h ^ b, 16777619) >>> 0;
    length = 64 + (h % 1500);
  }
  return Buffer.from(Array.from({ length }, (_, i) => 97 + (i % 26)));
}
