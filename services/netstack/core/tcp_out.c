/* tcp_out.c -- every TCP segment we put on the wire: data as the peer's window allows, our FIN
 * once the data is out, ACKs (and the SYN-ACK, which is SYN_RCVD's ACK), retransmissions from
 * the send buffer, and RSTs. Nothing here runs on a timer: the only triggers are the peer's
 * segments and the application's calls. */
#include "internal.h"

/* Finishes the segment whose payload (plen bytes) is already at TCP_PAYLOAD(s) and sends it. The
 * MSS option appears only on our SYN-ACK, which carries no payload, so the two never overlap. */
static void tcp_emit(struct ns_stack *s, const uint8_t mac[6], uint32_t dst_ip, uint16_t lport,
                     uint16_t rport, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd,
                     uint16_t mss_option, size_t plen, const struct ns_io *io) {
  uint8_t *t = s->tx + L4_OFF;
  size_t hlen = mss_option ? TCP_HLEN + 4 : TCP_HLEN;
  put16(t, lport);
  put16(t + 2, rport);
  put32(t + 4, seq);
  put32(t + 8, ack);
  t[12] = (uint8_t)(hlen / 4) << 4;
  t[13] = flags;
  put16(t + 14, wnd);
  put16(t + 16, 0);
  put16(t + 18, 0); /* urgent pointer: unused */
  if (mss_option) {
    t[20] = 2; /* kind: MSS */
    t[21] = 4;
    put16(t + 22, mss_option);
  }
  size_t len = hlen + plen;
  uint32_t pseudo = csum_pseudo(s->cfg.ip, dst_ip, IPPROTO_TCP, (uint16_t)len);
  put16(t + 16, csum_fold(csum_add(pseudo, t, len)));
  ip_emit(s, mac, dst_ip, IPPROTO_TCP, len, io);
}

/* Every segment on a connection acknowledges rcv_nxt, so sending any of them pays a pending ACK. */
static void conn_emit(struct ns_stack *s, struct ns_conn *c, uint32_t seq, uint8_t flags,
                      size_t plen, const struct ns_io *io) {
  uint16_t mss = (flags & TCP_SYN) ? ns_mss(s) : 0;
  tcp_emit(s, c->remote_mac, c->remote_ip, c->local_port, c->remote_port, seq, c->rcv_nxt,
           flags, c->rcv_wnd, mss, plen, io);
  c->ack_now = false;
}

/* Sends n buffered bytes starting off bytes after snd_una. Retransmissions go through here too,
 * so a resent segment is the original byte for byte (only its ACK field may have moved on). */
static void send_data(struct ns_stack *s, struct ns_conn *c, uint32_t off, uint32_t n,
                      const struct ns_io *io) {
  sndbuf_read(s, c, off, TCP_PAYLOAD(s), n);
  conn_emit(s, c, c->snd_una + off, TCP_ACK | TCP_PSH, n, io);
}

void tcp_send_ack(struct ns_stack *s, struct ns_conn *c, const struct ns_io *io) {
  if (c->state == NS_TCP_SYN_RCVD)
    conn_emit(s, c, c->iss, TCP_SYN | TCP_ACK, 0, io);
  else
    conn_emit(s, c, c->snd_nxt, TCP_ACK, 0, io);
}

/* States in which the application's data may still go out: before our FIN is sent. */
static bool may_send_data(const struct ns_conn *c) {
  switch (c->state) {
  case NS_TCP_ESTABLISHED:
  case NS_TCP_CLOSE_WAIT:
  case NS_TCP_FIN_WAIT_1:
  case NS_TCP_LAST_ACK:
    return !c->fin_sent;
  default:
    return false;
  }
}

void tcp_output(struct ns_stack *s, struct ns_conn *c, const struct ns_io *io) {
  if (c->frozen || !may_send_data(c)) return;
  for (;;) {
    uint32_t sent = c->snd_nxt - c->snd_una;
    uint32_t unsent = c->sb_len - sent;
    uint32_t room = c->snd_wnd > sent ? c->snd_wnd - sent : 0;
    uint32_t n = unsent;
    if (n > room) n = room;
    if (n > c->mss) n = c->mss;
    if (n == 0) break;
    send_data(s, c, sent, n, io);
    c->snd_nxt += n;
  }
  /* An application close moved us to FIN_WAIT_1 or LAST_ACK; the FIN follows the last byte.
   * (No persist timer either: a zero window holds the FIN until the peer's window update.) */
  bool closing = c->state == NS_TCP_FIN_WAIT_1 || c->state == NS_TCP_LAST_ACK;
  if (closing && c->snd_nxt - c->snd_una == c->sb_len) {
    conn_emit(s, c, c->snd_nxt, TCP_FIN | TCP_ACK, 0, io);
    c->snd_nxt++;
    c->fin_sent = true;
  }
}

/* Sends again up to max_segments from snd_una: first the unacknowledged data in MSS pieces,
 * then our FIN if it is unacknowledged. In SYN_RCVD the SYN-ACK is what is outstanding. */
int tcp_retransmit(struct ns_stack *s, struct ns_conn *c, int max_segments,
                   const struct ns_io *io) {
  if (c->state == NS_TCP_SYN_RCVD) {
    tcp_send_ack(s, c, io);
    s->stats.tcp_retransmits++;
    return 1;
  }
  uint32_t inflight = conn_inflight(c);
  uint32_t off = 0;
  int sent = 0;
  while (off < inflight && sent < max_segments) {
    uint32_t n = inflight - off < c->mss ? inflight - off : c->mss;
    send_data(s, c, off, n, io);
    off += n;
    sent++;
  }
  bool fin_unacked = c->fin_sent && c->snd_nxt != c->snd_una;
  if (fin_unacked && off == inflight && sent < max_segments) {
    conn_emit(s, c, c->snd_nxt - 1, TCP_FIN | TCP_ACK, 0, io);
    sent++;
  }
  s->stats.tcp_retransmits += (uint64_t)sent;
  return sent;
}

/* RFC 793 "reset generation": with_ack answers a segment that carried no ACK. */
void tcp_send_rst(struct ns_stack *s, const uint8_t mac[6], uint32_t dst_ip, uint16_t lport,
                  uint16_t rport, uint32_t seq, uint32_t ack, bool with_ack,
                  const struct ns_io *io) {
  uint8_t flags = with_ack ? TCP_RST | TCP_ACK : TCP_RST;
  s->stats.tcp_rst_sent++;
  tcp_emit(s, mac, dst_ip, lport, rport, seq, with_ack ? ack : 0, flags, 0, 0, 0, io);
}
