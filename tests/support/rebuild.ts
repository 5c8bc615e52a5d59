// A workspace rebuild in a process of its own, for the crash-consistency test: it builds into the
// build directory given (compiled objects from the one given), and may be killed at any of its
// crash points (HIC_CRASH_AT, hicmod-toolchain/crash-point.ts). A plain Node program: it imports
// nothing that needs the test runner (support/boot.ts does).
import { join } from 'node:path';
import { workspace } from '../../hicmod-toolchain/workspace.ts';

const REPO = join(import.meta.dirname, '..', '..');

const ws = workspace(REPO, { buildDir: process.argv[2]!, objectDir: process.argv[3]! });
process.stdout.write(`${ws.published ? 'published' : 'unchanged'} ${ws.modules.length}\n`);
