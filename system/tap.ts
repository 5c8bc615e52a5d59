// A Linux TAP device, opened through libc (koffi): Node has no TUNSETIFF. The file descriptor is
// non-blocking and read only at slice boundaries (bridge.ts), so no thread ever waits on it. A
// device inside a network namespace (`hic net peer up` puts one there) is opened from inside it:
// the calling thread enters the namespace (setns), opens and attaches, and returns.
//
// Creating or attaching a TAP needs root or CAP_NET_ADMIN; without it the error says so.

import koffi from 'koffi';
import { existsSync } from 'node:fs';

export type TapErrorCode = 'TAP_NO_PERMISSION' | 'TAP_NO_TUN' | 'TAP_BAD_NAME' | 'TAP_BUSY' | 'TAP_NO_NETNS' | 'TAP_FAILED';

/** A refused TAP operation: the user's environment or request, never a bug (exit 2). */
export class TapError extends Error {
  constructor(readonly code: TapErrorCode, message: string) {
    super(message);
  }
}

const TUNSETIFF = 0x400454ca;
const TUNSETPERSIST = 0x400454cb;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
const O_RDONLY = 0, O_RDWR = 2, O_NONBLOCK = 0o4000, O_CLOEXEC = 0o2000000;
const CLONE_NEWNET = 0x40000000;
const EPERM = 1, ENOENT = 2, EAGAIN = 11, EACCES = 13, EBUSY = 16, ENODEV = 19, EINVAL = 22;
const IFNAMSIZ = 16;
/** Largest frame read: an Ethernet frame of MTU 1500 without FCS (larger ones are cut and dropped). */
export const TAP_FRAME_MAX = 1518;

let libc: ReturnType<typeof bind> | undefined;
function bind() {
  const lib = koffi.load('libc.so.6');
  return {
    open: lib.func('int open(const char *path, int flags)'),
    ioctlPtr: lib.func('int ioctl(int fd, unsigned long request, uint8_t *arg)'),
    ioctlInt: lib.func('int ioctl(int fd, unsigned long request, unsigned long arg)'),
    read: lib.func('long read(int fd, _Out_ uint8_t *buf, size_t count)'),
    write: lib.func('long write(int fd, const uint8_t *buf, size_t count)'),
    close: lib.func('int close(int fd)'),
    setns: lib.func('int setns(int fd, int nstype)'),
    strerror: lib.func('const char *strerror(int errnum)'),
  };
}
const c = () => (libc ??= bind());
const errno = () => koffi.errno() as number;

function failure(what: string, e: number, name: string): TapError {
  const text = `${what}: ${c().strerror(e) as string}`;
  if (e === EPERM || e === EACCES) {
    return new TapError('TAP_NO_PERMISSION', `TAP ${name}: ${text} — creating or attaching a TAP device needs root or CAP_NET_ADMIN (run as root, or grant it: setcap cap_net_admin+ep $(command -v node))`);
  }
  if (e === ENOENT || e === ENODEV) return new TapError('TAP_NO_TUN', `TAP ${name}: ${text} — the kernel's TUN/TAP driver is missing (modprobe tun; /dev/net/tun must exist)`);
  if (e === EBUSY) return new TapError('TAP_BUSY', `TAP ${name}: ${text} — another process has the device attached`);
  if (e === EINVAL) return new TapError('TAP_BAD_NAME', `TAP ${name}: ${text} — is ${name} a device of another kind (not a TAP)?`);
  return new TapError('TAP_FAILED', `TAP ${name}: ${text}`);
}

/** Checks an interface name as the kernel would: 1..15 bytes, no '/', ':' or white space. */
export function checkInterfaceName(name: string): void {
  if (name.length === 0 || Buffer.byteLength(name) >= IFNAMSIZ || /[\s/:]/.test(name) || name === '.' || name === '..') {
    throw new TapError('TAP_BAD_NAME', `"${name}" is not a network interface name (1 to 15 characters, no '/', ':' or spaces)`);
  }
}

export interface TapOptions {
  /** Open it inside this network namespace (a name under /run/netns). */
  readonly netns?: string;
  /** Keep the device after the descriptor closes (`hic net peer up` makes it so). */
  readonly persist?: boolean;
}

