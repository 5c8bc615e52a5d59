/* tcp_in.c -- TCP segment arrival for a server (RFC 793 §3.9 "SEGMENT ARRIVES", in its order:
 * sequence check, RST, SYN, ACK, data, FIN). Deliberately a subset:
 *   - passive open only, on the config's ports the firewall's rules (firewall.c) allow; no
 *     window scaling, SACK or timestamps;
 *   - in-order data only: a segment past a gap is not kept, just re-ACKed (the peer resends);
 *   - data is handed to the application as it arrives, so the window we advertise stays fixed;
 *   - no timers except TIME_WAIT's (ns_poll): our retransmissions are triggered by the peer's
 *     duplicate ACKs, or by ns_retransmit after a migration. */
#include "internal.h"

struct tcp_seg {
  uint32_t seq, ack;
  uint16_t wnd, mss; /* mss: the option's value, 0 when absent */
  uint8_t flags;
  const uint8_t *data;
  uint32_t len;
};

/* Reads the fixed header and the MSS option; false if the header does not fit the segment. */
static bool tcp_parse(const uint8_t *p, size_t len, struct tcp_seg *g) {
  if (len < TCP_HLEN) return false;
  size_t off = (size_t)(p[12] >> 4) * 4;
  if (off < TCP_HLEN || off > len) return false;
  g->seq = get32(p + 4);
  g->ack = get32(p + 8);
  g->flags = p[13] & 0x3f;
  g->wnd = get16(p + 14);
  g->mss = 0;
  for (size_t i = TCP_HLEN; i < off;) {
    if (p[i] == 0) break; /* end of options */
    if (p[i] == 1) {      /* no-op */
      i++;
      continue;
    }
    if (i + 1 >= off || p[i + 1] < 2 || i + p[i + 1] > off) break; /* malformed: ignore the rest */
    if (p[i] == 2 && p[i + 1] == 4) g->mss = get16(p + i + 2);
    i += p[i + 1];
  }
  g->data = p + off;
  g->len = (uint32_t)(len - off);
  return true;
}

/* RFC 6528's shape without its clock: a keyed hash of the 4-tuple. Deterministic on purpose --
 * replays and migrations must see the same numbers -- and unguessable without the seed. */
static uint32_t tcp_isn(const struct ns_stack *s, uint32_t rip, uint16_t rport, uint16_t lport) {
  uint64_t tuple = (uint64_t)rip << 32 | (uint32_t)rport << 16 | lport;
  return (uint32_t)ns_mix64(tuple ^ ns_mix64(s->cfg.isn_seed ^ s->cfg.ip));
}

static bool listening(const struct ns_stack *s, uint16_t port) {
  for (int i = 0; i < NS_MAX_LISTEN; i++)
    if (s->cfg.tcp_ports[i] == port) return port != 0;
  return false;
}

static void passive_open(struct ns_stack *s, const uint8_t *src_mac, uint32_t src_ip,
                         uint32_t dst_ip, uint16_t sport, uint16_t dport, const struct tcp_seg *g,
                         const struct ns_io *io) {
  /* A full table drops the SYN rather than resetting: the client's retry may find room. */
  struct ns_conn *c = conn_alloc(s, 0, src_ip, sport, dport);
  if (!c) {
    s->stats.tcp_conn_full++;
    return;
  }
  s->stats.tcp_opened++;
  c->state = NS_TCP_SYN_RCVD;
  c->local_ip = dst_ip;
  memcpy(c->remote_mac, src_mac, 6);
  c->irs = g->seq;
  c->rcv_nxt = g->seq + 1; /* data on the SYN is not kept; the client will send it again */
  c->iss = tcp_isn(s, src_ip, sport, dport);
  c->snd_una = c->iss;
  c->snd_nxt = c->iss + 1;
  c->snd_wnd = g->wnd;
  c->rcv_wnd = s->cfg.tcp_window;
  uint16_t peer_mss = g->mss ? g->mss : 536; /* RFC 1122 §4.2.2.6's default */
  c->mss = peer_mss < ns_mss(s) ? peer_mss : ns_mss(s);
  c->last_activity = io->now;
  c->prio = ns_prio_class(dport);
  tcp_send_ack(s, c, io); /* the SYN-ACK */
}

/* RFC 793's acceptability test: does any of the segment fall inside the receive window? */
static bool acceptable(const struct ns_conn *c, uint32_t seq, uint32_t seg_len) {
  uint32_t end = c->rcv_nxt + c->rcv_wnd;
  if (seg_len == 0)
    return c->rcv_wnd == 0 ? seq == c->rcv_nxt : (seq_le(c->rcv_nxt, seq) && seq_lt(seq, end));
  if (c->rcv_wnd == 0) return false;
  uint32_t last = seq + seg_len - 1;
  return (seq_le(c->rcv_nxt, seq) && seq_lt(seq, end)) ||
         (seq_le(c->rcv_nxt, last) && seq_lt(last, end));
}

