// `hic audit …`: check an audit log's hash chain and read its records, across all its segments
// (audit.000001.jsonl, … then audit.jsonl), streamed. The library is core0/audit.ts. A verified
// log proves nothing about records cut from its end: for that, compare its head with a trusted
// copy of the head the kernel emitted (`verify --head`); a boot compares it with the checkpoint.

import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AuditError, canonicalJson, fileLines, logOf, segmentFiles, verifyAuditFile, type AuditVerdict } from '../core0/audit.ts';
import { formatTime } from '../emulator/clock.ts';
import { runCommand } from './errors.ts';
import type { FieldValue } from '../core0/module/values.ts';
import { verdictReason } from '../system/update/alerts.ts';

/** A command-line argument that does not parse. */
export class AuditArgumentError extends Error {
  readonly code = 'BAD_ARGUMENT';
}

/** The fields every record has; `show` prints seq, t and kind in the prefix and hides the links. */
const FRAME = new Set(['seq', 't', 'kind', 'prev', 'hash']);

const out = (line: string) => process.stdout.write(line + '\n');

/** One line naming file and line; the caller exits 1 (a bad log is a finding, not a usage error). */
function reportFailure(file: string, v: Extract<AuditVerdict, { ok: false }>): void {
  process.stderr.write(`hic: ${v.file ?? file}:${v.line}: ${v.reason} [${v.code}]\n`);
}

/** The log an argument names: a data directory holds audit.jsonl; a segment names its log. */
function logPath(arg: string): string {
  return existsSync(arg) && statSync(arg).isDirectory() ? join(arg, 'audit.jsonl') : logOf(arg);
}

function renderValue(v: unknown): string {
  // Bare when unambiguous, JSON otherwise, so `key=value` pairs split back apart.
  if (typeof v === 'string' && /^[^\s"=]+$/.test(v)) return v;
  try {
    return canonicalJson(v);
  } catch (e) {
    // A tampered record can hold what no appender writes (1e999 parses as Infinity): show it raw.
    if (e instanceof AuditError && e.code === 'AUDIT_UNENCODABLE') return String(v);
    throw e;
  }
}

/** `[   1.234567s] #seq kind key=value …`, fields in the file's (sorted) order. */
export function renderRecord(r: Record<string, unknown>): string {
  const fields = Object.keys(r)
    .filter((k) => !FRAME.has(k))
    .map((k) => `${k}=${renderValue(r[k])}`);
  // The Monitor's rollback request carries its reason as figures; the sentence is rendered here.
  if (r.kind === 'record' && r.module === 'monitor' && r.type === 'verdict' && typeof r.fields === 'object' && r.fields !== null) {
    fields.push(`reason=${renderValue(verdictReason(r.fields as Record<string, FieldValue>))}`);
  }
  return [`[${formatTime(r.t as number).padStart(12)}]`, `#${r.seq}`, String(r.kind), ...fields].join(' ');
}

/** Every line that parses as a record, in every segment, even in a log that fails verification: show reads, verify judges. */
function* readableRecords(log: string): Generator<Record<string, unknown>> {
  for (const file of segmentFiles(log)) {
    if (!existsSync(file)) continue;
    for (const { text } of fileLines(file)) {
      if (!text) continue;
      try {
        const v: unknown = JSON.parse(text);
        if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
          const r = v as Record<string, unknown>;
          if (Number.isSafeInteger(r.t) && (r.t as number) >= 0 && typeof r.kind === 'string') yield r;
        }
      } catch (e) {
        if (!(e instanceof SyntaxError)) throw e;
        // Unreadable lines are verify's to report.
      }
    }
  }
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the hash-chained audit log: verify its chain, show its records');

  audit
    .command('verify')
    .description(
      'check every record of <log> and its chain, across its segments; records removed from the end are only caught by --head, ' +
        'a head hash kept apart from the log (the kernel emits it; a boot compares the checkpoint)',
    )
    .argument('<log>', 'audit log (audit.jsonl, its sealed segments beside it), or the data directory holding it')
    .option('--head <hash>', "trusted head hash: the log's last record must have exactly this hash")
    .action((file: string, o: { head?: string }) =>
      runCommand(() => {
        const head = o.head?.toLowerCase();
        if (head !== undefined && !/^[0-9a-f]{64}$/.test(head)) {
          throw new AuditArgumentError(`--head: "${o.head}" is not a SHA-256 hash (64 hex digits)`);
        }
        const log = logPath(file);
        const v = verifyAuditFile(log, { head });
        if (!v.ok) {
          reportFailure(log, v);
          return 1;
        }
        const segments = segmentFiles(log).length;
        out(`${log}: OK, ${v.records} records${segments > 1 ? ` in ${segments} segments` : ''}, head ${v.head}`);
      }),
    );

  audit
    .command('show')
    .description('print the records of <log> one per line, oldest segment first; exit 1 if the log does not verify')
    .argument('<log>', 'audit log (audit.jsonl, its sealed segments beside it), or the data directory holding it')
    .option('--kind <kind>', 'only records of this kind')
    .action((file: string, o: { kind?: string }) =>
      runCommand(() => {
        const log = logPath(file);
        if (segmentFiles(log).length === 1) statSync(log); // no log there: ENOENT, a usage error
        for (const r of readableRecords(log)) {
          if (o.kind === undefined || r.kind === o.kind) out(renderRecord(r));
        }
        const v = verifyAuditFile(log);
        if (!v.ok) {
          reportFailure(log, v);
          return 1;
        }
      }),
    );
}
