// The control socket's command table: every command, its arguments and what it does, in one
// place. A command is a query (it reads the machine at once, between slices) or an input (it
// changes the machine, so it enters at the next slice boundary through the pacer, recorded as
// an `input` event, and its reply comes once it has entered). Arguments are decoded from the
// table before anything runs (decode, then invoke). Later issues add their commands here
// (rollback, …).

import type { KernelEvent } from '../../core0/events.ts';
import type { LiveMachine } from '../live.ts';
import type { HostPacer } from '../realtime.ts';
import type { MachineMetrics } from '../metrics.ts';
import { CommandError, type ArgDescription, type CommandDescription } from './protocol.ts';
import { ManifestError, Reader } from '../manifest.ts';
import { parseValue } from '../../core0/module/values.ts';
import { MonitorChannelError, type MonitorChannel } from '../update/monitor-channel.ts';
import { UpdateQueueFull } from '../update/operator.ts';
import { MAX_PENDING_UPDATES, readRequest } from '../update/request.ts';
import { reportOf } from '../update/report.ts';

/** Every kind of event the kernel emits (the compiler checks the list is complete). */
export const KERNEL_EVENT_KINDS = [
  'boot', 'sandboxCreated', 'moduleVerified', 'moduleRejected', 'libraryLoaded', 'libraryUnloaded', 'moduleLoaded',
  'threadStarted', 'console', 'consoleDropped', 'record', 'fault', 'exit', 'wallClock', 'sandboxDestroyed', 'halt', 'endpointRegistered', 'endpointSwitched',
  'capTransferred', 'capRevoked', 'channelGranted', 'irqRouted', 'sandboxSuspended', 'sandboxResumed', 'input', 'updateRequested', 'updateDelivered',
  'operatorMessage', 'reserved', 'reservationReleased', 'moduleSpawned', 'moduleMarked', 'moduleCollected', 'systemState',
] as const satisfies readonly KernelEvent['kind'][];
type Missing = Exclude<KernelEvent['kind'], (typeof KERNEL_EVENT_KINDS)[number]>;
const complete: Missing extends never ? true : Missing = true;
void complete;

/** Events the host adds: the operator's stop and cont taking effect. */
export const HOST_EVENT_KINDS = ['stopped', 'resumed'] as const;
export const EVENT_KINDS: readonly string[] = [...KERNEL_EVENT_KINDS, ...HOST_EVENT_KINDS];

/** A client's subscription: which kinds, of which sandbox (events that name one), and which records. */
export interface EventFilter {
  readonly kinds: readonly string[];
  readonly sandbox?: string;
  /** Only `record` events of these types, each "module.type" (e.g. "monitor.alert"). */
  readonly records?: readonly string[];
}

/** "monitor.alert": a module's name and one of its record types. */
const RECORD_NAME = /^[a-z][a-z0-9_]{0,31}\.[a-z][a-z0-9_]{0,31}$/;

/** Whether a record event passes a subscription's `records`. */
export function recordPasses(filter: EventFilter, data: object): boolean {
  const r = data as { readonly module?: unknown; readonly type?: unknown };
  return filter.records === undefined || filter.records.includes(`${String(r.module)}.${String(r.type)}`);
}

/** The longest maintenance silence `silence` sets, in virtual time: a day. */
export const MAX_SILENCE_NS = 86_400_000_000_000;

/** Without `kinds`, a subscription gets every kind but `input` (one per TAP frame: ask for it). */
export const DEFAULT_EVENT_KINDS: readonly string[] = EVENT_KINDS.filter((k) => k !== 'input');

export interface CommandContext {
  readonly live: LiveMachine;
  readonly pacer: HostPacer;
  readonly metrics: MachineMetrics;
  /** Sets or clears this client's event subscription. */
  subscribe(filter: EventFilter | undefined): void;
  /** Submits an input through the pacer; resolves with the virtual time it entered at. */
  input(what: string, args: Record<string, unknown>, apply: (now: number) => void): Promise<number>;
}

export interface Command extends CommandDescription {
  run(ctx: CommandContext, args: Record<string, unknown>): unknown;
}

const arg = (name: string, type: ArgDescription['type'], required: boolean, summary: string): ArgDescription => ({ name, type, required, summary });

