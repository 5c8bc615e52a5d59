/* ipc_bench_client: the client side of the IPC benchmarks: `calls` calls (its configuration) in
 * one `mode`:
 *   plain: call/reply with four message words
 *   endpoint_copy: each call passes a copy of an endpoint capability (the server deletes it)
 *   memory_move: each call moves a 64 KiB memory object to the server, which moves it back
 * It exits 0 when every call succeeded, after logging how many it made. */
#include "hic/module.h"
#include "hic/runtime.h"

static const char NAME[] = "cap://ipcbench/v1.0.0/rpc";

int hic_main(void) {
  uint64_t mode = hic_config()->mode;
  uint64_t calls = hic_config()->calls;
  int64_t ep;
  while ((ep = hic_registry_lookup(0, NAME, sizeof NAME - 1)) < 0) hic_sleep(10000);

  int64_t cap = -1;
  if (mode == IPC_BENCH_CLIENT_MODE_ENDPOINT_COPY) cap = hic_endpoint_create();
  if (mode == IPC_BENCH_CLIENT_MODE_MEMORY_MOVE) {
    cap = hic_memory_create(64 * 1024);
    uint8_t *p = (uint8_t *)(uintptr_t)hic_memory_map((uint64_t)cap);
    p[0] = 0x5a;
    hic_memory_unmap((uint64_t)cap);
  }
  static struct hic_msg m;
  for (uint64_t i = 0; i < calls; i++) {
    m.label = 1;
    m.words[0] = i;
    m.len = 0;
    m.cap = HIC_NO_CAP;
    m.cap_move = 0;
    if (mode == IPC_BENCH_CLIENT_MODE_ENDPOINT_COPY) m.cap = cap;
    if (mode == IPC_BENCH_CLIENT_MODE_MEMORY_MOVE) {
      m.cap = cap;
      m.cap_move = 1;
    }
    int64_t r = hic_call((uint64_t)ep, &m, 0, 0);
    if (r < 0 || m.words[0] != i) {
      hic_log("ipc_bench_client: call %lu failed (%ld)", i, r);
      return 1;
    }
    if (mode == IPC_BENCH_CLIENT_MODE_MEMORY_MOVE) cap = m.cap; /* it came back, in whatever slot */
  }
  hic_log("ipc_bench_client: %lu calls in mode %lu", calls, mode);
  return 0;
}
