// Files that survive the host's death: written whole to a temporary name, synced, renamed into
// place, and the directory synced, so a reader — or the next boot after a kill — finds the old
// file or the new one, never a torn one.

import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { syncDirectory } from '../core0/audit/segments.ts';

export { syncDirectory };

/** Writes `text` to `path` and syncs it (not the directory entry: see replaceFile). */
export function syncedWrite(path: string, text: string): void {
  const fd = openSync(path, 'w', 0o644);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replaces `path` with `text` atomically and durably; on a failure the old file stays as it was. */
export function replaceFile(path: string, text: string): void {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    syncedWrite(temp, text);
    renameSync(temp, path);
  } catch (e) {
    rmSync(temp, { force: true });
    throw e;
  }
  syncDirectory(dirname(path));
}
