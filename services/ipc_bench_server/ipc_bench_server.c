/* ipc_bench_server: the server side of the IPC benchmarks (bench/benchmarks/ipc.ts). It registers
 * cap://ipcbench/v1.0.0/rpc and answers calls for ever: a plain call gets its words back; a call
 * carrying a capability gets it deleted (a copied endpoint) or moved straight back in the reply
 * (a memory object), so each round trip transfers the capability twice. */
#include "hic/runtime.h"

static const char NAME[] = "cap://ipcbench/v1.0.0/rpc";

int hic_main(void) {
  int64_t ep = hic_endpoint_create();
  if (ep < 0 || hic_registry_register(0, NAME, sizeof NAME - 1, (uint64_t)ep) < 0) {
    hic_log("ipc_bench_server: cannot register (%ld)", ep);
    return 1;
  }
  static struct hic_msg m;
  if (hic_recv((uint64_t)ep, &m, 0, 0) < 0) return 1;
  for (;;) {
    int64_t cap = m.cap;
    m.cap = HIC_NO_CAP;
    m.cap_move = 0;
    if (cap >= 0) {
      int64_t info = hic_cap_info((uint64_t)cap);
      if ((info >> 8) == HIC_CAP_MEMORY) {
        m.cap = cap; /* give it back */
        m.cap_move = 1;
      } else {
        hic_cap_delete((uint64_t)cap);
      }
    }
    m.len = 0;
    if (hic_reply(&m) < 0) return 2;
    if (hic_recv((uint64_t)ep, &m, 0, 0) < 0) return 3;
  }
}
