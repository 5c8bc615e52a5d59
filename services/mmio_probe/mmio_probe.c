/* mmio_probe: reaches a device through Core-0's capabilities. The doorbell device
 * (emulator/device.ts) has an ID register at 0x00, a scratch register at 0x08 and a doorbell at
 * 0x10 that raises its interrupt line.
 *
 * role driver (its configuration; caps: irqs [16], mmio ["doorbell"]; slots 1 = IRQ, 2 = registers): map the registers,
 * check the ID, write and read back the scratch register, route the IRQ to a notification, ring
 * the doorbell and wait for the interrupt. Exits 0 when all of it worked.
 * role snoop (caps: mmio ["doorbell:r"]; slot 1): map read-only, read the ID, then try to write the
 * scratch register — which must fault (writeProtected) and never reach the device. */
#include "hic/module.h"
#include "hic/runtime.h"

#define DOORBELL_ID 0x484943444f4f5231ULL

static int probe(void) {
  int64_t regs = hic_mmio_map(2);
  if (regs < 0) return hic_log("mmio_probe: mmio_map failed: %ld", regs), 1;
  volatile uint64_t *r = (volatile uint64_t *)(uintptr_t)regs;
  if (r[0] != DOORBELL_ID) return hic_log("mmio_probe: bad ID 0x%lx", r[0]), 2;
  r[1] = 0x1234abcd;
  if (r[1] != 0x1234abcd) return hic_log("mmio_probe: scratch reads 0x%lx", r[1]), 3;
  int64_t n = hic_notification_create();
  if (n < 0 || hic_irq_bind(1, (uint64_t)n, 4) < 0) return hic_log("mmio_probe: irq_bind failed"), 4;
  r[2] = 1; /* ring */
  int64_t bits = hic_wait((uint64_t)n, 0, 1000000);
  if (bits != 4) return hic_log("mmio_probe: waited for the doorbell, got %ld", bits), 5;
  hic_irq_ack(1);
  hic_log("mmio_probe: device at 0x%lx: ID ok, scratch ok, doorbell rang %lu time(s), interrupt received", (uint64_t)regs, r[2]);
  return 0;
}

static int read_only(void) {
  int64_t regs = hic_mmio_map(1);
  if (regs < 0) return hic_log("mmio_probe: mmio_map failed: %ld", regs), 1;
  volatile uint64_t *r = (volatile uint64_t *)(uintptr_t)regs;
  if (r[0] != DOORBELL_ID) return hic_log("mmio_probe: bad ID 0x%lx", r[0]), 2;
  hic_log("mmio_probe: read-only mapping reads the ID; now writing the scratch register");
  r[1] = 0xbad;
  hic_log("mmio_probe: the write went through (isolation broken)");
  return 9;
}

int hic_main(void) {
  return hic_config()->role == MMIO_PROBE_ROLE_DRIVER ? probe() : read_only();
}
