/* conn_record.c -- one TCP connection as bytes: what the old instance exports and the new one
 * imports during a rolling update (seed 步骤3.3's per-connection package). Explicit little-endian
 * fields at fixed offsets, never a struct copy, so the two instances may be different builds.
 *
 * Two schemas. A build exports NS_CONN_SCHEMA (net.h's NS_SCHEMA): netstack 1.2.0 writes schema 1,
 * 1.3.0 writes schema 2. A schema-2 build imports schema 2 and schema 1, converting every field
 * (the fields schema 1 lacks get the defaults given below); a schema-1 build refuses schema 2 with
 * NS_ERR_VERSION. Either way every check below runs on the converted values, before anything
 * changes: an import that fails leaves the stack as it was.
 *
 * Schema 1 (netstack 1.2.0):
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
 *
 * Schema 2 (netstack 1.3.0): the same magic, size fields, variable part and CRC; a different
 * header. Times first, then the remote end before the local one, windows widened to 32 bits, and
 * two new fields.
 *   off size  field
 *     0    4  magic "HNSC"
 *     4    2  schema version, 2
 *     6    2  header size, 176: where the variable part starts
 *     8    4  record size, this CRC included
 *    12    4  connection id
 *    16    1  protocol, 6 (TCP)
 *    17    1  TCP state (enum ns_tcp_state, SYN_RCVD..LAST_ACK)
 *    18    1  flags: bit 0 frozen, bit 1 FIN sent, bit 2 accepted by the application
 *    19    1  priority class, 0..NS_PRIO_MAX (new; from schema 1: ns_prio_class(local port))
 *    20    8  established at, virtual ns; 0 unknown (new; from schema 1: 0)
 *    28    8  last activity, virtual ns
 *    36    4  remote IPv4 address     40  2  remote port      42  6  remote (next-hop) MAC
 *    48    4  local IPv4 address      52  2  local port       54  2  MSS we send with
 *    56    4  ISS                     60  4  IRS
 *    64    4  SND.UNA                 68  4  SND.NXT          72  4  RCV.NXT
 *    76    4  SND.WND (the peer's)    80  4  RCV.WND (ours); both <= 65535 in this build (no
 *             window scaling), a larger value is refused with NS_ERR_FORMAT
 *    84    8  payload bytes in        92  8  payload bytes out
 *   100   64  application context
 *   164    4  send-buffer length N (<= NS_SNDBUF_SIZE)
 *   168    2  queued segment count Q (<= NS_QUEUE_PER_CONN; nonzero only when frozen)
 *   170    6  reserved, 0
 *   176       send buffer, queued segments and CRC exactly as in schema 1
 */
#include "internal.h"

#define HDR1_SIZE 160
#define HDR2_SIZE 176
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

static bool all_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return false;
  return true;
}

uint8_t ns_prio_class(uint16_t local_port) {
  return local_port < 1024 ? NS_PRIO_SYSTEM : NS_PRIO_NORMAL;
}

static size_t header_size(uint16_t schema) { return schema == 1 ? HDR1_SIZE : HDR2_SIZE; }

size_t ns_export_size_as(const struct ns_stack *s, uint32_t conn_id, uint16_t schema) {
  const struct ns_conn *c = conn_find(s, conn_id);
  if (!c || schema < 1 || schema > NS_CONN_SCHEMA) return 0;
  size_t n = header_size(schema) + c->sb_len + 4;
  for (int i = 0; i < c->q_count; i++) n += 2 + s->qslots[c->qslot[i] - 1].len;
  return n;
}

size_t ns_export_size(const struct ns_stack *s, uint32_t conn_id) {
  return ns_export_size_as(s, conn_id, NS_CONN_SCHEMA);
}

static uint8_t flags_of(const struct ns_conn *c) {
  return (uint8_t)((c->frozen ? FLAG_FROZEN : 0) | (c->fin_sent ? FLAG_FIN_SENT : 0) |
                   (c->accepted ? FLAG_ACCEPTED : 0));
}

/* Schema 1: what a 1.2.0 instance reads. A schema-2 build writes it too, for a rollback to 1.2.0;
 * the fields schema 1 lacks (priority class, established-at) are lost, and a 1.2.0 importer gives
 * them their defaults. */
static void write_header_v1(uint8_t *out, const struct ns_conn *c) {
  out[18] = flags_of(c);
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
}

#if NS_CONN_SCHEMA >= 2
static void write_header_v2(uint8_t *out, const struct ns_conn *c) {
  out[18] = flags_of(c);
  out[19] = c->prio;
  le64(out + 20, c->established_at);
  le64(out + 28, c->last_activity);
  le32(out + 36, c->remote_ip);
  le16(out + 40, c->remote_port);
  memcpy(out + 42, c->remote_mac, 6);
  le32(out + 48, c->local_ip);
  le16(out + 52, c->local_port);
  le16(out + 54, c->mss);
  le32(out + 56, c->iss);
  le32(out + 60, c->irs);
  le32(out + 64, c->snd_una);
  le32(out + 68, c->snd_nxt);
  le32(out + 72, c->rcv_nxt);
  le32(out + 76, c->snd_wnd);
  le32(out + 80, c->rcv_wnd);
  le64(out + 84, c->bytes_in);
  le64(out + 92, c->bytes_out);
  memcpy(out + 100, c->app_ctx, NS_APP_CTX_SIZE);
  le32(out + 164, c->sb_len);
  le16(out + 168, c->q_count);
}
#endif

