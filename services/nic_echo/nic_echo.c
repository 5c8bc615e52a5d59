/* nic_echo: the smallest driver for the NIC (emulator/devices/nic.ts), and the tests' echo host.
 * Caps: irqs [16], mmio ["nic"]; slot 1 = the IRQ line, slot 2 = the registers.
 *
 * role driver (its configuration): map the registers, put both rings and their 2 KiB buffers in one memory object (mapped at
 * its physical address, so the addresses written into descriptors are the ones the device uses),
 * enable RX, TX and the RX interrupt, then on each interrupt send every received frame back with
 * its Ethernet source and destination swapped. After 50 ms (virtual) without an interrupt it
 * reports its counts (record `summary`) and exits 0.
 * role hostile: a hostile driver. It points the RX ring at the page just below its own image (memory
 * it does not own), then, after a reset, a descriptor's buffer there; each time the device must
 * refuse the DMA (STATUS bit 1, RX stopped) and write nothing. Exits 0 when both were refused. */
#include "hic/nic.h"
#include "hic/module.h"
#include "hic/runtime.h"

#define IRQ_SLOT 1
#define NIC_SLOT 2
#define IRQ_BIT 1
#define QUIET_NS 50000000ULL /* 50 ms without an interrupt: the traffic is over */

/* The NIC's registers and descriptors: hic/nic.h. */
#define RX_N 32
#define TX_N 32
#define BUF 2048
#define MAX_FRAME 1518
#define ETH_HEADER 14
/* Page 0: the RX ring (512 bytes), then the TX ring; then RX_N + TX_N buffers. */
#define DMA_BYTES (4096 + (RX_N + TX_N) * BUF)

static volatile uint64_t *r;
static volatile struct desc *rx, *tx;
static uint8_t *rx_buf, *tx_buf;
static uint32_t tx_tail;
static uint64_t echoed, bad, tx_full;

static int map_nic(void) {
  int64_t regs = hic_mmio_map(NIC_SLOT);
  if (regs < 0) return hic_log("nic_echo: mmio_map failed: %ld", regs), 0;
  r = (volatile uint64_t *)(uintptr_t)regs;
  if (r[ID] != NIC_ID) return hic_log("nic_echo: bad ID 0x%lx", r[ID]), 0;
  r[CTRL] = CTRL_RESET;
  return 1;
}

static int64_t bind_irq(void) {
  int64_t n = hic_notification_create();
  if (n < 0 || hic_irq_bind(IRQ_SLOT, (uint64_t)n, IRQ_BIT) < 0) return hic_log("nic_echo: irq_bind failed"), -1;
  return n;
}

/* Memory for the rings and buffers; its address is physical, so it goes to the device as is. */
static uint64_t dma_memory(uint64_t len) {
  int64_t m = hic_memory_create(len);
  int64_t at = m < 0 ? m : hic_memory_map((uint64_t)m);
  if (at < 0) return hic_log("nic_echo: no DMA memory: %ld", at), 0;
  return (uint64_t)at;
}

/* Sends frame i of the RX ring back with its MAC addresses swapped, through the next TX slot. */
static void echo(uint32_t i) {
  uint16_t len = rx[i].len;
  if (len < ETH_HEADER || len > MAX_FRAME) return (void)bad++;
  if ((tx_tail + 1) % TX_N == (uint32_t)r[TX_HEAD]) return (void)tx_full++; /* never: TX is synchronous */
  const uint8_t *in = rx_buf + (uint64_t)i * BUF;
  uint8_t *out = tx_buf + (uint64_t)tx_tail * BUF;
  memcpy(out, in + 6, 6);
  memcpy(out + 6, in, 6);
  memcpy(out + 12, in + 12, len - 12u);
  tx[tx_tail].len = len;
  tx[tx_tail].flags = EOP;
  tx_tail = (tx_tail + 1) % TX_N;
  r[TX_TAIL] = tx_tail; /* the device sends it in this store */
  echoed++;
}

