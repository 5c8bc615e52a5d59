/* netstack: the network stack service. It wraps the protocol core (core/, built into this one
 * object: the toolchain compiles only the .c files directly in services/netstack/) around a frame
 * channel to eth_driver (hic/eth.h), attaching as its configured instance: frames from the rx ring go through
 * ns_input with the virtual time, frames the core emits go onto the tx ring, and the driver's
 * doorbell is rung once per batch. A wait times out every POLL_NS so timers (ns_poll) and output
 * that waited for send-buffer room make progress while the wire is quiet.
 *
 * The applications: echo on 5432, 1194 and 8080 in-process; HTTP/1.1 on 80, whose responses the
 * web_server service makes (head and body, fetched over IPC as the connection can take them); DNS
 * on UDP 53, answered by the dns_resolver service; and the firewall service's rules, which the
 * core enforces (app/upper.c is the client side of all three). Each connection closes its side
 * once the client has closed and everything owed is sent. ARP and ICMP echo are the core's.
 *
 * The core's send buffer is 8 KiB per connection and our receive window is fixed, so an echo of a
 * large upload or a bulk response cannot always be handed over at once: what does not fit waits
 * in an application buffer (a pool of OUT_BUFS rings, one held per connection only while it has
 * bytes waiting) and is retried after every batch of input.
 *
 * Rolling update: update/migration.c answers the state migration protocol on the control
 * channel the image grants (its configuration's migration_slot), so a successor version can take
 * every connection over while traffic flows. */

/* Tables for up to 16384 connections (the 10,000-connection migration benchmark); every core
 * file is compiled in this one unit, so the sizes are the same everywhere (core/net.h). */
#define NS_MAX_CONNS 16384
#define NS_CONN_HASH 16384

#include "core/arp.c"
#include "core/checksum.c"
#include "core/conn.c"
#include "core/crc32.c"
#include "core/firewall.c"
#include "core/icmp.c"
#include "core/ip.c"
#include "core/migrate.c"
#include "core/stack.c"
#include "core/tcp_in.c"
#include "core/tcp_out.c"
#include "core/tcp_user.c"
#include "core/udp.c"

#include "hic/eth.h"
#include "hic/frame_channel.h"
#include "hic/module.h"
#include "hic/runtime.h"

#include "app/upper.c"

#define REGISTRY 0
#define SLOTS 256
#define POLL_NS 1000000ull /* 1 ms */
#define IP_ADDR 0x0a000002u /* 10.0.0.2 */
#define NETMASK 0xffff0000u /* the generator's clients (10.0.1.x) are on-link */
#define DNS_PORT 53
#define OUT_BUFS 32
#define OUT_SIZE 65536u /* a power of two: one echo exchange is at most 40 KiB */
#define BODY_FIFO 8     /* responses owed, in request order (clients wait, but pipelining is legal) */

static const uint8_t nic_mac[6] = {0x02, 0x48, 0x49, 0x43, 0x00, 0x01};

enum app_kind { APP_ECHO = 1, APP_HTTP = 2 };

/* One connection, as the applications see it; indexed by the connection's slot. */
struct app {
  uint32_t id; /* the core's connection id; 0: unused */
  uint8_t kind;
  bool peer_done, close_sent, busy;
  uint16_t out;                    /* pool index + 1; 0: nothing waits */
  uint32_t out_head, out_len;      /* the ring of bytes ns_send has not taken yet */
  uint32_t body_left;              /* HTTP: bytes of the current body still to generate */
  uint32_t body_sent;              /* ... and already generated (the pattern's position) */
  uint32_t bodies[BODY_FIFO];      /* HTTP: body sizes of complete requests not yet answered */
  uint8_t owed, first;
  uint8_t match;                   /* how much of "\r\n\r\n" the request so far ends with */
  uint8_t line_len;                /* bytes of the request line kept; 0xff once it ended */
  char line[96];
  bool moving;                     /* exported for a migration: left alone until it is settled */
  uint64_t token;                  /* HTTP: the web server's token for the body being sent */
  uint64_t tokens[BODY_FIFO];      /* ... and for each response owed (0: the server was not reached) */
};

