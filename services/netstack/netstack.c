/* netstack: the network stack service. It wraps the protocol core (core/) around a frame channel
 * to eth_driver (hic/eth.h), attaching as its configured instance: frames from the rx ring go through
 * ns_input with the virtual time, frames the core emits go onto the tx ring, and the driver's
 * doorbell is rung once per batch. A wait times out every POLL_NS so timers (ns_poll) and output
 * that waited for send-buffer room make progress while the wire is quiet.
 *
 * The applications (echo, HTTP, DNS) are app/apps.c's, the client of the upper services (firewall,
 * dns_resolver, web_server) app/upper.c's. Rolling update: update/ answers the state migration
 * protocol on the control channel the image grants (config migration_slot), so a successor can
 * take every connection over while traffic flows. netstack.h says what each part gives the others.
 *
 * The core's tables hold up to NS_MAX_CONNS connections (16384, for the 10,000-connection
 * migration benchmark): module.json's defines, the same for every file. */
#include "netstack.h"

#include "hic/eth.h"
#include "hic/frame_channel.h"
#include "hic/module.h"
#include "hic/runtime.h"

#define REGISTRY 0
#define SLOTS 256
#define POLL_NS 1000000ull /* 1 ms */
#define IP_ADDR 0x0a000002u /* 10.0.0.2 */
#define NETMASK 0xffff0000u /* the generator's clients (10.0.1.x) are on-link */

static const uint8_t nic_mac[6] = {0x02, 0x48, 0x49, 0x43, 0x00, 0x01};

static struct ns_stack stack;
static uint8_t frame[FC_FRAME_MAX];
static struct fc_channel ch;
static int64_t doorbell;
static uint64_t bell, now_ns;
static bool rung_owed;
static uint64_t tx_full, rx_bad;
static uint64_t busy_ns; /* CPU spent in the core on received frames (cpu_time, virtual ns; NS_STATS words[3]) */
static uint64_t busy_bytes; /* ... the bytes of those frames (struct ns_stats_head) */

/* A deliberately broken build for the Monitor's regression images (module.json `defines`): the
 * versions built with NS_FAULT_SLOW take twice the CPU over every frame (they spin on cpu_time
 * for as long again as the core took), so the service's latency doubles while every byte stays
 * right. 0 in every real version. */
#ifndef NS_FAULT_SLOW
#define NS_FAULT_SLOW 0
#endif
/* ... beginning that many virtual ns after the instance starts: a regression that shows only
 * after the update completed (netstack 1.3.3). */
#ifndef NS_FAULT_SLOW_AFTER
#define NS_FAULT_SLOW_AFTER 0
#endif
static uint64_t started_ns;
/* Another: the versions built with NS_FAULT_LEAK keep a trace entry of that many bytes for every
 * frame they receive (its length and first bytes) and never trim it; NS_FAULT_LEAK_CONN (netstack.h)
 * keeps that many bytes for every connection accepted. Either way the memory comes from arenas of
 * LEAK_ARENA bytes asked of Core-0 (mem_alloc) as each fills: what they hold grows with the frames
 * or connections they take, until the quota refuses an arena and they serve on without. Nothing
 * they answer changes; only their memory shows it. */
#ifndef NS_FAULT_LEAK
#define NS_FAULT_LEAK 0
#endif
#define LEAK_ARENA (64u * 1024u)
_Static_assert(NS_FAULT_LEAK == 0 || (NS_FAULT_LEAK >= 4 && NS_FAULT_LEAK <= LEAK_ARENA), "a trace entry holds the length and fits an arena");
_Static_assert(NS_FAULT_LEAK_CONN <= LEAK_ARENA, "a connection's leak fits an arena");

#if NS_FAULT_LEAK || NS_FAULT_LEAK_CONN
void netstack_leak(const void *what, uint32_t len, uint32_t keep) {
  static uint8_t *arena;
  static uint32_t used = LEAK_ARENA;
  if (used + keep > LEAK_ARENA) {
    int64_t at = hic_mem_alloc(LEAK_ARENA);
    if (at < 0) return; /* the quota is spent */
    arena = (uint8_t *)(uintptr_t)at, used = 0;
  }
  memcpy(arena + used, what, len < keep ? len : keep);
  used += keep;
}
#endif

#if NS_FAULT_LEAK
static void leak_trace(const uint8_t *f, uint32_t len) {
  uint8_t entry[NS_FAULT_LEAK];
  memcpy(entry, &len, 4);
  memcpy(entry + 4, f, len < NS_FAULT_LEAK - 4 ? len : NS_FAULT_LEAK - 4);
  netstack_leak(entry, NS_FAULT_LEAK, NS_FAULT_LEAK);
}
#endif

