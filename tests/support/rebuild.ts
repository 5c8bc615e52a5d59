// A workspace rebuild in a process of its own, for the crash-consistency test: it builds into the
// build directory given (compiled objects from the one given), and may be killed at any of its
// crash points (HIC_CRASH_AT, hicmod-toolchain/crash-point.ts).
import { workspace } from '../../hicmod-toolchain/workspace.ts';
import { REPO } from './boot.ts';

const ws = workspace(REPO, { buildDir: process.argv[2]!, objectDir: process.argv[3]! });
process.stdout.write(`${ws.published ? 'published' : 'unchanged'} ${ws.modules.length}\n`);
