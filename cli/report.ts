// `hic report <dir>`: the terminal summary of an update report (build/reports/<update-id>/), read
// from its report.json and checked against the report schema first. A missing, unparsable or
// invalid report is one line naming the file and, when invalid, the JSON path at fault (exit 2).
// The report's strings come from guests: every line is made printable, line breaks included.

import type { Command } from 'commander';
import { summarize } from '../system/report/summary.ts';
import { readReport } from '../system/report/write.ts';
import { runCommand } from './errors.ts';
import { printable } from './render.ts';

/** One terminal line: printable, and a line break inside a value shown rather than obeyed. */
const terminalLine = (line: string) => printable(line).replace(/[\n\t]/g, (c) => (c === '\n' ? '\\n' : '\\t'));

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('summarise an update report: plan, phases, stages, latency, outcome, and the alerts, decision, rollback and root cause when the Monitor acted')
    .argument('<dir>', 'a report directory (build/reports/<update-id>/), or its report.json')
    .action((dir: string) =>
      runCommand(() => {
        const { file, report } = readReport(dir);
        const lines = summarize(report).map(terminalLine);
        process.stdout.write(`${lines.join('\n')}\n\npage: ${terminalLine(file.replace(/report\.json$/, 'report.html'))}\n`);
      }),
    );
}
