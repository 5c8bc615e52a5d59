// Builds guest services: compiles every .c file of services/<name>/ (subdirectories included, or
// the `sources` module.json names) and the freestanding runtime (services/runtime/), one object
// each, and combines them with `ld -r` into one relocatable object, build/services/<name>.o, which
// the kernel loader lays out and relocates. The C library (services/runtime/libc/, built once into
// an archive) and gcc's libgcc.a are linked only as far as the service uses them. module.json may
// point the build at another service's directory (`buildFrom`: a later version built from the
// earlier one's tree) and set how the service's own files are compiled (spec-build.ts: defines,
// cflags, include directories, werror, sse). Builds are incremental (a stamp hashes everything
// that can change the output) and reproducible (relative source paths, fixed input order). The
// object carries DWARF debug information for the debugger; the module made from it does not.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { writeModuleHeader } from './hicmod/module-header.ts';
import { type ModuleSpec, readSpec, specPath } from './hicmod/spec.ts';
import type { BuildSpec } from './hicmod/spec-build.ts';
import { BuildError, gccIncludeDir, run, tools } from './gcc.ts';
import { buildLibc, libgccPath } from './libc.ts';

export { BuildError, type BuildErrorCode } from './gcc.ts';

export interface BuildOptions {
  /** Where <name>.o and <name>.stamp go; default <repoRoot>/build/services. */
  readonly outDir?: string;
  /** Rebuild even when the stamp matches. */
  readonly force?: boolean;
  /**
   * The services under services/, when the caller has listed them already (listServices): a
   * build of every service would otherwise walk every service directory once per service.
   */
  readonly services?: readonly string[];
}

export interface BuildResult {
  readonly name: string;
  readonly object: string;
  /** False when the stamp matched and the existing object was kept. */
  readonly rebuilt: boolean;
}

/** Directories under services/ that hold shared code, not services. */
const NOT_SERVICES = new Set(['runtime', 'include']);

/** The guest compile flags. -nostdinc plus gcc's own include directory admits only the
 * freestanding headers (stdint.h, stddef.h, stdarg.h, ...) and the project's own C library's
 * (services/include: string.h, stdio.h, ...), never the host's libc. */
export function compileFlags(repoRoot: string): string[] {
  return [
    '-c', '-ffreestanding', '-fno-pic', '-mcmodel=large', '-fno-asynchronous-unwind-tables',
    '-fno-stack-protector', '-fno-common', '-nostdinc', '-isystem', gccIncludeDir(),
    '-O2', '-std=c11', '-Wall', '-Wextra', '-Werror', '-mno-red-zone',
    // DWARF for the debugger (symbols, lines, and .debug_frame to unwind without frame pointers).
    // It never reaches the module: the link step loads only allocated sections, and gcc's code is
    // the same with or without -g, so module bytes and event logs do not change.
    '-g', '-gno-record-gcc-switches',
    // No SSE/x87: the kernel need not enable or save vector state for guests.
    '-mgeneral-regs-only',
    '-fno-builtin',
    // Keep gcc from turning the runtime's own memset/memcpy loops into calls to themselves.
    '-fno-tree-loop-distribute-patterns',
    // No hot/cold splitting: a jump into a .text.unlikely part is a 32-bit PC-relative
    // relocation, which the loader refuses (every relocation must be R_X86_64_64).
    '-fno-reorder-blocks-and-partition',
    `-ffile-prefix-map=${repoRoot}=.`, '-Iservices/include', '-Iservices/runtime',
  ];
}

const LINK_FLAGS = ['-r', '-m', 'elf_x86_64'];

/**
 * The flags for a service's own files: the guest flags as module.json's build settings change
 * them. `werror: false` drops -Werror (vendored code keeps its warnings, printed, not fatal);
 * `sse: true` drops -mgeneral-regs-only for SSE2 arithmetic (the guest CPU's baseline; x87 is
 * never chosen); include directories and extra flags come after the defaults, so they win.
 */
function serviceFlags(base: readonly string[], b: BuildSpec, sourceDirRel: string): string[] {
  const flags = base.filter((f) => !(f === '-Werror' && !b.werror) && !(f === '-mgeneral-regs-only' && b.sse));
  if (b.sse) flags.push('-msse2', '-mfpmath=sse');
  for (const dir of b.include) flags.push(`-I${join(sourceDirRel, dir)}`);
  flags.push(...b.cflags);
  return flags;
}