export const COMMANDS: readonly Command[] = [
  {
    name: 'status',
    summary: 'the machine now: phase, virtual and wall time, speed, real-time lag, NIC, TAP and traffic counters',
    effect: 'query',
    args: [],
    run: (ctx) => ctx.live.status(),
  },
  {
    name: 'sandboxes',
    summary: 'every live sandbox: module, version, threads, frames, instructions, syscalls, faults',
    effect: 'query',
    args: [],
    run: (ctx) => ctx.live.sandboxes(),
  },
  {
    name: 'caps',
    summary: "a sandbox's capabilities, slot by slot",
    effect: 'query',
    args: [arg('sandbox', 'string', true, 'the sandbox, by name')],
    run: (ctx, a) => {
      const caps = ctx.live.caps(a.sandbox as string);
      if (!caps) throw new CommandError('InvalidArgument', `no live sandbox named "${String(a.sandbox)}"; \`sandboxes\` lists them`);
      return caps;
    },
  },
  {
    name: 'events',
    summary: 'subscribe this connection to events (all kinds but input by default), or unsubscribe',
    effect: 'query',
    args: [
      arg('kinds', 'string[]', false, `event kinds to receive: ${EVENT_KINDS.join(', ')}`),
      arg('sandbox', 'string', false, 'only events that name this sandbox'),
      arg('records', 'string[]', false, 'only records of these types, each module.type (e.g. monitor.alert); kinds then defaults to record'),
      arg('off', 'boolean', false, 'unsubscribe'),
    ],
    run: (ctx, a) => {
      if (a.off === true) {
        ctx.subscribe(undefined);
        return { subscribed: false };
      }
      const records = a.records as string[] | undefined;
      const kinds = (a.kinds as string[] | undefined) ?? (records ? ['record'] : DEFAULT_EVENT_KINDS);
      const unknown = kinds.filter((k) => !EVENT_KINDS.includes(k));
      if (unknown.length > 0) throw new CommandError('InvalidArgument', `unknown event kind(s) ${unknown.join(', ')}; known: ${EVENT_KINDS.join(', ')}`);
      const badRecord = records?.find((r) => !RECORD_NAME.test(r));
      if (badRecord !== undefined) throw new CommandError('InvalidArgument', `events: records: "${badRecord}" is not module.type (e.g. monitor.alert)`);
      if (records && !kinds.includes('record')) throw new CommandError('InvalidArgument', 'events: records narrows the record events, but kinds leaves record out');
      const filter: EventFilter = { kinds, ...(a.sandbox !== undefined ? { sandbox: a.sandbox as string } : {}), ...(records ? { records } : {}) };
      ctx.subscribe(filter);
      return { subscribed: true, ...filter };
    },
  },
  {
    name: 'stop',
    summary: 'stop the machine at the next slice boundary: virtual time stands still until cont',
    effect: 'input',
    args: [],
    run: async (ctx) => ({ virtual: await ctx.input('stop', {}, (now) => ctx.pacer.stopAt(now)) }),
  },
  {
    name: 'cont',
    summary: 'let a stopped machine go on (in real time, the time stopped is not made up)',
    effect: 'input',
    args: [],
    run: async (ctx) => ({ virtual: await ctx.input('cont', {}, () => ctx.pacer.cont()) }),
  },
  {
    name: 'metrics',
    summary: 'every metric /metrics serves, as JSON',
    effect: 'query',
    args: [],
    run: (ctx) => ctx.metrics.json(),
  },
  {
    name: 'update',
    summary: `ask the Module Manager for a rolling update of a service to a version (docs/module-manager.md); the reply gives the update id, \`updates\` its progress; refused (QueueFull) while ${MAX_PENDING_UPDATES} requests wait`,
    effect: 'input',
    args: [
      arg('service', 'string', true, 'the service (its module name), e.g. netstack'),
      arg('to', 'string', true, 'the exact version, e.g. 1.3.0'),
      arg('allowDowngrade', 'boolean', false, 'allow a version older than the running one'),
      arg('clearBad', 'boolean', false, 'allow a version marked bad after a rollback, clearing the mark'),
      arg('policy', 'object', false, 'the update policy (seed 步骤1.1): rateLimit, batch, stages, stability, …; fields left out take the seed defaults'),
    ],
    run: (ctx, a) => requestUpdate(ctx, 'update', a, { service: a.service, to: a.to, allowDowngrade: a.allowDowngrade, clearBad: a.clearBad, policy: a.policy }),
  },
  {
    name: 'configure',
    summary: `ask the Module Manager for a configuration change (seed §4.4.2): the firewall's new rule table, put in force as its next version with the code unchanged, watched by the Monitor through the stability window and put back alone if it fails; the reply gives the id, \`updates\` its progress`,
    effect: 'input',
    args: [
      arg('service', 'string', true, 'the service whose configuration changes: firewall'),
      arg('rules', 'string[]', true, 'the table, in order: "allow tcp 80" "deny tcp 0-65535" … (what none matches is denied)'),
      arg('policy', 'object', false, 'the policy: stability, phaseTimeout, healthInterval (seed 步骤1.1); fields left out take the seed defaults'),
    ],
    run: (ctx, a) => requestUpdate(ctx, 'configure', a, { service: a.service, rules: a.rules, policy: a.policy }),
  },
  {
    name: 'confirm',
    summary: 'confirm the rollback the Monitor holds back for an update (a Monitor configured with confirm: true; seed §4.3 步骤5.1.3): it goes ahead at its next sample. The Monitor records what it made of it (`confirmation`)',
    effect: 'input',
    args: [arg('id', 'integer', true, 'the update (`updates` lists them)')],
    run: (ctx, a) => toMonitor(ctx, 'confirm', a, (m) => m.confirm(updateId(ctx, a.id))),
  },
  {
    name: 'veto',
    summary: 'veto the rollback the Monitor holds back for an update: it is not carried out (a more drastic decision asks again)',
    effect: 'input',
    args: [arg('id', 'integer', true, 'the update (`updates` lists them)')],
    run: (ctx, a) => toMonitor(ctx, 'veto', a, (m) => m.veto(updateId(ctx, a.id))),
  },
  {
    name: 'silence',
    summary: "a maintenance silence from now for DURATION of virtual time (seed §5.2.2): alerts below P0 are kept from the operator's sinks (the alerts file, the page), not from the event log or the audit log; `off` lifts it",
    effect: 'input',
    args: [arg('duration', 'string', true, 'a duration of virtual time (30s, 5min, 1h; at most 24h), or off')],
    run: (ctx, a) => {
      const duration = silenceDuration(a.duration as string);
      const span = { from: 0, until: 0 };
      return toMonitor(ctx, 'silence', a, (m, now) => {
        Object.assign(span, { from: now, until: duration === 0 ? 0 : now + duration });
        m.silence(span.from, span.until);
      }).then((r) => ({ ...r, ...span }));
    },
  },
  {
    name: 'updates',
    summary: 'every update requested so far: its outcome, phases and connections moved',
    effect: 'query',
    args: [],
    run: (ctx) =>
      ctx.live.system.updates.all.map((u) => {
        const r = reportOf(u);
        return { id: u.id, service: u.service, from: r.from, to: u.to, outcome: u.refused || u.end ? r.outcome : 'running', reason: r.reason ?? '', step: r.phases.at(-1)?.name ?? '', moved: r.stages.reduce((n, s) => n + s.moved, 0) };
      }),
  },
  {
    name: 'quit',
    summary: 'end the run at the next slice boundary (the usual report follows)',
    effect: 'input',
    args: [],
    run: async (ctx) => ({ virtual: await ctx.input('quit', {}, () => ctx.pacer.quit()) }),
  },
  {
    name: 'commands',
    summary: 'the commands this server knows, with their arguments',
    effect: 'query',
    args: [],
    run: () => describeCommands(),
  },
];

