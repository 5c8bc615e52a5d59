// `hic state [DATA_DIR]`: what a machine's data directory says, read without changing anything —
// the versions the last boot installed, the versions marked bad, the journal written since, and
// what the next boot of what is installed would run and recover (system/state/,
// docs/reliability.md#the-machines-persistent-state).

import type { Command } from 'commander';
import { SystemState } from '../system/state/system-state.ts';
import { existsSync, statSync } from 'node:fs';
import { runCommand, UsageError } from './errors.ts';

const list = (versions: Readonly<Record<string, string>>) => Object.entries(versions).map(([m, v]) => `${m} ${v}`).join(', ') || 'none';

export function registerStateCommand(program: Command): void {
  program
    .command('state')
    .description("what a data directory says: the installed versions, the bad marks, the journal, and what the next boot would recover")
    .argument('[data-dir]', 'the data directory', 'build/data')
    .option('--json', 'print it as one JSON object')
    .action((dir: string, opts: { json?: boolean }) =>
      runCommand(() => {
        if (!existsSync(dir)) throw new UsageError(`${dir}: no such data directory`);
        if (!statSync(dir).isDirectory()) throw new UsageError(`${dir}: not a directory; name a data directory (hic boot --data-dir, default build/data)`);
        const s = SystemState.inspect(dir);
        if (opts.json) return void process.stdout.write(JSON.stringify(s) + '\n');
        const out = (k: string, v: string) => process.stdout.write(`${k.padEnd(12)} ${v}\n`);
        out('installed', s.installed ? list(s.installed.services) : 'nothing: no boot has used this data directory');
        out('marked bad', s.installed?.bad.join(', ') || 'none');
        out('collected', s.installed?.collected?.join(', ') || 'none');
        out('journal', `${s.journal} entries since that boot${s.torn ? ', and a torn last line (never committed)' : ''}`);
        const r = s.next.recovered;
        out('next boot', r
          ? `recovers update ${r.update} (${r.service} ${r.from} to ${r.to}): ${r.committed === 'none' ? 'not committed, undone' : r.committed === 'switch' ? 'committed at its switch, finished' : 'its rollback decided, finished'}; installs ${list(s.next.installed.services)}`
          : `installs ${list(s.next.installed.services)}`);
        if (s.next.windowClosed !== null) out('window', `update ${s.next.windowClosed}'s rollback window is open; a boot closes it`);
        return 0;
      }),
    );
}