/**
 * The module's identity from its module.json, as macros, so what a service says about itself at
 * run time (the migration handshake's HELLO) is what its signed metadata says:
 * HIC_MODULE_NAME "netstack", HIC_MODULE_VERSION "1.2.0", HIC_MODULE_VERSION_NUM 0x010200,
 * HIC_MODULE_UUID the 16 bytes as an initializer list, HIC_MODULE_PROTOCOLS the protocol
 * versions as major << 8 | minor (an initializer list; {0} when none), HIC_MODULE_SCHEMA.
 */
function identityDefines(spec: ModuleSpec): string[] {
  const { name, version, uuid, protocols, stateSchema } = spec.meta;
  const [major, minor, patch] = version.split(/[.+-]/).map(Number) as [number, number, number];
  const bytes = uuid.replaceAll('-', '').match(/../g)!.map((h) => `0x${h}`);
  const proto = protocols.map((p) => {
    const [a, b] = p.split('.').map(Number) as [number, number];
    return `0x${((a << 8) | b).toString(16)}`;
  });
  return [
    `-DHIC_MODULE_NAME="${name}"`, `-DHIC_MODULE_VERSION="${version}"`,
    `-DHIC_MODULE_VERSION_NUM=0x${((major << 16) | (minor << 8) | patch).toString(16)}`,
    `-DHIC_MODULE_UUID={${bytes.join(',')}}`, `-DHIC_MODULE_PROTOCOLS={${proto.length ? proto.join(',') : '0'}}`,
    `-DHIC_MODULE_SCHEMA=${stateSchema}`,
  ];
}

/** The .c files directly in dir, sorted (the runtime's). */
function cFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.c')).sort().map((f) => join(dir, f));
}

/** Every file under dir, recursively, in sorted order. */
function allFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((e) => (e.isDirectory() ? allFiles(join(dir, e.name)) : [join(dir, e.name)]));
}

/** A service's .c files: every one under its directory, subdirectories included, in sorted path
 * order (each directory's entries by name), so the link order is fixed. */
function serviceSources(dir: string): string[] {
  return allFiles(dir).filter((f) => f.endsWith('.c'));
}

/** The .c files module.json's `sources` names (files, or directories taken whole), in its order,
 * each once; every entry must exist and give at least one file. Without `sources`, the whole
 * directory. `include` directories must exist too. */
function selectedSources(repoRoot: string, name: string, sourceDir: string, b: BuildSpec | undefined): string[] {
  const field = (k: string, i: number) => `services/${name}/module.json: ${k}[${i}]`;
  for (const [i, dir] of (b?.include ?? []).entries()) {
    if (!existsSync(join(sourceDir, dir)) || !statSync(join(sourceDir, dir)).isDirectory()) {
      throw new BuildError('BUILD_FAILED', `${field('include', i)}: ${relative(repoRoot, join(sourceDir, dir))} is not a directory`);
    }
  }
  if (!b || b.sources.length === 0) return serviceSources(sourceDir);
  const chosen = b.sources.flatMap((entry, i) => {
    const path = join(sourceDir, entry);
    if (!existsSync(path)) throw new BuildError('BUILD_FAILED', `${field('sources', i)}: ${relative(repoRoot, path)} does not exist`);
    const files = statSync(path).isDirectory() ? serviceSources(path) : path.endsWith('.c') ? [path] : [];
    if (files.length === 0) throw new BuildError('BUILD_FAILED', `${field('sources', i)}: ${relative(repoRoot, path)} is no .c file and no directory holding one`);
    return files;
  });
  return [...new Set(chosen)];
}

const isUnder = (file: string, dir: string) => file.startsWith(dir + sep);

/**
 * Other service directories a service's sources include files from (`#include "../netstack/…"`:
 * a second version built from the first one's source), so the stamp sees their changes too. A
 * quoted include is resolved against the including file's directory, as gcc does first.
 */
