// A process that opens an audit log, appends one record, says "held" and waits to be killed: the
// audit tests use it to show that a holder killed with SIGKILL leaves the lock free.
import { AuditLog } from '../../core0/audit.ts';
import { tryLock } from '../../emulator/flock.ts';

const log = AuditLog.open(process.argv[2]!, { lock: tryLock });
log.append({ t: 0, kind: 'held', pid: process.pid });
process.stdout.write('held\n');
setInterval(() => {}, 1 << 30);
