// Opens an audit log, appends one record and closes it, in a process of its own: the audit tests
// run it with a small heap (--max-old-space-size) to show that opening a log streams it, where a
// log read whole, or kept line by line, could not fit. Prints {"seq":…,"sealed":…} on success.
//
//   node --max-old-space-size=64 --import tsx tests/support/audit-open.ts LOG SEGMENT_BYTES T

import { AuditLog } from '../../core0/audit.ts';
import { tryLock } from '../../emulator/flock.ts';

const [log, segmentBytes, t] = process.argv.slice(2);
if (!log || !segmentBytes || !t) throw new Error('usage: audit-open.ts LOG SEGMENT_BYTES T');
const a = AuditLog.open(log, { lock: tryLock, segmentBytes: Number(segmentBytes) });
const seq = a.append({ t: Number(t), kind: 'k' }).seq;
a.close();
process.stdout.write(JSON.stringify({ seq, sealed: a.sealedSegments }) + '\n');
