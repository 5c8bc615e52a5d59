// A service module around raw position-independent code (a benchmark loop, a test snippet): one
// text segment with the code, one rodata page holding the `_service_entry` table that points at
// the code's first byte. No runtime, no imports; the kernel loads it like any other service.

import { SERVICE_ENTRY } from '../../core0/abi/abi.ts';
import { PAGE, type ModuleContent, type ModuleMetadata } from '../../core0/module/format.ts';

export function rawServiceModule(meta: Pick<ModuleMetadata, 'name' | 'version' | 'uuid'> & Partial<ModuleMetadata>, code: Uint8Array): ModuleContent {
  const textBytes = Math.max(PAGE, Math.ceil(code.length / PAGE) * PAGE);
  const table = new Uint8Array(SERVICE_ENTRY.size);
  const view = new DataView(table.buffer);
  view.setUint32(0, SERVICE_ENTRY.magic, true);
  view.setUint32(4, SERVICE_ENTRY.abi, true); // the start address is a relocation
  return {
    meta: { kind: 'service', dependencies: [], protocols: [], stateSchema: 0, memory: 1 << 20, cpuPermille: 100, capabilities: [], config: [], records: [], ...meta },
    segments: [
      { kind: 'text', writable: false, executable: true, offset: 0, memSize: textBytes, fileOffset: 0, fileSize: code.length },
      { kind: 'rodata', writable: false, executable: false, offset: textBytes, memSize: PAGE, fileOffset: code.length, fileSize: table.length },
    ],
    image: Buffer.concat([code, table]),
    relocations: [{ kind: 'image', site: textBytes + 8, addend: 0 }],
    imports: [],
    exports: [{ name: SERVICE_ENTRY.symbol, kind: 'data', offset: textBytes, size: SERVICE_ENTRY.size }],
  };
}
