/* harness.c -- checks, the fake wire and application, and frame building and parsing for the
 * netstack core's host tests (see harness.h). */
#include "harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const uint8_t OUR_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
const uint8_t PEER_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x99};
const uint8_t BCAST_MAC[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

int failures;

bool check(bool ok, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs(ok ? "ok - " : "not ok - ", stdout);
  vprintf(fmt, ap);
  putchar('\n');
  va_end(ap);
  if (!ok) failures++;
  return ok;
}

bool check_u64(const char *what, uint64_t got, uint64_t want) {
  if (got == want) return check(true, "%s = %llu", what, (unsigned long long)got);
  return check(false, "%s: got %llu (0x%llx), want %llu (0x%llx)", what, (unsigned long long)got,
               (unsigned long long)got, (unsigned long long)want, (unsigned long long)want);
}

void cap_reset(struct capture *cap) { cap->n = 0; }

void cap_emit(void *ctx, const uint8_t *frame, size_t len) {
  struct capture *cap = ctx;
  if (cap->n == CAP_MAX || len > NS_FRAME_MAX) {
    check(false, "emitted frame fits the capture (n=%d, len=%zu)", cap->n, len);
    return;
  }
  memcpy(cap->frame[cap->n], frame, len);
  cap->len[cap->n++] = len;
}

static void app_accept(void *ctx, uint32_t id) {
  struct app_log *a = ctx;
  a->accepts++;
  a->last_accept = id;
}

static void app_deliver(void *ctx, uint32_t id, const uint8_t *data, size_t len) {
  struct app_log *a = ctx;
  if (len == 0) {
    a->eofs++;
    return;
  }
  a->deliveries++;
  if (a->data_len + len <= sizeof a->data) memcpy(a->data + a->data_len, data, len);
  a->data_len += len;
  if (a->echo) ns_send(a->w->s, id, data, len, a->w->now, cap_emit, &a->w->cap);
}

static void app_closed(void *ctx, uint32_t id, enum ns_close_reason why) {
  struct app_log *a = ctx;
  a->closes++;
  a->last_closed = id;
  a->last_reason = (int)why;
}

void world_init(struct world *w, uint64_t seed, uint32_t ip) {
  memset(w, 0, sizeof *w);
  w->s = calloc(1, sizeof *w->s);
  if (!w->s) abort();
  struct ns_config cfg = {
      .ip = ip, .netmask = 0xffffff00, .gateway = GW_IP, .dns = 0x0a000035, .mtu = 1500,
      .tcp_window = 8192, .tcp_ports = {80, 7}, .isn_seed = seed, .time_wait_ns = TIME_WAIT_NS,
  };
  memcpy(cfg.mac, OUR_MAC, 6);
  ns_init(w->s, &cfg);
  w->app.w = w;
  struct ns_app app = {app_accept, app_deliver, app_closed, &w->app, NULL};
  ns_set_app(w->s, &app);
  w->now = 1000000000; /* virtual time starts at 1 s */
  w->cl = (struct peer){.ip = PEER_IP, .port = 40000, .server_port = 80, .seq = CLIENT_ISN, .wnd = 65535};
}

void world_free(struct world *w) { free(w->s); }

void world_feed(struct world *w, const uint8_t *frame, size_t len) {
  cap_reset(&w->cap);
  w->now += 1000000;
  ns_input(w->s, frame, len, w->now, cap_emit, &w->cap);
}

/* Byte at a time into a 64-bit sum: deliberately not the core's word loop. */
uint16_t ref_checksum(const uint8_t *p, size_t len, uint32_t initial) {
  uint64_t sum = initial;
  for (size_t i = 0; i < len; i++) sum += (i % 2 == 0) ? (uint64_t)p[i] << 8 : p[i];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

static void be16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void be32(uint8_t *p, uint32_t v) {
  be16(p, v >> 16);
  be16(p + 2, v);
}
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) << 16 | rd16(p + 2); }

uint32_t ref_pseudo(uint32_t src, uint32_t dst, uint8_t proto, size_t len) {
  uint8_t ph[12] = {0};
  be32(ph, src);
  be32(ph + 4, dst);
  ph[9] = proto;
  be16(ph + 10, (uint32_t)len);
  uint32_t sum = 0;
  for (int i = 0; i < 12; i += 2) sum += rd16(ph + i);
  return sum;
}

static size_t eth(uint8_t *f, const uint8_t dst[6], uint16_t type) {
  memcpy(f, dst, 6);
  memcpy(f + 6, PEER_MAC, 6);
  be16(f + 12, type);
  return 14;
}

size_t build_arp(uint8_t *f, const uint8_t dst_mac[6], uint16_t op, const uint8_t sha[6],
                 uint32_t spa, uint32_t tpa) {
  size_t n = eth(f, dst_mac, 0x0806);
  uint8_t *a = f + n;
  be16(a, 1);
  be16(a + 2, 0x0800);
  a[4] = 6;
  a[5] = 4;
  be16(a + 6, op);
  memcpy(a + 8, sha, 6);
  be32(a + 14, spa);
  memset(a + 18, 0, 6);
  be32(a + 24, tpa);
  return n + 28;
}

size_t build_ip(uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto, const uint8_t *l4,
                size_t l4_len) {
  size_t n = eth(f, dst == 0xffffffffu ? BCAST_MAC : OUR_MAC, 0x0800);
  uint8_t *h = f + n;
  memset(h, 0, 20);
  h[0] = 0x45;
  be16(h + 2, (uint32_t)(20 + l4_len));
  be16(h + 4, 0x1234);
  h[8] = 64;
  h[9] = proto;
  be32(h + 12, src);
  be32(h + 16, dst);
  be16(h + 10, ref_checksum(h, 20, 0));
  memcpy(h + 20, l4, l4_len);
  return n + 20 + l4_len;
}