/* Another: the versions built with NS_FAULT_HANG stop answering anything -- frames, the migration
 * channel, the stats endpoint -- that many virtual ns after they start, as a service stuck in a
 * deadlock would. 0 in every real version. */
#ifndef NS_FAULT_HANG
#define NS_FAULT_HANG 0
#endif
/* And another: the versions built with NS_FAULT_REFUSE_HTTP stop listening on port 80 that many
 * virtual ns after they start: a SYN to it is answered with a reset, as a service whose HTTP
 * listener died would. Its established connections go on. 0 in every real version. */
#ifndef NS_FAULT_REFUSE_HTTP
#define NS_FAULT_REFUSE_HTTP 0
#endif
/* And the last: the versions built with NS_FAULT_CRASH write through a null pointer that many
 * virtual ns after they start, and Core-0 stops the sandbox on the page fault, as a service with
 * that bug would crash. 0 in every real version. */
#ifndef NS_FAULT_CRASH
#define NS_FAULT_CRASH 0
#endif
static struct hic_msg msg;
static uint32_t instance; /* our eth_driver instance id */
static bool standby;      /* a successor waiting for a rolling update: not the driver's default */
static int64_t note;      /* the notification the loop waits on (also the migration's wake) */

uint64_t netstack_now(void) { return now_ns; }

uint64_t netstack_started(void) { return started_ns; }

uint64_t netstack_tick(void) { return now_ns = (uint64_t)hic_time_now(); }

void netstack_emit(void *ctx, const uint8_t *f, size_t len) {
  (void)ctx;
  if (probe_take(f, len)) return;
  while (!fc_push(&ch.tx, f, (uint32_t)len)) { /* the driver drains it once rung */
    tx_full++;
    hic_notify((uint64_t)doorbell, bell);
    hic_yield();
  }
  rung_owed = true;
}

static int64_t find(const char *name) {
  for (;;) {
    int64_t slot = hic_registry_lookup(REGISTRY, name, strlen(name));
    if (slot != -HIC_ERR_NOT_FOUND) return slot;
    hic_sleep(100000);
  }
}

static uint64_t call(int64_t ep, uint64_t label, uint64_t w0, uint64_t w1, int64_t cap) {
  memset(&msg, 0, sizeof msg);
  msg.label = label;
  msg.words[0] = w0;
  msg.words[1] = w1;
  msg.cap = cap;
  int64_t r = hic_call((uint64_t)ep, &msg, 0, 0);
  return r < 0 ? (uint64_t)-r : msg.label;
}

void netstack_drain_rx(void) {
  int32_t len;
  while ((len = fc_pop(&ch.rx, frame, sizeof frame)) != 0) {
    if (len < 0) {
      rx_bad++;
      continue;
    }
    netstack_tick();
    if (mig_intercept(frame, (uint32_t)len)) continue;
#if NS_FAULT_LEAK
    leak_trace(frame, (uint32_t)len);
#endif
    uint64_t c0 = (uint64_t)hic_cpu_time();
    ns_input(&stack, frame, (size_t)len, now_ns, netstack_emit, 0);
    uint64_t c1 = (uint64_t)hic_cpu_time();
    if (NS_FAULT_SLOW && (!NS_FAULT_SLOW_AFTER || now_ns >= started_ns + (uint64_t)NS_FAULT_SLOW_AFTER)) {
      while ((uint64_t)hic_cpu_time() < c1 + (c1 - c0)) {}
      c1 = (uint64_t)hic_cpu_time();
    }
    busy_ns += c1 - c0;
    busy_bytes += (uint64_t)len;
  }
}

/* Attaches to eth_driver as `instance`: channel, notification, ATTACH, NOTIFY. Returns the
 * notification to wait on, or a negative error. */
static int64_t attach(void) {
  int64_t mem = hic_memory_create(fc_channel_bytes(SLOTS));
  int64_t at = mem < 0 ? mem : hic_memory_map((uint64_t)mem);
  if (at < 0 || !fc_init((void *)(uintptr_t)at, SLOTS) || !fc_open((void *)(uintptr_t)at, SLOTS, &ch)) return hic_log("netstack: no channel: %ld", at), -1;
  int64_t wait_on = hic_notification_create();
  int64_t note_w = wait_on < 0 ? wait_on : hic_cap_copy((uint64_t)wait_on, HIC_RIGHT_W | HIC_RIGHT_G);
  if (note_w < 0) return hic_log("netstack: no notification: %ld", note_w), -1;
  int64_t ep = find("cap://eth/attach");
  if (ep < 0) return hic_log("netstack: lookup failed: %ld", ep), -1;
  uint64_t status = call(ep, ETH_ATTACH, instance, SLOTS, mem);
  if (status != ETH_OK || msg.cap < 0) return hic_log("netstack: ATTACH refused: %lu", status), -1;
  doorbell = msg.cap;
  bell = msg.words[0];
  status = call(ep, ETH_NOTIFY, instance, standby ? ETH_STANDBY : 0, note_w);
  if (status != ETH_OK) return hic_log("netstack: NOTIFY refused: %lu", status), -1;
  return wait_on;
}