/* The ACK field. Returns false when the segment goes no further (dropped, or the connection is
 * gone -- freed here or by the application from a callback). */
static bool ack_arrives(struct ns_stack *s, struct ns_conn *c, const struct tcp_seg *g,
                        const struct ns_io *io) {
  const uint32_t id = c->id;
  if (c->state == NS_TCP_SYN_RCVD) {
    if (g->ack != c->snd_nxt) {
      tcp_send_rst(s, c->remote_mac, c->remote_ip, c->local_port, c->remote_port, g->ack, 0,
                   false, io);
      return false;
    }
    c->snd_una = g->ack;
    c->snd_wnd = g->wnd;
    c->state = NS_TCP_ESTABLISHED;
    c->established_at = io->now;
    c->accepted = true;
    s->stats.tcp_accepted++;
    if (s->app.accept) s->app.accept(s->app.ctx, id);
    return conn_alive(c, id);
  }
  if (seq_gt(g->ack, c->snd_nxt)) { /* acknowledges what we never sent */
    tcp_send_ack(s, c, io);
    return false;
  }
  if (seq_lt(g->ack, c->snd_una)) return true; /* an old ACK; the data may still be new */
  if (g->ack == c->snd_una) {
    /* A duplicate ACK (RFC 5681: no data, no window change, data outstanding) means the peer
     * is missing our segment at snd_una. Our link does not reorder, so one is enough to resend. */
    bool dup = g->len == 0 && !(g->flags & TCP_FIN) && g->wnd == c->snd_wnd &&
               c->snd_una != c->snd_nxt;
    c->snd_wnd = g->wnd;
    if (dup) {
      s->stats.tcp_dup_acks++;
      tcp_retransmit(s, c, 1, io);
    }
    return true;
  }
  bool fin_acked = c->fin_sent && g->ack == c->snd_nxt;
  sndbuf_consume(s, c, g->ack - c->snd_una - (fin_acked ? 1u : 0u));
  c->snd_una = g->ack;
  c->snd_wnd = g->wnd;
  if (fin_acked) {
    if (c->state == NS_TCP_FIN_WAIT_1) c->state = NS_TCP_FIN_WAIT_2;
    else if (c->state == NS_TCP_CLOSING) c->state = NS_TCP_TIME_WAIT;
    else if (c->state == NS_TCP_LAST_ACK) {
      conn_free(s, c, NS_CLOSE_NORMAL);
      return false;
    }
  }
  return true;
}

/* The text and the FIN. Only the bytes at rcv_nxt are taken: the front of a partly repeated
 * segment is cut off, a segment past a gap is left for the peer to resend. */
static void data_arrives(struct ns_stack *s, struct ns_conn *c, const struct tcp_seg *g) {
  const uint32_t id = c->id;
  if (c->state != NS_TCP_ESTABLISHED && c->state != NS_TCP_FIN_WAIT_1 &&
      c->state != NS_TCP_FIN_WAIT_2)
    return; /* the peer's FIN is in: nothing may follow it */
  const uint8_t *data = g->data;
  uint32_t len = g->len, seq = g->seq;
  bool fin = (g->flags & TCP_FIN) != 0;
  if (len == 0 && !fin) return;
  if (seq_lt(seq, c->rcv_nxt)) { /* acceptable, so the repeat ends before the segment does */
    uint32_t skip = c->rcv_nxt - seq;
    data += skip;
    len -= skip;
    seq = c->rcv_nxt;
    s->stats.tcp_dup_segments++;
  }
  c->ack_now = true;
  if (seq != c->rcv_nxt) {
    s->stats.tcp_ooo_segments++;
    return;
  }
  if (len > c->rcv_wnd) { /* past the right edge: keep what fits, the FIN lies beyond it */
    len = c->rcv_wnd;
    fin = false;
  }
  if (len > 0 && s->app.room) { /* the application's room: what is not taken is not acknowledged */
    size_t room = s->app.room(s->app.ctx, id);
    if (len > room) {
      len = (uint32_t)room;
      fin = false;
      s->stats.tcp_app_full++;
    }
  }
  if (len > 0) {
    c->rcv_nxt += len;
    c->bytes_in += len;
    if (s->app.deliver) s->app.deliver(s->app.ctx, id, data, len);
    if (!conn_alive(c, id)) return;
  }
  if (fin) {
    c->rcv_nxt++;
    /* In FIN_WAIT_1 our FIN is still unacknowledged (an ACK for it moved us on already). */
    if (c->state == NS_TCP_ESTABLISHED) c->state = NS_TCP_CLOSE_WAIT;
    else if (c->state == NS_TCP_FIN_WAIT_1) c->state = NS_TCP_CLOSING;
    else c->state = NS_TCP_TIME_WAIT;
    if (s->app.deliver) s->app.deliver(s->app.ctx, id, NULL, 0);
  }
}

