/* t_firewall.c -- the firewall's rules in the core: a table in the firewall service's wire form
 * (written here by the service's own encoder, hic/firewall.h, so the two ends cannot drift),
 * what it lets in and refuses for TCP, UDP and ICMP, first match wins, default deny, and every
 * malformed table refused without a change. */
#include <string.h>

#include "../../../services/include/hic/firewall.h"
#include "harness.h"
#include "scenarios.h"

static const struct fw_rule RULES[] = {
    {FW_TCP, FW_ALLOW, 80, 80}, {FW_UDP, FW_ALLOW, 53, 53}, {FW_ICMP, FW_ALLOW, 8, 8},
    {FW_TCP, FW_DENY, 7, 7},    {FW_TCP, FW_DENY, 0, 65535}, {FW_UDP, FW_DENY, 0, 65535},
};
#define RULE_COUNT (uint16_t)(sizeof RULES / sizeof RULES[0])

static int udp_calls;

static void on_udp(void *ctx, uint32_t src_ip, uint16_t src_port, uint16_t dst_port,
                   const uint8_t *data, size_t len) {
  (void)ctx, (void)src_ip, (void)src_port, (void)dst_port, (void)data, (void)len;
  udp_calls++;
}

/* A SYN from a fresh client port to `port`; the one frame it got back, if any. */
static bool syn_to(struct world *w, uint16_t port, uint16_t client_port, struct tcp_view *v) {
  w->cl.port = client_port;
  w->cl.server_port = port;
  w->cl.seq = CLIENT_ISN;
  client_send(w, F_SYN, NULL, 0);
  return w->cap.n == 1 && cap_tcp(w, 0, v);
}

static void refused_unchanged(struct world *w, const uint8_t *table, size_t len, int want,
                              const char *what) {
  uint32_t hash = w->s->fw_hash;
  uint16_t count = w->s->fw_count;
  int rc = ns_set_firewall(w->s, table, len);
  check(rc == want && w->s->fw_hash == hash && w->s->fw_count == count &&
            ns_fw_allows(w->s, 6, 80) && !ns_fw_allows(w->s, 6, 7),
        "%s: refused (%d), the rules in force unchanged", what, rc);
}

