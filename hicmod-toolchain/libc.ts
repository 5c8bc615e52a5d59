// The guests' C library (services/runtime/libc/: <string.h>, <stdio.h>, <stdlib.h>, ... beyond
// what every service links) built once per output directory into an archive, and the path of
// gcc's own libgcc.a. Both go to `ld -r` after a service's objects, so only the members that
// resolve something the service uses are linked: a service that never calls printf carries no
// printf, and __int128 division finds libgcc's __udivti3. The archive is rebuilt when its sources,
// the headers, the flags or the tools change (a stamp beside it), written by rename so a build
// killed half-way never leaves a partial one behind.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BuildError, run, tools } from './gcc.ts';

/** Not a service name (those match [a-z][a-z0-9_]*), so it never collides with <service>.o. */
const ARCHIVE = 'runtime-libc.a';

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

/** The archive's path, built or found up to date. `flags` are the guest compile flags. */
export function buildLibc(repoRoot: string, outDir: string, flags: readonly string[]): string {
  const dir = join(repoRoot, 'services', 'runtime', 'libc');
  const sources = filesUnder(dir).filter((f) => f.endsWith('.c'));
  const archive = join(outDir, ARCHIVE);
  const stampFile = `${archive}.stamp`;
  const h = createHash('sha256');
  const field = (v: string | Uint8Array) => h.update(String(v.length)).update(':').update(v);
  field(tools().versions);
  field(JSON.stringify(flags.map((f) => f.replaceAll(repoRoot, '.'))));
  for (const file of [...filesUnder(dir), ...filesUnder(join(repoRoot, 'services', 'include')), ...filesUnder(join(repoRoot, 'services', 'runtime')).filter((f) => f.endsWith('.h'))]) {
    field(relative(repoRoot, file));
    field(readFileSync(file));
  }
  const stamp = h.digest('hex');
  if (existsSync(archive) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return archive;

  mkdirSync(outDir, { recursive: true });
  const work = mkdtempSync(join(outDir, '.runtime-libc-'));
  try {
    // Members are named after their sources (libc/stdio.c -> stdio.o), all distinct in one directory.
    const objects = sources.map((src) => {
      const rel = relative(repoRoot, src);
      const obj = join(work, relative(dir, src).replaceAll('/', '_').replace(/\.c$/, '.o'));
      try {
        run('gcc', [...flags, rel, '-o', obj], repoRoot);
      } catch (e) {
        if (e instanceof BuildError) throw e;
        throw new BuildError('BUILD_FAILED', `the C library: gcc failed on ${rel}:\n${((e as { stderr?: string }).stderr ?? String(e)).trimEnd()}`);
      }
      return obj;
    });
    // D: deterministic (zero dates and ids), so the same sources give the same archive bytes.
    const built = join(work, ARCHIVE);
    run('ar', ['rcsD', built, ...objects]);
    renameSync(built, archive);
    writeFileSync(stampFile, stamp);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return archive;
}

/** gcc's libgcc.a: the helpers compiled code may call (__udivti3, __popcountdi2, ...). */
export function libgccPath(): string {
  return tools().libgcc;
}
