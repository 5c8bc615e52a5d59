// `hic audit …`: check an audit log's hash chain and read its records. The library is
// core0/audit.ts. A verified file proves nothing about records cut from its end: for that,
// compare its head with a trusted copy of the head the kernel emitted (`verify --head`).

import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { AuditError, canonicalJson, verifyAuditFile, verifyAuditText, type AuditVerdict } from '../core0/audit.ts';
import { formatTime } from '../emulator/clock.ts';
import { runCommand } from './errors.ts';

/** A command-line argument that does not parse. */
export class AuditArgumentError extends Error {
  readonly code = 'BAD_ARGUMENT';
}

/** The fields every record has; `show` prints seq, t and kind in the prefix and hides the links. */
const FRAME = new Set(['seq', 't', 'kind', 'prev', 'hash']);

const out = (line: string) => process.stdout.write(line + '\n');

/** One line naming file and line; the caller exits 1 (a bad log is a finding, not a usage error). */
function reportFailure(file: string, v: Extract<AuditVerdict, { ok: false }>): void {
  process.stderr.write(`hic: ${file}:${v.line}: ${v.reason} [${v.code}]\n`);
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
  return [`[${formatTime(r.t as number).padStart(12)}]`, `#${r.seq}`, String(r.kind), ...fields].join(' ');
}

/** Every line that parses as a record, even in a file that fails verification: show reads, verify judges. */
function readableRecords(text: string): Record<string, unknown>[] {
  const records: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      const v: unknown = JSON.parse(line);
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
        const r = v as Record<string, unknown>;
        if (Number.isSafeInteger(r.t) && (r.t as number) >= 0 && typeof r.kind === 'string') records.push(r);
      }
    } catch (e) {
      if (!(e instanceof SyntaxError)) throw e;
      // Unreadable lines are verify's to report.
    }
  }
  return records;
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the hash-chained audit log: verify its chain, show its records');

  audit
    .command('verify')
    .description(
      'check every record of <file> and its chain; records removed from the end are only caught by --head, ' +
        'a head hash kept apart from the file (the kernel emits it)',
    )
    .argument('<file>', 'audit log (JSON lines)')
    .option('--head <hash>', "trusted head hash: the file's last record must have exactly this hash")
    .action((file: string, o: { head?: string }) =>
      runCommand(() => {
        const head = o.head?.toLowerCase();
        if (head !== undefined && !/^[0-9a-f]{64}$/.test(head)) {
          throw new AuditArgumentError(`--head: "${o.head}" is not a SHA-256 hash (64 hex digits)`);
        }
        const v = verifyAuditFile(file, { head });
        if (!v.ok) {
          reportFailure(file, v);
          return 1;
        }
        out(`${file}: OK, ${v.records} records, head ${v.head}`);
      }),
    );

  audit
    .command('show')
    .description('print the records of <file> one per line, in virtual time; exit 1 if the file does not verify')
    .argument('<file>', 'audit log (JSON lines)')
    .option('--kind <kind>', 'only records of this kind')
    .action((file: string, o: { kind?: string }) =>
      runCommand(() => {
        const text = readFileSync(file, 'utf8');
        for (const r of readableRecords(text)) {
          if (o.kind === undefined || r.kind === o.kind) out(renderRecord(r));
        }
        const v = verifyAuditText(text);
        if (!v.ok) {
          reportFailure(file, v);
          return 1;
        }
      }),
    );
}
