// The loader's placement step: given a decoded (and verified) module and the real address it will
// live at, produce the relocated bytes, each segment's mapping, the exports' addresses and, for a
// service, the entry point read from its `_service_entry` table. Pure: nothing in the kernel
// changes here, so a refusal leaves no trace by construction.
//
// Every import is resolved before any relocation is applied; every relocation stays inside the
// image (the decoder bounded sites and targets) or lands on a declared import.

import { SERVICE_ENTRY } from '../abi/abi.ts';
import { fail } from './errors.ts';
import { PAGE, type DecodedModule, type Import, type SegmentKind } from './format.ts';

export interface PlacedSegment {
  readonly kind: SegmentKind;
  readonly va: number;
  readonly pages: number;
  readonly writable: boolean;
  readonly executable: boolean;
}

export interface PlacedModule {
  /** The whole image, relocated: pages × 4 KiB, bss zero. */
  readonly bytes: Uint8Array;
  readonly segments: readonly PlacedSegment[];
  readonly exports: ReadonlyMap<string, number>;
  /** Where a service's first thread starts; undefined for a library. */
  readonly entry: number | undefined;
}

/** Address of an import, or undefined when no loaded library provides it. */
export type ImportResolver = (imp: Import) => number | undefined;

export function placeModule(m: DecodedModule, base: number, resolve: ImportResolver): PlacedModule {
  const name = `${m.meta.name} ${m.meta.version}`;
  if (m.meta.kind === 'library' && m.segments.some((s) => s.writable)) {
    fail('NOT_A_LIBRARY', `${name}: a library is shared between sandboxes, so it may not have writable segments`);
  }
  const targets = m.imports.map((imp) => resolve(imp) ?? fail('UNRESOLVED_IMPORT', `${name}: import ${imp.module}.${imp.symbol} is not exported by any loaded ${imp.module}`));

  const bytes = new Uint8Array(m.pages * PAGE);
  for (const s of m.segments) bytes.set(m.image.subarray(s.fileOffset, s.fileOffset + s.fileSize), s.offset);
  const view = new DataView(bytes.buffer);
  for (const r of m.relocations) {
    const value = r.kind === 'image' ? base + r.addend : targets[r.index]! + r.addend;
    view.setBigUint64(r.site, BigInt(value), true);
  }

  const segments = m.segments.map((s) => ({ kind: s.kind, va: base + s.offset, pages: s.memSize / PAGE, writable: s.writable, executable: s.executable }));
  const exports = new Map(m.exports.map((e) => [e.name, base + e.offset]));
  let entry: number | undefined;
  if (m.meta.kind === 'service') {
    const table = m.exports.find((e) => e.name === SERVICE_ENTRY.symbol);
    if (!table || table.kind !== 'data' || table.size < SERVICE_ENTRY.size) fail('BAD_ENTRY', `${name}: a service must export a ${SERVICE_ENTRY.size}-byte ${SERVICE_ENTRY.symbol} table`);
    const magic = view.getUint32(table.offset, true);
    const abi = view.getUint32(table.offset + 4, true);
    const start = Number(view.getBigUint64(table.offset + 8, true));
    if (magic !== SERVICE_ENTRY.magic || abi < 1) fail('BAD_ENTRY', `${name}: ${SERVICE_ENTRY.symbol} has magic 0x${magic.toString(16)}, abi ${abi}`);
    if (!segments.some((s) => s.executable && start >= s.va && start < s.va + s.pages * PAGE)) {
      fail('BAD_ENTRY', `${name}: entry 0x${start.toString(16)} is not in the module's code`);
    }
    entry = start;
  } else if (m.exports.some((e) => e.name === SERVICE_ENTRY.symbol)) {
    fail('NOT_A_SERVICE', `${name}: a library has no ${SERVICE_ENTRY.symbol}`);
  }
  return { bytes, segments, exports, entry };
}
