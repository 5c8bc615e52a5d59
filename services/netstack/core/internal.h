/* internal.h -- what the core's files share and the application never sees: wire-format
 * accessors, sequence arithmetic, the Internet checksum, and the entry point each layer calls in
 * the next. */
#ifndef NS_INTERNAL_H
#define NS_INTERNAL_H

#include "net.h"

/* The guest runtime provides these (services/runtime/string.c); there is no libc header. */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#define ETH_HLEN 14
#define ETH_MIN_FRAME 60 /* without FCS; shorter frames are padded */
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define IP_HLEN 20
#define L4_OFF (ETH_HLEN + IP_HLEN) /* where an emitted frame's ICMP/UDP/TCP header starts */
#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IP_BROADCAST 0xffffffffu

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_HLEN 20
#define TCP_PAYLOAD(s) ((s)->tx + L4_OFF + TCP_HLEN) /* data segments carry no options */

/* Where emitted frames go and what time it is; threaded through one call. */
struct ns_io {
  ns_emit_fn emit;
  void *ctx;
  uint64_t now;
};

/* The wire is big-endian. */
static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Sequence numbers compare modulo 2^32 (RFC 793 §3.3). */
static inline bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline bool seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }

/* splitmix64's finaliser: every input bit affects every output bit. Used for the ISN and the
 * connection hash, where the only requirement is a good spread with no state. */
static inline uint64_t ns_mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static inline uint16_t ns_mss(const struct ns_stack *s) { return (uint16_t)(s->cfg.mtu - 40); }

/* checksum.c -- RFC 1071. Sums stay below 2^32 for anything up to 128 KiB, far above a frame. */
uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len);
uint16_t csum_fold(uint32_t sum); /* the one's complement of the folded sum: 0 means "valid" */
uint32_t csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);

/* stack.c */
void eth_emit(struct ns_stack *s, const uint8_t dst[6], uint16_t type, size_t payload_len,
              const struct ns_io *io); /* the payload is already at s->tx + ETH_HLEN */
bool route_next_hop(const struct ns_stack *s, uint32_t dst, uint32_t *hop);

/* arp.c */
void arp_input(struct ns_stack *s, const uint8_t *pkt, size_t len, const struct ns_io *io);
void arp_request(struct ns_stack *s, uint32_t ip, const struct ns_io *io);

/* ip.c */
void ip_input(struct ns_stack *s, const uint8_t *src_mac, const uint8_t *pkt, size_t len,
              const struct ns_io *io);
void ip_emit(struct ns_stack *s, const uint8_t dst_mac[6], uint32_t dst_ip, uint8_t proto,
             size_t l4_len, const struct ns_io *io); /* the L4 message is already at L4_OFF */

/* icmp.c, udp.c */
void icmp_input(struct ns_stack *s, const uint8_t *src_mac, uint32_t src_ip, const uint8_t *msg,
                size_t len, const struct ns_io *io);
void udp_input(struct ns_stack *s, uint32_t src_ip, uint32_t dst_ip, const uint8_t *dgram,
               size_t len);

/* tcp_in.c */
void tcp_input(struct ns_stack *s, const uint8_t *src_mac, uint32_t src_ip, uint32_t dst_ip,
               const uint8_t *seg, size_t len, const struct ns_io *io);
/* One segment (checksum already verified) for a connection that is not frozen. */
void tcp_segment(struct ns_stack *s, struct ns_conn *c, const uint8_t *seg, size_t len,
                 const struct ns_io *io);

/* tcp_out.c */
void tcp_output(struct ns_stack *s, struct ns_conn *c, const struct ns_io *io);
void tcp_send_ack(struct ns_stack *s, struct ns_conn *c, const struct ns_io *io);
int tcp_retransmit(struct ns_stack *s, struct ns_conn *c, int max_segments,
                   const struct ns_io *io);
void tcp_send_rst(struct ns_stack *s, const uint8_t mac[6], uint32_t dst_ip, uint16_t lport,
                  uint16_t rport, uint32_t seq, uint32_t ack, bool with_ack,
                  const struct ns_io *io);

/* conn.c */
const struct ns_conn *conn_find(const struct ns_stack *s, uint32_t id);
static inline bool conn_alive(const struct ns_conn *c, uint32_t id) {
  return c->state != NS_TCP_FREE && c->id == id;
}
struct ns_conn *conn_lookup(struct ns_stack *s, uint32_t rip, uint16_t rport, uint16_t lport);
struct ns_conn *conn_alloc(struct ns_stack *s, uint32_t want_id, uint32_t rip, uint16_t rport,
                           uint16_t lport);
void conn_free(struct ns_stack *s, struct ns_conn *c, enum ns_close_reason why);
bool conn_slot_free(const struct ns_stack *s);
/* Data bytes sent and not acknowledged: the outstanding sequence space minus an unacked FIN. */
static inline uint32_t conn_inflight(const struct ns_conn *c) {
  uint32_t out = c->snd_nxt - c->snd_una;
  return out - (c->fin_sent && out > 0 ? 1u : 0u);
}

unsigned sndbuf_free_count(const struct ns_stack *s);
void sndbuf_read(const struct ns_stack *s, const struct ns_conn *c, uint32_t off, uint8_t *dst,
                 uint32_t n);
bool sndbuf_append(struct ns_stack *s, struct ns_conn *c, const uint8_t *src, uint32_t n);
void sndbuf_consume(struct ns_stack *s, struct ns_conn *c, uint32_t n);

unsigned qslot_free_count(const struct ns_stack *s);
bool conn_enqueue(struct ns_stack *s, struct ns_conn *c, const uint8_t *seg, size_t len);
uint16_t conn_dequeue(struct ns_conn *c); /* the oldest queued slot ref; the caller frees it */
void qslot_release(struct ns_stack *s, uint16_t ref);

#endif /* NS_INTERNAL_H */
