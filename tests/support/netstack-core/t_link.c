/* t_link.c -- scenarios below TCP: ARP, ICMP echo, UDP, every kind of damaged input, CRC-32. */
#include <string.h>

#include "harness.h"
#include "scenarios.h"

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) << 16 | rd16(p + 2); }

void t_arp(void) {
  struct world w;
  world_init(&w, 1, OUR_IP);
  uint8_t f[64], mac[6];

  size_t n = build_arp(f, BCAST_MAC, 1, PEER_MAC, PEER_IP, OUR_IP);
  world_feed(&w, f, n);
  check_u64("frames answering an ARP request for our address", (uint64_t)w.cap.n, 1);
  const uint8_t *r = w.cap.frame[0], *a = r + 14;
  check(w.cap.len[0] == 60, "the reply is padded to Ethernet's 60-byte minimum");
  check(memcmp(r, PEER_MAC, 6) == 0 && memcmp(r + 6, OUR_MAC, 6) == 0 && rd16(r + 12) == 0x0806,
        "the reply goes from our MAC to the asker, EtherType ARP");
  check(rd16(a) == 1 && rd16(a + 2) == 0x0800 && a[4] == 6 && a[5] == 4 && rd16(a + 6) == 2,
        "it is an Ethernet/IPv4 ARP reply");
  check(memcmp(a + 8, OUR_MAC, 6) == 0 && rd32(a + 14) == OUR_IP,
        "sender hardware/protocol address: ours");
  check(memcmp(a + 18, PEER_MAC, 6) == 0 && rd32(a + 24) == PEER_IP,
        "target hardware/protocol address: the asker's");
  check(ns_arp_lookup(w.s, PEER_IP, mac) && memcmp(mac, PEER_MAC, 6) == 0,
        "the asker was learned from its request");

  /* A request between two other hosts: no answer, and nothing learned about a stranger. */
  const uint8_t other[6] = {0x02, 0, 0, 0, 0, 0x77};
  n = build_arp(f, BCAST_MAC, 1, other, 0x0a00004d, 0x0a000063);
  world_feed(&w, f, n);
  check_u64("frames answering a request for someone else", (uint64_t)w.cap.n, 0);
  check(!ns_arp_lookup(w.s, 0x0a00004d, mac), "a stranger asking for someone else is not learned");

  /* A reply from a host we know refreshes its entry (it moved to another NIC). */
  const uint8_t moved[6] = {0x02, 0, 0, 0, 0, 0x98};
  n = build_arp(f, OUR_MAC, 2, moved, PEER_IP, OUR_IP);
  world_feed(&w, f, n);
  check(w.cap.n == 0 && ns_arp_lookup(w.s, PEER_IP, mac) && memcmp(mac, moved, 6) == 0,
        "an ARP reply updates the entry and is not answered");
  check_u64("stats.arp_replies", w.s->stats.arp_replies, 1);
  world_free(&w);
}

void t_icmp(void) {
  struct world w;
  world_init(&w, 1, OUR_IP);
  uint8_t f[NS_FRAME_MAX], payload[56];
  for (int i = 0; i < 56; i++) payload[i] = (uint8_t)(i * 7 + 3);

  size_t n = build_icmp_echo(f, 0x1234, 7, payload, sizeof payload);
  world_feed(&w, f, n);
  check_u64("frames answering an echo request", (uint64_t)w.cap.n, 1);
  const uint8_t *r = w.cap.frame[0], *h = r + 14, *m = h + 20;
  check(memcmp(r, PEER_MAC, 6) == 0 && rd16(r + 12) == 0x0800, "the reply goes to the asker's MAC");
  check(h[0] == 0x45 && h[9] == 1 && h[8] > 0 && rd16(h + 2) == 20 + 8 + 56,
        "IPv4, protocol ICMP, a live TTL, the request's length");
  check(rd32(h + 12) == OUR_IP && rd32(h + 16) == PEER_IP, "from our address to the asker's");
  check(ref_checksum(h, 20, 0) == 0, "the IPv4 header checksum verifies");
  check(m[0] == 0 && m[1] == 0, "ICMP type 0 (echo reply), code 0");
  check(ref_checksum(m, 8 + 56, 0) == 0, "the ICMP checksum verifies");
  check(rd16(m + 4) == 0x1234 && rd16(m + 6) == 7 && memcmp(m + 8, payload, 56) == 0,
        "identifier, sequence number and data are the request's");

  f[14 + 20 + 10] ^= 0x01; /* a data byte: the ICMP checksum no longer covers it */
  world_feed(&w, f, n);
  check(w.cap.n == 0, "an echo request with a bad ICMP checksum gets no reply");
  check_u64("stats.icmp_bad_checksum", w.s->stats.icmp_bad_checksum, 1);
  world_free(&w);
}

