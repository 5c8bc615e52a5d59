// The worker side of off-thread.ts: load the TypeScript module through tsx, call the function,
// post back its value or its error (message, code and stack, which structured cloning would lose).
import { register } from 'tsx/esm/api';
import { parentPort, workerData } from 'node:worker_threads';

register();
try {
  const m = await import(workerData.module);
  const value = await m[workerData.fn](...workerData.args);
  parentPort.postMessage({ ok: true, value });
} catch (e) {
  parentPort.postMessage({ ok: false, error: { message: String(e?.message ?? e), code: e?.code, stack: e?.stack } });
}