function siblingDirs(repoRoot: string, sourceDir: string): string[] {
  const servicesDir = resolve(repoRoot, 'services');
  const dirs = new Set<string>();
  for (const file of allFiles(sourceDir).filter((f) => f.endsWith('.c') || f.endsWith('.h'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/#\s*include\s+"([^"]+)"/g)) {
      const target = resolve(dirname(file), m[1]!);
      if (isUnder(target, servicesDir) && !isUnder(target, resolve(sourceDir)) && existsSync(target)) {
        dirs.add(relative(servicesDir, target).split(sep)[0]!);
      }
    }
  }
  return [...dirs].sort().map((d) => join(repoRoot, 'services', d));
}

/** Names of the services: directories under services/ holding a .c file (at any depth), or a
 * module.json that names the directory its sources are in. */
export function listServices(repoRoot: string): string[] {
  const servicesDir = join(repoRoot, 'services');
  const isService = (name: string) =>
    serviceSources(join(servicesDir, name)).length > 0 || (existsSync(specPath(repoRoot, name)) && readSpec(repoRoot, name).build.from !== undefined);
  return readdirSync(servicesDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !NOT_SERVICES.has(e.name) && isService(e.name))
    .map((e) => e.name)
    .sort();
}

/** The directory a service's sources are in: its own, or the one its module.json's buildFrom
 * names -- a service with sources of its own and no buildFrom itself (one step, never a chain). */
function sourceDirOf(repoRoot: string, name: string, spec: ModuleSpec | undefined): string {
  const own = join(repoRoot, 'services', name);
  const from = spec?.build.from;
  if (from === undefined) return own;
  const where = `services/${name}/module.json: buildFrom '${from}'`;
  const dir = join(repoRoot, 'services', from);
  if (from === name || NOT_SERVICES.has(from) || !existsSync(dir) || serviceSources(dir).length === 0) {
    throw new BuildError('BUILD_UNKNOWN_SERVICE', `${where} is not another service directory with sources`);
  }
  if (existsSync(specPath(repoRoot, from)) && readSpec(repoRoot, from).build.from !== undefined) {
    throw new BuildError('BUILD_UNKNOWN_SERVICE', `${where} is itself built from another directory; name that one`);
  }
  const stray = serviceSources(own);
  if (stray.length > 0) {
    throw new BuildError('BUILD_FAILED', `${where}, but ${relative(repoRoot, stray[0]!)} is here too: a module built from another directory has no sources of its own`);
  }
  return dir;
}

/** A service's own sources, as its build compiles them, and the directory they are in (for a
 * native build of the same files: tests compare a guest's output with the host's). */
export function ownSources(repoRoot: string, name: string): { sourceDir: string; files: string[] } {
  const spec = existsSync(specPath(repoRoot, name)) ? readSpec(repoRoot, name) : undefined;
  const sourceDir = sourceDirOf(repoRoot, name, spec);
  return { sourceDir, files: selectedSources(repoRoot, name, sourceDir, spec?.build) };
}

/** The runtime's sources in link order: start.c first so _start is the first code of every image. */
function runtimeSources(repoRoot: string): string[] {
  const dir = join(repoRoot, 'services', 'runtime');
  const start = join(dir, 'start.c');
  return [start, ...cFiles(dir).filter((f) => f !== start)];
}

/** A hash of everything that can change the object: tools, flags, the sources in link order,
 * and every header they could include. Paths are repo-relative so the stamp survives a move. */
function stampOf(repoRoot: string, sources: readonly string[], flags: readonly string[], serviceDir: string, sourceDir: string, generated: readonly string[], archives: readonly string[]): string {
  const h = createHash('sha256');
  const field = (s: string | Uint8Array) => {
    h.update(String(s.length)).update(':').update(s);
  };
  field(tools().versions);
  field(JSON.stringify([flags.map((f) => f.replaceAll(repoRoot, '.')), LINK_FLAGS]));
  const headers = [
    ...allFiles(join(repoRoot, 'services', 'include')),
    ...allFiles(join(repoRoot, 'services', 'runtime')),
    ...allFiles(sourceDir),
    ...(sourceDir === serviceDir ? [] : allFiles(serviceDir)),
    ...siblingDirs(repoRoot, sourceDir).flatMap((d) => allFiles(d)),
    ...generated,
  ];
  for (const file of [...sources, ...new Set(headers.filter((f) => !sources.includes(f)))]) {
    field(relative(repoRoot, file));
    field(readFileSync(file));
  }
  // The archives linked in: the C library (its own stamp covers its sources) and libgcc.
  for (const file of archives) field(readFileSync(file));
  return h.digest('hex');
}

export function buildService(repoRoot: string, name: string, options: BuildOptions = {}): BuildResult {
  const outDir = options.outDir ?? join(repoRoot, 'build', 'services');
  const serviceDir = join(repoRoot, 'services', name);
  if (!(options.services ?? listServices(repoRoot)).includes(name)) {
    throw new BuildError('BUILD_UNKNOWN_SERVICE', `no service '${name}': services/${name}/ does not exist or holds no .c file`);
  }
  const spec = existsSync(specPath(repoRoot, name)) ? readSpec(repoRoot, name) : undefined;
  const sourceDir = sourceDirOf(repoRoot, name, spec);
  // A library is pure shared code: no runtime, no entry point, nothing it could call.
  const library = spec?.meta.kind === 'library';
  const runtime = library ? [] : runtimeSources(repoRoot);
  const own = selectedSources(repoRoot, name, sourceDir, spec?.build);
  const sources = [...runtime, ...own];
  const defines = spec ? [...identityDefines(spec), ...spec.build.defines.map(([macro, value]) => `-D${macro}=${value}`)] : [];
  // hic/module.h, generated from module.json's config and records (hicmod/module-header.ts).
  const header = writeModuleHeader(repoRoot, name, outDir);
  // The generated header's directory lies under the output directory, wherever that is: its path
  // is mapped to one name, so the debug information (-g) is the same for every build of the same sources.
  const headerDir = header ? relative(repoRoot, header.dir) : undefined;
  const base = [...compileFlags(repoRoot), ...(headerDir ? [`-I${headerDir}`, `-ffile-prefix-map=${headerDir}=build/include/${name}`] : [])];
  const flags = [...base, ...defines];
  // The service's own files get its build settings; the runtime's never do.
  const ownFlags = spec ? [...serviceFlags(base, spec.build, relative(repoRoot, sourceDir)), ...defines] : flags;
  // A library is pure shared code: it links nothing in, so whatever it needs is an error.
  const archives = library ? [] : [buildLibc(repoRoot, outDir, compileFlags(repoRoot)), libgccPath()];
  const object = join(outDir, `${name}.o`);
  const stampFile = join(outDir, `${name}.stamp`);
  const stamp = stampOf(repoRoot, sources, [...flags, '--own--', ...ownFlags], serviceDir, sourceDir, header ? [header.file] : [], archives);
  if (!options.force && existsSync(object) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) {
    return { name, object, rebuilt: false };
  }

  mkdirSync(outDir, { recursive: true });
  const work = mkdtempSync(join(outDir, `.${name}-`));
  try {
    // Objects are numbered, not named after their source, so a service's string.c cannot
    // collide with the runtime's, nor core/ip.c with app/ip.c.
    const objects = sources.map((src, i) => {
      const obj = join(work, `${String(i).padStart(3, '0')}.o`);
      const rel = relative(repoRoot, src);
      try {
        run('gcc', [...(i < runtime.length ? flags : ownFlags), rel, '-o', obj], repoRoot);
      } catch (e) {
        if (e instanceof BuildError) throw e;
        const stderr = (e as { stderr?: string }).stderr ?? String(e);
        throw new BuildError('BUILD_FAILED', `service '${name}': gcc failed on ${rel}:\n${stderr.trimEnd()}${missingHeaderHint(stderr)}`);
      }
      return obj;
    });
    const linked = join(work, 'linked.o');
    try {
      run('ld', [...LINK_FLAGS, '-o', linked, ...objects, ...archives]);
    } catch (e) {
      if (e instanceof BuildError) throw e;
      const stderr = (e as { stderr?: string }).stderr ?? String(e);
      throw new BuildError('BUILD_FAILED', `service '${name}': ld -r failed:\n${stderr.trimEnd()}`);
    }
    // Object before stamp: a crash in between leaves a stale stamp, which only forces a rebuild.
    renameSync(linked, object);
    writeFileSync(stampFile, stamp);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { name, object, rebuilt: true };
}

/** A header the guest SDK does not have is named as such, with where the list of those it has is. */
function missingHeaderHint(stderr: string): string {
  const m = /fatal error: ([\w./-]+\.h): No such file or directory/.exec(stderr);
  return m ? `\n${m[1]} is not one of the headers a HIC guest has (there are no files, threads, signals or sockets in a sandbox); docs/guest-sdk.md lists them` : '';
}

export interface BuildAllOptions extends BuildOptions {
  /** Print nothing; otherwise one line per service. */
  readonly quiet?: boolean;
}

export function buildAll(repoRoot: string, options: BuildAllOptions = {}): BuildResult[] {
  const services = listServices(repoRoot);
  return services.map((name) => {
    const result = buildService(repoRoot, name, { ...options, services });
    if (!options.quiet) {
      const size = statSync(result.object).size;
      console.log(`${result.rebuilt ? 'built' : 'up to date'}: ${result.name} -> ${result.object} (${size} bytes)`);
    }
    return result;
  });
}
