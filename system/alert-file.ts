// `hic boot --alerts FILE`: the Monitor's alerts file (seed §5.2.2 告警路由), one JSON object per
// line for every `alert` record whose routes include the file (MD_ROUTE_FILE): a new incident or
// an escalation, not silenced, of any priority. A duplicate, an alert merged into its incident
// and a silenced one stay in the event log (and, for P0 and P1, the audit log) only.
//
// `hic boot --page FILE` is the same sink for the operator's page (MD_ROUTE_PAGE: the seed's
// phone and SMS for P0, 电话+短信): only the alerts routed to it, P0 in the default policy. A
// pager, or a script that sends the SMS, reads the file; the machine never calls out.
//
//   {"tNs":800407254,"priority":"P1","rule":"perf_down","message":"performance down 66.8 %","incident":2,"count":1,"update":1}
//
// The file is opened to append (created 0600 if absent, never truncated: it outlives a run, like a
// log a pager reads), and each line leaves in one write, after the audit records of what led to it
// (`beforeWrite`: hic boot seals the audit log there, as for every line that leaves the process).

import { closeSync, constants, fstatSync, openSync, writeSync } from 'node:fs';
import type { StampedEvent } from '../core0/events.ts';
import { alertOf, ROUTE } from './update/alerts.ts';

export class AlertFile {
  /** Lines written by this run. */
  lines = 0;

  private constructor(
    private fd: number | undefined,
    private readonly beforeWrite: () => void,
    private readonly route: number,
  ) {}

  /**
   * Opens `path` to append, as the sink of `route` (the alerts file unless told). A path that is not a regular file (a directory, a FIFO, a device) is
   * refused after the open and closed again: the error names what it is.
   */
  static open(path: string, options: { readonly beforeWrite?: () => void; readonly route?: 'file' | 'page' } = {}): AlertFile {
    const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK, 0o600);
    const st = fstatSync(fd);
    if (!st.isFile()) {
      closeSync(fd);
      throw Object.assign(new Error(`${path} is not a regular file`), { code: 'ENOTREG' });
    }
    return new AlertFile(fd, options.beforeWrite ?? (() => {}), ROUTE[options.route ?? 'file']);
  }

  /** The subscriber to hand the event log. */
  readonly write = (e: StampedEvent): void => {
    const a = alertOf(e);
    if (!a || !(a.routes & this.route) || this.fd === undefined) return;
    const line = JSON.stringify({ tNs: a.tNs, priority: a.level, rule: a.rule, message: a.message, incident: a.incident, count: a.count, update: a.id }) + '\n';
    this.beforeWrite();
    writeSync(this.fd, line);
    this.lines++;
  };

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
