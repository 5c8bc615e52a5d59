/* template: the starting point for a new service. Copy this directory to services/<name>/,
 * rename the file, and replace the body of hic_main; see README.md. */
#include "hic/runtime.h"

/* The loader calls hic_main (through _start in services/runtime/start.c) with the one 64-bit
 * argument given for this module in the image manifest. The return value becomes the exit
 * status: 0 for success, anything else is reported as a failure. */
int hic_main(uint64_t arg) {
  hic_log("template: started with arg %lu", arg);

  /* Syscalls return a value >= 0 on success and -HIC_ERR_* on failure; always check. */
  int64_t now = hic_time_now();
  if (now < 0) {
    hic_log("template: time_now failed: %ld", now);
    return 1;
  }
  hic_log("template: virtual time is %ld ns", now);
  return 0;
}