/* The stats endpoint: NS_STATS and NS_PROBE (hic/netstack_probe.h). */
static int64_t stats_ep = -1;

static int64_t serve_stats_name(void) {
  char name[64];
  int len = hic_snprintf(name, sizeof name, "cap://netstack/v%s/stats", HIC_MODULE_VERSION);
  stats_ep = hic_endpoint_create();
  return stats_ep < 0 ? stats_ep : hic_registry_register(REGISTRY, name, (uint64_t)len, (uint64_t)stats_ep);
}

static void serve_stats(void) {
  while (hic_recv((uint64_t)stats_ep, &msg, HIC_NONBLOCK, 0) == 0) {
    if (msg.cap >= 0) hic_cap_delete((uint64_t)msg.cap);
    if (msg.label == NS_PROBE && msg.len <= NS_PROBE_DATA_MAX) {
      static uint8_t data[NS_PROBE_DATA_MAX];
      struct probe_result r;
      uint32_t len = msg.len;
      uint64_t number = msg.words[0];
      memcpy(data, msg.payload, len);
      memset(&msg, 0, sizeof msg);
      netstack_tick();
      uint64_t cpu0 = (uint64_t)hic_cpu_time();
      probe_run(&stack, number, data, len, msg.payload, &r);
      msg.cap = HIC_NO_CAP;
      msg.words[0] = (uint64_t)hic_cpu_time() - cpu0, msg.words[1] = r.failed, msg.words[2] = HIC_MODULE_VERSION_NUM, msg.words[3] = r.hash;
      msg.len = r.echoed;
      hic_reply(&msg);
      continue;
    }
    bool ok = msg.label == NS_STATS;
    memset(&msg, 0, sizeof msg);
    msg.cap = HIC_NO_CAP;
    msg.label = ok ? 0 : HIC_ERR_INVALID_ARGUMENT;
    if (ok) {
      msg.words[0] = stack.conn_count;
      msg.words[1] = stack.stats.tcp_accepted;
      msg.words[2] = HIC_MODULE_VERSION_NUM;
      msg.words[3] = busy_ns;
      const struct apps_counters *app = apps_counters();
      struct ns_stats_head head = {.rx_frames = stack.stats.rx_frames, .rx_bytes = busy_bytes, .http_requests = app->http_requests, .http_errors = app->http_errors,
                                   .fw_denied = stack.stats.tcp_fw_denied + stack.stats.udp_fw_denied + stack.stats.icmp_fw_denied};
      _Static_assert(sizeof head + sizeof stack.stats <= HIC_MSG_PAYLOAD_MAX, "the stats fit a message");
      memcpy(msg.payload, &head, sizeof head);
      memcpy(msg.payload + sizeof head, &stack.stats, sizeof stack.stats);
      msg.len = sizeof head + sizeof stack.stats;
    }
    hic_reply(&msg);
  }
}

/* The migration's control channel, answered at several points of each pass of the loop. */
static void serve_control(void) { mig_serve(note); }

/* The configuration (module.json): the instance to attach as, the slot of the migration control
 * channel (0: none), standby (a successor: it does not become the driver's default by attaching). */
