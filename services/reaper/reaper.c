/* reaper: holds a sandbox-control capability (slot 1, from the manifest's caps.control, when the
 * sandbox has no IRQ lines), sleeps arg ns of virtual time and destroys the sandbox -- busy or
 * not. The kernel must cancel the victim's IPC (its callers get PEER_GONE), revoke its
 * capabilities and return its frames. A second destroy must find the sandbox gone. */
#include "hic/runtime.h"

#define VICTIM 1

int hic_main(uint64_t arg) {
  int64_t info = hic_cap_info(VICTIM);
  if (info != ((HIC_CAP_SANDBOX << 8) | HIC_RIGHTS_ALL)) {
    hic_log("reaper: slot %d is not sandbox control (info %ld)", VICTIM, info);
    return 1;
  }
  hic_sleep(arg);
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
