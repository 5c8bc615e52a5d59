/* harness.h -- the host test driver for the netstack core (services/netstack/core/), run by
 * tests/netstack-core.test.ts. Checks print TAP-style lines ("ok - ..." / "not ok - ..."); a fake
 * wire records emitted frames; a fake application records what the stack tells it; and a fake
 * client builds frames with its own checksum code, so the core's wire code cannot pass by
 * agreeing with itself. */
#ifndef NSTEST_HARNESS_H
#define NSTEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net.h"

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

#define OUR_IP 0x0a000002u  /* 10.0.0.2, the stack */
#define PEER_IP 0x0a000032u /* 10.0.0.50, the client */
#define GW_IP 0x0a000001u   /* 10.0.0.1 */
#define CLIENT_ISN 1000u
#define TIME_WAIT_NS 1000000000ull
extern const uint8_t OUR_MAC[6], PEER_MAC[6], BCAST_MAC[6];

/* Checks: one output line each; `failures` decides the exit status. */
extern int failures;
bool check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool check_u64(const char *what, uint64_t got, uint64_t want);

/* The wire: frames the stack emitted since the last world_feed (or cap_reset). */
#define CAP_MAX 32
struct capture {
  int n;
  size_t len[CAP_MAX];
  uint8_t frame[CAP_MAX][NS_FRAME_MAX];
};
void cap_emit(void *ctx, const uint8_t *frame, size_t len);
void cap_reset(struct capture *cap);

/* The application: everything delivered, in order, all connections together. With `echo` set it
 * writes every delivery straight back from inside the callback. */
struct world;
struct app_log {
  struct world *w;
  bool echo;
  int accepts, eofs, closes, deliveries;
  uint32_t last_accept, last_closed;
  int last_reason;
  size_t data_len;
  uint8_t data[65536];
};

/* The client's view of its connection: seq is its SND.NXT, ack its RCV.NXT. */
struct peer {
  uint32_t ip;
  uint16_t port, server_port;
  uint32_t seq, ack;
  uint16_t wnd;
};

struct world {
  struct ns_stack *s;
  struct capture cap;
  struct app_log app;
  uint64_t now;
  struct peer cl;
};
void world_init(struct world *w, uint64_t seed, uint32_t ip);
void world_free(struct world *w);
void world_feed(struct world *w, const uint8_t *frame, size_t len); /* clock += 1 ms first */

/* Frame builders: Ethernet from PEER_MAC; IPv4 with a correct header checksum. */
uint16_t ref_checksum(const uint8_t *p, size_t len, uint32_t initial);
uint32_t ref_pseudo(uint32_t src, uint32_t dst, uint8_t proto, size_t len);
size_t build_arp(uint8_t *f, const uint8_t dst_mac[6], uint16_t op, const uint8_t sha[6],
                 uint32_t spa, uint32_t tpa);
size_t build_ip(uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto, const uint8_t *l4,
                size_t l4_len);
size_t build_icmp_echo(uint8_t *f, uint16_t id, uint16_t seq, const uint8_t *data, size_t len);
size_t build_udp(uint8_t *f, uint16_t sport, uint16_t dport, const void *data, size_t len);
size_t build_tcp(uint8_t *f, uint32_t src_ip, uint16_t sport, uint16_t dport, uint32_t seq,
                 uint32_t ack, uint8_t flags, uint16_t wnd, const void *data, size_t len,
                 uint16_t mss_option);

/* A parsed TCP frame; false when anything is malformed or any checksum is wrong. */
struct tcp_view {
  uint8_t dst_mac[6], src_mac[6];
  uint32_t src_ip, dst_ip;
  uint16_t sport, dport, wnd, mss;
  uint32_t seq, ack;
  uint8_t flags;
  const uint8_t *data;
  size_t len;
};
bool parse_tcp(const uint8_t *f, size_t len, struct tcp_view *v);
bool cap_tcp(const struct world *w, int i, struct tcp_view *v); /* captured frame i */

/* The client's moves. client_segment sends exactly what it is told; client_send uses and
 * advances the client's own sequence number. client_absorb takes in-order data and FINs from
 * the captured frames, as a client that receives everything would. */
void client_segment(struct world *w, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t wnd,
                    const void *data, size_t len);
void client_send(struct world *w, uint8_t flags, const void *data, size_t len);
void client_absorb(struct world *w);
uint32_t tcp_connect(struct world *w); /* the accepted id, 0 on failure */

#endif /* NSTEST_HARNESS_H */
