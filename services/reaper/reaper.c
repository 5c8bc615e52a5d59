/* reaper: holds a sandbox-control capability (slot 1, from the manifest's caps.control, when the
 * sandbox has no IRQ lines) and acts on that sandbox at virtual time `at` (its configuration):
 *
 *   action destroy   destroy it -- busy or not. The kernel must cancel its IPC (callers get
 *                    PEER_GONE), revoke its capabilities and return its frames; a second destroy
 *                    must find it gone.
 *   action suspend   suspend it, sleep `suspend_for`, resume it: nothing of it may run in
 *                    between, whether it was runnable, sleeping or blocked.
 *
 * Exits 0, or 1 when the kernel refused or a second destroy did not say PEER_GONE. */
#include "hic/module.h"
#include "hic/runtime.h"

#define VICTIM 1

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

static int suspend_for(uint64_t ns) {
  int64_t r = hic_sandbox_suspend(VICTIM);
  if (r < 0) {
    hic_log("reaper: suspend failed: %ld", r);
    return 1;
  }
  hic_log("reaper: suspended the sandbox at %ld ns", hic_time_now());
  hic_sleep(ns);
  int64_t resumed_at = hic_time_now();
  r = hic_sandbox_resume(VICTIM);
  if (r < 0) {
    hic_log("reaper: resume failed: %ld", r);
    return 1;
  }
  hic_log("reaper: resumed the sandbox at %ld ns", resumed_at);
  return 0;
}

int hic_main(void) {
  const struct reaper_config *config = hic_config();
  int64_t info = hic_cap_info(VICTIM);
  if (info != ((HIC_CAP_SANDBOX << 8) | HIC_RIGHTS_ALL)) {
    hic_log("reaper: slot %d is not sandbox control (info %ld)", VICTIM, info);
    return 1;
  }
  int64_t now = hic_time_now();
  if ((uint64_t)now < config->at_ns) hic_sleep(config->at_ns - (uint64_t)now);
  return config->action == REAPER_ACTION_SUSPEND ? suspend_for(config->suspend_for_ns) : destroy();
}
