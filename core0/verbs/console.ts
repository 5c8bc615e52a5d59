// The console verb: debug_log, a guest's only output besides IPC. The text goes to the event log,
// tagged with the sandbox and the virtual time; it is decoded leniently (invalid UTF-8 becomes
// U+FFFD) because a guest's bytes are its own business, not a reason to refuse the call.

import type { SyscallFrame } from '../../emulator/types.ts';
import { err, type Outcome, type SyscallContext } from './verb.ts';

/** The most a single debug_log writes (abi.ts says so to guests). */
export const DEBUG_LOG_MAX = 1024;

const utf8 = new TextDecoder('utf-8', { fatal: false });

export function debugLog(c: SyscallContext, f: SyscallFrame): Outcome {
  const ptr = f.arg(0);
  const len = f.arg(1);
  if (len < 0 || len > DEBUG_LOG_MAX) return err('INVALID_ARGUMENT');
  const bytes = ptr < 0 ? undefined : c.sandbox.cpu.space.view(ptr, len);
  if (!bytes || (len > 0 && ptr === 0)) return err('BAD_ADDRESS');
  c.console(utf8.decode(bytes));
  return 0;
}
