/* irq_handler: a device driver's interrupt loop. The IRQ line is the capability in slot 1
 * (manifest caps.irqs). With `bind_at` 0 (its configuration) the handler binds the line at once;
 * otherwise it sleeps until that virtual time and binds then -- taking the line over from
 * whichever handler had it, in one step: the kernel moves the line with its mask and pending count, so no
 * interrupt is lost or delivered twice.
 *
 * Each wakeup is one interrupt (the line stays masked until acknowledged). When none has come
 * for 20 ms the handler reports how many it handled (record `handled`) and exits 0. */
#include "hic/module.h"
#include "hic/runtime.h"

#define IRQ 1 /* slot 1: the first (only) line in caps.irqs */
#define IRQ_BIT 1
#define QUIET_NS 20000000 /* 20 ms without an interrupt: the stream is over (or went elsewhere) */

int hic_main(void) {
  uint64_t bind_at = hic_config()->bind_at_ns;
  int64_t ntfn = hic_notification_create();
  if (ntfn < 0) {
    hic_log("irq_handler: notification_create failed: %ld", ntfn);
    return 1;
  }
  if (bind_at) {
    int64_t now = hic_time_now();
    if ((uint64_t)now < bind_at) hic_sleep(bind_at - (uint64_t)now);
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
  irq_handler_emit_handled(&(struct irq_handler_record_handled){.interrupts = handled});
  hic_log("irq_handler: handled %lu interrupts", handled);
  return 0;
}
