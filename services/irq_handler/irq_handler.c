/* irq_handler: a device driver's interrupt loop. The IRQ line is the capability in slot 1
 * (manifest caps.irqs). With arg 0 or 1 the handler binds the line at once; with arg >= 2 it
 * sleeps until virtual time arg (ns) and binds then -- taking the line over from whichever
 * handler had it, in one step: the kernel moves the line with its mask and pending count, so no
 * interrupt is lost or delivered twice.
 *
 * Each wakeup is one interrupt (the line stays masked until acknowledged). When none has come
 * for 20 ms the handler logs how many it handled and exits 0. */
#include "hic/runtime.h"

#define IRQ 1 /* slot 1: the first (only) line in caps.irqs */
#define IRQ_BIT 1
#define QUIET_NS 20000000 /* 20 ms without an interrupt: the stream is over (or went elsewhere) */

int hic_main(uint64_t arg) {
  int64_t ntfn = hic_notification_create();
  if (ntfn < 0) {
    hic_log("irq_handler: notification_create failed: %ld", ntfn);
    return 1;
  }
  if (arg >= 2) {
    int64_t now = hic_time_now();
    if ((uint64_t)now < arg) hic_sleep(arg - (uint64_t)now);
  }
  int64_t r = hic_irq_bind(IRQ, (uint64_t)ntfn, IRQ_BIT);
  if (r < 0) {
    hic_log("irq_handler: irq_bind failed: %ld", r);
    return 1;
  }
  hic_log("irq_handler: bound at %ld ns", hic_time_now());

  uint64_t handled = 0;
  for (;;) {
    int64_t bits = hic_wait((uint64_t)ntfn, 0, QUIET_NS);
    if (bits == -HIC_ERR_TIMEOUT) break;
    if (bits < 0) {
      hic_log("irq_handler: wait failed after %lu interrupts: %ld", handled, bits);
      return 1;
    }
    if (bits != IRQ_BIT) hic_log("irq_handler: unexpected bits 0x%lx", (uint64_t)bits);
    handled++;
    r = hic_irq_ack(IRQ);
    if (r < 0) {
      hic_log("irq_handler: irq_ack failed: %ld", r);
      return 1;
    }
  }
  hic_log("irq_handler: handled %lu interrupts", handled);
  return 0;
}
