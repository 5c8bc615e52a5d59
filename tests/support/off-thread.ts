// Runs a long synchronous toolchain call (a whole build, a native compile) in a worker thread, so
// the test's own event loop stays free: vitest's worker answers its runner over an RPC with a
// fixed 60 s timeout, and a build of every service can take that long on a loaded machine.
// `module` is a path from the repository root; the function's arguments and result must survive
// structured cloning (plain data, typed arrays).

import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

const REPO = join(import.meta.dirname, '..', '..');

export function offThread<T>(module: string, fn: string, ...args: unknown[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./off-thread-worker.mjs', import.meta.url), { workerData: { module: join(REPO, module), fn, args } });
    worker.once('message', (m: { ok: true; value: T } | { ok: false; error: { message: string; code?: string; stack?: string } }) => {
      if (m.ok) resolve(m.value);
      else reject(Object.assign(new Error(m.error.message), m.error));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`off-thread ${fn}: the worker exited with ${code}`)));
  });
}