static void segment_arrives(struct ns_stack *s, struct ns_conn *c, const struct tcp_seg *g,
                            const struct ns_io *io) {
  const uint32_t id = c->id;
  uint32_t seg_len = g->len + ((g->flags & TCP_SYN) ? 1u : 0u) + ((g->flags & TCP_FIN) ? 1u : 0u);
  c->last_activity = io->now;
  if (!acceptable(c, g->seq, seg_len)) {
    if (g->flags & TCP_RST) return;
    if (seq_le(g->seq + seg_len, c->rcv_nxt)) s->stats.tcp_dup_segments++;
    else s->stats.tcp_ooo_segments++;
    tcp_send_ack(s, c, io); /* tells the peer where we are; in SYN_RCVD, resends the SYN-ACK */
    return;
  }
  if (g->flags & TCP_RST) {
    s->stats.tcp_rst_rx++;
    conn_free(s, c, NS_CLOSE_RESET);
    return;
  }
  if (g->flags & TCP_SYN) { /* in-window SYN: a challenge ACK, never a reset (RFC 5961 §4) */
    tcp_send_ack(s, c, io);
    return;
  }
  if (!(g->flags & TCP_ACK)) return;
  if (!ack_arrives(s, c, g, io)) return;
  data_arrives(s, c, g);
  if (!conn_alive(c, id)) return;
  tcp_output(s, c, io); /* the window may have opened; data segments carry the ACK too */
  if (c->ack_now) tcp_send_ack(s, c, io);
}

void tcp_segment(struct ns_stack *s, struct ns_conn *c, const uint8_t *seg, size_t len,
                 const struct ns_io *io) {
  struct tcp_seg g;
  if (!tcp_parse(seg, len, &g)) return; /* checked when it arrived */
  segment_arrives(s, c, &g, io);
}

/* A segment for no connection: reset (RFC 793 §3.4). Echo the ACK as our sequence number, or, if
 * there was none, acknowledge exactly what the segment occupied. */
static void reset_stranger(struct ns_stack *s, const uint8_t *src_mac, uint32_t src_ip,
                           uint16_t sport, uint16_t dport, const struct tcp_seg *g,
                           const struct ns_io *io) {
  uint32_t seg_len = g->len + ((g->flags & TCP_SYN) ? 1u : 0u) + ((g->flags & TCP_FIN) ? 1u : 0u);
  bool had_ack = (g->flags & TCP_ACK) != 0;
  tcp_send_rst(s, src_mac, src_ip, dport, sport, had_ack ? g->ack : 0, g->seq + seg_len, !had_ack,
               io);
}

void tcp_input(struct ns_stack *s, const uint8_t *src_mac, uint32_t src_ip, uint32_t dst_ip,
               const uint8_t *seg, size_t len, const struct ns_io *io) {
  s->stats.tcp_rx++;
  struct tcp_seg g;
  if (!tcp_parse(seg, len, &g)) {
    s->stats.tcp_bad_header++;
    return;
  }
  if (csum_fold(csum_add(csum_pseudo(src_ip, dst_ip, IPPROTO_TCP, (uint16_t)len), seg, len)) != 0) {
    s->stats.tcp_bad_checksum++;
    return;
  }
  uint16_t sport = get16(seg), dport = get16(seg + 2);
  uint8_t syn_only = g.flags & (TCP_SYN | TCP_ACK | TCP_RST);
  struct ns_conn *c = conn_lookup(s, src_ip, sport, dport);
  /* RFC 1122 §4.2.2.13: a SYN above the old sequence space may reopen a TIME_WAIT pair. */
  if (c && c->state == NS_TCP_TIME_WAIT && syn_only == TCP_SYN && seq_gt(g.seq, c->rcv_nxt) &&
      !c->frozen) {
    conn_free(s, c, NS_CLOSE_NORMAL);
    c = NULL;
  }
  if (c && c->frozen) {
    /* Migrating: keep it for ns_thaw (or for the export), in arrival order. */
    if (conn_enqueue(s, c, seg, len)) s->stats.tcp_frozen_queued++;
    else s->stats.tcp_frozen_dropped++;
  } else if (c) {
    segment_arrives(s, c, &g, io);
  } else if (syn_only == TCP_SYN && !ns_fw_allows(s, IPPROTO_TCP, dport)) {
    s->stats.tcp_fw_denied++; /* refused as a closed port refuses it */
    reset_stranger(s, src_mac, src_ip, sport, dport, &g, io);
  } else if (syn_only == TCP_SYN && listening(s, dport)) {
    passive_open(s, src_mac, src_ip, dst_ip, sport, dport, &g, io);
  } else if (!(g.flags & TCP_RST)) {
    reset_stranger(s, src_mac, src_ip, sport, dport, &g, io);
  }
}
