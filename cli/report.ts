// `hic report <dir>`: the terminal summary of an update report (build/reports/<update-id>/), read
// from its report.json and checked against the report schema first. A missing, unparsable or
// invalid report is one line naming the file and, when invalid, the JSON path at fault (exit 2).
// The report's strings come from guests: every line is made printable, line breaks included.
// `--schema` prints the format's JSON Schema, for tools outside HIC that read reports.

import type { Command } from 'commander';
import { REPORT_SCHEMA } from '../system/report/schema.ts';
import { summarize } from '../system/report/summary.ts';
import { readReport } from '../system/report/write.ts';
import { UsageError, runCommand } from './errors.ts';
import { printable } from './render.ts';

/** One terminal line: printable, and a line break inside a value shown rather than obeyed. */
const terminalLine = (line: string) => printable(line).replace(/[\n\t]/g, (c) => (c === '\n' ? '\\n' : '\\t'));

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('summarise an update report: plan, phases, stages, latency, outcome, and the alerts, decision, rollback and root cause when the Monitor acted')
    .argument('[dir]', 'a report directory (build/reports/<update-id>/), or its report.json')
    .option('--schema', "print the report format's JSON Schema instead")
    .action((dir: string | undefined, opts: { schema?: boolean }) =>
      runCommand(() => {
        if (opts.schema) return void process.stdout.write(`${JSON.stringify(REPORT_SCHEMA, null, 2)}\n`);
        if (dir === undefined) throw new UsageError('report: give the report directory (build/reports/<update-id>/), or --schema');
        const { file, report } = readReport(dir);
        const lines = summarize(report).map(terminalLine);
        process.stdout.write(`${lines.join('\n')}\n\npage: ${terminalLine(file.replace(/report\.json$/, 'report.html'))}\n`);
      }),
    );
}
