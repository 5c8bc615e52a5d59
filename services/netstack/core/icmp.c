/* icmp.c -- ICMP (RFC 792), echo only: a request to our address gets its reply unless the
 * firewall's rules deny its type, every other type is counted and ignored. */
#include "internal.h"

#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8

void icmp_input(struct ns_stack *s, const uint8_t *src_mac, uint32_t src_ip, const uint8_t *msg,
                size_t len, const struct ns_io *io) {
  if (len < 8 || csum_fold(csum_add(0, msg, len)) != 0) {
    s->stats.icmp_bad_checksum++;
    return;
  }
  if (!ns_fw_allows(s, IPPROTO_ICMP, msg[0])) {
    s->stats.icmp_fw_denied++;
    return;
  }
  /* A request larger than our MTU allows could not have its reply sent unfragmented. */
  if (msg[0] != ICMP_ECHO_REQUEST || msg[1] != 0 || len > (size_t)s->cfg.mtu - IP_HLEN) {
    s->stats.icmp_ignored++;
    return;
  }
  /* The reply goes back to the MAC the request came from (the sender, or the router that
   * forwarded it): the right next hop, known without an ARP round trip. */
  uint8_t *r = s->tx + L4_OFF;
  memcpy(r, msg, len);
  r[0] = ICMP_ECHO_REPLY;
  put16(r + 2, 0);
  put16(r + 2, csum_fold(csum_add(0, r, len)));
  s->stats.icmp_echo_replies++;
  ip_emit(s, src_mac, src_ip, IPPROTO_ICMP, len, io);
}
