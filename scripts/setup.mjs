#!/usr/bin/env node
// One-step set-up, run by `npm run demo`, `npm test` and `npm run bench` before anything else.
// Plain Node with no dependencies, because it runs before the dependencies exist. Idempotent:
// when everything is in place it checks and returns in well under a second.
//
//   1. Debian packages: libunicorn2 (the CPU emulator), libunicorn-dev (headers for the native
//      benchmark harness and the instruction counter), gcc and binutils (the guest toolchain),
//      tshark (the tests read packet captures of the emulated wire with it), openssl and dumpasn1
//      (the tests check the test PKI's certificates with them), iproute2, iputils-ping, curl and
//      dnsutils (the TAP bridge tests run real Linux clients), gdb and tmux (the debugger's tests:
//      gdb against its remote stub, its REPL in a terminal), and chromium (the update report's
//      page is opened headless by the tests). Installed with apt-get when running as root;
//      otherwise it stops and prints the exact command to run.
//   2. npm dependencies, from package-lock.json, when node_modules is missing or stale.
//   3. The native hooks, build/native/libhicnative.so: the instruction counter the virtual clock
//      reads, and the syscall trap's native half.
//   4. Guest modules: built, signed with the workspace test PKI (build/pki, created on first run)
//      and published to the workspace repository (build/repo), incrementally.
//   5. The hic command bundled into build/cli/hic.mjs, so that it starts without compiling its
//      sources again (bin/hic.mjs uses it only while no source changed since).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (msg) => process.stdout.write(`setup: ${msg}\n`);
const die = (msg) => {
  process.stderr.write(`setup: ${msg}\n`);
  process.exit(1);
};

const major = Number(process.versions.node.split('.')[0]);
if (major < 20) die(`Node ${process.versions.node} is too old; HIC needs Node 20 or newer.`);

// --- 1. Debian packages ------------------------------------------------------------------------

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const libraryPresent = (soname) => {
  const out = spawnSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8' }).stdout ?? '';
  return out.includes(soname) || ['/usr/lib/x86_64-linux-gnu', '/usr/lib', '/usr/local/lib'].some((d) => existsSync(join(d, soname)));
};

const needs = [
  { pkg: 'libunicorn2', present: () => libraryPresent('libunicorn.so.2') },
  { pkg: 'libunicorn-dev', present: () => existsSync('/usr/include/unicorn/unicorn.h') },
  { pkg: 'gcc', present: () => has('gcc') },
  { pkg: 'binutils', present: () => has('ld') },
  // The tests open packet captures of the emulated wire with tshark (no malformed frame, no bad checksum).
  { pkg: 'tshark', present: () => has('tshark') },
  // The tests check the test PKI with OpenSSL (chains, purposes) and dumpasn1 (strict DER).
  { pkg: 'openssl', present: () => has('openssl') },
  { pkg: 'dumpasn1', present: () => has('dumpasn1') },
  // The live machine's tests put real Linux programs on the other side of a TAP bridge, inside a
  // network namespace: ip (namespaces, the TAP's address and route), ping, curl, dig.
  { pkg: 'iproute2', present: () => has('ip') },
  { pkg: 'iputils-ping', present: () => has('ping') },
  { pkg: 'curl', present: () => has('curl') },
  { pkg: 'dnsutils', present: () => has('dig') },
  // The debugger's tests attach Debian's gdb to its remote stub and drive its REPL in tmux.
  { pkg: 'gdb', present: () => has('gdb') },
  { pkg: 'tmux', present: () => has('tmux') },
  // The report tests open report.html in headless Chromium (tests/report-html.test.ts).
  { pkg: 'chromium', present: () => existsSync('/usr/bin/chromium') },
];
const missing = needs.filter((n) => !n.present()).map((n) => n.pkg);
if (missing.length > 0) {
  const cmd = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    die(`HIC needs the Debian packages ${missing.join(', ')}. Install them with:\n\n    sudo ${cmd}\n\nthen run this command again.`);
  }
  say(`installing ${missing.join(', ')} from Debian`);
  const apt = (args) => spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0;
  const install = ['install', '-y', '--no-install-recommends', ...missing];
  if (!apt(install) && !(apt(['update']) && apt(install))) die(`could not install ${missing.join(', ')} (tried: ${cmd}, and again after apt-get update)`);
  const still = needs.filter((n) => !n.present()).map((n) => n.pkg);
  if (still.length > 0) die(`${still.join(', ')} still missing after apt-get install`);
}

// --- 2. npm dependencies -----------------------------------------------------------------------

const lock = join(root, 'package-lock.json');
const installed = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(installed) || statSync(lock).mtimeMs > statSync(installed).mtimeMs) {
  say('installing npm dependencies (npm ci)');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) die('npm ci failed');
}

// --- 3. the native hooks: instruction counter and syscall trap (emulator/native/*.c) ------------

const nativeSrc = ['counter.c', 'trap.c'].map((f) => join(root, 'emulator', 'native', f));
const nativeLib = join(root, 'build', 'native', 'libhicnative.so');
if (!existsSync(nativeLib) || nativeSrc.some((src) => statSync(src).mtimeMs > statSync(nativeLib).mtimeMs)) {
  say('building the native hooks (instruction counter, syscall trap)');
  mkdirSync(dirname(nativeLib), { recursive: true });
  const r = spawnSync('gcc', ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', '-Werror', '-o', nativeLib, ...nativeSrc, '-lunicorn'], { stdio: 'inherit' });
  if (r.status !== 0) die('building emulator/native/*.c failed');
}

// --- 4. guest services -------------------------------------------------------------------------

// A service that does not build keeps only itself out of the repository (hic build exits 2 and
// lists it). The tree's own services must all build: one that does not is a bug in this tree, so
// set-up names it and fails, and `npm test` / `npm run demo` stop there rather than run against a
// repository with a module missing. (`hic build` alone still publishes the others.)
{
  const r = spawnSync(process.execPath, [join(root, 'bin', 'hic.mjs'), 'build'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = (r.stdout ?? '').split('\n');
  const built = lines.filter((l) => l.startsWith('built'));
  const failed = lines.filter((l) => l.startsWith('FAILED'));
  if (built.length > 0) say(`built, signed and published ${built.length} module(s): ${built.map((l) => l.split(/\s+/).slice(1, 3).join(' ')).join(', ')}`);
  if (r.status === 2 && failed.length > 0) {
    die(`${failed.length} module(s) of this tree did not build: ${failed.map((l) => l.split(/\s+/)[1]).join(', ')} (the compiler's error is above)`);
  } else if (r.status !== 0) {
    die('building the guest modules failed (see above)');
  }
}

// --- 5. the hic command, bundled (scripts/cli-bundle.mjs) --------------------------------------

{
  const { buildBundle, freshBundle } = await import('./cli-bundle.mjs');
  if (!freshBundle()) {
    say('bundling the hic command (it runs from the sources through tsx until this is done)');
    await buildBundle();
  }
}
