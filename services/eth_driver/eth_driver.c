/* eth_driver: the Ethernet driver service. It owns the NIC (emulator/devices/nic.ts) and moves
 * frames between the NIC's descriptor rings and up to ETH_INSTANCES network stack instances, each
 * attached through a frame channel (hic/frame_channel.h) by the protocol of hic/eth.h. The
 * steering table (steer.h) sends every received frame to exactly one instance -- during a rolling
 * update of the stack, each connection's segments keep going to the instance that owns it while
 * new connections go to the new default -- or drops it, counted, when that instance's ring is full.
 * Frames from every instance's tx ring go out on the NIC.
 *
 * Caps: irqs [16], mmio ["nic"]; slot 0 the registry, 1 the IRQ line, 2 the registers.
 * One notification carries all its wake-ups: the NIC's IRQ on bit 0, instance k's tx doorbell on
 * bit 1 + k (every instance gets a copy with right W only). A guest waits on one object at a
 * time, so the attach and control endpoints are polled without blocking after each wake-up, and
 * the wait times out every POLL_NS to look at them while the wire is quiet.
 *
 * Its configuration's `mode` (module.json): serve forever; until_detached: serve, and exit 0 with
 * a summary (records `summary` and `instance`) once `instances` instances have attached and all of
 * them have gone (images and tests); steering_bench: `decisions` forwarding decisions on synthetic
 * frames, then exit (bench/benchmarks/steering.ts).
 *
 * Built twice: services/eth_driver (version 1.1.0) and services/eth_driver_v2 (1.2.0), which
 * includes this file; the version (HIC_MODULE_VERSION, from each one's module.json) is in the
 * names it registers and in its STATS. */
#include "hic/eth.h"
#include "hic/frame_channel.h"
#include "hic/module.h"
#include "hic/nic.h"
#include "hic/runtime.h"
#include "steer.h"

#define ETH_VERSION HIC_MODULE_VERSION

#define REGISTRY 0
#define IRQ_SLOT 1
#define NIC_SLOT 2
#define BIT_IRQ 1ull
#define POLL_NS 100000ull /* 100 µs: how late an attach or control call may be answered */

/* The NIC's registers and descriptors: hic/nic.h. */
#define RX_N 128
#define TX_N 64
#define BUF 2048
#define MIN_FRAME 14
#define MAX_FRAME 1518
/* Page 0: the RX ring (2 KiB), then the TX ring (1 KiB); then RX_N + TX_N buffers. */
#define DMA_BYTES (4096 + (RX_N + TX_N) * BUF)

static volatile uint64_t *r;
static volatile struct desc *rx, *tx;
static uint8_t *rx_buf, *tx_buf;
static uint32_t rx_next, tx_tail;

/* An instance: FREE; ATTACHED (channel mapped, no notification yet); LIVE (frames go to it). */
enum { FREE, ATTACHED, LIVE };
struct instance {
  int state;
  int64_t channel_slot, notify_slot;
  struct fc_channel ch;
  bool pending; /* rx frames pushed since its last notification */
};

static struct instance inst[ETH_INSTANCES];
static struct steer steer;
static struct eth_stats st;
static struct hic_msg msg;
static int64_t doorbell; /* our notification with right W (and G, to pass copies of it on) */
static uint32_t attached_ever; /* instances that went live since the start */

/* --- the NIC ------------------------------------------------------------------------------- */

static int nic_up(void) {
  int64_t regs = hic_mmio_map(NIC_SLOT);
  if (regs < 0) return hic_log("eth_driver: mmio_map failed: %ld", regs), 0;
  r = (volatile uint64_t *)(uintptr_t)regs;
  if (r[ID] != NIC_ID) return hic_log("eth_driver: bad NIC ID 0x%lx", r[ID]), 0;
  r[CTRL] = CTRL_RESET;
  /* The rings' memory is mapped at its physical address: descriptors hold addresses as they are. */
  int64_t m = hic_memory_create(DMA_BYTES);
  int64_t base = m < 0 ? m : hic_memory_map((uint64_t)m);
  if (base < 0) return hic_log("eth_driver: no DMA memory: %ld", base), 0;
  rx = (volatile struct desc *)(uintptr_t)base;
  tx = rx + RX_N;
  rx_buf = (uint8_t *)(uintptr_t)(base + 4096);
  tx_buf = rx_buf + RX_N * BUF;
  for (uint32_t i = 0; i < RX_N; i++) rx[i] = (struct desc){.addr = (uint64_t)(uintptr_t)(rx_buf + i * BUF), .len = BUF};
  for (uint32_t i = 0; i < TX_N; i++) tx[i] = (struct desc){.addr = (uint64_t)(uintptr_t)(tx_buf + i * BUF)};
  r[RX_RING] = (uint64_t)base;
  r[RX_SIZE] = RX_N;
  r[RX_TAIL] = RX_N - 1; /* all but one: HEAD == TAIL means empty */
  r[TX_RING] = (uint64_t)base + RX_N * sizeof(struct desc);
  r[TX_SIZE] = TX_N;
  return 1;
}

