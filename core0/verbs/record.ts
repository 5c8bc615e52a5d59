// The record verb: a guest's typed result. The record types are the ones the sandbox's module
// declares in its signed metadata (module/config-records.ts); a record is the struct of 64-bit
// words hic/module.h generates for its type. Decode, then invoke: the type, the length, the
// memory and every word are checked first, and only a record that passes every check becomes an
// event — a refused one leaves nothing behind, not even a partial record.

import type { SyscallFrame } from '../../emulator/types.ts';
import { wordValue, type FieldValue } from '../module/values.ts';
import { Right } from '../abi/abi.ts';
import { err, type Outcome, type SyscallContext } from './verb.ts';

export function record(c: SyscallContext, f: SyscallFrame): Outcome {
  const id = f.arg(0);
  const ptr = f.arg(1);
  const len = f.arg(2);
  const module = c.sandbox.module;
  // Type ids start at 1, so a zeroed struct or a forgotten argument is never a record.
  const type = module && id >= 1 ? module.records[id - 1] : undefined;
  if (!module || !type) return err('NOT_FOUND');
  if (len !== type.fields.length * 8) return err('INVALID_ARGUMENT');
  const bytes = ptr <= 0 ? undefined : c.sandbox.cpu.space.view(ptr, len);
  if (!bytes) return err('BAD_ADDRESS');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: Record<string, FieldValue> = {};
  for (const [i, field] of type.fields.entries()) {
    const value = wordValue(field, view.getBigUint64(i * 8, true));
    if (value === undefined) return err('BAD_VALUE');
    fields[field.name] = value;
  }
  const e = { kind: 'record' as const, sandbox: c.sandbox.name, module: module.name, type: type.name, fields };
  // A record that commits a step is durable before the call returns, or refused: only a holder of
  // the loader's right W (the one who changes what is installed) commits, and not to a full journal.
  if (c.k.journaled(e)) {
    if (!holdsLoaderW(c)) return err('NO_RIGHT');
    if (!c.k.commit(e)) return err('NO_MEMORY');
  }
  c.k.events.emit(e);
  return 0;
}

function holdsLoaderW(c: SyscallContext): boolean {
  for (const cap of c.sandbox.cspace.all()) if (cap.object.capType === 'LOADER' && cap.has(Right.W)) return true;
  return false;
}
