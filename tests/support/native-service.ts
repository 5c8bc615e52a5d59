// A service's own C sources compiled for the host, against the host's C library, with the same
// selection, include directories and defines its module.json gives the guest build -- but none of
// the build's identity macros (HIC_MODULE_NAME, ...), so code that only a sandbox can run stays
// out. What the native program prints is the oracle a guest's console is compared with
// (tests/sdk-probe.test.ts, tests/ported-libraries.test.ts).

import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { ownSources } from '../../hicmod-toolchain/build.ts';
import { readSpec } from '../../hicmod-toolchain/hicmod/spec.ts';
import { REPO } from './boot.ts';

const execFileAsync = promisify(execFile);

export interface NativeRun {
  readonly status: number;
  /** stdout split into lines; a last line without its newline is a line too. */
  readonly lines: string[];
}

/**
 * Builds services/<name> natively into dir and runs it. `entry`: 'main' when the sources have
 * their own main (a ported library's test), 'hic_main' to call the service's entry from a shim.
 */
export async function runNative(name: string, dir: string, entry: 'main' | 'hic_main'): Promise<NativeRun> {
  const { sourceDir, files } = ownSources(REPO, name);
  const build = readSpec(REPO, name).build;
  const shim = join(dir, `${name}-main.c`);
  if (entry === 'hic_main') writeFileSync(shim, 'int hic_main(void);\nint main(void) { return hic_main(); }\n');
  const exe = join(dir, `${name}-native`);
  const args = [
    '-O1', '-w',
    ...build.include.map((d) => `-I${join(sourceDir, d)}`),
    ...build.defines.map(([m, v]) => `-D${m}=${v}`),
    ...build.cflags,
    ...files.map((f) => relative(REPO, f)),
    ...(entry === 'hic_main' ? [shim] : []),
    '-o', exe,
  ];
  await execFileAsync('gcc', args, { cwd: REPO });
  const result = await execFileAsync(exe, [], { maxBuffer: 16 << 20 }).then(
    (r) => ({ status: 0, stdout: r.stdout }),
    (e: { code?: number; stdout?: string }) => ({ status: e.code ?? -1, stdout: e.stdout ?? '' }),
  );
  const lines = result.stdout === '' ? [] : result.stdout.split('\n');
  if (result.stdout.endsWith('\n')) lines.pop();
  return { status: result.status, lines };
}
