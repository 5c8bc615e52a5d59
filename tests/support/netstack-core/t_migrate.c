/* t_migrate.c -- freezing a connection and moving it between two stacks: the export/import
 * round trip mid-stream, the refusals that leave the importer untouched, and a frozen
 * connection's queue processed in order on thaw. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "scenarios.h"

static uint32_t le32_at(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Where this build's export puts the fields the checks look at (conn_record.c's layouts). */
#if NS_CONN_SCHEMA == 1
#define HDR 160
#define OFF_UNA 48
#define OFF_NXT 52
#define OFF_RCV 56
#define OFF_SBLEN 152
#else
#define HDR 176
#define OFF_UNA 64
#define OFF_NXT 68
#define OFF_RCV 72
#define OFF_SBLEN 164
#endif

/* Fixes the trailing CRC after a test edits a record, so the edit itself is what is judged. */
static void reseal(uint8_t *rec, size_t len) {
  uint32_t crc = ns_crc32(0, rec, len - 4);
  for (int i = 0; i < 4; i++) rec[len - 4 + i] = (uint8_t)(crc >> (8 * i));
}

void t_migrate(void) {
  struct world a, b;
  world_init(&a, 42, OUR_IP);
  world_init(&b, 42, OUR_IP);
  uint32_t id = tcp_connect(&a);
  struct ns_conn *ca = ns_conn_get(a.s, id);
  memcpy(ca->app_ctx, "session-42", 11);
  client_send(&a, F_ACK | F_PSH, "hello", 5);

  /* 2000 bytes out and not acknowledged: they must survive the move. */
  uint8_t data[2000];
  for (int i = 0; i < 2000; i++) data[i] = (uint8_t)(i * 31 + 5);
  cap_reset(&a.cap);
  ns_send(a.s, id, data, sizeof data, a.now, cap_emit, &a.cap);
  struct tcp_view o0, o1;
  check(a.cap.n == 2 && cap_tcp(&a, 0, &o0) && cap_tcp(&a, 1, &o1), "A sends 2000 bytes in two segments");
  uint8_t orig0[1460], orig1[540];
  memcpy(orig0, o0.data, 1460);
  memcpy(orig1, o1.data, 540);

  check(ns_freeze(a.s, id) == 0, "freeze the connection on A");
  client_send(&a, F_ACK | F_PSH, "more", 4);
  check(a.cap.n == 0 && a.app.data_len == 5 && ca->q_count == 1,
        "a segment for the frozen connection is queued: no ACK, no delivery");

  size_t size = ns_export_size(a.s, id);
  uint8_t *rec = malloc(size), *bad = malloc(size);
  check(ns_export_conn(a.s, id, rec, size - 1) == 0, "export into too small a buffer: 0");
  check(ns_export_conn(a.s, id + 1, rec, size) == 0, "export of an unknown id: 0");
  size_t n = ns_export_conn(a.s, id, rec, size);
  check_u64("export size (header + 2000 buffered + 2+24 queued segment + 4 CRC)", n, HDR + 2000 + 2 + 24 + 4);
  check(memcmp(rec, "HNSC", 4) == 0 && rec[4] == NS_CONN_SCHEMA && rec[5] == 0 && rec[6] == HDR &&
            le32_at(rec + 8) == n && le32_at(rec + 12) == id,
        "record: magic HNSC, schema %d, header %d, its own size, the connection id (little-endian)",
        NS_CONN_SCHEMA, HDR);
  check(le32_at(rec + OFF_UNA) == ca->snd_una && le32_at(rec + OFF_NXT) == ca->snd_nxt &&
            le32_at(rec + OFF_RCV) == ca->rcv_nxt && memcmp(rec + HDR, data, 2000) == 0,
        "SND.UNA, SND.NXT, RCV.NXT at %d/%d/%d; the unacknowledged bytes at %d", OFF_UNA, OFF_NXT,
        OFF_RCV, HDR);
#if NS_CONN_SCHEMA == 2
  check(rec[19] == NS_PRIO_SYSTEM && le32_at(rec + 20) == (uint32_t)ca->established_at &&
            ca->established_at != 0 && le32_at(rec + 76) == ca->snd_wnd && le32_at(rec + 80) == ca->rcv_wnd &&
            memcmp(rec + 100, "session-42", 11) == 0,
        "schema 2: priority class at 19 (port 80: system), established-at at 20, 32-bit windows at "
        "76/80, application context at 100");
#endif

  /* Refusals first: each leaves B exactly as it was. */
  memcpy(bad, rec, n);
  bad[200] ^= 1;
  check_u64("import of a damaged record (CRC)", (uint64_t)-ns_import_conn(b.s, bad, n), NS_ERR_FORMAT);
  check_u64("import of a truncated record", (uint64_t)-ns_import_conn(b.s, rec, n - 10), NS_ERR_FORMAT);
  memcpy(bad, rec, n);
  bad[4] = NS_CONN_SCHEMA + 1;
  reseal(bad, n);
  check_u64("import of the next schema", (uint64_t)-ns_import_conn(b.s, bad, n), NS_ERR_VERSION);
  memcpy(bad, rec, n);
  bad[17] = 9;
  reseal(bad, n);
  check_u64("import with an unknown TCP state", (uint64_t)-ns_import_conn(b.s, bad, n), NS_ERR_FORMAT);
  memcpy(bad, rec, n);
  bad[OFF_SBLEN] = 0x10; /* claims 16 buffered bytes but 2000 are in flight */
  bad[OFF_SBLEN + 1] = 0;
  reseal(bad, n);
  check_u64("import whose buffer does not cover the bytes in flight", (uint64_t)-ns_import_conn(b.s, bad, n),
            NS_ERR_FORMAT);
#if NS_CONN_SCHEMA == 2
  memcpy(bad, rec, n);
  bad[19] = NS_PRIO_MAX + 1;
  reseal(bad, n);
  check_u64("import with an unknown priority class", (uint64_t)-ns_import_conn(b.s, bad, n), NS_ERR_FORMAT);
  memcpy(bad, rec, n);
  bad[78] = 1; /* SND.WND 65536 + ...: wider than this build takes */
  reseal(bad, n);
  check_u64("import with a window over 65535", (uint64_t)-ns_import_conn(b.s, bad, n), NS_ERR_FORMAT);
  memcpy(bad, rec, n);
  bad[172] = 1;
  reseal(bad, n);
  check_u64("import with a reserved byte set", (uint64_t)-ns_import_conn(b.s, bad, n), NS_ERR_FORMAT);
#endif
  struct world other;
  world_init(&other, 42, 0x0a000003);
  check_u64("import into a stack with another address", (uint64_t)-ns_import_conn(other.s, rec, n), NS_ERR_ADDR);
  world_free(&other);
  check(b.s->conn_count == 0 && b.cap.n == 0, "after the refusals B holds no connection");

  int got = ns_import_conn(b.s, rec, n);
  check_u64("import into B: the same id", (uint64_t)got, id);
  check_u64("importing it again", (uint64_t)-ns_import_conn(b.s, rec, n), NS_ERR_EXISTS);
  struct ns_conn *cb = ns_conn_get(b.s, id);
  check(cb && cb->state == NS_TCP_ESTABLISHED && cb->frozen && cb->q_count == 1 && cb->sb_len == 2000,
        "B's copy: ESTABLISHED, frozen, one queued segment, 2000 bytes buffered");
  check(cb->snd_una == ca->snd_una && cb->snd_nxt == ca->snd_nxt && cb->rcv_nxt == ca->rcv_nxt &&
            cb->iss == ca->iss && cb->snd_wnd == ca->snd_wnd && cb->mss == ca->mss,
        "sequence numbers, window and MSS carried over");
  check(memcmp(cb->app_ctx, "session-42", 11) == 0 && cb->last_activity == ca->last_activity &&
            cb->bytes_in == 5 && cb->bytes_out == 2000 && cb->accepted && cb->prio == ca->prio &&
            cb->established_at == (NS_CONN_SCHEMA == 1 ? 0 : ca->established_at),
        "application context, last activity, byte counters, priority class carried over (and, in "
        "schema 2, established-at; schema 1 lacks it: 0)");

  check(ns_release(a.s, id) == 0 && ns_conn_get(a.s, id) == NULL && a.app.last_reason == NS_CLOSE_RELEASED,
        "A releases its record (the application hears 'released')");

  b.cl = a.cl; /* the same client, now talking to whichever instance holds its connection */
  b.now = a.now;
  cap_reset(&b.cap);
  check(ns_retransmit(b.s, id, b.now, cap_emit, &b.cap) == -NS_ERR_FROZEN, "no retransmission while frozen");
  check_u64("segments processed by thaw", (uint64_t)ns_thaw(b.s, id, b.now, cap_emit, &b.cap), 1);
  struct tcp_view v;
  check(b.app.data_len == 4 && memcmp(b.app.data, "more", 4) == 0, "the queued segment reaches B's application");
  check(b.cap.n == 1 && cap_tcp(&b, 0, &v) && v.ack == b.cl.seq && v.len == 0, "B acknowledges it");

  cap_reset(&b.cap);
  check_u64("segments B retransmits", (uint64_t)ns_retransmit(b.s, id, b.now, cap_emit, &b.cap), 2);
  struct tcp_view r0, r1;
  check(cap_tcp(&b, 0, &r0) && cap_tcp(&b, 1, &r1), "both are valid TCP segments");
  check(r0.seq == o0.seq && r0.len == 1460 && memcmp(r0.data, orig0, 1460) == 0 && r1.seq == o1.seq &&
            r1.len == 540 && memcmp(r1.data, orig1, 540) == 0,
        "B's retransmission is A's original, byte for byte, at the same sequence numbers");
  check(memcmp(r0.dst_mac, PEER_MAC, 6) == 0 && r0.sport == 80 && r0.dport == b.cl.port,
        "to the client's MAC and port, with no ARP entry on B");

  b.cl.ack = o1.seq + 540;
  client_send(&b, F_ACK | F_PSH, "next", 4);
  check(b.app.data_len == 8 && memcmp(b.app.data, "morenext", 8) == 0,
        "the client's next segment is accepted by B at the right sequence number");
  check(cb->sb_len == 0 && cb->snd_una == o1.seq + 540, "its ACK of the 2000 bytes empties B's buffer");
  cap_reset(&b.cap);
  ns_send(b.s, id, (const uint8_t *)"after", 5, b.now, cap_emit, &b.cap);
  check(b.cap.n == 1 && cap_tcp(&b, 0, &v) && v.seq == o1.seq + 540 && v.ack == b.cl.seq,
        "B's new data continues the byte stream");
  check(cb->bytes_in == 13 && cb->bytes_out == 2005, "counters continue: 13 in, 2005 out");

  /* An importer whose slot for that id is taken gives the connection a fresh id. */
  struct world d;
  world_init(&d, 7, OUR_IP);
  d.cl.port = 45000;
  uint32_t taken = tcp_connect(&d);
  int fresh = ns_import_conn(d.s, rec, n);
  check(taken == id && fresh > 0 && (uint32_t)fresh != id && ns_conn_get(d.s, (uint32_t)fresh) &&
            ns_conn_get(d.s, (uint32_t)fresh)->snd_una == o0.seq,
        "an import into an occupied slot gets a fresh id and the same state");
  world_free(&d);
  free(rec);
  free(bad);
  world_free(&a);
  world_free(&b);
}