size_t build_icmp_echo(uint8_t *f, uint16_t id, uint16_t seq, const uint8_t *data, size_t len) {
  uint8_t m[1500] = {8, 0};
  be16(m + 4, id);
  be16(m + 6, seq);
  memcpy(m + 8, data, len);
  be16(m + 2, ref_checksum(m, 8 + len, 0));
  return build_ip(f, PEER_IP, OUR_IP, 1, m, 8 + len);
}

size_t build_udp(uint8_t *f, uint16_t sport, uint16_t dport, const void *data, size_t len) {
  uint8_t u[1500] = {0};
  be16(u, sport);
  be16(u + 2, dport);
  be16(u + 4, (uint32_t)(8 + len));
  memcpy(u + 8, data, len);
  uint16_t sum = ref_checksum(u, 8 + len, ref_pseudo(PEER_IP, OUR_IP, 17, 8 + len));
  be16(u + 6, sum ? sum : 0xffff);
  return build_ip(f, PEER_IP, OUR_IP, 17, u, 8 + len);
}

size_t build_tcp(uint8_t *f, uint32_t src_ip, uint16_t sport, uint16_t dport, uint32_t seq,
                 uint32_t ack, uint8_t flags, uint16_t wnd, const void *data, size_t len,
                 uint16_t mss_option) {
  uint8_t t[1500] = {0};
  size_t hl = mss_option ? 24 : 20;
  be16(t, sport);
  be16(t + 2, dport);
  be32(t + 4, seq);
  be32(t + 8, ack);
  t[12] = (uint8_t)((hl / 4) << 4);
  t[13] = flags;
  be16(t + 14, wnd);
  if (mss_option) {
    t[20] = 2;
    t[21] = 4;
    be16(t + 22, mss_option);
  }
  if (len) memcpy(t + hl, data, len);
  be16(t + 16, ref_checksum(t, hl + len, ref_pseudo(src_ip, OUR_IP, 6, hl + len)));
  return build_ip(f, src_ip, OUR_IP, 6, t, hl + len);
}

bool parse_tcp(const uint8_t *f, size_t len, struct tcp_view *v) {
  if (len < 54 || rd16(f + 12) != 0x0800) return false;
  const uint8_t *h = f + 14;
  size_t total = rd16(h + 2);
  if (h[0] != 0x45 || h[9] != 6 || total < 40 || 14 + total > len) return false;
  if (ref_checksum(h, 20, 0) != 0) return false;
  const uint8_t *t = h + 20;
  size_t tlen = total - 20, hl = (size_t)(t[12] >> 4) * 4;
  if (hl < 20 || hl > tlen) return false;
  v->src_ip = rd32(h + 12);
  v->dst_ip = rd32(h + 16);
  if (ref_checksum(t, tlen, ref_pseudo(v->src_ip, v->dst_ip, 6, tlen)) != 0) return false;
  memcpy(v->dst_mac, f, 6);
  memcpy(v->src_mac, f + 6, 6);
  v->sport = rd16(t);
  v->dport = rd16(t + 2);
  v->seq = rd32(t + 4);
  v->ack = rd32(t + 8);
  v->flags = t[13];
  v->wnd = rd16(t + 14);
  v->mss = (hl >= 24 && t[20] == 2 && t[21] == 4) ? rd16(t + 22) : 0;
  v->data = t + hl;
  v->len = tlen - hl;
  return true;
}

bool cap_tcp(const struct world *w, int i, struct tcp_view *v) {
  return i < w->cap.n && parse_tcp(w->cap.frame[i], w->cap.len[i], v);
}

void client_segment(struct world *w, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t wnd,
                    const void *data, size_t len) {
  uint8_t f[NS_FRAME_MAX];
  size_t n = build_tcp(f, w->cl.ip, w->cl.port, w->cl.server_port, seq, ack, flags, wnd, data, len,
                       (flags & F_SYN) ? 1460 : 0);
  world_feed(w, f, n);
}

void client_send(struct world *w, uint8_t flags, const void *data, size_t len) {
  client_segment(w, flags, w->cl.seq, (flags & F_ACK) ? w->cl.ack : 0, w->cl.wnd, data, len);
  w->cl.seq += (uint32_t)len + ((flags & F_SYN) ? 1 : 0) + ((flags & F_FIN) ? 1 : 0);
}

void client_absorb(struct world *w) {
  struct tcp_view v;
  for (int i = 0; i < w->cap.n; i++) {
    if (!cap_tcp(w, i, &v) || v.dport != w->cl.port || v.seq != w->cl.ack) continue;
    w->cl.ack += (uint32_t)v.len + ((v.flags & F_FIN) ? 1 : 0);
  }
}

uint32_t tcp_connect(struct world *w) {
  struct tcp_view v;
  client_send(w, F_SYN, NULL, 0);
  if (!check(w->cap.n == 1 && cap_tcp(w, 0, &v) && v.flags == (F_SYN | F_ACK),
             "connect: the SYN is answered by one SYN-ACK"))
    return 0;
  w->cl.ack = v.seq + 1;
  int before = w->app.accepts;
  client_send(w, F_ACK, NULL, 0);
  if (!check(w->app.accepts == before + 1, "connect: the handshake's ACK is accepted")) return 0;
  return w->app.last_accept;
}
