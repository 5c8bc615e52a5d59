// Helpers for tests that read what guests wrote on their consoles.

import type { Kernel } from '../../core0/kernel.ts';

/** The console lines one sandbox wrote, with their virtual times. */
export function consoleOf(kernel: Kernel, sandbox: string): { t: number; text: string }[] {
  return kernel.events.of('console').filter((e) => e.sandbox === sandbox).map((e) => ({ t: e.t, text: e.text }));
}

/** rpc_client's summary line, parsed. */
export interface RpcSummary {
  calls: number;
  answered: number;
  v1: number;
  v2: number;
  lost: number;
  duplicated: number;
  bad: number;
}

export function rpcSummary(kernel: Kernel, sandbox = 'rpc_client'): RpcSummary | undefined {
  const re = /^rpc_client: (\d+) calls, (\d+) answered, v1 (\d+), v2 (\d+), lost (\d+), duplicated (\d+), bad (\d+)$/;
  for (const { text } of consoleOf(kernel, sandbox)) {
    const m = re.exec(text);
    if (m) {
      const [calls, answered, v1, v2, lost, duplicated, bad] = m.slice(1).map(Number) as [number, number, number, number, number, number, number];
      return { calls, answered, v1, v2, lost, duplicated, bad };
    }
  }
  return undefined;
}
