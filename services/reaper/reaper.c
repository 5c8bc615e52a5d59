/* reaper: holds a sandbox-control capability (slot 1, from the manifest's caps.control, when the
 * sandbox has no IRQ lines) and acts on that sandbox at a chosen virtual time:
 *
 *   arg < 2^40         sleep arg ns, then destroy it -- busy or not. The kernel must cancel its
 *                      IPC (callers get PEER_GONE), revoke its capabilities and return its frames;
 *                      a second destroy must find it gone.
 *   arg = D << 40 | T  sleep T ns, suspend it, sleep D µs, resume it: nothing of it may run in
 *                      between, whether it was runnable, sleeping or blocked.
 *
 * Exits 0, or 1 when the kernel refused or a second destroy did not say PEER_GONE. */
#include "hic/runtime.h"

#define VICTIM 1
#define SUSPEND_SHIFT 40

static int destroy(void) {
  int64_t r = hic_sandbox_destroy(VICTIM);
  if (r < 0) {
    hic_log("reaper: destroy failed: %ld", r);
    return 1;
  }
  hic_log("reaper: destroyed the sandbox at %ld ns", hic_time_now());
  r = hic_sandbox_destroy(VICTIM);
  if (r != -HIC_ERR_PEER_GONE) {
    hic_log("reaper: second destroy gave %ld, want %d", r, -HIC_ERR_PEER_GONE);
    return 1;
  }
  return 0;
}

static int suspend_for(uint64_t us) {
  int64_t r = hic_sandbox_suspend(VICTIM);
  if (r < 0) {
    hic_log("reaper: suspend failed: %ld", r);
    return 1;
  }
  hic_log("reaper: suspended the sandbox at %ld ns", hic_time_now());
  hic_sleep(us * 1000);
  int64_t resumed_at = hic_time_now();
  r = hic_sandbox_resume(VICTIM);
  if (r < 0) {
    hic_log("reaper: resume failed: %ld", r);
    return 1;
  }
  hic_log("reaper: resumed the sandbox at %ld ns", resumed_at);
  return 0;
}

int hic_main(uint64_t arg) {
  int64_t info = hic_cap_info(VICTIM);
  if (info != ((HIC_CAP_SANDBOX << 8) | HIC_RIGHTS_ALL)) {
    hic_log("reaper: slot %d is not sandbox control (info %ld)", VICTIM, info);
    return 1;
  }
  hic_sleep(arg & ((1UL << SUSPEND_SHIFT) - 1));
  uint64_t suspend_us = arg >> SUSPEND_SHIFT;
  return suspend_us ? suspend_for(suspend_us) : destroy();
}