/**
 * An input for the Monitor through the operator's channel (system/update/monitor-channel.ts).
 * What can refuse it -- no such update, no Monitor, the channel full -- is known only once the
 * input enters, and must not throw there (the pacer is admitting inputs): it is kept, and thrown
 * once the input has entered.
 */
async function toMonitor(ctx: CommandContext, what: string, args: Record<string, unknown>, send: (m: MonitorChannel, now: number) => void): Promise<{ virtual: number }> {
  const entered: { error?: CommandError } = {};
  const virtual = await ctx.input(what, args, (now) => {
    try {
      send(ctx.live.system.monitor, now);
    } catch (e) {
      if (e instanceof CommandError) entered.error = e;
      else if (e instanceof MonitorChannelError) entered.error = new CommandError(e.code === 'MONITOR_QUEUE_FULL' ? 'QueueFull' : 'NotAvailable', e.message);
      else throw e;
    }
  });
  if (entered.error) throw entered.error;
  return { virtual };
}

/** An update id that names a requested update (checked as the input enters). */
function updateId(ctx: CommandContext, id: unknown): number {
  const n = id as number;
  if (n < 1 || !ctx.live.system.updates.account(n)) throw new CommandError('InvalidArgument', `no update ${n} has been requested; \`updates\` lists them`);
  return n;
}

