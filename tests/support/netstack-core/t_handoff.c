/* t_handoff.c -- a connection handed between two builds of the core, as netstack 1.2.0 (schema 1)
 * hands it to 1.3.0 (schema 2) in a rolling update. The vitest file builds the driver once per
 * schema and runs `handoff-export FILE` in one binary, then `handoff-import FILE` in the other.
 * Both replay the same deterministic scenario on stack A (same seed, same frames): the exporter
 * writes A's record to FILE; the importer imports FILE into B instead of its own export, so its
 * own A serves as the reference for every field and for the client's view of the stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "scenarios.h"

const char *scenario_arg;

struct handoff {
  uint32_t id;
  uint32_t seq0, seq1; /* the two unacknowledged segments A sent */
  uint8_t data[2000];
};

/* Connect, deliver "hello", send 2000 bytes unacknowledged, freeze, queue "more". */
static void setup(struct world *a, struct handoff *h) {
  world_init(a, 42, OUR_IP);
  h->id = tcp_connect(a);
  memcpy(ns_conn_get(a->s, h->id)->app_ctx, "session-42", 11);
  client_send(a, F_ACK | F_PSH, "hello", 5);
  for (int i = 0; i < 2000; i++) h->data[i] = (uint8_t)(i * 31 + 5);
  cap_reset(&a->cap);
  ns_send(a->s, h->id, h->data, sizeof h->data, a->now, cap_emit, &a->cap);
  struct tcp_view o0, o1;
  check(a->cap.n == 2 && cap_tcp(a, 0, &o0) && cap_tcp(a, 1, &o1), "A sends 2000 bytes in two segments");
  h->seq0 = o0.seq;
  h->seq1 = o1.seq;
  check(ns_freeze(a->s, h->id) == 0, "freeze the connection on A");
  client_send(a, F_ACK | F_PSH, "more", 4);
}

void t_handoff_export(void) {
  if (!check(scenario_arg != NULL, "a file to write the record to")) return;
  struct world a;
  struct handoff h;
  setup(&a, &h);
  size_t size = ns_export_size(a.s, h.id);
  uint8_t *rec = malloc(size);
  size_t n = ns_export_conn(a.s, h.id, rec, size);
  check(n == size && rec[4] == NS_CONN_SCHEMA, "A exports its connection as schema %d (%zu bytes)",
        NS_CONN_SCHEMA, n);
  FILE *f = fopen(scenario_arg, "wb");
  check(f && fwrite(rec, 1, n, f) == n && fclose(f) == 0, "the record is written to %s", scenario_arg);
  free(rec);
  world_free(&a);
}

void t_handoff_import(void) {
  if (!check(scenario_arg != NULL, "a file to read the record from")) return;
  static uint8_t rec[16384];
  FILE *f = fopen(scenario_arg, "rb");
  size_t n = f ? fread(rec, 1, sizeof rec, f) : 0;
  if (f) fclose(f);
  if (!check(n > 12, "read a record from %s", scenario_arg)) return;
  unsigned schema = rec[4] | rec[5] << 8;

  struct world a, b;
  struct handoff h;
  setup(&a, &h);
  world_init(&b, 42, OUR_IP);
  const struct ns_conn *ca = ns_conn_get(a.s, h.id);
  int got = ns_import_conn(b.s, rec, n);

  if (schema > NS_CONN_SCHEMA) {
    check_u64("a record of a newer schema is refused: NS_ERR_VERSION", (uint64_t)-got, NS_ERR_VERSION);
    check(b.s->conn_count == 0 && b.cap.n == 0 && b.s->stats.tx_frames == 0,
          "refused: schema %u into a schema-%d stack changes nothing", schema, NS_CONN_SCHEMA);
    world_free(&a);
    world_free(&b);
    return;
  }
  check_u64("import of the other build's record: the same id", (uint64_t)got, h.id);
  struct ns_conn *cb = ns_conn_get(b.s, h.id);
  if (!check(cb != NULL, "B holds the connection")) return;
  check(cb->state == ca->state && cb->frozen && cb->accepted && cb->q_count == 1 && cb->sb_len == 2000 &&
            cb->local_ip == ca->local_ip && cb->remote_ip == ca->remote_ip &&
            cb->local_port == ca->local_port && cb->remote_port == ca->remote_port &&
            memcmp(cb->remote_mac, ca->remote_mac, 6) == 0 && cb->mss == ca->mss,
        "schema %u -> %d: state, flags, queue, buffer, addresses, ports, MAC, MSS converted", schema,
        NS_CONN_SCHEMA);
  check(cb->iss == ca->iss && cb->irs == ca->irs && cb->snd_una == ca->snd_una &&
            cb->snd_nxt == ca->snd_nxt && cb->rcv_nxt == ca->rcv_nxt && cb->snd_wnd == ca->snd_wnd &&
            cb->rcv_wnd == ca->rcv_wnd,
        "sequence numbers and both windows converted");
  check(cb->last_activity == ca->last_activity && cb->bytes_in == ca->bytes_in &&
            cb->bytes_out == ca->bytes_out && memcmp(cb->app_ctx, ca->app_ctx, NS_APP_CTX_SIZE) == 0,
        "last activity, byte counters and application context converted");
  if (schema == 1)
    check(cb->prio == ns_prio_class(cb->local_port) && cb->prio == NS_PRIO_SYSTEM && cb->established_at == 0,
          "fields schema 1 lacks get their defaults: class from port 80 (system), established-at 0");
  else
    check(cb->prio == ca->prio && cb->established_at == ca->established_at && cb->established_at != 0,
          "priority class and established-at carried over");
  check(ns_release(a.s, h.id) == 0, "A releases its record");

  /* B continues the byte stream where A left it. */
  b.cl = a.cl;
  b.now = a.now;
  cap_reset(&b.cap);
  struct tcp_view v, r0, r1;
  check_u64("segments processed by thaw", (uint64_t)ns_thaw(b.s, h.id, b.now, cap_emit, &b.cap), 1);
  check(b.app.data_len == 4 && memcmp(b.app.data, "more", 4) == 0 && b.cap.n == 1 && cap_tcp(&b, 0, &v) &&
            v.ack == b.cl.seq,
        "the queued segment reaches B's application and B acknowledges it");
  cap_reset(&b.cap);
  check_u64("segments B retransmits", (uint64_t)ns_retransmit(b.s, h.id, b.now, cap_emit, &b.cap), 2);
  check(cap_tcp(&b, 0, &r0) && cap_tcp(&b, 1, &r1) && r0.seq == h.seq0 && r0.len == 1460 &&
            memcmp(r0.data, h.data, 1460) == 0 && r1.seq == h.seq1 && r1.len == 540 &&
            memcmp(r1.data, h.data + 1460, 540) == 0,
        "B's retransmission is A's original, byte for byte, at the same sequence numbers");
  b.cl.ack = h.seq1 + 540;
  client_send(&b, F_ACK | F_PSH, "next", 4);
  check(b.app.data_len == 8 && memcmp(b.app.data, "morenext", 8) == 0 && cb->sb_len == 0,
        "the client's next segment is accepted and its ACK empties B's buffer");
  cap_reset(&b.cap);
  ns_send(b.s, h.id, (const uint8_t *)"after", 5, b.now, cap_emit, &b.cap);
  check(b.cap.n == 1 && cap_tcp(&b, 0, &v) && v.seq == h.seq1 + 540 && v.ack == b.cl.seq &&
            cb->bytes_in == 13 && cb->bytes_out == 2005,
        "B's new data continues the byte stream; counters 13 in, 2005 out");
  world_free(&a);
  world_free(&b);
}
