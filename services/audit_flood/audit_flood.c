/* audit_flood: a hostile guest that tries to grow the audit log without bound. Every cap_revoke is
 * an audited kernel decision (capRevoked), and revoking a capability with nothing derived from it
 * is always allowed, so this loop makes the kernel audit as fast as a guest can trap. Core-0 charges
 * those records to this sandbox (core0/audit/limiter.ts): past the burst they are counted, not
 * written, and the count is audited as one summary. Its configuration: the number of calls. */
#include "hic/module.h"
#include "hic/runtime.h"

int hic_main(void) {
  uint64_t calls = hic_config()->calls;
  int64_t ep = hic_endpoint_create();
  if (ep < 0) {
    hic_log("audit_flood: endpoint_create failed: %ld", ep);
    return 1;
  }
  for (uint64_t i = 0; i < calls; i++) {
    int64_t r = hic_cap_revoke((uint64_t)ep);
    if (r < 0) {
      hic_log("audit_flood: cap_revoke #%lu failed: %ld", i, r);
      return 2;
    }
  }
  hic_log("audit_flood: %lu revocations, every one of them audited or counted", calls);
  return 0;
}