void t_frozen(void) {
  struct world w;
  world_init(&w, 42, OUR_IP);
  uint32_t id = tcp_connect(&w);
  struct ns_conn *c = ns_conn_get(w.s, id);
  uint32_t iss = c->iss;

  ns_freeze(w.s, id);
  client_send(&w, F_ACK, "one", 3);
  client_send(&w, F_ACK, "two", 3);
  client_send(&w, F_ACK, "three", 5);
  check(w.cap.n == 0 && w.app.data_len == 0 && c->q_count == 3, "three segments queue up, unanswered");
  cap_reset(&w.cap);
  check(ns_send(w.s, id, (const uint8_t *)"reply", 5, w.now, cap_emit, &w.cap) == 5 && w.cap.n == 0,
        "ns_send while frozen buffers and sends nothing");
  check(ns_close(w.s, id, w.now, cap_emit, &w.cap) == -NS_ERR_FROZEN, "ns_close while frozen: NS_ERR_FROZEN");

  check_u64("ns_thaw processes", (uint64_t)ns_thaw(w.s, id, w.now, cap_emit, &w.cap), 3);
  check(w.app.data_len == 11 && memcmp(w.app.data, "onetwothree", 11) == 0 && w.app.deliveries == 3,
        "delivered in arrival order, once each");
  struct tcp_view v;
  bool rising = true, reply = false;
  uint32_t last_ack = 0;
  for (int i = 0; i < w.cap.n && cap_tcp(&w, i, &v); i++) {
    if (last_ack && v.ack < last_ack) rising = false;
    last_ack = v.ack;
    if (v.len == 5 && memcmp(v.data, "reply", 5) == 0 && v.seq == iss + 1) reply = true;
  }
  check(rising && last_ack == w.cl.seq, "the ACKs rise to cover all three");
  check(reply, "the data written while frozen goes out at ISS + 1");
  client_absorb(&w);

  /* The queue holds NS_QUEUE_PER_CONN; beyond that, segments are dropped (the client resends). */
  ns_freeze(w.s, id);
  uint32_t base = w.cl.seq;
  for (int i = 0; i < NS_QUEUE_PER_CONN + 2; i++) client_send(&w, F_ACK, "x", 1);
  check(c->q_count == NS_QUEUE_PER_CONN && w.s->stats.tcp_frozen_dropped == 2,
        "a full queue drops (and counts) the rest");
  cap_reset(&w.cap);
  ns_thaw(w.s, id, w.now, cap_emit, &w.cap);
  check(c->rcv_nxt == base + NS_QUEUE_PER_CONN, "thaw takes the queued ones");
  client_segment(&w, F_ACK, base + NS_QUEUE_PER_CONN, w.cl.ack, 65535, "xx", 2);
  check(c->rcv_nxt == base + NS_QUEUE_PER_CONN + 2 && w.app.data_len == 11 + NS_QUEUE_PER_CONN + 2,
        "the client's resend of the dropped ones completes the stream");
  world_free(&w);
}