static struct ns_stack stack;
static struct app apps[NS_MAX_CONNS];
static uint16_t busy_list[NS_MAX_CONNS];
static uint32_t busy_count;
static uint8_t out_pool[OUT_BUFS][OUT_SIZE];
static bool out_used[OUT_BUFS];
static uint8_t frame[FC_FRAME_MAX];
static uint8_t chunk[1024];
static struct fc_channel ch;
static int64_t doorbell;
static uint64_t bell, now_ns;
static bool rung_owed;
static uint64_t tx_full, overflows, rx_bad, dns_answered;
static struct hic_msg msg;
static uint32_t instance; /* our eth_driver instance id */
static bool standby;      /* a successor waiting for a rolling update: not the driver's default */

static void mig_closed(uint32_t id, enum ns_close_reason why);

static void emit(void *ctx, const uint8_t *f, size_t len) {
  (void)ctx;
  while (!fc_push(&ch.tx, f, (uint32_t)len)) { /* the driver drains it once rung */
    tx_full++;
    hic_notify((uint64_t)doorbell, bell);
    hic_yield();
  }
  rung_owed = true;
}

static struct app *app_of(uint32_t id) {
  struct app *a = &apps[id % NS_MAX_CONNS];
  return a->id == id ? a : 0;
}

static void mark_busy(struct app *a) {
  if (a->busy) return;
  a->busy = true;
  busy_list[busy_count++] = (uint16_t)(a - apps);
}

/* Is an output buffer free in the pool? */
static bool out_free(void) {
  for (uint16_t i = 0; i < OUT_BUFS; i++)
    if (!out_used[i]) return true;
  return false;
}

/* Queues bytes behind whatever already waits; false if the pool or the ring has no room. */
static bool out_append(struct app *a, const uint8_t *data, uint32_t len) {
  if (len == 0) return true;
  if (!a->out) {
    for (uint16_t i = 0; i < OUT_BUFS && !a->out; i++)
      if (!out_used[i]) out_used[i] = true, a->out = (uint16_t)(i + 1);
    if (!a->out) return false;
    a->out_head = a->out_len = 0;
  }
  if (OUT_SIZE - a->out_len < len) return false;
  uint8_t *ring = out_pool[a->out - 1];
  for (uint32_t i = 0; i < len; i++) ring[(a->out_head + a->out_len + i) & (OUT_SIZE - 1)] = data[i];
  a->out_len += len;
  mark_busy(a);
  return true;
}

/* Hands ns_send what it takes; returns the bytes taken, or -1 if the connection cannot send. */
static int send_some(struct app *a, const uint8_t *data, uint32_t len) {
  int n = ns_send(&stack, a->id, data, len, now_ns, emit, 0);
  if (n == -NS_ERR_NO_BUFS) return 0;
  return n;
}

/* A request line just ended: the web server says how long its response's body is and names the
 * response by a token; both wait with the response owed for it. A server that cannot be asked
 * leaves token 0, and that response becomes a 503 (flush): the client still gets one answer per
 * request, so the responses after it stay in step. */
static void take_request_line(struct app *a) {
  uint32_t at = (a->first + a->owed) % BODY_FIFO, length = 0;
  uint64_t token = 0; /* both stay 0 when the server is not reached */
  upper_http_request(a->line, a->line_len, &length, &token);
  a->bodies[at] = length;
  a->tokens[at] = token;
}