/* Every received frame to the instance the steering table names; then one notification each. */
static void rx_service(void) {
  r[IRQ_STATUS] = IRQ_RX; /* clear before looking: a frame arriving from here on raises again */
  while (rx[rx_next].flags & DONE) {
    uint32_t len = rx[rx_next].len;
    const uint8_t *frame = rx_buf + (uint64_t)rx_next * BUF;
    st.frames_in++;
    if (len < MIN_FRAME || len > MAX_FRAME) {
      st.bad++;
    } else {
      uint8_t k = steer_decide(&steer, frame, len);
      if (k >= ETH_INSTANCES || inst[k].state != LIVE) st.no_instance++;
      else if (!fc_push(&inst[k].ch.rx, frame, len)) st.dropped[k]++;
      else {
        st.delivered[k]++;
        inst[k].pending = true;
      }
    }
    rx[rx_next].len = BUF;
    rx[rx_next].flags = 0;
    r[RX_TAIL] = rx_next; /* hands back the slot before it; this one is now the empty one */
    rx_next = (rx_next + 1) % RX_N;
  }
  for (int k = 0; k < ETH_INSTANCES; k++) {
    if (!inst[k].pending) continue;
    inst[k].pending = false;
    hic_notify((uint64_t)inst[k].notify_slot, ETH_RX_BIT);
  }
}

/* Every frame waiting in a live instance's tx ring onto the NIC. TX is sent in the TAIL store, so
 * the ring is never full here; if it were, the frames would wait in the channel. */
static void tx_service(void) {
  for (int k = 0; k < ETH_INSTANCES; k++) {
    if (inst[k].state != LIVE) continue;
    while ((tx_tail + 1) % TX_N != (uint32_t)r[TX_HEAD]) {
      int32_t len = fc_pop(&inst[k].ch.tx, tx_buf + (uint64_t)tx_tail * BUF, BUF);
      if (len == 0) break;
      if (len < MIN_FRAME || len > MAX_FRAME) {
        st.bad++;
        continue;
      }
      tx[tx_tail].len = (uint16_t)len;
      tx[tx_tail].flags = EOP;
      tx_tail = (tx_tail + 1) % TX_N;
      r[TX_TAIL] = tx_tail;
      st.frames_out++;
      st.sent[k]++;
    }
  }
}

/* --- instances ------------------------------------------------------------------------------- */

static bool holds(int64_t slot, int type) {
  int64_t info = slot < 0 ? -1 : hic_cap_info((uint64_t)slot);
  return info >= 0 && info >> 8 == type;
}

static void forget(int k, bool release) {
  struct instance *in = &inst[k];
  if (release && holds(in->channel_slot, HIC_CAP_MEMORY)) {
    hic_memory_unmap((uint64_t)in->channel_slot);
    hic_cap_delete((uint64_t)in->channel_slot);
  }
  if (release && holds(in->notify_slot, HIC_CAP_NOTIFICATION)) hic_cap_delete((uint64_t)in->notify_slot);
  hic_log("eth_driver: instance %d detached", k);
  *in = (struct instance){.state = FREE, .channel_slot = -1, .notify_slot = -1};
}

/* An instance that ended (or deleted its channel) took our copies of its capabilities with it:
 * the channel is no longer mapped here, so it must be forgotten before anything touches it. */
static void reap(void) {
  for (int k = 0; k < ETH_INSTANCES; k++) {
    if (inst[k].state != FREE && !holds(inst[k].channel_slot, HIC_CAP_MEMORY)) forget(k, true);
  }
}

/* A capability just arrived in `slot`: if an instance's record names that slot, its own
 * capability was revoked after the last reap and the slot reused -- that record is stale. */
static void forget_stale(int64_t slot) {
  for (int k = 0; k < ETH_INSTANCES; k++) {
    if (inst[k].state != FREE && (inst[k].channel_slot == slot || inst[k].notify_slot == slot)) forget(k, false);
  }
}

