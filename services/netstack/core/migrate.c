/* migrate.c -- one TCP connection as bytes: what the old instance exports and the new one imports
 * during a rolling update (seed 步骤3.3's per-connection package). Explicit little-endian fields
 * at fixed offsets, never a struct copy, so the two instances may be different builds.
 *
 * Schema 1:
 *   off size  field
 *     0    4  magic "HNSC"
 *     4    2  schema version (NS_CONN_SCHEMA); another value is refused with NS_ERR_VERSION
 *     6    2  header size, 160: where the variable part starts
 *     8    4  record size, this CRC included (lets a reader walk a shard record by record)
 *    12    4  connection id
 *    16    1  protocol, 6 (TCP)
 *    17    1  TCP state (enum ns_tcp_state, SYN_RCVD..LAST_ACK)
 *    18    1  flags: bit 0 frozen, bit 1 FIN sent, bit 2 accepted by the application
 *    19    1  reserved, 0
 *    20    4  local IPv4 address      24  4  remote IPv4 address
 *    28    2  local port              30  2  remote port
 *    32    6  remote (next-hop) MAC   38  2  MSS we send with
 *    40    4  ISS                     44  4  IRS
 *    48    4  SND.UNA                 52  4  SND.NXT
 *    56    4  RCV.NXT                 60  2  SND.WND (the peer's)    62  2  RCV.WND (ours)
 *    64    8  last activity, virtual ns
 *    72    8  payload bytes in        80  8  payload bytes out
 *    88   64  application context
 *   152    4  send-buffer length N (<= NS_SNDBUF_SIZE)
 *   156    2  queued segment count Q (<= NS_QUEUE_PER_CONN; nonzero only when frozen)
 *   158    2  reserved, 0
 *   160    N  send buffer: the byte at SND.UNA first; sent-unacknowledged, then unsent
 *          .  Q times: 2-byte length L (20..NS_SEG_MAX), then L bytes of TCP segment (header
 *             and payload, as received, checksum verified), oldest first
 *   end-4  4  CRC-32 (ns_crc32) of every byte before it
 */
#include "internal.h"

#define HDR_SIZE 160
#define FLAG_FROZEN 0x01
#define FLAG_FIN_SENT 0x02
#define FLAG_ACCEPTED 0x04

static const uint8_t MAGIC[4] = {'H', 'N', 'S', 'C'};

static void le16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static void le32(uint8_t *p, uint32_t v) {
  le16(p, (uint16_t)v);
  le16(p + 2, (uint16_t)(v >> 16));
}
static void le64(uint8_t *p, uint64_t v) {
  le32(p, (uint32_t)v);
  le32(p + 4, (uint32_t)(v >> 32));
}
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

size_t ns_export_size(const struct ns_stack *s, uint32_t conn_id) {
  const struct ns_conn *c = conn_find(s, conn_id);
  if (!c) return 0;
  size_t n = HDR_SIZE + c->sb_len + 4;
  for (int i = 0; i < c->q_count; i++) n += 2 + s->qslots[c->qslot[i] - 1].len;
  return n;
}

size_t ns_export_conn(const struct ns_stack *s, uint32_t conn_id, uint8_t *out, size_t cap) {
  size_t total = ns_export_size(s, conn_id);
  if (total == 0 || total > cap) return 0;
  const struct ns_conn *c = conn_find(s, conn_id);
  memset(out, 0, HDR_SIZE);
  memcpy(out, MAGIC, 4);
  le16(out + 4, NS_CONN_SCHEMA);
  le16(out + 6, HDR_SIZE);
  le32(out + 8, (uint32_t)total);
  le32(out + 12, c->id);
  out[16] = IPPROTO_TCP;
  out[17] = c->state;
  out[18] = (uint8_t)((c->frozen ? FLAG_FROZEN : 0) | (c->fin_sent ? FLAG_FIN_SENT : 0) |
                      (c->accepted ? FLAG_ACCEPTED : 0));
  le32(out + 20, c->local_ip);
  le32(out + 24, c->remote_ip);
  le16(out + 28, c->local_port);
  le16(out + 30, c->remote_port);
  memcpy(out + 32, c->remote_mac, 6);
  le16(out + 38, c->mss);
  le32(out + 40, c->iss);
  le32(out + 44, c->irs);
  le32(out + 48, c->snd_una);
  le32(out + 52, c->snd_nxt);
  le32(out + 56, c->rcv_nxt);
  le16(out + 60, c->snd_wnd);
  le16(out + 62, c->rcv_wnd);
  le64(out + 64, c->last_activity);
  le64(out + 72, c->bytes_in);
  le64(out + 80, c->bytes_out);
  memcpy(out + 88, c->app_ctx, NS_APP_CTX_SIZE);
  le32(out + 152, c->sb_len);
  le16(out + 156, c->q_count);

  uint8_t *p = out + HDR_SIZE;
  sndbuf_read(s, c, 0, p, c->sb_len);
  p += c->sb_len;
  for (int i = 0; i < c->q_count; i++) {
    const struct ns_qslot *q = &s->qslots[c->qslot[i] - 1];
    le16(p, q->len);
    memcpy(p + 2, q->seg, q->len);
    p += 2 + q->len;
  }
  le32(p, ns_crc32(0, out, total - 4));
  return total;
}

/* A record checked field by field; the pointers point into the caller's bytes. */
struct record {
  const uint8_t *hdr, *sndbuf;
  uint32_t id, sb_len;
  uint8_t state, flags;
  uint16_t q_count;
  const uint8_t *q[NS_QUEUE_PER_CONN];
  uint16_t q_len[NS_QUEUE_PER_CONN];
};

