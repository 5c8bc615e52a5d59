/* arp.c -- ARP for IPv4 over Ethernet (RFC 826): answer requests for our address, learn senders'
 * MACs, and ask for a next hop's MAC when we originate a datagram. Entries never expire; a full
 * table replaces its least recently updated entry. */
#include "internal.h"

#define ARP_LEN 28
#define ARP_REQUEST 1
#define ARP_REPLY 2

static struct ns_arp_entry *arp_find(struct ns_stack *s, uint32_t ip) {
  for (int i = 0; i < NS_MAX_ARP; i++)
    if (s->arp[i].used && s->arp[i].ip == ip) return &s->arp[i];
  return NULL;
}

static void arp_store(struct ns_stack *s, struct ns_arp_entry *e, uint32_t ip, const uint8_t *mac,
                      uint64_t now) {
  if (!e) {
    e = &s->arp[0];
    for (int i = 0; i < NS_MAX_ARP; i++) {
      if (!s->arp[i].used) {
        e = &s->arp[i];
        break;
      }
      if (s->arp[i].updated < e->updated) e = &s->arp[i];
    }
  }
  e->used = true;
  e->ip = ip;
  memcpy(e->mac, mac, 6);
  e->updated = now;
}

bool ns_arp_lookup(const struct ns_stack *s, uint32_t ip, uint8_t mac[6]) {
  for (int i = 0; i < NS_MAX_ARP; i++) {
    if (s->arp[i].used && s->arp[i].ip == ip) {
      memcpy(mac, s->arp[i].mac, 6);
      return true;
    }
  }
  return false;
}

void ns_arp_learn(struct ns_stack *s, uint32_t ip, const uint8_t mac[6], uint64_t now) {
  arp_store(s, arp_find(s, ip), ip, mac, now);
}

/* Writes an ARP packet for IPv4 over Ethernet at s->tx + ETH_HLEN. */
static void arp_build(struct ns_stack *s, uint16_t op, const uint8_t *tha, uint32_t tpa) {
  uint8_t *p = s->tx + ETH_HLEN;
  put16(p, 1); /* hardware: Ethernet */
  put16(p + 2, ETHERTYPE_IPV4);
  p[4] = 6;
  p[5] = 4;
  put16(p + 6, op);
  memcpy(p + 8, s->cfg.mac, 6);
  put32(p + 14, s->cfg.ip);
  memcpy(p + 18, tha, 6);
  put32(p + 24, tpa);
}

void arp_input(struct ns_stack *s, const uint8_t *pkt, size_t len, const struct ns_io *io) {
  s->stats.arp_rx++;
  if (len < ARP_LEN || get16(pkt) != 1 || get16(pkt + 2) != ETHERTYPE_IPV4 || pkt[4] != 6 ||
      pkt[5] != 4) {
    s->stats.arp_bad++;
    return;
  }
  uint16_t op = get16(pkt + 6);
  const uint8_t *sha = pkt + 8;
  uint32_t spa = get32(pkt + 14);
  uint32_t tpa = get32(pkt + 24);
  bool for_us = tpa == s->cfg.ip;

  /* RFC 826's merge rule: refresh a sender we already know from any packet, add it only when the
   * packet is addressed to us (it will talk to us next). Sender 0.0.0.0 is an address probe
   * (RFC 5227) and teaches nothing. */
  if (spa != 0) {
    struct ns_arp_entry *e = arp_find(s, spa);
    if (e || for_us) arp_store(s, e, spa, sha, io->now);
  }
  if (op == ARP_REQUEST && for_us) {
    arp_build(s, ARP_REPLY, sha, spa);
    s->stats.arp_replies++;
    eth_emit(s, sha, ETHERTYPE_ARP, ARP_LEN, io);
  }
}

void arp_request(struct ns_stack *s, uint32_t ip, const struct ns_io *io) {
  static const uint8_t unknown[6] = {0};
  static const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  arp_build(s, ARP_REQUEST, unknown, ip);
  s->stats.arp_requests++;
  eth_emit(s, broadcast, ETHERTYPE_ARP, ARP_LEN, io);
}