/* Checks that the message carries a capability of `type` with `rights`; the error label if not. */
static uint64_t check_cap(int type, int rights) {
  if (msg.cap < 0) return HIC_ERR_INVALID_ARGUMENT;
  int64_t info = hic_cap_info((uint64_t)msg.cap);
  if (info < 0) return (uint64_t)-info;
  if (info >> 8 != type) return HIC_ERR_WRONG_TYPE;
  if ((info & rights) != rights) return HIC_ERR_NO_RIGHT;
  return ETH_OK;
}

static uint64_t attach(void) {
  uint64_t id = msg.words[0], slots = msg.words[1];
  uint64_t bad = check_cap(HIC_CAP_MEMORY, HIC_RIGHT_R | HIC_RIGHT_W);
  if (bad) return bad;
  if (id >= ETH_INSTANCES || slots > FC_MAX_SLOTS || !fc_valid_slots((uint32_t)slots)) return HIC_ERR_INVALID_ARGUMENT;
  if (inst[id].state != FREE) return HIC_ERR_NAME_TAKEN;
  /* The channel must hold both rings before anything of it is read: an instance could hand over a
   * smaller object than it claims. */
  int64_t size = hic_memory_size((uint64_t)msg.cap);
  if (size < 0) return (uint64_t)-size;
  if ((uint64_t)size < 2 * (uint64_t)fc_ring_bytes((uint32_t)slots)) return HIC_ERR_INVALID_ARGUMENT;
  int64_t at = hic_memory_map((uint64_t)msg.cap);
  if (at < 0) return (uint64_t)-at;
  struct instance *in = &inst[id];
  if (!fc_open((void *)(uintptr_t)at, (uint32_t)slots, &in->ch)) {
    hic_memory_unmap((uint64_t)msg.cap);
    return HIC_ERR_INVALID_ARGUMENT;
  }
  in->state = ATTACHED;
  in->channel_slot = msg.cap;
  in->notify_slot = -1;
  msg.words[0] = ETH_DOORBELL_BIT(id);
  msg.words[1] = slots;
  msg.cap = doorbell; /* the reply carries a derived copy */
  hic_log("eth_driver: instance %lu attached: channel of %lu slots at 0x%lx", id, slots, at);
  return ETH_OK;
}

static uint64_t notify(void) {
  uint64_t id = msg.words[0];
  uint64_t bad = check_cap(HIC_CAP_NOTIFICATION, HIC_RIGHT_W);
  if (bad) return bad;
  if (id >= ETH_INSTANCES || inst[id].state != ATTACHED) return HIC_ERR_NOT_FOUND;
  inst[id].notify_slot = msg.cap;
  inst[id].state = LIVE;
  attached_ever++;
  if (steer.default_instance == ETH_NO_INSTANCE && msg.words[1] != ETH_STANDBY) steer.default_instance = (uint8_t)id;
  msg.cap = HIC_NO_CAP;
  hic_log("eth_driver: instance %lu live (default %u)", id, steer.default_instance);
  return ETH_OK;
}

static bool is_live(uint64_t id) {
  return id < ETH_INSTANCES && inst[id].state == LIVE;
}

static uint64_t steer_call(void) {
  uint64_t ip = msg.words[0], rport = msg.words[1], lport = msg.words[2], id = msg.words[3];
  if (ip > 0xffffffffu || rport > 0xffff || lport > 0xffff) return HIC_ERR_INVALID_ARGUMENT;
  uint64_t key = eth_key((uint32_t)ip, (uint16_t)rport, (uint16_t)lport);
  int was;
  if (id == ETH_NO_INSTANCE) {
    if ((was = steer_remove(&steer, key)) < 0) return HIC_ERR_NOT_FOUND;
  } else {
    if (!is_live(id)) return HIC_ERR_NOT_FOUND;
    if ((was = steer_put(&steer, key, (uint8_t)id)) == -2) return HIC_ERR_NO_MEMORY;
  }
  msg.words[0] = was < 0 ? ETH_NO_INSTANCE : (uint64_t)was;
  return ETH_OK;
}

static uint64_t forget_call(void) {
  uint64_t id = msg.words[0];
  if (id >= ETH_INSTANCES) return HIC_ERR_INVALID_ARGUMENT;
  msg.words[0] = steer_forget(&steer, (uint8_t)id);
  hic_log("eth_driver: forgot instance %lu's %lu connections", id, msg.words[0]);
  return ETH_OK;
}

static uint64_t default_call(void) {
  uint64_t id = msg.words[0];
  if (!is_live(id)) return HIC_ERR_NOT_FOUND;
  msg.words[0] = steer.default_instance;
  steer.default_instance = (uint8_t)id;
  eth_driver_emit_default_changed(&(struct eth_driver_record_default_changed){.instance = id, .was = msg.words[0]});
  hic_log("eth_driver: default instance %lu (was %lu)", id, msg.words[0]);
  return ETH_OK;
}