static int driver(void) {
  if (!map_nic()) return 1;
  uint64_t base = dma_memory(DMA_BYTES);
  if (!base) return 2;
  rx = (volatile struct desc *)(uintptr_t)base;
  tx = rx + RX_N;
  rx_buf = (uint8_t *)(uintptr_t)(base + 4096);
  tx_buf = rx_buf + RX_N * BUF;
  for (uint32_t i = 0; i < RX_N; i++) rx[i] = (struct desc){.addr = (uint64_t)(uintptr_t)(rx_buf + i * BUF), .len = BUF};
  for (uint32_t i = 0; i < TX_N; i++) tx[i] = (struct desc){.addr = (uint64_t)(uintptr_t)(tx_buf + i * BUF)};
  r[RX_RING] = base;
  r[RX_SIZE] = RX_N;
  r[RX_TAIL] = RX_N - 1; /* all but one descriptor: HEAD == TAIL means the ring is empty */
  r[TX_RING] = base + RX_N * sizeof(struct desc);
  r[TX_SIZE] = TX_N;
  int64_t n = bind_irq();
  if (n < 0) return 3;
  r[IRQ_MASK] = IRQ_RX;
  r[CTRL] = CTRL_RX | CTRL_TX;
  if ((r[CTRL] & (CTRL_RX | CTRL_TX)) != (CTRL_RX | CTRL_TX)) return hic_log("nic_echo: the device refused the rings"), 4;
  uint64_t mac = r[MAC];
  hic_log("nic_echo: up at %02lx:%02lx:%02lx:%02lx:%02lx:%02lx, rings at 0x%lx", mac & 0xff, mac >> 8 & 0xff, mac >> 16 & 0xff, mac >> 24 & 0xff,
          mac >> 32 & 0xff, mac >> 40 & 0xff, base);

  uint32_t next = 0; /* the next RX descriptor to look at */
  uint64_t interrupts = 0;
  for (;;) {
    int64_t bits = hic_wait((uint64_t)n, 0, QUIET_NS);
    if (bits == -HIC_ERR_TIMEOUT) break;
    if (bits < 0) return hic_log("nic_echo: wait failed: %ld", bits), 5;
    interrupts++;
    /* Clear the device's status before looking: a frame arriving from here on raises again. */
    r[IRQ_STATUS] = IRQ_RX;
    while (rx[next].flags & DONE) {
      echo(next);
      rx[next].len = BUF;
      rx[next].flags = 0;
      r[RX_TAIL] = next; /* hands back the slot before it; this one is now the empty one */
      next = (next + 1) % RX_N;
    }
    hic_irq_ack(IRQ_SLOT);
  }
  uint64_t status = r[STATUS];
  nic_echo_emit_summary(&(struct nic_echo_record_summary){.echoed = echoed, .interrupts = interrupts, .bad = bad, .tx_full = tx_full,
                                                        .device_rx = r[RX_COUNT], .device_tx = r[TX_COUNT], .device_dropped = r[RX_DROPPED], .status = status});
  hic_log("nic_echo: echoed %lu frames on %lu interrupts (bad %lu, tx full %lu); device rx %lu, tx %lu, dropped %lu, status 0x%lx", echoed,
          interrupts, bad, tx_full, r[RX_COUNT], r[TX_COUNT], r[RX_DROPPED], status);
  return status & STATUS_DMA_ERROR ? 6 : 0;
}

/* Lets the device try (a frame comes from the host meanwhile), then reads whether it refused. */
static int refused(int64_t n, uint64_t target, const char *what, uint64_t at) {
  hic_log("nic_echo: hostile: %s at 0x%lx (not mine), RX enabled: %lu", what, at, r[CTRL] & CTRL_RX);
  int64_t bits = hic_wait((uint64_t)n, 0, QUIET_NS);
  uint64_t status = r[STATUS], ctrl = r[CTRL];
  int ok = bits == -HIC_ERR_TIMEOUT && (status & STATUS_DMA_ERROR) && !(ctrl & CTRL_RX) && r[RX_COUNT] == 0;
  nic_echo_emit_dma_attempt(&(struct nic_echo_record_dma_attempt){
      .target = target, .at = at, .wait = bits, .status = status, .ctrl = ctrl, .rx_dropped = r[RX_DROPPED], .refused = ok != 0});
  hic_log("nic_echo: hostile: %s: wait %ld, status 0x%lx, ctrl 0x%lx, rx dropped %lu: %s", what, bits, status, ctrl, r[RX_DROPPED],
          ok ? "refused" : "NOT REFUSED");
  return ok;
}

static int hostile(void) {
  if (!map_nic()) return 1;
  uint64_t base = dma_memory(4096);
  int64_t n = bind_irq();
  if (!base || n < 0) return 2;
  /* start.o is linked first, so _start is the first byte of the image; the page below is someone
   * else's (another sandbox's stack, a library, or reserved). */
  uint64_t foreign = ((uint64_t)(uintptr_t)_start & ~0xfffULL) - 4096;
  r[IRQ_MASK] = IRQ_RX;

  r[RX_RING] = foreign;
  r[RX_SIZE] = 4;
  r[RX_TAIL] = 3;
  r[CTRL] = CTRL_RX;
  int ring = refused(n, NIC_ECHO_DMA_ATTEMPT_TARGET_RX_RING, "RX ring", foreign);

  r[CTRL] = CTRL_RESET;
  volatile struct desc *d = (volatile struct desc *)(uintptr_t)base;
  for (int i = 0; i < 4; i++) d[i] = (struct desc){.addr = foreign, .len = BUF};
  r[RX_RING] = base;
  r[RX_SIZE] = 4;
  r[RX_TAIL] = 3;
  r[IRQ_MASK] = IRQ_RX;
  r[CTRL] = CTRL_RX;
  int buffer = refused(n, NIC_ECHO_DMA_ATTEMPT_TARGET_RX_BUFFER, "RX buffer", foreign);
  return ring && buffer ? 0 : 7;
}

int hic_main(void) {
  return hic_config()->role == NIC_ECHO_ROLE_DRIVER ? driver() : hostile();
}