static int udp_calls;
static uint32_t udp_src_ip;
static uint16_t udp_src_port, udp_dst_port;
static char udp_data[64];

static void on_udp(void *ctx, uint32_t src_ip, uint16_t src_port, uint16_t dst_port,
                   const uint8_t *data, size_t len) {
  (void)ctx;
  udp_calls++;
  udp_src_ip = src_ip;
  udp_src_port = src_port;
  udp_dst_port = dst_port;
  memcpy(udp_data, data, len < 63 ? len : 63);
  udp_data[len < 63 ? len : 63] = 0;
}

void t_udp(void) {
  struct world w;
  world_init(&w, 1, OUR_IP);
  uint8_t f[NS_FRAME_MAX], mac[6];
  check(ns_udp_bind(w.s, 5353, on_udp, NULL) == 0, "bind port 5353");
  check(ns_udp_bind(w.s, 5353, on_udp, NULL) == -NS_ERR_EXISTS, "binding it twice: NS_ERR_EXISTS");
  check(ns_udp_bind(w.s, 0, on_udp, NULL) == -NS_ERR_INVALID, "binding port 0: NS_ERR_INVALID");

  size_t n = build_udp(f, 1234, 5353, "ping", 4);
  world_feed(&w, f, n);
  check(udp_calls == 1 && udp_src_ip == PEER_IP && udp_src_port == 1234 && udp_dst_port == 5353 &&
            strcmp(udp_data, "ping") == 0,
        "a datagram to the bound port reaches its callback with source and data");
  n = build_udp(f, 1234, 9999, "lost", 4);
  world_feed(&w, f, n);
  check(udp_calls == 1 && w.s->stats.udp_no_port == 1, "a datagram to an unbound port is counted");

  /* Sending before the peer's MAC is known asks ARP and says so. */
  cap_reset(&w.cap);
  int rc = ns_udp_send(w.s, 5353, PEER_IP, 1234, (const uint8_t *)"pong", 4, w.now, cap_emit, &w.cap);
  check_u64("ns_udp_send to an unresolved host", (uint64_t)-rc, NS_ERR_ARP_PENDING);
  check(w.cap.n == 1 && memcmp(w.cap.frame[0], BCAST_MAC, 6) == 0 &&
            rd16(w.cap.frame[0] + 14 + 6) == 1 && rd32(w.cap.frame[0] + 14 + 24) == PEER_IP,
        "... and broadcasts an ARP request for it");
  n = build_arp(f, OUR_MAC, 2, PEER_MAC, PEER_IP, OUR_IP);
  world_feed(&w, f, n);
  check(ns_arp_lookup(w.s, PEER_IP, mac), "the ARP reply is learned");

  cap_reset(&w.cap);
  rc = ns_udp_send(w.s, 5353, PEER_IP, 1234, (const uint8_t *)"pong", 4, w.now, cap_emit, &w.cap);
  check(rc == 0 && w.cap.n == 1, "once resolved, ns_udp_send emits one frame");
  const uint8_t *r = w.cap.frame[0], *h = r + 14, *u = h + 20;
  check(memcmp(r, PEER_MAC, 6) == 0 && h[9] == 17 && ref_checksum(h, 20, 0) == 0,
        "UDP over IPv4 to the peer's MAC, header checksum valid");
  check(rd16(u) == 5353 && rd16(u + 2) == 1234 && rd16(u + 4) == 12 && memcmp(u + 8, "pong", 4) == 0,
        "ports, length and data as sent");
  check(rd16(u + 6) != 0 && ref_checksum(u, 12, ref_pseudo(OUR_IP, PEER_IP, 17, 12)) == 0,
        "the UDP checksum (with pseudo-header) verifies");

  /* Off the subnet, the next hop is the gateway. */
  cap_reset(&w.cap);
  rc = ns_udp_send(w.s, 5353, 0x08080808, 53, (const uint8_t *)"q", 1, w.now, cap_emit, &w.cap);
  check(rc == -NS_ERR_ARP_PENDING && w.cap.n == 1 && rd32(w.cap.frame[0] + 14 + 24) == GW_IP,
        "a datagram off the subnet asks ARP for the gateway");
  world_free(&w);
}