/** `silence`'s duration in virtual ns, 0 for off; an InvalidArgument before anything runs. */
function silenceDuration(text: string): number {
  if (text === 'off') return 0;
  const r = parseValue({ name: 'duration', type: 'duration', values: [], doc: '' }, text);
  if ('error' in r || r.word === 0n || r.word > BigInt(MAX_SILENCE_NS)) {
    throw new CommandError('InvalidArgument', `silence: "${text}" is not a duration of virtual time from 1ns to 24h (30s, 5min, 1h), nor off`);
  }
  return Number(r.word);
}

export function describeCommands(): CommandDescription[] {
  return COMMANDS.map(({ name, summary, effect, args }) => ({ name, summary, effect, args }));
}

/** The arguments, checked against the command's table entry; a CommandError if they do not fit. */
export function decodeArguments(cmd: Command, raw: unknown): Record<string, unknown> {
  if (raw === undefined) raw = {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CommandError('InvalidArgument', `${cmd.name}: "arguments" must be an object`);
  const given = raw as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(given)) {
    if (!cmd.args.some((a) => a.name === key)) {
      const known = cmd.args.map((a) => a.name);
      throw new CommandError('InvalidArgument', `${cmd.name}: unknown argument "${key}"${known.length ? ` (it takes ${known.join(', ')})` : ' (it takes none)'}`);
    }
  }
  for (const a of cmd.args) {
    const v = given[a.name];
    if (v === undefined) {
      if (a.required) throw new CommandError('InvalidArgument', `${cmd.name}: missing argument "${a.name}" (${a.summary})`);
      continue;
    }
    const ok =
      a.type === 'string' ? typeof v === 'string' && v.length > 0 && v.length <= 256
      : a.type === 'boolean' ? typeof v === 'boolean'
      : a.type === 'integer' ? Number.isSafeInteger(v)
      : a.type === 'object' ? typeof v === 'object' && v !== null && !Array.isArray(v) && JSON.stringify(v).length <= 65536
      : Array.isArray(v) && v.length <= 64 && v.every((x) => typeof x === 'string' && x.length <= 256);
    if (!ok) throw new CommandError('InvalidArgument', `${cmd.name}: argument "${a.name}" must be ${a.type === 'string[]' ? 'a list of strings' : a.type === 'object' ? 'a JSON object of at most 64 KiB' : `a ${a.type === 'string' ? 'non-empty string' : a.type}`}`);
    out[a.name] = v;
  }
  return out;
}

/** An update or configuration request (`fields` as an image's `updates` entry writes it) into the operator's queue. */
async function requestUpdate(ctx: CommandContext, name: string, a: Record<string, unknown>, fields: Record<string, unknown>): Promise<unknown> {
  let request;
  try {
    request = readRequest(new Reader(name), Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)), 'arguments');
  } catch (e) {
    if (e instanceof ManifestError) throw new CommandError('InvalidArgument', e.message);
    throw e;
  }
  // Whether the queue has room is known only when the input enters (deliveries happen in
  // virtual time), and a refusal must not throw there: the pacer is admitting inputs.
  const entered: { id?: number; full?: UpdateQueueFull } = {};
  const virtual = await ctx.input(name, a, () => {
    try {
      entered.id = ctx.live.system.operator.request(request);
    } catch (e) {
      if (!(e instanceof UpdateQueueFull)) throw e;
      entered.full = e;
    }
  });
  if (entered.full) throw new CommandError('QueueFull', entered.full.message);
  return { virtual, id: entered.id };
}