static const char UNAVAILABLE[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";

/* What the core's send buffer still takes on the connection: a body chunk is asked for only as
 * large as will be taken, so no chunk is fetched twice. */
static uint32_t send_room(const struct app *a) {
  const struct ns_conn *c = ns_conn_get(&stack, a->id);
  return c ? NS_SNDBUF_SIZE - c->sb_len : 0;
}

/* Moves waiting output into the core as far as it takes it, starts the next HTTP response when
 * the previous one is all handed over, and closes once the client has closed and nothing waits. */
static void flush(struct app *a) {
  for (;;) {
    if (a->out_len) {
      uint8_t *ring = out_pool[a->out - 1];
      uint32_t n = OUT_SIZE - a->out_head < a->out_len ? OUT_SIZE - a->out_head : a->out_len;
      int took = send_some(a, ring + a->out_head, n);
      if (took < 0) return;
      a->out_head = (a->out_head + (uint32_t)took) & (OUT_SIZE - 1);
      a->out_len -= (uint32_t)took;
      if ((uint32_t)took < n) return;
      continue;
    }
    if (a->body_left) {
      uint32_t n = a->body_left < sizeof chunk ? a->body_left : (uint32_t)sizeof chunk, room = send_room(a);
      if (room < n) n = room;
      /* No room yet, or no answer from the web server: the rest waits for the next pass. */
      if (n == 0 || !upper_http_body(a->token, a->body_sent, chunk, n)) return;
      int took = send_some(a, chunk, n);
      if (took < 0) return;
      a->body_left -= (uint32_t)took;
      a->body_sent += (uint32_t)took;
      if ((uint32_t)took < n) return;
      continue;
    }
    if (a->owed) {
      /* The head is staged in an output buffer; with none to be had, or no answer from the web
       * server, the response waits (and is not dequeued, nor the connection closed) until the
       * next pass -- it must never be skipped. */
      if (!a->out && !out_free()) return;
      uint64_t token = a->tokens[a->first];
      char h[WEB_HEAD_MAX];
      uint32_t n = token ? upper_http_head(token, h, sizeof h) : (uint32_t)sizeof UNAVAILABLE - 1;
      if (n == 0) return;
      if (!token) memcpy(h, UNAVAILABLE, n);
      a->token = token;
      a->body_left = token ? a->bodies[a->first] : 0;
      a->body_sent = 0;
      a->first = (uint8_t)((a->first + 1) % BODY_FIFO);
      a->owed--;
      if (!out_append(a, (const uint8_t *)h, n)) overflows++;
      continue;
    }
    break;
  }
  if (a->out) out_used[a->out - 1] = false, a->out = 0;
  if (a->peer_done && !a->close_sent) {
    a->close_sent = true;
    ns_close(&stack, a->id, now_ns, emit, 0);
  }
}

static void http_input(struct app *a, const uint8_t *data, size_t len) {
  for (size_t i = 0; i < len; i++) {
    uint8_t c = data[i];
    if (a->line_len != 0xff) {
      if (c == '\r' || c == '\n') {
        if (a->line_len) take_request_line(a), a->line_len = 0xff;
      } else if (a->line_len < sizeof a->line) {
        a->line[a->line_len++] = (char)c;
      }
    }
    a->match = c == "\r\n\r\n"[a->match] ? (uint8_t)(a->match + 1) : c == '\r' ? 1 : 0;
    if (a->match == 4) { /* a complete request: its body size is recorded above */
      a->match = 0;
      a->line_len = 0;
      if (a->owed < BODY_FIFO) a->owed++;
      else overflows++;
    }
  }
}

static void on_accept(void *ctx, uint32_t id) {
  (void)ctx;
  struct ns_conn *c = ns_conn_get(&stack, id);
  struct app *a = &apps[id % NS_MAX_CONNS];
  if (a->out) out_used[a->out - 1] = false;
  bool busy = a->busy; /* a stale entry in busy_list stays valid for the new occupant */
  memset(a, 0, sizeof *a);
  a->busy = busy;
  a->id = id;
  a->kind = c && c->local_port == 80 ? APP_HTTP : APP_ECHO;
}

/* Room for more input on a connection: what its output can still buffer. An echo needs room for
 * what it echoes; an HTTP request for a whole response. Input beyond it is not acknowledged, so
 * the client retransmits it later instead of the service dropping it. */
static size_t on_room(void *ctx, uint32_t id) {
  (void)ctx;
  struct app *a = app_of(id);
  if (!a) return (size_t)-1;
  bool free_buffer = out_free();
  /* HTTP: take requests only while fewer than BODY_FIFO responses are owed (a request is small;
   * what must not overflow is the queue of responses it creates). */
  if (a->kind == APP_HTTP) return a->owed + 1 < BODY_FIFO ? OUT_SIZE : 0;
  return a->out ? OUT_SIZE - a->out_len : free_buffer ? OUT_SIZE : 0;
}

static void on_deliver(void *ctx, uint32_t id, const uint8_t *data, size_t len) {
  (void)ctx;
  struct app *a = app_of(id);
  if (!a) return;
  if (len == 0) a->peer_done = true;
  else if (a->kind == APP_HTTP) http_input(a, data, len);
  else {
    uint32_t took = 0; /* straight to the core when nothing waits ahead of it */
    if (!a->out_len) {
      int n = send_some(a, data, (uint32_t)len);
      took = n > 0 ? (uint32_t)n : 0;
    }
    if (!out_append(a, data + took, (uint32_t)len - took)) overflows++;
  }
  mark_busy(a);
}

static void on_closed(void *ctx, uint32_t id, enum ns_close_reason why) {
  (void)ctx;
  mig_closed(id, why);
  struct app *a = app_of(id);
  if (!a) return;
  if (a->out) out_used[a->out - 1] = false;
  a->out = 0;
  a->id = 0;
  a->moving = false;
}

/* A DNS query: the resolver (dns_resolver, app/upper.c) writes the response. A query it refuses as
 * malformed, or one it could not be asked about, gets none; the client asks again. */
static void on_dns(void *ctx, uint32_t src_ip, uint16_t src_port, uint16_t dst_port, const uint8_t *q, size_t len) {
  (void)ctx;
  (void)dst_port;
  static uint8_t r[DNS_MSG_MAX];
  size_t n = upper_dns(q, len, r, sizeof r);
  if (n && ns_udp_send(&stack, DNS_PORT, src_ip, src_port, r, n, now_ns, emit, 0) >= 0) dns_answered++;
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

static bool mig_intercept(const uint8_t *f, uint32_t len);

/* Every frame the driver has pushed so far, through the core. */
static void drain_rx(void) {
  int32_t len;
  while ((len = fc_pop(&ch.rx, frame, sizeof frame)) != 0) {
    if (len < 0) {
      rx_bad++;
      continue;
    }
    now_ns = (uint64_t)hic_time_now();
    if (mig_intercept(frame, (uint32_t)len)) continue;
    ns_input(&stack, frame, (size_t)len, now_ns, emit, 0);
  }
}

#include "update/migration.c"

/* Attaches to eth_driver as `instance`: channel, notification, ATTACH, NOTIFY. Returns the
 * notification to wait on, or a negative error. */
static int64_t attach(void) {
  int64_t mem = hic_memory_create(fc_channel_bytes(SLOTS));
  int64_t at = mem < 0 ? mem : hic_memory_map((uint64_t)mem);
  if (at < 0 || !fc_init((void *)(uintptr_t)at, SLOTS) || !fc_open((void *)(uintptr_t)at, SLOTS, &ch)) return hic_log("netstack: no channel: %ld", at), -1;
  int64_t note = hic_notification_create();
  int64_t note_w = note < 0 ? note : hic_cap_copy((uint64_t)note, HIC_RIGHT_W | HIC_RIGHT_G);
  if (note_w < 0) return hic_log("netstack: no notification: %ld", note_w), -1;
  int64_t ep = find("cap://eth/attach");
  if (ep < 0) return hic_log("netstack: lookup failed: %ld", ep), -1;
  uint64_t status = call(ep, ETH_ATTACH, instance, SLOTS, mem);
  if (status != ETH_OK || msg.cap < 0) return hic_log("netstack: ATTACH refused: %lu", status), -1;
  doorbell = msg.cap;
  bell = msg.words[0];
  status = call(ep, ETH_NOTIFY, instance, standby ? ETH_STANDBY : 0, note_w);
  if (status != ETH_OK) return hic_log("netstack: NOTIFY refused: %lu", status), -1;
  return note;
}

/* The stats endpoint (cap://netstack/v<version>/stats, the alias cap://netstack/stats follows the
 * instance in service): NS_STATS answers words[0] connections, words[1] TCP connections
 * accepted, words[2] version (MIG_VERSION), payload the core's struct ns_counters. */
#define NS_STATS 1
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
    bool ok = msg.label == NS_STATS;
    memset(&msg, 0, sizeof msg);
    msg.cap = HIC_NO_CAP;
    msg.label = ok ? 0 : HIC_ERR_INVALID_ARGUMENT;
    if (ok) {
      msg.words[0] = stack.conn_count;
      msg.words[1] = stack.stats.tcp_accepted;
      msg.words[2] = HIC_MODULE_VERSION_NUM;
      memcpy(msg.payload, &stack.stats, sizeof stack.stats);
      msg.len = sizeof stack.stats;
    }
    hic_reply(&msg);
  }
}