static void fill_stats(void) {
  st.table_size = steer.size;
  st.misses = steer.misses;
  st.table_full = steer.table_full;
  st.reopened = steer.reopened;
  st.default_instance = steer.default_instance;
  st.version = HIC_MODULE_VERSION_NUM;
}

static uint64_t kick_call(void) {
  int64_t copy = hic_cap_copy((uint64_t)doorbell, HIC_RIGHT_W | HIC_RIGHT_G); /* G: it can be passed on */
  if (copy < 0) return (uint64_t)-copy;
  msg.cap = copy;
  msg.cap_move = 1; /* the copy is the caller's; we keep none */
  msg.words[0] = ETH_KICK_BIT;
  return ETH_OK;
}

static uint64_t stats_call(void) {
  fill_stats();
  msg.words[0] = st.frames_in;
  msg.words[1] = st.frames_out;
  msg.words[2] = st.table_size;
  msg.words[3] = st.misses;
  memcpy(msg.payload, &st, sizeof st);
  msg.len = sizeof st;
  return ETH_OK;
}

/* Answers every call waiting on one endpoint. `control`: which of the two it is. */
static void serve(int64_t ep, bool control) {
  for (;;) {
    int64_t got = hic_recv((uint64_t)ep, &msg, HIC_NONBLOCK, 0);
    if (got == -HIC_ERR_WOULD_BLOCK) return;
    if (got < 0) return (void)hic_log("eth_driver: recv failed: %ld", got);
    int64_t came = msg.cap;
    if (came >= 0) forget_stale(came);
    uint64_t label = msg.label, id = msg.words[0];
    msg.len = 0;
    uint64_t status = HIC_ERR_INVALID_ARGUMENT;
    if (!control && label == ETH_ATTACH) status = attach();
    else if (!control && label == ETH_NOTIFY) status = notify();
    else if (control && label == ETH_STEER) status = steer_call();
    else if (control && label == ETH_DEFAULT) status = default_call();
    else if (control && label == ETH_STATS) status = stats_call();
    else if (control && label == ETH_KICK) status = kick_call();
    else if (control && label == ETH_FORGET) status = forget_call();
    bool kept = status == ETH_OK && (label == ETH_ATTACH || label == ETH_NOTIFY);
    if (came >= 0 && !kept) hic_cap_delete((uint64_t)came); /* a refused call keeps nothing */
    if (status != ETH_OK) msg.cap = HIC_NO_CAP;
    msg.label = status;
    if (label != ETH_KICK || status != ETH_OK) msg.cap_move = 0;
    int64_t sent = hic_reply(&msg);
    if (sent < 0 && label == ETH_ATTACH && status == ETH_OK) {
      /* The doorbell did not fit (the caller's capability space is full): undo, and say why. */
      forget((int)id, true);
      msg.label = (uint64_t)-sent;
      msg.cap = HIC_NO_CAP;
      hic_reply(&msg);
    }
  }
}

static int64_t serve_name(int64_t ep, const char *what) {
  char name[64];
  int len = hic_snprintf(name, sizeof name, "cap://eth/v%s/%s", ETH_VERSION, what);
  return hic_registry_register(REGISTRY, name, (uint64_t)len, (uint64_t)ep);
}

/* One line: the totals, then each instance that ever received or sent a frame. */
static void summary(void) {
  fill_stats();
  char line[HIC_LOG_MAX];
  uint64_t dropped = 0;
  for (int k = 0; k < ETH_INSTANCES; k++) dropped += st.dropped[k];
  int at = hic_snprintf(line, sizeof line, "eth_driver " ETH_VERSION ": in %lu, out %lu, dropped %lu, no instance %lu, bad %lu, table %lu, misses %lu, table full %lu, reopened %lu, default %u",
                        st.frames_in, st.frames_out, dropped, st.no_instance, st.bad, st.table_size, st.misses, st.table_full, st.reopened,
                        st.default_instance);
  eth_driver_emit_summary(&(struct eth_driver_record_summary){
      .in = st.frames_in, .out = st.frames_out, .dropped = dropped, .no_instance = st.no_instance, .bad = st.bad, .table = st.table_size,
      .misses = st.misses, .table_full = st.table_full, .reopened = st.reopened, .default_instance = st.default_instance});
  for (int k = 0; k < ETH_INSTANCES && at < (int)sizeof line; k++) {
    if (st.delivered[k] || st.sent[k] || st.dropped[k]) {
      eth_driver_emit_instance(&(struct eth_driver_record_instance){.id = (uint64_t)k, .delivered = st.delivered[k], .sent = st.sent[k], .dropped = st.dropped[k]});
      at += hic_snprintf(line + at, sizeof line - (uint64_t)at, "; instance %d: delivered %lu, sent %lu, dropped %lu", k, st.delivered[k], st.sent[k], st.dropped[k]);
    }
  }
  hic_log("%s", line);
}

