// The `hicmod` command: the module toolchain on its own (cli/mod.ts has the commands).
import { Command } from 'commander';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCommandLine, usageExitsTwo } from './errors.ts';
import { registerModCommands } from './mod.ts';

const program = usageExitsTwo(new Command('hicmod')).description('build, sign, verify and inspect HIC .hicmod modules');
registerModCommands(program, join(dirname(fileURLToPath(import.meta.url)), '..'));
await parseCommandLine(program, process.argv);
