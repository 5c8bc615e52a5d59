// Breakpoints as the user states them, parsed and numbered. The machine (machine.ts) installs
// them and decides hits; this file knows only what each kind means and how it is written:
//
//   break LOCATION [if COND]               guest code: 0x…, symbol, who:symbol[+off] (modules.ts)
//   break syscall NAME|NR [in SANDBOX]     a syscall, before it is handled
//   break ipc ENDPOINT [in SANDBOX]        send, call or recv on an endpoint: a channel name,
//                                          a registry name (cap://…) or #id
//   break mig OP|*                         a migration-protocol call (HELLO, CONN_OUT, …) on a
//                                          control channel: the call, and the reply to it
//   break event KIND[,KIND…] [in SANDBOX]  a kernel event; also `cap` (transfer, revocation),
//                                          `switch` (endpoint switch), `irq` (IRQ reroute)
//   watch|rwatch|awatch LOCATION [LEN]     guest memory: written, read, either (LEN default 8)
//
// and each may end in `if COND` (expr.ts).

import { SYSCALLS } from '../../core0/abi/abi.ts';
import type { KernelEvent } from '../../core0/events.ts';
import { Expr } from './expr.ts';

export type BreakpointSpec =
  | { readonly kind: 'code'; readonly location: string }
  | { readonly kind: 'syscall'; readonly nr: number; readonly name: string; readonly sandbox?: string }
  | { readonly kind: 'ipc'; readonly endpoint: string; readonly sandbox?: string }
  | { readonly kind: 'mig'; readonly op: string }
  | { readonly kind: 'event'; readonly kinds: readonly string[]; readonly sandbox?: string }
  | { readonly kind: 'watch'; readonly location: string; readonly length: number; readonly access: 'write' | 'read' | 'access' };

export interface Breakpoint {
  readonly id: number;
  readonly spec: BreakpointSpec;
  /** As the user wrote it, for listings. */
  readonly text: string;
  readonly condition: Expr | undefined;
  enabled: boolean;
  hits: number;
}

export class BreakpointError extends Error {
  readonly code = 'DEBUG_BAD_BREAKPOINT';
}

export const EVENT_KINDS: readonly KernelEvent['kind'][] = [
  'boot', 'sandboxCreated', 'moduleVerified', 'moduleRejected', 'libraryLoaded', 'libraryUnloaded', 'moduleLoaded',
  'threadStarted', 'console', 'fault', 'exit', 'sandboxDestroyed', 'halt', 'endpointRegistered', 'endpointSwitched',
  'capTransferred', 'capRevoked', 'channelGranted', 'irqRouted', 'sandboxSuspended', 'sandboxResumed',
  'reserved', 'reservationReleased', 'moduleSpawned',
];

const EVENT_GROUPS: Record<string, readonly string[]> = {
  cap: ['capTransferred', 'capRevoked'],
  switch: ['endpointSwitched'],
  irq: ['irqRouted'],
};

/** Splits `… if COND` and `… in SANDBOX` off a breakpoint's words. */
function tail(words: string[]): { words: string[]; condition: Expr | undefined; sandbox: string | undefined } {
  let condition: Expr | undefined;
  const at = words.indexOf('if');
  if (at >= 0) {
    if (at === words.length - 1) throw new BreakpointError('`if` needs a condition after it');
    condition = Expr.parse(words.slice(at + 1).join(' '));
    words = words.slice(0, at);
  }
  let sandbox: string | undefined;
  const inAt = words.indexOf('in');
  if (inAt >= 0) {
    sandbox = words[inAt + 1];
    if (!sandbox || inAt + 2 !== words.length) throw new BreakpointError('`in` takes one sandbox name');
    words = words.slice(0, inAt);
  }
  return { words, condition, sandbox };
}

