// How much one sandbox can make the kernel audit. Every record a guest can cause over and over — a
// registration, a capability transfer or revocation, a switch, an IRQ route, a suspension — is
// charged to the sandbox that caused it, against a token bucket in virtual time: a burst, then a
// steady rate. What does not fit is counted, not written, and the count is itself audited as one
// `auditSuppressed` record (how many, of which kinds, over which span of time) when that sandbox
// next writes one (in a flood that goes on, at most one summary a virtual second), when it is
// destroyed, or when the log closes. A guest that once grew the log to 587 MB with
// registry_register calls now costs it a bounded number of lines.
//
// Lifecycle records (a sandbox created, destroyed or faulted, modules verified or loaded, the
// boot) are never suppressed: there are few of them per sandbox, and they are the ones an
// investigator reads first. Everything here is a function of the records and their virtual
// times, so the same run writes the same log.

import type { AuditEntry } from './chain.ts';

export interface AuditLimits {
  /** Records a sandbox may cause at once. */
  readonly burst: number;
  /** Records per virtual second after the burst. */
  readonly perSecond: number;
}

/**
 * The burst is above what a real workload causes at once (the 1000-connection migration charges
 * ~720 records to each of netstack, its successor and migctl; 10,000 connections ten times that).
 * The rate bounds a flood that goes on: ~75 kB of log per virtual second per flooding sandbox.
 */
export const DEFAULT_AUDIT_LIMITS: AuditLimits = { burst: 16_384, perSecond: 256 };

export const SUPPRESSED_KIND = 'auditSuppressed';

// moduleRejected is not among them: one a guest's loader request caused names the guest (`by`) and
// is charged to it like any other record it can cause at will; one at boot names nobody.
const ALWAYS: ReadonlySet<string> = new Set([
  'boot', 'sandboxCreated', 'sandboxDestroyed', 'fault', 'moduleVerified', 'moduleLoaded',
  'libraryLoaded', 'libraryUnloaded', 'channelGranted', 'moduleSpawned', SUPPRESSED_KIND,
]);

const NS = 1_000_000_000;

interface Bucket {
  /** Records it may still cause now; refilled by elapsed virtual time. */
  tokens: number;
  at: number;
  suppressed: number;
  /** When its last summary was written: in a flood that goes on, at most one a virtual second. */
  summarised: number;
  kinds: Map<string, number>;
  since: number;
  until: number;
}

/** The sandbox a record is charged to: who acted (`by`, `from`), else whom it is about. */
function actorOf(e: AuditEntry): string | undefined {
  for (const k of ['by', 'from', 'sandbox'] as const) if (typeof e[k] === 'string') return e[k] as string;
  return undefined;
}

export class AuditLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly limits: AuditLimits = DEFAULT_AUDIT_LIMITS) {
    if (!(limits.burst >= 1 && limits.perSecond >= 0)) throw new RangeError(`audit limits: burst ${limits.burst}, perSecond ${limits.perSecond}`);
  }

  /** What to write for `e`: nothing (suppressed), or it, after the summary of what was suppressed before it. */
  admit(e: AuditEntry): AuditEntry[] {
    const actor = actorOf(e);
    if (actor === undefined) return [e];
    const b = this.bucket(actor, e.t);
    const always = ALWAYS.has(e.kind);
    if (!always && b.tokens < 1) {
      if (b.suppressed === 0) b.since = e.t;
      b.suppressed++;
      b.until = e.t;
      b.kinds.set(e.kind, (b.kinds.get(e.kind) ?? 0) + 1);
      return [];
    }
    if (!always) b.tokens -= 1;
    const due = always || e.t - b.summarised >= NS;
    const summary = due ? this.summary(actor, b, e.t) : undefined;
    if (e.kind === 'sandboxDestroyed') this.buckets.delete(actor); // a later sandbox of that name starts afresh
    return summary ? [summary, e] : [e];
  }

  /** Summaries of everything still suppressed, for when the log closes. */
  flush(t: number): AuditEntry[] {
    const out: AuditEntry[] = [];
    for (const [actor, b] of [...this.buckets].sort(([a], [c]) => (a < c ? -1 : a > c ? 1 : 0))) {
      const s = this.summary(actor, b, Math.max(t, b.until));
      if (s) out.push(s);
    }
    return out;
  }

  private bucket(actor: string, t: number): Bucket {
    let b = this.buckets.get(actor);
    if (!b) {
      b = { tokens: this.limits.burst, at: t, suppressed: 0, summarised: t, kinds: new Map(), since: 0, until: 0 };
      this.buckets.set(actor, b);
    } else if (t > b.at) {
      b.tokens = Math.min(this.limits.burst, b.tokens + ((t - b.at) * this.limits.perSecond) / NS);
      b.at = t;
    }
    return b;
  }

  private summary(actor: string, b: Bucket, t: number): AuditEntry | undefined {
    if (b.suppressed === 0) return undefined;
    const kinds = Object.fromEntries([...b.kinds].sort(([a], [c]) => (a < c ? -1 : a > c ? 1 : 0)));
    const s: AuditEntry = { t, kind: SUPPRESSED_KIND, sandbox: actor, suppressed: b.suppressed, kinds, since: b.since, until: b.until };
    b.suppressed = 0;
    b.summarised = t;
    b.kinds = new Map();
    return s;
  }
}
