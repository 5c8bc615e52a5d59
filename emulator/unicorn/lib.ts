// The raw libunicorn.so.2 entry points, declared for koffi. This file and engine.ts are the only
// places in HIC that see native pointers; everything above them works with Engine and HostMemory.
//
// Pointers to memory HIC owns (register batches, host memory backing guest frames) are passed as
// uintptr_t addresses of mmap'd blocks (host-memory.ts): no marshalling on the hot path, and the
// block's lifetime is explicit (uc_mem_map_ptr does not keep memory alive:
// docs/unicorn.md#map-ptr-lifetime).

import koffi from 'koffi';
import { fileURLToPath } from 'node:url';

export class LibraryMissingError extends Error {
  readonly code = 'HIC_UNICORN_MISSING';
  constructor(cause: unknown) {
    super(
      'libunicorn.so.2 could not be loaded (' + String((cause as Error)?.message ?? cause) + '). ' +
        'Install it with: apt-get install -y libunicorn2   (or run: npm run setup)',
    );
  }
}

function load(): ReturnType<typeof koffi.load> {
  try {
    return koffi.load('libunicorn.so.2');
  } catch (e) {
    throw new LibraryMissingError(e);
  }
}

const lib = load();

/** Where setup builds the native hooks (emulator/native/counter.c and trap.c). */
export const NATIVE_LIBRARY = fileURLToPath(new URL('../../build/native/libhicnative.so', import.meta.url));

export class CounterMissingError extends Error {
  readonly code = 'HIC_COUNTER_MISSING';
  constructor(detail: string) {
    super(`the native hooks (instruction counter, syscall trap) are missing or broken (${detail}); build them with: npm run setup`);
  }
}

/** struct hic_counter: executed, limit, address of the last instruction (all uint64_t). */
export const COUNTER_FIELDS = 3;

/** struct hic_trap in 64-bit words: seven argument registers, flags, the engine's index, the handler. */
export const TRAP_FIELDS = 10;

/**
 * Addresses of the C hooks: hic_count_instruction (UC_HOOK_CODE, counter.c) and
 * hic_syscall_trap (the syscall instruction hook, trap.c). A library built from older sources
 * lacks a symbol or lays a struct out otherwise, and is refused.
 */
function nativeHooks(): { countInstruction: bigint; syscallTrap: bigint } {
  const libc = koffi.load('libc.so.6');
  const dlopen = libc.func('uintptr_t dlopen(const char *file, int mode)');
  const dlsym = libc.func('uintptr_t dlsym(uintptr_t handle, const char *name)');
  const dlerror = libc.func('const char *dlerror(void)');
  const RTLD_NOW = 2;
  const handle = dlopen(NATIVE_LIBRARY, RTLD_NOW) as bigint | number;
  if (!handle) throw new CounterMissingError(String(dlerror()));
  const symbol = (name: string): bigint => {
    const fn = dlsym(handle, name) as bigint | number;
    if (!fn) throw new CounterMissingError(String(dlerror()));
    return BigInt(fn);
  };
  const countInstruction = symbol('hic_count_instruction');
  const syscallTrap = symbol('hic_syscall_trap');
  const native = koffi.load(NATIVE_LIBRARY);
  const fields = (name: string): number => {
    try {
      return native.func(`int ${name}(void)`)() as number;
    } catch {
      return 0; // no such symbol: a build from older sources
    }
  };
  if (fields('hic_counter_fields') !== COUNTER_FIELDS) throw new CounterMissingError('built from an older counter.c');
  if (fields('hic_trap_fields') !== TRAP_FIELDS) throw new CounterMissingError('built from an older trap.c');
  return { countInstruction, syscallTrap };
}

const hooks = nativeHooks();
export const COUNT_INSTRUCTION = hooks.countInstruction;
export const SYSCALL_TRAP = hooks.syscallTrap;

koffi.opaque('uc_engine');
koffi.opaque('uc_context');

