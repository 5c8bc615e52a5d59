/* ipc_lib: a shared library module. Its code is loaded once, relocated at its own physical
 * address, and mapped read-execute into every sandbox that depends on it — never writable, so no
 * sandbox can change what another runs. It has no data segment and calls nothing: pure functions.
 * (Message-passing helpers join it with the IPC work; for now it carries what hello uses.) */
#include <stddef.h>
#include <stdint.h>

/* The library's version as major << 16 | minor << 8 | patch. */
uint32_t ipc_version(void) {
  return 2u << 16;
}

/* FNV-1a over a byte range: a checksum both ends of a message can compute. */
uint64_t ipc_checksum(const void *data, size_t len) {
  const uint8_t *p = data;
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}