size_t ns_export_conn_as(const struct ns_stack *s, uint32_t conn_id, uint16_t schema, uint8_t *out, size_t cap) {
  size_t total = ns_export_size_as(s, conn_id, schema);
  if (total == 0 || total > cap) return 0;
  const struct ns_conn *c = conn_find(s, conn_id);
  size_t hdr = header_size(schema);
  memset(out, 0, hdr);
  memcpy(out, MAGIC, 4);
  le16(out + 4, schema);
  le16(out + 6, (uint16_t)hdr);
  le32(out + 8, (uint32_t)total);
  le32(out + 12, c->id);
  out[16] = IPPROTO_TCP;
  out[17] = c->state;
#if NS_CONN_SCHEMA >= 2
  if (schema == 2) write_header_v2(out, c);
  else
#endif
    write_header_v1(out, c);

  uint8_t *p = out + hdr;
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

size_t ns_export_conn(const struct ns_stack *s, uint32_t conn_id, uint8_t *out, size_t cap) {
  return ns_export_conn_as(s, conn_id, NS_CONN_SCHEMA, out, cap);
}

/* A record of either schema, converted to one set of values; the pointers point into the
 * caller's bytes. */
struct record {
  uint32_t id, local_ip, remote_ip, iss, irs, snd_una, snd_nxt, rcv_nxt, snd_wnd, rcv_wnd, sb_len;
  uint16_t local_port, remote_port, mss, q_count;
  uint8_t state, flags, prio, remote_mac[6];
  uint64_t established_at, last_activity, bytes_in, bytes_out;
  const uint8_t *app_ctx, *sndbuf;
  const uint8_t *q[NS_QUEUE_PER_CONN];
  uint16_t q_len[NS_QUEUE_PER_CONN];
};

/* Schema 1's header; the fields it lacks get their defaults. False: a reserved byte is set. */
static bool header_v1(const uint8_t *in, struct record *r) {
  r->flags = in[18];
  r->local_ip = rd32(in + 20);
  r->remote_ip = rd32(in + 24);
  r->local_port = rd16(in + 28);
  r->remote_port = rd16(in + 30);
  memcpy(r->remote_mac, in + 32, 6);
  r->mss = rd16(in + 38);
  r->iss = rd32(in + 40);
  r->irs = rd32(in + 44);
  r->snd_una = rd32(in + 48);
  r->snd_nxt = rd32(in + 52);
  r->rcv_nxt = rd32(in + 56);
  r->snd_wnd = rd16(in + 60);
  r->rcv_wnd = rd16(in + 62);
  r->last_activity = rd64(in + 64);
  r->bytes_in = rd64(in + 72);
  r->bytes_out = rd64(in + 80);
  r->app_ctx = in + 88;
  r->sb_len = rd32(in + 152);
  r->q_count = rd16(in + 156);
  r->prio = ns_prio_class(r->local_port); /* schema 1 has no class: the port's default */
  r->established_at = 0;                  /* nor the time of the handshake: unknown */
  return in[19] == 0 && all_zero(in + 158, 2);
}

#if NS_SCHEMA >= 2
static bool header_v2(const uint8_t *in, struct record *r) {
  r->flags = in[18];
  r->prio = in[19];
  r->established_at = rd64(in + 20);
  r->last_activity = rd64(in + 28);
  r->remote_ip = rd32(in + 36);
  r->remote_port = rd16(in + 40);
  memcpy(r->remote_mac, in + 42, 6);
  r->local_ip = rd32(in + 48);
  r->local_port = rd16(in + 52);
  r->mss = rd16(in + 54);
  r->iss = rd32(in + 56);
  r->irs = rd32(in + 60);
  r->snd_una = rd32(in + 64);
  r->snd_nxt = rd32(in + 68);
  r->rcv_nxt = rd32(in + 72);
  r->snd_wnd = rd32(in + 76);
  r->rcv_wnd = rd32(in + 80);
  r->bytes_in = rd64(in + 84);
  r->bytes_out = rd64(in + 92);
  r->app_ctx = in + 100;
  r->sb_len = rd32(in + 164);
  r->q_count = rd16(in + 168);
  return r->prio <= NS_PRIO_MAX && all_zero(in + 170, 6);
}
#endif

/* Everything the rest of the core relies on about a connection, checked before any of it is
 * believed: a record that passes cannot make ns_thaw, tcp_output or the ring misbehave. */
static int decode(const uint8_t *in, size_t len, struct record *r) {
  if (len < 12 || memcmp(in, MAGIC, 4) != 0) return -NS_ERR_FORMAT;
  uint16_t version = rd16(in + 4), hdr;
  bool header_ok;
  if (version == 1) {
    hdr = HDR1_SIZE;
#if NS_SCHEMA >= 2
  } else if (version == 2) {
    hdr = HDR2_SIZE;
#endif
  } else {
    return -NS_ERR_VERSION;
  }
  if (len < (size_t)hdr + 4 || rd16(in + 6) != hdr || rd32(in + 8) != len) return -NS_ERR_FORMAT;
  if (ns_crc32(0, in, len - 4) != rd32(in + len - 4)) return -NS_ERR_FORMAT;

  r->id = rd32(in + 12);
  r->state = in[17];
#if NS_SCHEMA >= 2
  header_ok = version == 2 ? header_v2(in, r) : header_v1(in, r);
#else
  header_ok = header_v1(in, r);
#endif
  bool fin_sent = (r->flags & FLAG_FIN_SENT) != 0;
  uint32_t out = r->snd_nxt - r->snd_una;
  uint32_t inflight = out - (fin_sent && out > 0 ? 1u : 0u);
  if (!header_ok || r->id == 0 || r->id > (uint32_t)INT32_MAX || in[16] != IPPROTO_TCP ||
      (r->flags & ~(FLAG_FROZEN | FLAG_FIN_SENT | FLAG_ACCEPTED)) != 0 ||
      r->state < NS_TCP_SYN_RCVD || r->state > NS_TCP_LAST_ACK)
    return -NS_ERR_FORMAT;
  if (r->local_port == 0 || r->remote_port == 0 || r->mss == 0 || r->rcv_wnd == 0)
    return -NS_ERR_FORMAT; /* ports, MSS, our window */
  if (r->snd_wnd > 0xffff || r->rcv_wnd > 0xffff) return -NS_ERR_FORMAT; /* no window scaling */
  if (r->sb_len > NS_SNDBUF_SIZE || r->sb_len > len - 4 - hdr) return -NS_ERR_FORMAT;
  /* The sequence space must match the buffer: in SYN_RCVD only our SYN is out; later, the bytes
   * in flight are buffered, and once our FIN is sent every buffered byte went before it. */
  if (r->state == NS_TCP_SYN_RCVD) {
    if (r->snd_una != r->iss || out != 1 || r->sb_len != 0 || fin_sent) return -NS_ERR_FORMAT;
  } else if (inflight > r->sb_len || (fin_sent && inflight != r->sb_len)) {
    return -NS_ERR_FORMAT;
  }
  if (r->q_count > NS_QUEUE_PER_CONN || (r->q_count > 0 && !(r->flags & FLAG_FROZEN)))
    return -NS_ERR_FORMAT;

  const uint8_t *p = in + hdr + r->sb_len, *end = in + len - 4;
  r->sndbuf = in + hdr;
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

int ns_check_conn(const uint8_t *in, size_t len, uint64_t *key) {
  struct record r;
  int err = decode(in, len, &r);
  if (err) return err;
  if (key) *key = (uint64_t)r.remote_ip << 32 | (uint64_t)r.remote_port << 16 | r.local_port;
  return rd16(in + 4);
}

int ns_import_conn(struct ns_stack *s, const uint8_t *in, size_t len) {
  struct record r;
  int err = decode(in, len, &r);
  if (err) return err;
  if (r.local_ip != s->cfg.ip) return -NS_ERR_ADDR;
  if (conn_lookup(s, r.remote_ip, r.remote_port, r.local_port)) return -NS_ERR_EXISTS;
  if (!conn_slot_free(s)) return -NS_ERR_TABLE_FULL;
  if ((r.sb_len > 0 && sndbuf_free_count(s) == 0) || qslot_free_count(s) < r.q_count)
    return -NS_ERR_NO_BUFS;

  /* Checked; nothing below can fail. */
  struct ns_conn *c = conn_alloc(s, r.id, r.remote_ip, r.remote_port, r.local_port);
  c->state = r.state;
  c->frozen = (r.flags & FLAG_FROZEN) != 0;
  c->fin_sent = (r.flags & FLAG_FIN_SENT) != 0;
  c->accepted = (r.flags & FLAG_ACCEPTED) != 0;
  c->prio = r.prio;
  c->local_ip = r.local_ip;
  memcpy(c->remote_mac, r.remote_mac, 6);
  c->mss = r.mss < ns_mss(s) ? r.mss : ns_mss(s); /* this instance's MTU may be smaller */
  c->iss = r.iss;
  c->irs = r.irs;
  c->snd_una = r.snd_una;
  c->snd_nxt = r.snd_nxt;
  c->rcv_nxt = r.rcv_nxt;
  c->snd_wnd = (uint16_t)r.snd_wnd;
  c->rcv_wnd = (uint16_t)r.rcv_wnd; /* what the peer was told; shrinking it would be rude (RFC 1122) */
  c->established_at = r.established_at;
  c->last_activity = r.last_activity;
  c->bytes_in = r.bytes_in;
  c->bytes_out = r.bytes_out;
  memcpy(c->app_ctx, r.app_ctx, NS_APP_CTX_SIZE);
  sndbuf_append(s, c, r.sndbuf, r.sb_len);
  for (int i = 0; i < r.q_count; i++) conn_enqueue(s, c, r.q[i], r.q_len[i]);
  return (int)c->id;
}
