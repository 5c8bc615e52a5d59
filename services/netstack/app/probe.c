/* app/probe.c -- the loopback probe (NS_PROBE on the stats endpoint, hic/netstack_probe.h). A scripted
 * client at PROBE_IP, an address no real client has, talks to this instance through its own core
 * and applications, and what they answer never reaches the wire: while a probe runs,
 * netstack_emit hands every frame addressed to PROBE_IP to probe_take. Two critical functions are
 * checked, each once per probe:
 *
 *   - HTTP: port 80 accepts a connection (its SYN is answered by a SYN-ACK); the probe then
 *     resets it, so the web server is never asked anything;
 *   - echo: port 5432 gives back the caller's bytes, and the connection closes both ways.
 *
 * The caller gets the bytes echoed, to compare with the bytes it sent (a version that corrupts
 * payloads differs there), and a hash of the transcript: each segment's flags, its sequence and
 * acknowledgement numbers relative to the two ISNs, and its payload. Two instances that behave
 * alike give the same hash whatever their ISNs or windows.
 *
 * Nothing else changes. The core's counters are put back as they were, since they describe the
 * traffic, and the probe's connections are closed before it returns: a probe is never part of a
 * migration's snapshot, and the migration is not told of their closing (apps.c). */
#include "app.h"

#include "hic/eth.h"
#include "hic/runtime.h"

#define PROBE_MAC_LAST 0xfe /* the client's MAC: 02:70:72:6f:62:fe, locally administered ("prob") */
#define HTTP_PORT 80
#define ECHO_PORT 5432
#define CLIENT_PORTS 16384 /* the probe's source port: 49152 + its number modulo this */

static struct ns_stack *stack;
static bool running;
static uint32_t hash;        /* CRC-32 of the transcript so far */
static uint32_t client_isn, server_isn;
static bool synack, fin;     /* the connection in hand answered its SYN / sent its FIN */
static uint32_t server_fin;  /* the sequence number of that FIN */
static uint8_t *echo;        /* where the echoed bytes go, at their stream offset */
static uint32_t echo_cap, echo_len;
static uint16_t client_port;
static uint32_t accepted; /* the connection in hand's id, once the application has it; 0: none */

static void put_be16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static void put_be32(uint8_t *p, uint32_t v) { put_be16(p, v >> 16), put_be16(p + 2, v); }

void probe_accepted(uint32_t id) {
  if (running) accepted = id;
}

bool probe_take(const uint8_t *f, size_t len) {
  if (!running || len < 14 + 20 || eth_be16(f + 12) != ETHERTYPE_IPV4 || eth_be32(f + 14 + 16) != PROBE_IP) return false;
  struct eth_tcp t;
  if (!eth_parse_tcp(f, (uint32_t)len, false, &t)) return true; /* the probe's, though not TCP: dropped */
  const uint8_t *tcp = f + 14 + (f[14] & 0xf) * 4;
  uint32_t ack = eth_be32(tcp + 8);
  if ((t.flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK) && ack == client_isn + 1) synack = true, server_isn = t.seq;
  uint8_t entry[9] = {t.flags};
  le32(entry + 1, t.seq - server_isn);
  le32(entry + 5, t.flags & TCP_ACK ? ack - client_isn : 0);
  hash = ns_crc32(ns_crc32(hash, entry, sizeof entry), f + t.payload, t.payload_len);
  if (synack && t.payload_len) { /* data: at its offset in the echoed stream */
    uint32_t at = t.seq - server_isn - 1;
    for (uint32_t i = 0; i < t.payload_len && at + i < echo_cap; i++) echo[at + i] = f[t.payload + i];
    if (at + t.payload_len > echo_len) echo_len = at + t.payload_len > echo_cap ? echo_cap : at + t.payload_len;
  }
  if (t.flags & TCP_FIN) fin = true, server_fin = t.seq + t.payload_len;
  return true;
}

/* One segment from the probe's client to `port`, through the core as if it came off the wire. */
static void segment(uint16_t port, uint32_t seq, uint32_t ack, uint8_t flags, const uint8_t *data, uint32_t n) {
  static uint8_t f[14 + 20 + 20 + NS_PROBE_DATA_MAX];
  uint8_t *ip = f + 14, *tcp = ip + 20;
  memcpy(f, stack->cfg.mac, 6);
  memcpy(f + 6, (const uint8_t[6]){0x02, 0x70, 0x72, 0x6f, 0x62, PROBE_MAC_LAST}, 6);
  put_be16(f + 12, ETHERTYPE_IPV4);
  memset(ip, 0, 20);
  ip[0] = 0x45, ip[8] = 64, ip[9] = IPPROTO_TCP;
  put_be16(ip + 2, 20 + 20 + n);
  put_be16(ip + 6, 0x4000); /* don't fragment */
  put_be32(ip + 12, PROBE_IP);
  put_be32(ip + 16, stack->cfg.ip);
  put_be16(ip + 10, ns_checksum(0, 0, 0, ip, 20));
  memset(tcp, 0, 20);
  put_be16(tcp, client_port);
  put_be16(tcp + 2, port);
  put_be32(tcp + 4, seq);
  put_be32(tcp + 8, ack);
  tcp[12] = 5 << 4, tcp[13] = flags;
  put_be16(tcp + 14, 0xffff);
  if (n) memcpy(tcp + 20, data, n);
  put_be16(tcp + 16, ns_checksum(PROBE_IP, stack->cfg.ip, IPPROTO_TCP, tcp, 20 + n));
  ns_input(stack, f, 14 + 20 + 20 + n, netstack_now(), netstack_emit, 0);
}

static void connect(uint64_t number, uint16_t port) {
  client_port = (uint16_t)(49152 + number % CLIENT_PORTS);
  client_isn = 0x70000000u + (uint32_t)(number % CLIENT_PORTS) * 0x10000u;
  synack = fin = false;
  server_isn = accepted = 0;
  segment(port, client_isn, 0, TCP_SYN, 0, 0);
}

void probe_run(struct ns_stack *s, uint64_t number, const uint8_t *data, uint32_t len, uint8_t *out, struct probe_result *r) {
  if (len > NS_PROBE_DATA_MAX) len = NS_PROBE_DATA_MAX;
  stack = s;
  struct ns_counters kept = s->stats;
  running = true;
  hash = 0;
  echo = out, echo_cap = len, echo_len = 0;
  *r = (struct probe_result){0};

  connect(number, HTTP_PORT);
  if (!synack) r->failed |= NS_PROBE_HTTP;
  segment(HTTP_PORT, client_isn + 1, 0, TCP_RST, 0, 0);

  connect(number, ECHO_PORT);
  uint32_t seq = client_isn + 1;
  if (synack) {
    segment(ECHO_PORT, seq, server_isn + 1, TCP_ACK, data, len);
    seq += len;
    segment(ECHO_PORT, seq, server_isn + 1 + echo_len, TCP_FIN | TCP_ACK, 0, 0);
    seq++;
    if (accepted) app_flush(accepted); /* the echo closes its side once the client has closed */
  }
  if (fin) segment(ECHO_PORT, seq, server_fin + 1, TCP_ACK, 0, 0);
  else segment(ECHO_PORT, seq, 0, TCP_RST, 0, 0); /* whatever is left of it goes */
  if (!synack || !fin || echo_len != len) r->failed |= NS_PROBE_ECHO;

  r->hash = hash;
  r->echoed = echo_len;
  running = false;
  s->stats = kept;
}
