// An advisory lock on a host file, flock(2) through koffi: the one native call HIC makes besides
// Unicorn. The operating system holds the lock for an open file description and drops it when the
// process dies, however it dies, so a killed holder never blocks the next process, and a lock file
// that merely names some process (a stale pid, an unrelated live one) blocks nobody.
//
// The lock file itself is never removed: unlinking a file another process may be about to lock
// would let two processes hold "the" lock on two different files.

import koffi from 'koffi';
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';

const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;
const EINTR = 4;

let flockFn: ((fd: number, op: number) => number) | undefined;

function flock(fd: number, op: number): number {
  flockFn ??= koffi.load('libc.so.6').func('int flock(int fd, int op)') as (fd: number, op: number) => number;
  return flockFn(fd, op);
}

export interface HeldLock {
  /** Drops the lock (closing the file); calling it again does nothing. */
  release(): void;
}

/** What a refused non-blocking attempt learns: the pid the holder wrote, if it wrote one. */
export interface LockBusy {
  readonly busy: true;
  readonly holder: number | undefined;
}

/**
 * Takes an exclusive lock on `file` (created if missing) at once, or returns LockBusy when another
 * open file holds it — another process, or this one through another open(), which is how flock(2)
 * counts. The holder's pid is written into the file for messages only; it decides nothing.
 */
export function tryLock(file: string): HeldLock | LockBusy {
  return take(file, LOCK_EX | LOCK_NB);
}

/** Takes an exclusive lock on `file`, waiting for the holder to release it (or to die). */
export function waitForLock(file: string): HeldLock {
  return take(file, LOCK_EX) as HeldLock;
}

function take(file: string, op: number): HeldLock | LockBusy {
  const fd = openSync(file, 'a+');
  for (;;) {
    if (flock(fd, op) === 0) break;
    const errno = koffi.errno();
    if (errno === EINTR) continue;
    closeSync(fd);
    if (errno === EWOULDBLOCK && (op & LOCK_NB) !== 0) return { busy: true, holder: readHolder(file) };
    throw Object.assign(new Error(`flock ${file}: errno ${errno}`), { code: 'ELOCK', syscall: 'flock', errno });
  }
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`);
  let held = true;
  return {
    release: () => {
      if (!held) return;
      held = false;
      closeSync(fd); // closing the last descriptor of the open file drops the flock
    },
  };
}

function readHolder(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch (e) {
    if (typeof (e as NodeJS.ErrnoException).syscall !== 'string') throw e;
    return undefined; // the pid is only for the message
  }
}