/* The configuration (module.json): the instance to attach as, the slot of the migration control
 * channel (0: none), standby (a successor: it does not become the driver's default by attaching). */
int hic_main(void) {
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
  ns_set_app(&stack, &(struct ns_app){.accept = on_accept, .deliver = on_deliver, .closed = on_closed, .room = on_room});
  if (upper_init(&stack) != 0) return 1;
  if (ns_udp_bind(&stack, DNS_PORT, on_dns, 0) < 0) return hic_log("netstack: cannot bind DNS"), 1;
  if (serve_stats_name() < 0) return hic_log("netstack: cannot register its stats endpoint"), 1;
  int64_t note = attach();
  if (note < 0) return 1;
  mig_init(channel, (uint64_t)hic_time_now());
  hic_log("netstack %s: instance %u live, 10.0.0.2/16, listening on 80 5432 1194 8080, dns 53%s", HIC_MODULE_VERSION, instance,
          channel >= 0 ? ", migration channel open" : "");

  uint64_t last_report = 0, last_poll = 0;
  for (;;) {
    int64_t bits = hic_wait((uint64_t)note, 0, POLL_NS);
    if (bits < 0 && bits != -HIC_ERR_TIMEOUT) return hic_log("netstack: wait failed: %ld", bits), 1;
    mig_serve(note); /* the control channel first: a migration step waits for nothing else */
    drain_rx();
    now_ns = (uint64_t)hic_time_now();
    /* Output that waited: entries are dropped once nothing is left to do for them. */
    for (uint32_t i = 0, served = 0; i < busy_count;) {
      if (++served % 16 == 0) mig_serve(note); /* and between applications, when many have output */
      struct app *a = &apps[busy_list[i]];
      if (a->id && !a->moving) flush(a);
      if (!a->id || a->moving || (!a->out_len && !a->body_left && !a->owed)) {
        a->busy = false;
        busy_list[i] = busy_list[--busy_count];
      } else {
        i++;
      }
    }
    if (now_ns - last_poll >= POLL_NS) { /* timers: a walk over every connection slot, once a millisecond */
      last_poll = now_ns;
      ns_poll(&stack, now_ns);
    }
    mig_serve(note);
    serve_stats();
    if (rung_owed) {
      rung_owed = false;
      hic_notify((uint64_t)doorbell, bell);
    }
    if (now_ns - last_report >= 1000000000ull) {
      last_report = now_ns;
      const struct ns_counters *s = &stack.stats;
      netstack_emit_report(&(struct netstack_record_report){
          .rx = s->rx_frames, .tx = s->tx_frames, .tcp_accepted = s->tcp_accepted, .tcp_rx = s->tcp_rx, .retransmits = s->tcp_retransmits,
          .rst_rx = s->tcp_rst_rx, .rst_sent = s->tcp_rst_sent, .conns = stack.conn_count, .dns = dns_answered, .icmp = s->icmp_echo_replies,
          .arp = s->arp_replies, .app_overflows = overflows, .app_full = s->tcp_app_full, .tx_full = tx_full, .rx_bad = rx_bad,
          .fw_denied_tcp = s->tcp_fw_denied, .fw_denied_udp = s->udp_fw_denied, .fw_denied_icmp = s->icmp_fw_denied});
      hic_log("netstack %s: rx %lu tx %lu, tcp accepted %lu rx %lu retransmits %lu rst %lu/%lu, conns %u, dns %lu, icmp %lu, arp %lu, "
              "app overflows %lu, app full %lu, tx full %lu, rx bad %lu, fw denied %lu/%lu/%lu",
              HIC_MODULE_VERSION, s->rx_frames, s->tx_frames, s->tcp_accepted, s->tcp_rx, s->tcp_retransmits, s->tcp_rst_rx, s->tcp_rst_sent, stack.conn_count,
              dns_answered, s->icmp_echo_replies, s->arp_replies, overflows, s->tcp_app_full, tx_full, rx_bad, s->tcp_fw_denied,
              s->udp_fw_denied, s->icmp_fw_denied);
    }
  }
}