void t_firewall(void) {
  struct world w;
  world_init(&w, 42, OUR_IP);
  uint8_t f[NS_FRAME_MAX], table[FW_TABLE_MAX], data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  struct tcp_view v;
  check(ns_udp_bind(w.s, 53, on_udp, NULL) == 0 && ns_udp_bind(w.s, 5353, on_udp, NULL) == 0,
        "bind UDP 53 and 5353");

  /* Without rules nothing is refused: port 7 (listening) opens, as it always did. */
  check(ns_fw_allows(w.s, 6, 7) && ns_fw_allows(w.s, 17, 5353) && ns_fw_allows(w.s, 1, 8),
        "no table: everything is allowed");
  w.cl.server_port = 7;
  check(tcp_connect(&w) != 0, "no table: a connection to port 7 opens");

  uint32_t len = fw_encode(RULES, RULE_COUNT, table);
  check_u64("the table's wire length (4 + 8 per rule)", len, 4 + 8 * RULE_COUNT);
  check_u64("ns_set_firewall: the rule count", (uint64_t)ns_set_firewall(w.s, table, len), RULE_COUNT);
  check(w.s->fw_on && w.s->fw_count == RULE_COUNT && w.s->fw_hash == ns_crc32(0, table, len),
        "the rules are in force; the hash is the CRC-32 of the bytes as sent");

  /* TCP: a SYN to an allowed port opens; to a denied one -- listening or not -- gets RST|ACK. */
  check(syn_to(&w, 80, 41000, &v) && v.flags == (F_SYN | F_ACK), "a SYN to port 80 (allowed) gets SYN-ACK");
  uint32_t conns = w.s->conn_count;
  check(syn_to(&w, 7, 41001, &v) && v.flags == (F_RST | F_ACK) && v.ack == CLIENT_ISN + 1 &&
            v.sport == 7 && v.dport == 41001,
        "a SYN to port 7 (listening, denied) gets RST|ACK acknowledging the SYN");
  check(w.s->conn_count == conns && w.app.accepts == 1, "... and opens nothing");
  check(syn_to(&w, 23, 41002, &v) && v.flags == (F_RST | F_ACK), "a SYN to port 23 (denied) gets RST|ACK");
  check_u64("stats.tcp_fw_denied", w.s->stats.tcp_fw_denied, 2);

  /* The rules judge new connections only: the one opened before them carries on. */
  w.cl.port = 40000, w.cl.server_port = 7;
  w.cl.seq = CLIENT_ISN + 1;
  size_t before = w.app.data_len;
  client_send(&w, F_ACK | F_PSH, "still", 5);
  check(w.app.data_len == before + 5 && memcmp(w.app.data + before, "still", 5) == 0,
        "a connection opened before the rules still delivers its data");

  /* UDP: allowed port delivered, denied port dropped (not counted as "no port"). */
  size_t n = build_udp(f, 1234, 53, "q", 1);
  world_feed(&w, f, n);
  check(udp_calls == 1, "a datagram to UDP 53 (allowed) is delivered");
  n = build_udp(f, 1234, 5353, "q", 1);
  world_feed(&w, f, n);
  check(udp_calls == 1 && w.cap.n == 0, "a datagram to UDP 5353 (bound, denied) is dropped");
  check(w.s->stats.udp_fw_denied == 1 && w.s->stats.udp_no_port == 0, "... counted as refused");

  /* ICMP: echo allowed by its type; a table without that rule drops it. */
  n = build_icmp_echo(f, 9, 1, data, sizeof data);
  world_feed(&w, f, n);
  check(w.cap.n == 1, "an echo request (type 8, allowed) is answered");
  uint8_t no_icmp[FW_TABLE_MAX];
  struct fw_rule tcp80[] = {{FW_TCP, FW_ALLOW, 80, 80}};
  uint32_t len2 = fw_encode(tcp80, 1, no_icmp);
  check(ns_set_firewall(w.s, no_icmp, len2) == 1, "a table of one rule replaces the first");
  world_feed(&w, f, n);
  check(w.cap.n == 0 && w.s->stats.icmp_fw_denied == 1 && w.s->stats.icmp_echo_replies == 1,
        "with no rule for it, an echo request is dropped and counted");
  check(w.s->fw_hash != ns_crc32(0, table, len), "another table, another hash");

  /* First match wins; what no rule matches is denied; no rules at all deny everything. */
  struct fw_rule order[] = {{FW_TCP, FW_DENY, 80, 80}, {FW_TCP, FW_ALLOW, 1, 1000}};
  ns_set_firewall(w.s, table, fw_encode(order, 2, table));
  check(!ns_fw_allows(w.s, 6, 80) && ns_fw_allows(w.s, 6, 81) && !ns_fw_allows(w.s, 6, 1001) &&
            !ns_fw_allows(w.s, 17, 81),
        "first match wins: deny 80 before allow 1..1000; 1001 and UDP match nothing: denied");
  check(ns_set_firewall(w.s, table, fw_encode(order, 0, table)) == 0 && !ns_fw_allows(w.s, 6, 80),
        "an empty table denies everything");

  /* Every malformed table is refused whole; the rules in force (RULES) stay. */
  len = fw_encode(RULES, RULE_COUNT, table);
  ns_set_firewall(w.s, table, len);
  uint8_t bad[FW_TABLE_MAX + FW_RULE_BYTES];
  memcpy(bad, table, len);
  bad[0] = 2;
  refused_unchanged(&w, bad, len, -NS_ERR_FORMAT, "table version 2");
  refused_unchanged(&w, table, len - 1, -NS_ERR_FORMAT, "a table cut short");
  refused_unchanged(&w, table, 3, -NS_ERR_FORMAT, "a header cut short");
  memcpy(bad, table, len), bad[4 + 8 * 5 + 0] = 2;
  refused_unchanged(&w, bad, len, -NS_ERR_FORMAT, "the last rule's protocol 2");
  memcpy(bad, table, len), bad[4 + 1] = 7;
  refused_unchanged(&w, bad, len, -NS_ERR_FORMAT, "an action 7");
  memcpy(bad, table, len), bad[4 + 2] = 81; /* first 81 > last 80 */
  refused_unchanged(&w, bad, len, -NS_ERR_FORMAT, "a range whose first port is past its last");
  memcpy(bad, table, len), bad[4 + 6] = 1;
  refused_unchanged(&w, bad, len, -NS_ERR_FORMAT, "a reserved field not 0");
  memset(bad, 0, sizeof bad);
  bad[0] = 1, bad[2] = FW_MAX_RULES + 1;
  for (int i = 0; i <= FW_MAX_RULES; i++) bad[4 + 8 * i] = 6, bad[4 + 8 * i + 1] = 1;
  refused_unchanged(&w, bad, 4 + 8 * (FW_MAX_RULES + 1), -NS_ERR_TABLE_FULL, "33 rules");

  check(ns_set_firewall(w.s, NULL, 0) == 0 && !w.s->fw_on && w.s->fw_hash == 0 &&
            ns_fw_allows(w.s, 6, 7) && ns_fw_allows(w.s, 1, 0),
        "no table (NULL): the rules are gone, everything is allowed again");
  world_free(&w);
}
