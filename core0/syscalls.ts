// The syscall dispatch table: number → a small verb function with one signature. Each verb
// decodes and checks every argument before it changes anything (STYLE: decode, then invoke), so
// a refused call leaves no partial effect. The result is a number for the guest's rax (negative =
// -error) or a request to the scheduler to block, yield or end the thread.
//
// Guest memory is read only through Space.view, which checks mapping, permission and overflow.

import { Err, Prot, SYSCALLS, type SyscallName } from './abi/abi.ts';
import type { SyscallFrame } from '../emulator/types.ts';
import { PAGE, type Sandbox } from './objects/sandbox.ts';
import type { Thread } from './objects/thread.ts';
import { objectVerbs, type KernelServices } from './verbs.ts';

export type Outcome =
  | number
  | { readonly kind: 'yield' }
  | { readonly kind: 'sleep'; readonly until: number }
  | { readonly kind: 'exit'; readonly status: number }
  /** The verb parked the thread (IPC, wait); the kernel sets its result when it wakes. */
  | { readonly kind: 'block' }
  /** Done (result 0), and the thread it woke runs first (ipc.ts reply). */
  | { readonly kind: 'handoff' };

export interface SyscallContext {
  readonly thread: Thread;
  readonly sandbox: Sandbox;
  readonly now: number;
  readonly k: KernelServices;
  console(text: string): void;
}

type Verb = (c: SyscallContext, f: SyscallFrame) => Outcome;

export const DEBUG_LOG_MAX = 1024;
const utf8 = new TextDecoder('utf-8', { fatal: false });

const err = (name: keyof typeof Err) => -Err[name];

function pagesFor(len: number): number {
  return len <= 0 ? -1 : Math.ceil(len / PAGE);
}

const verbs: Record<SyscallName, Verb> = {
  ...objectVerbs,

  debug_log(c, f) {
    const ptr = f.arg(0);
    const len = f.arg(1);
    if (len < 0 || len > DEBUG_LOG_MAX) return err('INVALID_ARGUMENT');
    const bytes = ptr < 0 ? undefined : c.sandbox.cpu.space.view(ptr, len);
    if (!bytes || (len > 0 && ptr === 0)) return err('BAD_ADDRESS');
    c.console(utf8.decode(bytes));
    return 0;
  },

  yield: () => ({ kind: 'yield' }),

  sleep(c, f) {
    const ns = f.arg(0);
    if (ns < 0) return err('INVALID_ARGUMENT');
    return { kind: 'sleep', until: c.now + ns };
  },

  exit: (_c, f) => ({ kind: 'exit', status: Number(BigInt.asIntN(64, f.wideArg(0))) }),

  time_now: (c) => c.now,

  mem_alloc(c, f) {
    const pages = pagesFor(f.arg(0));
    if (pages < 0) return err('INVALID_ARGUMENT');
    const r = c.sandbox.allocate(pages, { writable: true, executable: false });
    return typeof r === 'string' ? err(r) : r;
  },

  mem_free(c, f) {
    const va = f.arg(0);
    const r = va < 0 ? undefined : c.sandbox.allocRegion(va);
    if (!r) return err('NOT_FOUND');
    if (pagesFor(f.arg(1)) !== r.pages) return err('INVALID_ARGUMENT');
    c.sandbox.release(va);
    return 0;
  },

  mem_protect(c, f) {
    const va = f.arg(0);
    const pages = pagesFor(f.arg(1));
    const prot = f.arg(2);
    if (prot !== Prot.READ && prot !== Prot.WRITE) return err('INVALID_ARGUMENT');
    if (pages < 0 || va < 0 || va % PAGE !== 0) return err('INVALID_ARGUMENT');
    // The whole range must lie inside one mem_alloc region: code and stack are not the guest's to change.
    const region = [...c.sandbox.ownedRegions.values()].find((r) => r.kind === 'alloc' && va >= r.first * PAGE && va + pages * PAGE <= (r.first + r.pages) * PAGE);
    if (!region) return err('NOT_FOUND');
    try {
      c.sandbox.cpu.space.protect(va, pages, { writable: prot === Prot.WRITE, executable: false });
    } catch (e) {
      if ((e as { code?: string }).code === 'MAPPING_LIMIT') return err('MAPPING_LIMIT');
      throw e;
    }
    return 0;
  },
};

/** Indexed by syscall number. */
const table: (Verb | undefined)[] = [];
for (const s of SYSCALLS) table[s.nr] = verbs[s.name];

export function dispatch(c: SyscallContext, f: SyscallFrame): Outcome {
  const nr = f.nr;
  const verb = nr >= 0 ? table[nr] : undefined;
  return verb ? verb(c, f) : err('UNKNOWN_SYSCALL');
}
