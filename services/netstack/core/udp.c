/* udp.c -- UDP (RFC 768): datagrams to a bound port go to that port's callback; we send from our
 * address to anyone the routing table and ARP can reach. */
#include "internal.h"

#define UDP_HLEN 8

int ns_udp_bind(struct ns_stack *s, uint16_t port, ns_udp_fn fn, void *ctx) {
  if (port == 0 || !fn) return -NS_ERR_INVALID;
  struct ns_udp_binding *slot = NULL;
  for (int i = 0; i < NS_MAX_UDP_BINDS; i++) {
    if (s->udp[i].port == port) return -NS_ERR_EXISTS;
    if (s->udp[i].port == 0 && !slot) slot = &s->udp[i];
  }
  if (!slot) return -NS_ERR_TABLE_FULL;
  *slot = (struct ns_udp_binding){.port = port, .fn = fn, .ctx = ctx};
  return NS_OK;
}

void udp_input(struct ns_stack *s, uint32_t src_ip, uint32_t dst_ip, const uint8_t *d, size_t len) {
  s->stats.udp_rx++;
  size_t ulen = len >= UDP_HLEN ? get16(d + 4) : 0;
  if (ulen < UDP_HLEN || ulen > len) {
    s->stats.udp_bad_header++;
    return;
  }
  /* Checksum 0 means the sender computed none, which IPv4 allows. */
  if (get16(d + 6) != 0 &&
      csum_fold(csum_add(csum_pseudo(src_ip, dst_ip, IPPROTO_UDP, (uint16_t)ulen), d, ulen)) != 0) {
    s->stats.udp_bad_checksum++;
    return;
  }
  uint16_t port = get16(d + 2);
  if (!ns_fw_allows(s, IPPROTO_UDP, port)) {
    s->stats.udp_fw_denied++;
    return;
  }
  for (int i = 0; i < NS_MAX_UDP_BINDS; i++) {
    if (s->udp[i].port == port) {
      s->udp[i].fn(s->udp[i].ctx, src_ip, get16(d), port, d + UDP_HLEN, ulen - UDP_HLEN);
      return;
    }
  }
  s->stats.udp_no_port++;
}

int ns_udp_send(struct ns_stack *s, uint16_t src_port, uint32_t dst_ip, uint16_t dst_port,
                const uint8_t *data, size_t len, uint64_t now, ns_emit_fn emit, void *ctx) {
  const struct ns_io io = {emit, ctx, now};
  if (src_port == 0 || dst_port == 0) return -NS_ERR_INVALID;
  if (len > (size_t)s->cfg.mtu - IP_HLEN - UDP_HLEN) return -NS_ERR_TOO_BIG;

  uint8_t mac[6];
  if (dst_ip == IP_BROADCAST || dst_ip == (s->cfg.ip | ~s->cfg.netmask)) {
    memset(mac, 0xff, 6);
  } else {
    uint32_t hop;
    if (!route_next_hop(s, dst_ip, &hop)) return -NS_ERR_NO_ROUTE;
    if (!ns_arp_lookup(s, hop, mac)) {
      arp_request(s, hop, &io);
      return -NS_ERR_ARP_PENDING;
    }
  }

  uint8_t *u = s->tx + L4_OFF;
  uint16_t ulen = (uint16_t)(UDP_HLEN + len);
  put16(u, src_port);
  put16(u + 2, dst_port);
  put16(u + 4, ulen);
  put16(u + 6, 0);
  if (len) memcpy(u + UDP_HLEN, data, len);
  uint16_t sum = csum_fold(csum_add(csum_pseudo(s->cfg.ip, dst_ip, IPPROTO_UDP, ulen), u, ulen));
  put16(u + 6, sum ? sum : 0xffff); /* a computed 0 is sent as all ones: 0 means "none" */
  s->stats.udp_tx++;
  ip_emit(s, mac, dst_ip, IPPROTO_UDP, ulen, &io);
  return NS_OK;
}
