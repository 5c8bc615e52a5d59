// The `hic` command as one prebuilt JavaScript file, for start-up time. Run through tsx, `hic`
// spends ~0.8 s of CPU before its first line of work compiling and loading ~190 TypeScript modules
// through tsx's loader thread, which the test suite pays on every one of its ~100 `hic` processes
// and a user on every `hic ctl`. Set-up bundles cli/main.ts and everything it imports with esbuild
// (which tsx itself runs on) into build/cli/hic.mjs, npm packages left as imports, and records
// every source file it read with its size and modification time. bin/hic.mjs runs the bundle only
// while every one of those files is unchanged, and tsx on the sources otherwise: an edit never
// runs stale code, it only runs slower until the next set-up.
//
// Plain JavaScript with no dependencies at load time: bin/hic.mjs checks freshness before anything
// else is loaded, and set-up imports esbuild only once npm has installed it.

import { readFileSync, renameSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'build', 'cli');
export const BUNDLE = join(dir, 'hic.mjs');
const INPUTS = join(dir, 'hic.inputs.json');

/** The bundle's path when every source it was built from is as it was then, else undefined. */
export function freshBundle() {
  let inputs;
  try {
    inputs = JSON.parse(readFileSync(INPUTS, 'utf8'));
    statSync(BUNDLE);
  } catch {
    return undefined; // not built (or being replaced): the sources, through tsx
  }
  if (inputs.root !== root) return undefined; // the bundle names its sources' places: not after a move
  for (const [file, size, mtimeMs] of inputs.files) {
    let s;
    try {
      s = statSync(join(root, file));
    } catch {
      return undefined;
    }
    if (s.size !== size || s.mtimeMs !== mtimeMs) return undefined;
  }
  return BUNDLE;
}

/**
 * Bundles cli/main.ts into build/cli/hic.mjs and records its inputs; both are written beside
 * their final names and renamed over them, the inputs last, so a `hic` starting meanwhile finds
 * the old pair, or no record and the sources.
 */
export async function buildBundle() {
  const esbuild = await import('esbuild');
  mkdirSync(dir, { recursive: true });
  const tmp = `${BUNDLE}.${process.pid}.tmp`;
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [join(root, 'cli', 'main.ts')],
    outfile: tmp,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    // As tsx compiles: class and function names survive (error names, stack traces).
    keepNames: true,
    sourcemap: 'external',
    sourcesContent: false,
    metafile: true,
    logLevel: 'silent',
    plugins: [moduleLocations],
  });
  // Node finds the map by the name the bundle names in its last line.
  renameSync(`${tmp}.map`, `${BUNDLE}.map`);
  const bundled = readFileSync(tmp, 'utf8').replace(/\/\/# sourceMappingURL=.*\n?$/, '') + `//# sourceMappingURL=${relative(dir, BUNDLE)}.map\n`;
  writeFileSync(tmp, bundled);
  const files = Object.keys(result.metafile.inputs)
    .filter((f) => !f.startsWith('node_modules'))
    .sort()
    .map((f) => {
      const s = statSync(join(root, f));
      return [f, s.size, s.mtimeMs];
    });
  renameSync(tmp, BUNDLE);
  writeFileSync(`${INPUTS}.tmp`, JSON.stringify({ root, files }) + '\n');
  renameSync(`${INPUTS}.tmp`, INPUTS);
  return files.length;
}

/**
 * A module that finds files relative to itself (import.meta.url: the native hooks' library, the
 * repository root) keeps finding them from inside the bundle: each reference is replaced with the
 * source file's own location.
 */
const moduleLocations = {
  name: 'module-locations',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes('import.meta')) return undefined;
      const contents = text
        .replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href))
        .replaceAll('import.meta.dirname', JSON.stringify(dirname(args.path)))
        .replaceAll('import.meta.filename', JSON.stringify(args.path));
      return { contents, loader: 'ts' };
    });
  },
};
