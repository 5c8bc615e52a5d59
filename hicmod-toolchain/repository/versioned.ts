// Publishing a whole repository atomically: readers see the old one or the new one, complete, never
// a mix, whenever the publisher dies.
//
//   build/repo          a symbolic link: repos/<version>
//   build/repos/<v>/    complete repositories (metadata/ and targets/), each written once
//
// A new repository is written into a directory of its own beside the current one — targets, then
// metadata, each file by rename — and only when it is complete and verifies is the link switched,
// by renaming a new link over the old one: rename(2) replaces a name in one step, so at every
// moment `build/repo` names a complete repository. A publisher killed before the switch leaves
// an unused directory, removed by the next publish; killed after it, the new repository is in place.
// (A `current` pointer file renamed into place would do the same, but every reader — the kernel's
// module source, `hic repo list build/repo`, a shell — would have to know to follow it; the link
// is followed by the file system for all of them.)
//
// Readers resolve the link once when they open a repository (Repository.open), so a reader that
// opened one version reads its targets from that version even if the link moves meanwhile. The
// directory the link left and the one before stay; older ones are removed.
//
// Metadata versions keep rising across publishes — past every version the old repository had,
// and never below the publish time in seconds — so a client that remembers the highest version it
// trusted (client.ts) refuses an older repository put back in place, and still accepts a
// repository rebuilt from nothing.

import { closeSync, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { crashPoint } from '../crash-point.ts';
import { initRepository, publish, type PublishOptions } from './publish.ts';
import type { RepositoryState } from './repository.ts';

/** Where the versioned directories of the repository named by `link` live. */
export const versionsDir = (link: string) => join(dirname(link), `${basename(link)}s`);

/** The directory `link` points at now, or undefined when there is none yet. */
export function currentVersion(link: string): string | undefined {
  if (!existsSync(link) || !lstatSync(link).isSymbolicLink()) return undefined;
  return resolve(dirname(link), readlinkSync(link));
}

/**
 * Writes a complete repository of `files` beside the current one and switches `link` to it.
 * `previous` is the current repository's state, when it could be read.
 */
export function publishVersioned(linkPath: string, pkiDir: string, files: readonly Uint8Array[], nowMs: number, previous: RepositoryState | undefined, opts: PublishOptions = {}): RepositoryState {
  const link = resolve(linkPath);
  const highest = previous ? Math.max(previous.targets, previous.snapshot, previous.timestamp) : 0;
  const base = Math.max(highest, Math.floor(nowMs / 1000));
  const versions = versionsDir(link);
  let before = currentVersion(link);
  // initRepository signs base + 1, publish base + 2: the directory is named by the final version.
  const dir = join(versions, String(base + 2));
  rmSync(dir, { recursive: true, force: true }); // a publish killed before its switch left it
  mkdirSync(versions, { recursive: true });
  initRepository(dir, pkiDir, nowMs, { ...opts, previous: { targets: base, snapshot: base, timestamp: base } });
  const { state } = publish(dir, pkiDir, files, nowMs, opts);
  syncDirectory(dir);
  crashPoint('repository written, link not yet switched');

  // The one-time move from a plain directory (before versioned publishing): set it aside first.
  // A kill in between leaves no repository at all, which the next publish writes; never a mix.
  if (existsSync(link) && !lstatSync(link).isSymbolicLink()) {
    before = join(versions, `plain-${nowMs}`);
    renameSync(link, before);
    crashPoint('plain repository directory set aside');
  }
  const staged = `${link}.new`; // one publisher at a time (the workspace holds its lock)
  rmSync(staged, { force: true });
  symlinkSync(relative(dirname(link), dir), staged);
  renameSync(staged, link);
  syncDirectory(dirname(link));
  crashPoint('link switched');
  // Every version but the new one and the one the link left (a reader may still be in it);
  // that includes directories of publishes killed before their switch.
  for (const name of readdirSync(versions).sort()) {
    const d = join(versions, name);
    if (d === dir || d === before) continue;
    rmSync(d, { recursive: true, force: true });
    crashPoint(`old version ${name} removed`);
  }
  return state;
}

/** Makes renames and new files in `dir` durable: the directory entries, not only the data. */
function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
