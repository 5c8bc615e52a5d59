// Helpers for tests that read what guests reported: the typed records they emitted (the record
// syscall, decoded by Core-0 against each module's declaration) and, for people, their consoles.

import type { Kernel } from '../../core0/kernel.ts';
import type { FieldValue } from '../../core0/module/values.ts';

/** The console lines one sandbox wrote, with their virtual times. */
export function consoleOf(kernel: Kernel, sandbox: string): { t: number; text: string }[] {
  return kernel.events.of('console').filter((e) => e.sandbox === sandbox).map((e) => ({ t: e.t, text: e.text }));
}

export type Fields = Readonly<Record<string, FieldValue>>;

/** The records of one type one sandbox emitted, in order, each with its virtual time. */
export function recordsOf(kernel: Kernel, sandbox: string, type: string): (Fields & { readonly t: number })[] {
  return kernel.events.of('record').filter((e) => e.sandbox === sandbox && e.type === type).map((e) => ({ ...e.fields, t: e.t }));
}

/** The last record of a type from a sandbox, without its time; undefined when it emitted none. */
export function lastRecord(kernel: Kernel, sandbox: string, type: string): Fields | undefined {
  const r = kernel.events.of('record').filter((e) => e.sandbox === sandbox && e.type === type).at(-1);
  return r?.fields;
}

/** A record whose fields are all numbers (counters, times), as numbers. */
export function numbers<K extends string>(fields: Fields | undefined, keys: readonly K[]): Record<K, number> | undefined {
  if (!fields) return undefined;
  const out = {} as Record<K, number>;
  for (const k of keys) {
    const v = fields[k];
    if (typeof v !== 'number') throw new Error(`record field ${k} is ${JSON.stringify(v)}, not a number`);
    out[k] = v;
  }
  return out;
}

/** rpc_client's summary record. */
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
  return numbers(lastRecord(kernel, sandbox, 'summary'), ['calls', 'answered', 'v1', 'v2', 'lost', 'duplicated', 'bad']);
}