export const uc = {
  version: lib.func('unsigned int uc_version(_Out_ unsigned int *major, _Out_ unsigned int *minor)'),
  open: lib.func('int uc_open(int arch, int mode, _Out_ uc_engine **uc)'),
  close: lib.func('int uc_close(uc_engine *uc)'),
  strerror: lib.func('const char *uc_strerror(int code)'),
  errno: lib.func('int uc_errno(uc_engine *uc)'),
  regRead: lib.func('int uc_reg_read(uc_engine *uc, int regid, uintptr_t value)'),
  regWrite: lib.func('int uc_reg_write(uc_engine *uc, int regid, uintptr_t value)'),
  regReadBatch: lib.func('int uc_reg_read_batch(uc_engine *uc, uintptr_t regs, uintptr_t vals, int count)'),
  regWriteBatch: lib.func('int uc_reg_write_batch(uc_engine *uc, uintptr_t regs, uintptr_t vals, int count)'),
  memMapPtr: lib.func('int uc_mem_map_ptr(uc_engine *uc, uint64_t address, size_t size, uint32_t perms, uintptr_t ptr)'),
  memUnmap: lib.func('int uc_mem_unmap(uc_engine *uc, uint64_t address, size_t size)'),
  mmioMap: lib.func('int uc_mmio_map(uc_engine *uc, uint64_t address, size_t size, uintptr_t read_cb, uint64_t user_data_read, uintptr_t write_cb, uint64_t user_data_write)'),
  memProtect: lib.func('int uc_mem_protect(uc_engine *uc, uint64_t address, size_t size, uint32_t perms)'),
  memRead: lib.func('int uc_mem_read(uc_engine *uc, uint64_t address, _Out_ uint8_t *bytes, size_t size)'),
  memWrite: lib.func('int uc_mem_write(uc_engine *uc, uint64_t address, const uint8_t *bytes, size_t size)'),
  emuStart: lib.func('int uc_emu_start(uc_engine *uc, uint64_t begin, uint64_t until, uint64_t timeout, size_t count)'),
  emuStop: lib.func('int uc_emu_stop(uc_engine *uc)'),
  hookAdd: lib.func(
    'int uc_hook_add(uc_engine *uc, _Out_ size_t *hh, int type, uintptr_t callback, uint64_t user_data, uint64_t begin, uint64_t end, ...)',
  ),
  hookDel: lib.func('int uc_hook_del(uc_engine *uc, size_t hh)'),
  ctl: lib.func('int uc_ctl(uc_engine *uc, uint32_t control, ...)'),
  contextAlloc: lib.func('int uc_context_alloc(uc_engine *uc, _Out_ uc_context **context)'),
  contextSave: lib.func('int uc_context_save(uc_engine *uc, uc_context *context)'),
  contextRestore: lib.func('int uc_context_restore(uc_engine *uc, uc_context *context)'),
  contextFree: lib.func('int uc_free(uc_context *context)'),
  contextRegRead: lib.func('int uc_context_reg_read(uc_context *ctx, int regid, uintptr_t value)'),
  contextRegWrite: lib.func('int uc_context_reg_write(uc_context *ctx, int regid, uintptr_t value)'),
  contextSize: lib.func('size_t uc_context_size(uc_engine *uc)'),
};

/** Callback prototypes. user_data is declared uint64_t so the engine's index arrives as a number. */
export const proto = {
  /** Called by the native syscall trap (trap.c) with the engine's index; returns the value for rax. */
  syscall: koffi.pointer(koffi.proto('int64_t HicSyscallCb(uint32_t index)')),
  intr: koffi.pointer(koffi.proto('void HicIntrCb(uintptr_t uc, uint32_t intno, uint64_t ud)')),
  memInvalid: koffi.pointer(
    koffi.proto('bool HicMemInvalidCb(uintptr_t uc, int type, uint64_t address, int size, int64_t value, uint64_t ud)'),
  ),
  memValid: koffi.pointer(
    koffi.proto('void HicMemCb(uintptr_t uc, int type, uint64_t address, int size, int64_t value, uint64_t ud)'),
  ),
  code: koffi.pointer(koffi.proto('void HicCodeCb(uintptr_t uc, uint64_t address, uint32_t size, uint64_t ud)')),
  insnInvalid: koffi.pointer(koffi.proto('bool HicInsnInvalidCb(uintptr_t uc, uint64_t ud)')),
  /** Returns 1 when the hook answered (the instruction is skipped), 0 to let it execute. */
  cpuid: koffi.pointer(koffi.proto('int HicCpuidCb(uintptr_t uc, uint64_t ud)')),
  portIn: koffi.pointer(koffi.proto('uint32_t HicInCb(uintptr_t uc, uint32_t port, int size, uint64_t ud)')),
  portOut: koffi.pointer(koffi.proto('void HicOutCb(uintptr_t uc, uint32_t port, int size, uint32_t value, uint64_t ud)')),
  mmioRead: koffi.pointer(koffi.proto('uint64_t HicMmioReadCb(uintptr_t uc, uint64_t offset, unsigned int size, uint64_t ud)')),
  mmioWrite: koffi.pointer(koffi.proto('void HicMmioWriteCb(uintptr_t uc, uint64_t offset, unsigned int size, uint64_t value, uint64_t ud)')),
};

export { koffi };