/* Everything the rest of the core relies on about a connection, checked before any of it is
 * believed: a record that passes cannot make ns_thaw, tcp_output or the ring misbehave. */
static int decode(const uint8_t *in, size_t len, struct record *r) {
  if (len < HDR_SIZE + 4 || memcmp(in, MAGIC, 4) != 0) return -NS_ERR_FORMAT;
  if (rd16(in + 4) != NS_CONN_SCHEMA) return -NS_ERR_VERSION;
  if (rd16(in + 6) != HDR_SIZE || rd32(in + 8) != len) return -NS_ERR_FORMAT;
  if (ns_crc32(0, in, len - 4) != rd32(in + len - 4)) return -NS_ERR_FORMAT;

  r->hdr = in;
  r->id = rd32(in + 12);
  r->state = in[17];
  r->flags = in[18];
  r->sb_len = rd32(in + 152);
  r->q_count = rd16(in + 156);
  bool fin_sent = (r->flags & FLAG_FIN_SENT) != 0;
  uint32_t una = rd32(in + 48), nxt = rd32(in + 52), out = nxt - una;
  uint32_t inflight = out - (fin_sent && out > 0 ? 1u : 0u);
  if (r->id == 0 || r->id > (uint32_t)INT32_MAX || in[16] != IPPROTO_TCP || in[19] != 0 ||
      rd16(in + 158) != 0 || (r->flags & ~(FLAG_FROZEN | FLAG_FIN_SENT | FLAG_ACCEPTED)) != 0 ||
      r->state < NS_TCP_SYN_RCVD || r->state > NS_TCP_LAST_ACK)
    return -NS_ERR_FORMAT;
  if (rd16(in + 28) == 0 || rd16(in + 30) == 0 || rd16(in + 38) == 0 || rd16(in + 62) == 0)
    return -NS_ERR_FORMAT; /* ports, MSS, our window */
  if (r->sb_len > NS_SNDBUF_SIZE || r->sb_len > len - 4 - HDR_SIZE) return -NS_ERR_FORMAT;
  /* The sequence space must match the buffer: in SYN_RCVD only our SYN is out; later, the bytes
   * in flight are buffered, and once our FIN is sent every buffered byte went before it. */
  if (r->state == NS_TCP_SYN_RCVD) {
    if (una != rd32(in + 40) || out != 1 || r->sb_len != 0 || fin_sent) return -NS_ERR_FORMAT;
  } else if (inflight > r->sb_len || (fin_sent && inflight != r->sb_len)) {
    return -NS_ERR_FORMAT;
  }
  if (r->q_count > NS_QUEUE_PER_CONN || (r->q_count > 0 && !(r->flags & FLAG_FROZEN)))
    return -NS_ERR_FORMAT;

  const uint8_t *p = in + HDR_SIZE + r->sb_len, *end = in + len - 4;
  r->sndbuf = in + HDR_SIZE;
  for (int i = 0; i < r->q_count; i++) {
    if (end - p < 2) return -NS_ERR_FORMAT;
    uint16_t l = rd16(p);
    if (l < TCP_HLEN || l > NS_SEG_MAX || end - p - 2 < l) return -NS_ERR_FORMAT;
    r->q[i] = p + 2;
    r->q_len[i] = l;
    p += 2 + l;
  }
  return p == end ? NS_OK : -NS_ERR_FORMAT;
}

int ns_import_conn(struct ns_stack *s, const uint8_t *in, size_t len) {
  struct record r;
  int err = decode(in, len, &r);
  if (err) return err;
  const uint8_t *h = r.hdr;
  uint32_t rip = rd32(h + 24);
  uint16_t lport = rd16(h + 28), rport = rd16(h + 30);
  if (rd32(h + 20) != s->cfg.ip) return -NS_ERR_ADDR;
  if (conn_lookup(s, rip, rport, lport)) return -NS_ERR_EXISTS;
  if (!conn_slot_free(s)) return -NS_ERR_TABLE_FULL;
  if ((r.sb_len > 0 && sndbuf_free_count(s) == 0) || qslot_free_count(s) < r.q_count)
    return -NS_ERR_NO_BUFS;

  /* Checked; nothing below can fail. */
  struct ns_conn *c = conn_alloc(s, r.id, rip, rport, lport);
  c->state = r.state;
  c->frozen = (r.flags & FLAG_FROZEN) != 0;
  c->fin_sent = (r.flags & FLAG_FIN_SENT) != 0;
  c->accepted = (r.flags & FLAG_ACCEPTED) != 0;
  c->local_ip = rd32(h + 20);
  memcpy(c->remote_mac, h + 32, 6);
  uint16_t mss = rd16(h + 38);
  c->mss = mss < ns_mss(s) ? mss : ns_mss(s); /* this instance's MTU may be smaller */
  c->iss = rd32(h + 40);
  c->irs = rd32(h + 44);
  c->snd_una = rd32(h + 48);
  c->snd_nxt = rd32(h + 52);
  c->rcv_nxt = rd32(h + 56);
  c->snd_wnd = rd16(h + 60);
  c->rcv_wnd = rd16(h + 62); /* what the peer was told; shrinking it would be rude (RFC 1122) */
  c->last_activity = rd64(h + 64);
  c->bytes_in = rd64(h + 72);
  c->bytes_out = rd64(h + 80);
  memcpy(c->app_ctx, h + 88, NS_APP_CTX_SIZE);
  sndbuf_append(s, c, r.sndbuf, r.sb_len);
  for (int i = 0; i < r.q_count; i++) conn_enqueue(s, c, r.q[i], r.q_len[i]);
  return (int)c->id;
}
