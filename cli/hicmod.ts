// The `hicmod` command: the module toolchain on its own (cli/mod.ts has the commands).
import { Command } from 'commander';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exitQuietlyOnClosedPipe } from './errors.ts';
import { registerModCommands } from './mod.ts';

const program = new Command('hicmod').description('build, sign, verify and inspect HIC .hicmod modules').showHelpAfterError();
registerModCommands(program, join(dirname(fileURLToPath(import.meta.url)), '..'));
exitQuietlyOnClosedPipe();
await program.parseAsync(process.argv);