void t_bad_input(void) {
  struct world w;
  world_init(&w, 1, OUR_IP);
  uint8_t f[NS_FRAME_MAX], data[8] = {1, 2, 3, 4, 5, 6, 7, 8};

  size_t n = build_icmp_echo(f, 1, 1, data, 8);
  f[14 + 10] ^= 0xff; /* IPv4 header checksum */
  world_feed(&w, f, n);
  check(w.cap.n == 0, "a datagram with a bad IPv4 header checksum is dropped");
  check_u64("stats.ip_bad_checksum", w.s->stats.ip_bad_checksum, 1);

  n = build_tcp(f, PEER_IP, 40000, 80, 1000, 0, F_SYN, 65535, NULL, 0, 1460);
  f[14 + 20 + 16] ^= 0x5a; /* TCP checksum */
  world_feed(&w, f, n);
  check(w.cap.n == 0 && w.s->conn_count == 0, "a SYN with a bad TCP checksum opens nothing");
  check_u64("stats.tcp_bad_checksum", w.s->stats.tcp_bad_checksum, 1);

  check(ns_udp_bind(w.s, 5353, on_udp, NULL) == 0, "bind port 5353");
  int calls = udp_calls;
  n = build_udp(f, 1234, 5353, "ping", 4);
  f[n - 1] ^= 0x20; /* data; the checksum no longer matches */
  world_feed(&w, f, n);
  check(udp_calls == calls, "a datagram with a bad UDP checksum is not delivered");
  check_u64("stats.udp_bad_checksum", w.s->stats.udp_bad_checksum, 1);

  n = build_icmp_echo(f, 1, 1, data, 8);
  f[14 + 6] = 0x20; /* more fragments */
  f[14 + 10] = f[14 + 11] = 0;
  uint16_t sum = ref_checksum(f + 14, 20, 0);
  f[14 + 10] = (uint8_t)(sum >> 8);
  f[14 + 11] = (uint8_t)sum;
  world_feed(&w, f, n);
  check(w.cap.n == 0, "a fragment is dropped");
  check_u64("stats.ip_fragments", w.s->stats.ip_fragments, 1);

  n = build_icmp_echo(f, 1, 1, data, 8);
  f[0] = 0x02, f[5] = 0x42; /* another host's MAC */
  world_feed(&w, f, n);
  check(w.cap.n == 0 && w.s->stats.rx_dropped == 1, "a frame for another MAC is dropped");

  n = build_icmp_echo(f, 1, 1, data, 8);
  world_feed(&w, f, 20); /* cut inside the IPv4 header */
  check(w.cap.n == 0 && w.s->stats.ip_bad_header == 1, "a truncated datagram is dropped");
  world_free(&w);
}

void t_crc32(void) {
  const uint8_t *digits = (const uint8_t *)"123456789";
  check_u64("crc32(\"123456789\")", ns_crc32(0, digits, 9), 0xcbf43926u);
  check_u64("crc32 of nothing", ns_crc32(0, digits, 0), 0);
  check_u64("crc32 in two pieces", ns_crc32(ns_crc32(0, digits, 4), digits + 4, 5), 0xcbf43926u);
  const uint8_t fox[] = "The quick brown fox jumps over the lazy dog";
  check_u64("crc32(quick brown fox)", ns_crc32(0, fox, sizeof fox - 1), 0x414fa339u);

  /* Long inputs go eight bytes a step, the rest one at a time: zlib's values for 32 zero bytes,
   * 32 0xff bytes and 0..255 four times, then every length, start and split point against the
   * polynomial applied bit by bit (the definition, with nothing in common with crc32.c's tables). */
  static uint8_t buf[1024 + 8];
  memset(buf, 0xff, 32);
  check_u64("crc32 of 32 0xff bytes", ns_crc32(0, buf, 32), 0xff6cab0bu);
  memset(buf, 0, 32);
  check_u64("crc32 of 32 zero bytes", ns_crc32(0, buf, 32), 0x190a55adu);
  for (uint32_t i = 0; i < 1024; i++) buf[i] = (uint8_t)i;
  check_u64("crc32 of 0..255 four times", ns_crc32(0, buf, 1024), 0xb70b4c26u);
  uint32_t x = 0x9e3779b9u; /* xorshift32: bytes with no pattern a table could hide behind */
  for (uint32_t i = 0; i < sizeof buf; i++) x ^= x << 13, x ^= x >> 17, x ^= x << 5, buf[i] = (uint8_t)x;
  uint32_t wrong = 0;
  for (uint32_t start = 0; start < 8; start++) {
    uint32_t want = 0xffffffffu;
    for (uint32_t len = 0; len <= 300; len++) {
      if (len > 0) {
        want ^= buf[start + len - 1];
        for (int bit = 0; bit < 8; bit++) want = (want & 1) ? (want >> 1) ^ 0xedb88320u : want >> 1;
      }
      wrong += ns_crc32(0, buf + start, len) != ~want;
      wrong += ns_crc32(ns_crc32(0, buf + start, len / 3), buf + start + len / 3, len - len / 3) != ~want;
    }
  }
  check(wrong == 0, "every length 0..300 from every start 0..7, whole and in two pieces: %u wrong", wrong);
}
