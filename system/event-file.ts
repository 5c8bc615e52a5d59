// The event log streamed to a file as it is made, one JSON line per event, exactly the lines the
// log's hash covers (provenance left out): `sha256sum` of the file is the hash `hic boot` prints.
// Lines are buffered and written in blocks, so a long run neither holds its log in memory nor
// makes a system call per event. `beforeWrite` runs before each block leaves: `hic boot` seals the
// audit log's pending records there, so no event reaches the file before its audit record.

import { closeSync, openSync, writeSync } from 'node:fs';
import { eventLine, type StampedEvent } from '../core0/events.ts';

const BLOCK = 64 * 1024;

export class EventFile {
  private pending: string[] = [];
  private size = 0;

  private constructor(
    private fd: number | undefined,
    private readonly beforeWrite: () => void,
  ) {}

  static open(path: string, options: { readonly beforeWrite?: () => void } = {}): EventFile {
    return new EventFile(openSync(path, 'w'), options.beforeWrite ?? (() => {}));
  }

  /** The subscriber to hand the event log. */
  readonly write = (e: StampedEvent): void => {
    const line = eventLine(e);
    this.pending.push(line);
    this.size += line.length;
    if (this.size >= BLOCK) this.flush();
  };

  flush(): void {
    if (this.fd === undefined || this.pending.length === 0) return;
    this.beforeWrite();
    writeSync(this.fd, this.pending.join(''));
    this.pending = [];
    this.size = 0;
  }

  close(): void {
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