static int driver(uint64_t exit_after) {
  int64_t table = hic_mem_alloc(STEER_STORAGE);
  if (table < 0) return hic_log("eth_driver: no memory for the steering table: %ld", table), 1;
  steer_init(&steer, (void *)(uintptr_t)table);
  for (int k = 0; k < ETH_INSTANCES; k++) inst[k] = (struct instance){.state = FREE, .channel_slot = -1, .notify_slot = -1};
  if (!nic_up()) return 2;
  int64_t n = hic_notification_create();
  if (n < 0 || hic_irq_bind(IRQ_SLOT, (uint64_t)n, BIT_IRQ) < 0) return hic_log("eth_driver: irq_bind failed"), 3;
  doorbell = hic_cap_copy((uint64_t)n, HIC_RIGHT_W | HIC_RIGHT_G);
  int64_t attach_ep = hic_endpoint_create(), control_ep = hic_endpoint_create();
  if (doorbell < 0 || attach_ep < 0 || control_ep < 0) return hic_log("eth_driver: no doorbell or endpoints"), 3;
  int64_t reg = serve_name(attach_ep, "attach");
  if (reg == 0) reg = serve_name(control_ep, "control");
  if (reg < 0) return hic_log("eth_driver: registering cap://eth/v" ETH_VERSION "/...: %ld", reg), 4;
  r[IRQ_MASK] = IRQ_RX;
  r[CTRL] = CTRL_RX | CTRL_TX;
  if ((r[CTRL] & (CTRL_RX | CTRL_TX)) != (CTRL_RX | CTRL_TX)) return hic_log("eth_driver: the NIC refused the rings"), 5;
  hic_log("eth_driver " ETH_VERSION ": up; serving cap://eth/v" ETH_VERSION "/attach and /control");

  for (;;) {
    int64_t bits = hic_wait((uint64_t)n, 0, POLL_NS);
    if (bits < 0 && bits != -HIC_ERR_TIMEOUT) return hic_log("eth_driver: wait failed: %ld", bits), 6;
    reap(); /* before anything touches a channel */
    if (bits > 0 && (bits & BIT_IRQ)) {
      rx_service();
      hic_irq_ack(IRQ_SLOT);
    }
    tx_service();
    serve(attach_ep, false);
    serve(control_ep, true);
    if (exit_after && attached_ever >= exit_after) {
      bool any = false;
      for (int k = 0; k < ETH_INSTANCES; k++) any |= inst[k].state != FREE;
      if (!any) break;
    }
  }
  summary();
  return 0;
}

/* The steering benchmark: n forwarding decisions on synthetic frames, timed in virtual time. */
static int bench(uint64_t n) {
  int64_t table = hic_mem_alloc(STEER_STORAGE);
  if (table < 0) return hic_log("eth_driver: no memory for the steering table: %ld", table), 1;
  steer_init(&steer, (void *)(uintptr_t)table);
  static uint8_t frame[64];
  steer_bench_setup(&steer, frame);
  int64_t t0 = hic_time_now();
  uint64_t sum = steer_bench_run(&steer, frame, n);
  int64_t t1 = hic_time_now();
  eth_driver_emit_steering_bench(&(struct eth_driver_record_steering_bench){
      .decisions = n, .connections = steer.size, .misses = steer.misses, .sum = sum, .elapsed_ns = (uint64_t)(t1 - t0)});
  hic_log("eth_driver: steering bench: %lu decisions, %lu connections, %lu misses, sum %lu, %ld ns virtual", n, (uint64_t)steer.size, steer.misses, sum,
          t1 - t0);
  return 0;
}

int hic_main(void) {
  const struct eth_driver_config *config = hic_config();
  switch (config->mode) {
  case ETH_DRIVER_MODE_SERVE: return driver(0);
  case ETH_DRIVER_MODE_UNTIL_DETACHED: return driver(config->instances);
  case ETH_DRIVER_MODE_STEERING_BENCH: return bench(config->decisions);
  default: return hic_log("eth_driver: unknown mode %lu", config->mode), 9;
  }
}