int hic_main(void) {
  if (NS_FAULT_SLOW_AFTER || NS_FAULT_CORRUPT || NS_FAULT_ERRORS || NS_FAULT_REFUSE_HTTP || NS_FAULT_CRASH) started_ns = (uint64_t)hic_time_now(); /* only a build that needs it reads the clock here */
  const struct netstack_config *config = hic_config();
  instance = (uint32_t)config->instance;
  standby = config->standby != 0;
  int64_t channel = config->migration_slot ? (int64_t)config->migration_slot : -1;
  struct ns_config cfg = {
    .ip = IP_ADDR, .netmask = NETMASK, .mtu = NS_MTU_MAX, .tcp_ports = {80, 5432, 1194, 8080},
    .isn_seed = 0x6869632d6e6574ull, .time_wait_ns = 100000000ull,
  };
  memcpy(cfg.mac, nic_mac, 6);
  ns_init(&stack, &cfg);
  if (upper_init(&stack) != 0) return 1;
  if (apps_init(&stack) < 0) return hic_log("netstack: cannot bind DNS"), 1;
  if (serve_stats_name() < 0) return hic_log("netstack: cannot register its stats endpoint"), 1;
  note = attach();
  if (note < 0) return 1;
  mig_init(&stack, channel, instance, (uint64_t)hic_time_now());
  hic_log("netstack %s: instance %u live, 10.0.0.2/16, listening on 80 5432 1194 8080, dns 53%s", HIC_MODULE_VERSION, instance,
          channel >= 0 ? ", migration channel open" : "");

  uint64_t last_report = 0, last_poll = 0;
#if NS_FAULT_HANG
  uint64_t serving = (uint64_t)hic_time_now(); /* the hang counts from here, once attached and serving */
#endif
  for (;;) {
#if NS_FAULT_HANG
    if ((uint64_t)hic_time_now() - serving >= (uint64_t)NS_FAULT_HANG) {
      hic_log("netstack %s: stuck (NS_FAULT_HANG)", HIC_MODULE_VERSION);
      for (;;) hic_sleep(1000000000ull);
    }
#endif
    int64_t bits = hic_wait((uint64_t)note, 0, POLL_NS);
    if (bits < 0 && bits != -HIC_ERR_TIMEOUT) return hic_log("netstack: wait failed: %ld", bits), 1;
    serve_control(); /* the control channel first: a migration step waits for nothing else */
#if NS_FAULT_CRASH
    if ((uint64_t)hic_time_now() >= started_ns + (uint64_t)NS_FAULT_CRASH) {
      static volatile struct ns_conn *volatile broken; /* never set: the bug */
      broken->state = NS_TCP_FREE;
    }
#endif
#if NS_FAULT_REFUSE_HTTP
    if (stack.cfg.tcp_ports[0] == 80 && (uint64_t)hic_time_now() >= started_ns + (uint64_t)NS_FAULT_REFUSE_HTTP) {
      stack.cfg.tcp_ports[0] = 0; /* .tcp_ports = {80, ...} below */
      hic_log("netstack %s: no longer listening on port 80 (NS_FAULT_REFUSE_HTTP)", HIC_MODULE_VERSION);
    }
#endif
    netstack_drain_rx();
    netstack_tick();
    apps_flush_waiting(serve_control); /* and between applications, when many have output */
    if (now_ns - last_poll >= POLL_NS) { /* timers: a walk over every connection slot, once a millisecond */
      last_poll = now_ns;
      ns_poll(&stack, now_ns);
    }
    serve_control();
    serve_stats();
    if (rung_owed) {
      rung_owed = false;
      hic_notify((uint64_t)doorbell, bell);
    }
    if (now_ns - last_report >= 1000000000ull) {
      last_report = now_ns;
      const struct ns_counters *s = &stack.stats;
      const struct apps_counters *app = apps_counters();
      netstack_emit_report(&(struct netstack_record_report){
          .rx = s->rx_frames, .tx = s->tx_frames, .tcp_accepted = s->tcp_accepted, .tcp_rx = s->tcp_rx, .retransmits = s->tcp_retransmits,
          .rst_rx = s->tcp_rst_rx, .rst_sent = s->tcp_rst_sent, .conns = stack.conn_count, .dns = app->dns_answered, .icmp = s->icmp_echo_replies,
          .arp = s->arp_replies, .app_overflows = app->overflows, .app_full = s->tcp_app_full, .tx_full = tx_full, .rx_bad = rx_bad,
          .fw_denied_tcp = s->tcp_fw_denied, .fw_denied_udp = s->udp_fw_denied, .fw_denied_icmp = s->icmp_fw_denied});
      hic_log("netstack %s: rx %lu tx %lu, tcp accepted %lu rx %lu retransmits %lu rst %lu/%lu, conns %u, dns %lu, icmp %lu, arp %lu, "
              "app overflows %lu, app full %lu, tx full %lu, rx bad %lu, fw denied %lu/%lu/%lu",
              HIC_MODULE_VERSION, s->rx_frames, s->tx_frames, s->tcp_accepted, s->tcp_rx, s->tcp_retransmits, s->tcp_rst_rx, s->tcp_rst_sent, stack.conn_count,
              app->dns_answered, s->icmp_echo_replies, s->arp_replies, app->overflows, s->tcp_app_full, tx_full, rx_bad, s->tcp_fw_denied,
              s->udp_fw_denied, s->icmp_fw_denied);
    }
  }
}
