/* ip.c -- IPv4 (RFC 791): check every datagram's header before anything reads past it, keep
 * what is addressed to us, and hand the payload to ICMP, UDP or TCP. We never fragment and do
 * not reassemble: a fragment is dropped and counted (our peers use path-MTU discovery, and the
 * DF bit we set on everything we send asks them to). */
#include "internal.h"

void ip_input(struct ns_stack *s, const uint8_t *src_mac, const uint8_t *pkt, size_t len,
              const struct ns_io *io) {
  s->stats.ip_rx++;
  if (len < IP_HLEN || (pkt[0] >> 4) != 4) {
    s->stats.ip_bad_header++;
    return;
  }
  size_t ihl = (size_t)(pkt[0] & 0xf) * 4;
  if (ihl < IP_HLEN || ihl > len) {
    s->stats.ip_bad_header++;
    return;
  }
  if (csum_fold(csum_add(0, pkt, ihl)) != 0) {
    s->stats.ip_bad_checksum++;
    return;
  }
  /* The total length, not the frame, bounds the datagram: Ethernet pads short frames. */
  size_t total = get16(pkt + 2);
  if (total < ihl || total > len) {
    s->stats.ip_bad_header++;
    return;
  }
  if ((get16(pkt + 6) & 0x3fff) != 0) { /* more-fragments bit or a fragment offset */
    s->stats.ip_fragments++;
    return;
  }
  uint32_t src = get32(pkt + 12);
  uint32_t dst = get32(pkt + 16);
  bool unicast = dst == s->cfg.ip;
  bool broadcast = dst == IP_BROADCAST || dst == (s->cfg.ip | ~s->cfg.netmask);
  const uint8_t *payload = pkt + ihl;
  size_t plen = total - ihl;

  /* Echo and TCP are for our address only (no broadcast pings, RFC 1122 §3.2.2.6 allows
   * ignoring them); UDP may arrive broadcast. */
  if (pkt[9] == IPPROTO_UDP && (unicast || broadcast)) {
    udp_input(s, src, dst, payload, plen);
  } else if (!unicast) {
    s->stats.ip_not_ours++;
  } else if (pkt[9] == IPPROTO_ICMP) {
    icmp_input(s, src_mac, src, payload, plen, io);
  } else if (pkt[9] == IPPROTO_TCP) {
    tcp_input(s, src_mac, src, dst, payload, plen, io);
  } else {
    s->stats.ip_unknown_proto++;
  }
}

void ip_emit(struct ns_stack *s, const uint8_t dst_mac[6], uint32_t dst_ip, uint8_t proto,
             size_t l4_len, const struct ns_io *io) {
  uint8_t *h = s->tx + ETH_HLEN;
  h[0] = 0x45; /* version 4, no options */
  h[1] = 0;
  put16(h + 2, (uint16_t)(IP_HLEN + l4_len));
  /* DF set and ID 0: an atomic datagram needs no unique ID (RFC 6864), which keeps the output a
   * pure function of the input -- no per-stack counter to migrate. */
  put16(h + 4, 0);
  put16(h + 6, 0x4000);
  h[8] = 64;
  h[9] = proto;
  put16(h + 10, 0);
  put32(h + 12, s->cfg.ip);
  put32(h + 16, dst_ip);
  put16(h + 10, csum_fold(csum_add(0, h, IP_HLEN)));
  eth_emit(s, dst_mac, ETHERTYPE_IPV4, IP_HLEN + l4_len, io);
}