/** Parses `break …` (command 'break') or `watch …` ('watch', 'rwatch', 'awatch') arguments. */
export function parseBreakpoint(command: 'break' | 'watch' | 'rwatch' | 'awatch', args: string[]): { spec: BreakpointSpec; condition: Expr | undefined; text: string } {
  const text = `${command} ${args.join(' ')}`.trim();
  const { words, condition, sandbox } = tail(args);
  const noSandbox = (what: string) => {
    if (sandbox !== undefined) throw new BreakpointError(`${what} takes no \`in SANDBOX\`: name it in the location (sandbox:symbol)`);
  };
  if (command !== 'break') {
    noSandbox('a watchpoint');
    const [location, len] = words;
    if (!location || words.length > 2) throw new BreakpointError(`usage: ${command} LOCATION [LENGTH] [if COND]`);
    const length = len === undefined ? 8 : Number(len);
    if (!Number.isInteger(length) || length < 1 || length > 4096) throw new BreakpointError(`watch length must be 1..4096 bytes, got ${len}`);
    return { spec: { kind: 'watch', location, length, access: command === 'watch' ? 'write' : command === 'rwatch' ? 'read' : 'access' }, condition, text };
  }
  const [first, second, ...rest] = words;
  if (!first) throw new BreakpointError('usage: break LOCATION | syscall NAME | ipc ENDPOINT | mig OP | event KIND  [in SANDBOX] [if COND]');
  const one = (what: string) => {
    if (!second || rest.length > 0) throw new BreakpointError(`usage: break ${first} ${what} [in SANDBOX] [if COND]`);
    return second;
  };
  switch (first) {
    case 'syscall': {
      const name = one('NAME|NUMBER');
      const s = SYSCALLS.find((x) => x.name === name || String(x.nr) === name);
      if (!s) throw new BreakpointError(`no syscall '${name}' (have ${SYSCALLS.map((x) => x.name).join(', ')})`);
      return { spec: { kind: 'syscall', nr: s.nr, name: s.name, ...(sandbox ? { sandbox } : {}) }, condition, text };
    }
    case 'ipc':
      return { spec: { kind: 'ipc', endpoint: one('ENDPOINT'), ...(sandbox ? { sandbox } : {}) }, condition, text };
    case 'mig': {
      noSandbox('a migration breakpoint');
      return { spec: { kind: 'mig', op: one('OP|*').toUpperCase().replace(/^MIG_/, '') }, condition, text };
    }
    case 'event': {
      const kinds = one('KIND[,KIND…]').split(',').flatMap((k) => EVENT_GROUPS[k] ?? [k]);
      const unknown = kinds.filter((k) => !EVENT_KINDS.includes(k as KernelEvent['kind']) && k !== '*');
      if (unknown.length) throw new BreakpointError(`no event kind ${unknown.join(', ')} (have ${EVENT_KINDS.join(', ')}, and cap, switch, irq, *)`);
      return { spec: { kind: 'event', kinds, ...(sandbox ? { sandbox } : {}) }, condition, text };
    }
    default:
      noSandbox('a code breakpoint');
      if (words.length !== 1) throw new BreakpointError(`usage: break LOCATION [if COND] (got '${words.join(' ')}')`);
      return { spec: { kind: 'code', location: first }, condition, text };
  }
}

/** Whether an event breakpoint matches an event (its kind, and the sandbox it concerns if named). */
export function eventMatches(spec: Extract<BreakpointSpec, { kind: 'event' }>, e: KernelEvent): boolean {
  if (!spec.kinds.includes('*') && !spec.kinds.includes(e.kind)) return false;
  if (spec.sandbox === undefined) return true;
  const f = e as unknown as Record<string, unknown>;
  return [f.sandbox, f.from, f.to, f.by].includes(spec.sandbox);
}

/** The numbered breakpoints of a session; numbers are never reused. */
export class BreakpointTable {
  private readonly list: Breakpoint[] = [];
  private nextId = 1;
  /** Called after every change, so the machine can install or remove hooks. */
  onChange: (() => void) | undefined;

  get all(): readonly Breakpoint[] {
    return this.list;
  }

  add(spec: BreakpointSpec, condition: Expr | undefined, text: string): Breakpoint {
    const b: Breakpoint = { id: this.nextId++, spec, text, condition, enabled: true, hits: 0 };
    this.list.push(b);
    this.onChange?.();
    return b;
  }

  get(id: number): Breakpoint | undefined {
    return this.list.find((b) => b.id === id);
  }

  delete(id?: number): boolean {
    if (id === undefined) this.list.length = 0;
    else {
      const i = this.list.findIndex((b) => b.id === id);
      if (i < 0) return false;
      this.list.splice(i, 1);
    }
    this.onChange?.();
    return true;
  }

  enable(id: number, enabled: boolean): boolean {
    const b = this.get(id);
    if (!b) return false;
    b.enabled = enabled;
    this.onChange?.();
    return true;
  }

  active(kind: BreakpointSpec['kind']): Breakpoint[] {
    return this.list.filter((b) => b.enabled && b.spec.kind === kind);
  }
}
