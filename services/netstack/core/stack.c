/* stack.c -- the stack as a whole: setup, the Ethernet II layer every frame enters and leaves
 * through, and the routing table that picks the next hop for datagrams we originate. */
#include "internal.h"

static const uint8_t BROADCAST_MAC[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

void ns_init(struct ns_stack *s, const struct ns_config *cfg) {
  memset(s, 0, sizeof *s);
  s->cfg = *cfg;
  if (s->cfg.mtu < NS_MTU_MIN || s->cfg.mtu > NS_MTU_MAX) s->cfg.mtu = NS_MTU_MAX;
  if (s->cfg.tcp_window == 0) s->cfg.tcp_window = NS_DEFAULT_WINDOW;
  ns_route_add(s, cfg->ip & cfg->netmask, cfg->netmask, 0);
  if (cfg->gateway != 0) ns_route_add(s, 0, 0, cfg->gateway);
}

void ns_set_app(struct ns_stack *s, const struct ns_app *app) { s->app = *app; }

void ns_input(struct ns_stack *s, const uint8_t *frame, size_t len, uint64_t now_ns,
              ns_emit_fn emit, void *ctx) {
  const struct ns_io io = {emit, ctx, now_ns};
  s->stats.rx_frames++;
  if (len < ETH_HLEN) {
    s->stats.rx_dropped++;
    return;
  }
  /* A NIC in promiscuous mode (or a switch flooding) can hand us anyone's frames. */
  if (memcmp(frame, s->cfg.mac, 6) != 0 && memcmp(frame, BROADCAST_MAC, 6) != 0) {
    s->stats.rx_dropped++;
    return;
  }
  const uint8_t *src_mac = frame + 6;
  switch (get16(frame + 12)) {
  case ETHERTYPE_ARP:
    arp_input(s, frame + ETH_HLEN, len - ETH_HLEN, &io);
    break;
  case ETHERTYPE_IPV4:
    ip_input(s, src_mac, frame + ETH_HLEN, len - ETH_HLEN, &io);
    break;
  default:
    s->stats.rx_dropped++;
    break;
  }
}

void eth_emit(struct ns_stack *s, const uint8_t dst[6], uint16_t type, size_t payload_len,
              const struct ns_io *io) {
  uint8_t *f = s->tx;
  memcpy(f, dst, 6);
  memcpy(f + 6, s->cfg.mac, 6);
  put16(f + 12, type);
  size_t len = ETH_HLEN + payload_len;
  /* The driver sends what it is given; Ethernet's minimum is ours to meet. */
  if (len < ETH_MIN_FRAME) {
    memset(f + len, 0, ETH_MIN_FRAME - len);
    len = ETH_MIN_FRAME;
  }
  s->stats.tx_frames++;
  if (io->emit) io->emit(io->ctx, f, len);
}

/* A contiguous mask is ones then zeros: its complement plus one is a power of two (or zero). */
static bool mask_contiguous(uint32_t mask) { return (~mask & (~mask + 1u)) == 0; }

int ns_route_add(struct ns_stack *s, uint32_t dest, uint32_t mask, uint32_t gateway) {
  if (!mask_contiguous(mask) || (dest & ~mask) != 0) return -NS_ERR_INVALID;
  struct ns_route *slot = NULL;
  for (int i = 0; i < NS_MAX_ROUTES; i++) {
    struct ns_route *r = &s->routes[i];
    if (r->used && r->dest == dest && r->mask == mask) {
      slot = r; /* replace: one route per prefix */
      break;
    }
    if (!r->used && !slot) slot = r;
  }
  if (!slot) return -NS_ERR_TABLE_FULL;
  *slot = (struct ns_route){.used = true, .dest = dest, .mask = mask, .gateway = gateway};
  return NS_OK;
}

/* Longest prefix wins; with contiguous masks a longer prefix is a numerically larger mask. */
bool route_next_hop(const struct ns_stack *s, uint32_t dst, uint32_t *hop) {
  const struct ns_route *best = NULL;
  for (int i = 0; i < NS_MAX_ROUTES; i++) {
    const struct ns_route *r = &s->routes[i];
    if (r->used && (dst & r->mask) == r->dest && (!best || r->mask > best->mask)) best = r;
  }
  if (!best) return false;
  *hop = best->gateway ? best->gateway : dst;
  return true;
}
