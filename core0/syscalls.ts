// The syscall table and dispatch: the whole ABI on one screen. Each line names a syscall (its
// number is in abi/abi.ts) and the verb that serves it; verbs live by object family under
// verbs/ and share one signature, (c: SyscallContext, f: SyscallFrame) => Outcome (verbs/verb.ts).
// The kernel's trap writes the outcome to the guest or parks, yields or ends the thread.

import { Err, FAMILY_BIT, SYSCALLS, type SyscallName } from './abi/abi.ts';
import type { SyscallFrame } from '../emulator/types.ts';
import { capCopy, capDelete, capInfo, capRevoke } from './verbs/capability.ts';
import { debugLog } from './verbs/console.ts';
import { call, endpointCreate, recv, reply, send } from './verbs/ipc.ts';
import { irqAck, irqBind } from './verbs/irq.ts';
import { memAlloc, memFree, memoryCreate, memoryMap, memorySize, memoryUnmap, memProtect } from './verbs/memory.ts';
import { mmioMap } from './verbs/mmio.ts';
import { moduleCollect, moduleHealth, moduleMark, moduleQuery, moduleReserve, moduleSpawn } from './verbs/module.ts';
import { notificationCreate, notify, wait } from './verbs/notification.ts';
import { record } from './verbs/record.ts';
import { registryLookup, registryRegister, registrySwitch } from './verbs/registry.ts';
import { sandboxDestroy, sandboxResume, sandboxSuspend } from './verbs/sandbox.ts';
import { cpuTime, exit, sleep, timeNow, yieldSlice } from './verbs/thread.ts';
import type { Outcome, SyscallContext, Verb } from './verbs/verb.ts';

export type { Outcome, SyscallContext, Verb } from './verbs/verb.ts';

/** Every syscall abi.ts declares has exactly one verb here; the type refuses a missing or extra one. */
const VERBS: { readonly [N in SyscallName]: Verb } = {
  debug_log: debugLog,
  yield: yieldSlice,
  sleep: sleep,
  exit: exit,
  time_now: timeNow,
  cpu_time: cpuTime,
  mem_alloc: memAlloc,
  mem_free: memFree,
  mem_protect: memProtect,
  record: record,

  cap_copy: capCopy,
  cap_delete: capDelete,
  cap_revoke: capRevoke,
  cap_info: capInfo,

  endpoint_create: endpointCreate,
  send: send,
  recv: recv,
  call: call,
  reply: reply,

  notification_create: notificationCreate,
  notify: notify,
  wait: wait,

  memory_create: memoryCreate,
  memory_map: memoryMap,
  memory_unmap: memoryUnmap,
  memory_size: memorySize,
  mmio_map: mmioMap,

  registry_register: registryRegister,
  registry_lookup: registryLookup,
  registry_switch: registrySwitch,

  irq_bind: irqBind,
  irq_ack: irqAck,

  sandbox_suspend: sandboxSuspend,
  sandbox_resume: sandboxResume,
  sandbox_destroy: sandboxDestroy,

  module_query: moduleQuery,
  module_mark: moduleMark,
  module_collect: moduleCollect,
  module_health: moduleHealth,
  module_reserve: moduleReserve,
  module_spawn: moduleSpawn,
};

/** The same verbs indexed by syscall number (the trap path looks up an array, not a name), with the family bit each needs (0: none). */
const BY_NUMBER: readonly (Verb | undefined)[] = [];
const FAMILY_OF: readonly number[] = [];
for (const s of SYSCALLS) {
  (BY_NUMBER as (Verb | undefined)[])[s.nr] = VERBS[s.name];
  (FAMILY_OF as number[])[s.nr] = 'family' in s ? FAMILY_BIT[s.family] : 0;
}

/**
 * Runs the verb for f.nr. An unknown number is the guest's mistake, answered UNKNOWN_SYSCALL; a
 * family its module did not declare in its signed metadata, NOT_DECLARED (declared.ts).
 */
export function dispatch(c: SyscallContext, f: SyscallFrame): Outcome {
  const nr = f.nr;
  const verb = nr >= 0 ? BY_NUMBER[nr] : undefined;
  if (!verb) return -Err.UNKNOWN_SYSCALL;
  const family = FAMILY_OF[nr]!;
  if (family !== 0 && (c.sandbox.declared.families & family) === 0) return -Err.NOT_DECLARED;
  return verb(c, f);
}