export class TapDevice {
  private closed = false;
  /** Frames read and written, and writes the kernel refused (its queue full). */
  readonly counters = { read: 0, written: 0, writeErrors: 0, oversized: 0 };

  private constructor(readonly name: string, private readonly fd: number) {}

  /** Attaches to TAP device `name`, creating it if absent. */
  static open(name: string, options: TapOptions = {}): TapDevice {
    checkInterfaceName(name);
    const fd = options.netns ? inNamespace(options.netns, name, () => attach(name)) : attach(name);
    if (options.persist && c().ioctlInt(fd, TUNSETPERSIST, 1) !== 0) {
      const e = errno();
      c().close(fd);
      throw failure('TUNSETPERSIST', e, name);
    }
    return new TapDevice(name, fd);
  }

  /** The next frame waiting, or undefined when none is (never blocks). */
  read(buffer: Uint8Array): Uint8Array | undefined {
    for (;;) {
      if (this.closed) return undefined;
      const n = Number(c().read(this.fd, buffer, buffer.length));
      if (n < 0) {
        const e = errno();
        if (e === EAGAIN) return undefined;
        throw failure('read', e, this.name);
      }
      if (n > TAP_FRAME_MAX) {
        this.counters.oversized++; // only with an MTU above 1500: the NIC could not take it
        continue;
      }
      this.counters.read++;
      return buffer.slice(0, n);
    }
  }

  /** Sends a frame to the host side; false (counted) when the kernel's queue refuses it. */
  write(frame: Uint8Array): boolean {
    if (this.closed) return false;
    if (Number(c().write(this.fd, frame, frame.length)) !== frame.length) {
      this.counters.writeErrors++;
      return false;
    }
    this.counters.written++;
    return true;
  }

  /** Makes a device persistent or not; a device that is not persistent goes when closed. */
  setPersistent(persist: boolean): void {
    if (c().ioctlInt(this.fd, TUNSETPERSIST, persist ? 1 : 0) !== 0) throw failure('TUNSETPERSIST', errno(), this.name);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    c().close(this.fd);
  }
}

/** open(/dev/net/tun) + TUNSETIFF: the descriptor of TAP `name` (created if absent). */
function attach(name: string): number {
  const fd = c().open('/dev/net/tun', O_RDWR | O_NONBLOCK | O_CLOEXEC) as number;
  if (fd < 0) throw failure('open /dev/net/tun', errno(), name);
  const ifr = Buffer.alloc(40); // struct ifreq: the name, then ifr_flags
  ifr.write(name, 0, 'utf8');
  ifr.writeUInt16LE(IFF_TAP | IFF_NO_PI, IFNAMSIZ);
  if (c().ioctlPtr(fd, TUNSETIFF, ifr) !== 0) {
    const e = errno();
    c().close(fd);
    throw failure('TUNSETIFF', e, name);
  }
  return fd;
}

/** Runs fn with this thread inside network namespace `netns`, and always comes back. */
function inNamespace<T>(netns: string, device: string, fn: () => T): T {
  const path = `/run/netns/${netns}`;
  if (!/^[A-Za-z0-9_.-]+$/.test(netns) || !existsSync(path)) {
    throw new TapError('TAP_NO_NETNS', `network namespace "${netns}" does not exist (${path}); create it with \`hic net peer up\``);
  }
  const home = c().open('/proc/thread-self/ns/net', O_RDONLY | O_CLOEXEC) as number;
  if (home < 0) throw failure('open /proc/thread-self/ns/net', errno(), device);
  const target = c().open(path, O_RDONLY | O_CLOEXEC) as number;
  if (target < 0) {
    const e = errno();
    c().close(home);
    throw failure(`open ${path}`, e, device);
  }
  try {
    if (c().setns(target, CLONE_NEWNET) !== 0) throw failure(`setns ${netns}`, errno(), device);
    try {
      return fn();
    } finally {
      // Coming back cannot fail for a namespace we came from; if it did, nothing here is safe.
      if (c().setns(home, CLONE_NEWNET) !== 0) throw new Error(`setns back from ${netns} failed: errno ${errno()}`);
    }
  } finally {
    c().close(target);
    c().close(home);
  }
}
