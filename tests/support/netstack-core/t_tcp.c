/* t_tcp.c -- TCP scenarios: the handshake, data both ways with its sequence arithmetic, repeats
 * and gaps, both ways of closing, resets, and retransmission on a duplicate ACK. */
#include <string.h>

#include "harness.h"
#include "scenarios.h"

static uint32_t syn_ack_isn(uint64_t seed, uint16_t client_port) {
  struct world w;
  world_init(&w, seed, OUR_IP);
  w.cl.port = client_port;
  struct tcp_view v = {0};
  client_send(&w, F_SYN, NULL, 0);
  bool ok = cap_tcp(&w, 0, &v);
  world_free(&w);
  return ok ? v.seq : 0;
}

void t_handshake(void) {
  struct world w;
  world_init(&w, 42, OUR_IP);
  struct tcp_view v;
  client_send(&w, F_SYN, NULL, 0);
  check(w.cap.n == 1 && cap_tcp(&w, 0, &v), "a SYN to a listening port is answered by one valid segment");
  check_u64("its flags (SYN|ACK)", v.flags, F_SYN | F_ACK);
  check_u64("its ACK (client ISN + 1)", v.ack, CLIENT_ISN + 1);
  check_u64("its MSS option (1500 - 40)", v.mss, 1460);
  check_u64("its window (the config's)", v.wnd, 8192);
  check(v.sport == 80 && v.dport == 40000 && memcmp(v.dst_mac, PEER_MAC, 6) == 0 &&
            v.src_ip == OUR_IP && v.dst_ip == PEER_IP,
        "addressed back to the client");
  uint32_t iss = v.seq;
  check(syn_ack_isn(42, 40000) == iss, "the ISN is the same for the same seed and 4-tuple");
  check(syn_ack_isn(43, 40000) != iss, "another seed gives another ISN");
  check(syn_ack_isn(42, 40001) != iss, "another client port gives another ISN");

  client_segment(&w, F_SYN, CLIENT_ISN, 0, 65535, NULL, 0); /* the client's SYN again */
  check(w.cap.n == 1 && cap_tcp(&w, 0, &v) && v.flags == (F_SYN | F_ACK) && v.seq == iss &&
            w.s->conn_count == 1,
        "a repeated SYN gets the same SYN-ACK again, no second connection");
  check(w.app.accepts == 0, "nothing is announced before the handshake completes");

  w.cl.ack = iss + 1;
  client_send(&w, F_ACK, NULL, 0);
  check(w.app.accepts == 1 && w.cap.n == 0, "the handshake's ACK announces the connection, silently");
  struct ns_conn *c = ns_conn_get(w.s, w.app.last_accept);
  check(c && c->state == NS_TCP_ESTABLISHED && c->snd_una == iss + 1 && c->snd_nxt == iss + 1 &&
            c->rcv_nxt == CLIENT_ISN + 1 && c->mss == 1460,
        "ESTABLISHED with snd_una = snd_nxt = ISS + 1, rcv_nxt = IRS + 1");

  /* A second client whose ACK acknowledges the wrong number is reset, and stays half-open. */
  w.cl.port = 40100;
  w.cl.seq = 5000;
  client_send(&w, F_SYN, NULL, 0);
  cap_tcp(&w, 0, &v);
  uint32_t iss2 = v.seq;
  client_segment(&w, F_ACK, 5001, iss2 + 7, 65535, NULL, 0);
  check(w.cap.n == 1 && cap_tcp(&w, 0, &v) && v.flags == F_RST && v.seq == iss2 + 7,
        "a handshake ACK for the wrong number is answered with RST (seq = that ack)");
  check(w.app.accepts == 1, "... and is not announced");
  world_free(&w);
}

void t_data(void) {
  struct world w;
  world_init(&w, 42, OUR_IP);
  uint32_t id = tcp_connect(&w);
  struct ns_conn *c = ns_conn_get(w.s, id);
  uint32_t iss = c->iss;
  struct tcp_view v;

  client_send(&w, F_ACK | F_PSH, "hello", 5);
  check(w.app.data_len == 5 && memcmp(w.app.data, "hello", 5) == 0, "\"hello\" is delivered");
  check(w.cap.n == 1 && cap_tcp(&w, 0, &v) && v.flags == F_ACK && v.len == 0, "one pure ACK answers it");
  check_u64("... acknowledging", v.ack, CLIENT_ISN + 1 + 5);
  check_u64("... at our sequence number", v.seq, iss + 1);

  cap_reset(&w.cap);
  int rc = ns_send(w.s, id, (const uint8_t *)"world!", 6, w.now, cap_emit, &w.cap);
  check(rc == 6 && w.cap.n == 1 && cap_tcp(&w, 0, &v), "ns_send of 6 bytes emits one segment");
  check(v.seq == iss + 1 && v.ack == w.cl.seq && v.flags == (F_ACK | F_PSH) && v.len == 6 &&
            memcmp(v.data, "world!", 6) == 0,
        "seq ISS + 1, ack = the client's next, ACK|PSH, the data");
  check(c->snd_nxt == iss + 7 && c->sb_len == 6, "the 6 bytes stay buffered until acknowledged");
  client_absorb(&w);
  client_send(&w, F_ACK, NULL, 0);
  check(w.cap.n == 0 && c->snd_una == iss + 7 && c->sb_len == 0 && c->sndbuf == 0,
        "the client's ACK frees the buffer (and is not answered)");

  uint8_t big[3000];
  for (int i = 0; i < 3000; i++) big[i] = (uint8_t)(i % 251);
  cap_reset(&w.cap);
  rc = ns_send(w.s, id, big, sizeof big, w.now, cap_emit, &w.cap);
  struct tcp_view s0, s1, s2;
  check(rc == 3000 && w.cap.n == 3 && cap_tcp(&w, 0, &s0) && cap_tcp(&w, 1, &s1) && cap_tcp(&w, 2, &s2),
        "3000 bytes go out as three segments");
  check(s0.len == 1460 && s1.len == 1460 && s2.len == 80, "... of 1460, 1460 and 80 bytes (the MSS)");
  check(s0.seq == iss + 7 && s1.seq == iss + 7 + 1460 && s2.seq == iss + 7 + 2920,
        "... with consecutive sequence numbers");
  check(memcmp(s0.data, big, 1460) == 0 && memcmp(s1.data, big + 1460, 1460) == 0 &&
            memcmp(s2.data, big + 2920, 80) == 0,
        "... carrying the data in order");
  client_absorb(&w);
  client_send(&w, F_ACK, NULL, 0);
  check(c->sb_len == 0, "all 3000 acknowledged");

  /* The peer's window limits what is in flight; its window update releases the rest. */
  w.cl.wnd = 1000;
  client_send(&w, F_ACK, NULL, 0);
  cap_reset(&w.cap);
  ns_send(w.s, id, big, 3000, w.now, cap_emit, &w.cap);
  check(w.cap.n == 1 && cap_tcp(&w, 0, &v) && v.len == 1000, "a 1000-byte window lets 1000 bytes out");
  client_absorb(&w);
  w.cl.wnd = 4000;
  client_send(&w, F_ACK, NULL, 0);
  check(w.cap.n == 2 && cap_tcp(&w, 0, &s0) && cap_tcp(&w, 1, &s1) && s0.len == 1460 && s1.len == 540 &&
            s0.seq == v.seq + 1000,
        "the ACK that opens the window sends the other 2000");
  client_absorb(&w);
  client_send(&w, F_ACK, NULL, 0);

  /* An application that answers from inside the delivery: the answer carries the ACK. */
  w.app.echo = true;
  client_send(&w, F_ACK | F_PSH, "echo me", 7);
  check(w.cap.n == 1 && cap_tcp(&w, 0, &v) && v.len == 7 && memcmp(v.data, "echo me", 7) == 0 &&
            v.ack == w.cl.seq,
        "an echo from the deliver callback is one segment that also acknowledges (piggybacked)");
  check(c->bytes_in == 12 && c->bytes_out == 6 + 3000 + 3000 + 7,
        "byte counters: 12 in, 6013 out");
  world_free(&w);
}

void t_dup_ooo(void) {
  struct world w;
  world_init(&w, 42, OUR_IP);
  uint32_t id = tcp_connect(&w);
  struct tcp_view v;
  uint32_t base = w.cl.seq;

  client_send(&w, F_ACK, "abc", 3);
  client_segment(&w, F_ACK, base, w.cl.ack, 65535, "abc", 3); /* the same segment again */
  check(w.app.data_len == 3, "a repeated segment is not delivered twice");
  check(w.cap.n == 1 && cap_tcp(&w, 0, &v) && v.ack == base + 3 && v.len == 0,
        "... and is re-ACKed with the same acknowledgment number");
  check_u64("stats.tcp_dup_segments", w.s->stats.tcp_dup_segments, 1);

  client_segment(&w, F_ACK, base + 6, w.cl.ack, 65535, "ghi", 3); /* "def" has not arrived */
  check(w.app.data_len == 3, "a segment past a gap is not delivered");
  check(w.cap.n == 1 && cap_tcp(&w, 0, &v) && v.ack == base + 3, "... and is re-ACKed at the gap");
  check_u64("stats.tcp_ooo_segments", w.s->stats.tcp_ooo_segments, 1);

  client_segment(&w, F_ACK, base + 3, w.cl.ack, 65535, "def", 3);
  check(w.cap.n == 1 && cap_tcp(&w, 0, &v) && v.ack == base + 6, "the missing segment is acknowledged");
  client_segment(&w, F_ACK, base + 6, w.cl.ack, 65535, "ghi", 3); /* the client resends */
  check(w.cap.n == 1 && cap_tcp(&w, 0, &v) && v.ack == base + 9, "the resent one after it too");

  /* A resend that overlaps: "hi" is old, "jkl" is new. */
  client_segment(&w, F_ACK, base + 7, w.cl.ack, 65535, "hijkl", 5);
  check(w.app.data_len == 12 && memcmp(w.app.data, "abcdefghijkl", 12) == 0,
        "the stream is abcdefghijkl: every byte once, in order");
  check(w.cap.n == 1 && cap_tcp(&w, 0, &v) && v.ack == base + 12, "acknowledged up to l");

  client_segment(&w, F_ACK, base + 12 + 100000, w.cl.ack, 65535, "far", 3);
  check(w.app.data_len == 12 && w.cap.n == 1 && cap_tcp(&w, 0, &v) && v.ack == base + 12,
        "a segment beyond the window is re-ACKed and dropped");
  check(ns_conn_get(w.s, id)->bytes_in == 12, "bytes_in counts each byte once");
  world_free(&w);
}

void t_fin_passive(void) {
  struct world w;
  world_init(&w, 42, OUR_IP);
  uint32_t id = tcp_connect(&w);
  struct ns_conn *c = ns_conn_get(w.s, id);
  struct tcp_view v;

  client_send(&w, F_ACK | F_FIN, "last", 4);
  check(w.app.data_len == 4 && w.app.eofs == 1, "data then end-of-stream (a 0-length delivery)");
  check(w.cap.n == 1 && cap_tcp(&w, 0, &v) && v.ack == w.cl.seq && v.flags == F_ACK,
        "the FIN is acknowledged (ack covers data + FIN)");
  check_u64("state (CLOSE_WAIT)", c->state, NS_TCP_CLOSE_WAIT);

  cap_reset(&w.cap);
  check(ns_send(w.s, id, (const uint8_t *)"bye", 3, w.now, cap_emit, &w.cap) == 3,
        "CLOSE_WAIT may still send");
  check(ns_close(w.s, id, w.now, cap_emit, &w.cap) == 0, "ns_close in CLOSE_WAIT");
  struct tcp_view d, f;
  check(w.cap.n == 2 && cap_tcp(&w, 0, &d) && cap_tcp(&w, 1, &f) && d.len == 3 &&
            f.flags == (F_FIN | F_ACK) && f.seq == d.seq + 3,
        "the data, then our FIN right after it");
  check_u64("state (LAST_ACK)", c->state, NS_TCP_LAST_ACK);
  check(ns_close(w.s, id, w.now, cap_emit, &w.cap) == -NS_ERR_STATE, "closing twice: NS_ERR_STATE");

  client_absorb(&w);
  client_send(&w, F_ACK, NULL, 0);
  check(w.app.closes == 1 && w.app.last_closed == id && w.app.last_reason == NS_CLOSE_NORMAL,
        "the ACK of our FIN closes the connection; the application is told");
  check(ns_conn_get(w.s, id) == NULL && w.s->conn_count == 0, "the slot is free");
  check(ns_send(w.s, id, (const uint8_t *)"x", 1, w.now, cap_emit, &w.cap) == -NS_ERR_NO_CONN,
        "its id is dead: NS_ERR_NO_CONN");
  world_free(&w);
}

void t_fin_active(void) {
  struct world w;
  world_init(&w, 42, OUR_IP);
  uint32_t id = tcp_connect(&w);
  struct ns_conn *c = ns_conn_get(w.s, id);
  struct tcp_view d, f;
  uint8_t hundred[100] = {0};

  cap_reset(&w.cap);
  ns_send(w.s, id, hundred, sizeof hundred, w.now, cap_emit, &w.cap);
  ns_close(w.s, id, w.now, cap_emit, &w.cap);
  check(w.cap.n == 2 && cap_tcp(&w, 0, &d) && cap_tcp(&w, 1, &f) && d.len == 100 &&
            f.flags == (F_FIN | F_ACK) && f.seq == d.seq + 100,
        "ns_close after 100 bytes: the data, then FIN");
  check_u64("state (FIN_WAIT_1)", c->state, NS_TCP_FIN_WAIT_1);

  client_segment(&w, F_ACK, w.cl.seq, d.seq + 100, 65535, NULL, 0); /* data only */
  check(c->state == NS_TCP_FIN_WAIT_1 && c->sb_len == 0, "acknowledging the data alone: still FIN_WAIT_1");
  client_segment(&w, F_ACK, w.cl.seq, f.seq + 1, 65535, NULL, 0);
  check_u64("state after the FIN's ACK (FIN_WAIT_2)", c->state, NS_TCP_FIN_WAIT_2);
  w.cl.ack = f.seq + 1;

  client_send(&w, F_ACK, "late", 4);
  check(w.app.data_len == 4, "FIN_WAIT_2 still receives (half-close)");
  client_send(&w, F_ACK | F_FIN, NULL, 0);
  check(w.cap.n == 1 && cap_tcp(&w, 0, &d) && d.ack == w.cl.seq && w.app.eofs == 1,
        "the client's FIN is acknowledged and reported");
  check_u64("state (TIME_WAIT)", c->state, NS_TCP_TIME_WAIT);
  client_segment(&w, F_ACK | F_FIN, w.cl.seq - 1, w.cl.ack, 65535, NULL, 0);
  check(w.cap.n == 1 && cap_tcp(&w, 0, &d) && d.ack == w.cl.seq, "a repeated FIN in TIME_WAIT is re-ACKed");

  ns_poll(w.s, w.now + TIME_WAIT_NS / 2);
  check(ns_conn_get(w.s, id) != NULL, "TIME_WAIT outlives half its time");
  ns_poll(w.s, w.now + TIME_WAIT_NS);
  check(ns_conn_get(w.s, id) == NULL && w.app.closes == 1 && w.app.last_reason == NS_CLOSE_NORMAL,
        "ns_poll reaps it after time_wait_ns; the application is told");

  /* Simultaneous close: the client's FIN crosses ours. */
  w.cl.port = 40200;
  w.cl.seq = 9000;
  id = tcp_connect(&w);
  c = ns_conn_get(w.s, id);
  cap_reset(&w.cap);
  ns_close(w.s, id, w.now, cap_emit, &w.cap);
  cap_tcp(&w, 0, &f);
  client_send(&w, F_ACK | F_FIN, NULL, 0); /* acknowledges nothing of ours */
  check_u64("state (CLOSING)", c->state, NS_TCP_CLOSING);
  client_segment(&w, F_ACK, w.cl.seq, f.seq + 1, 65535, NULL, 0);
  check_u64("state after our FIN's ACK (TIME_WAIT)", c->state, NS_TCP_TIME_WAIT);

  /* The same client port again, with a higher ISN: TIME_WAIT gives way to the new connection. */
  struct tcp_view s;
  client_segment(&w, F_SYN, w.cl.seq + 100000, 0, 65535, NULL, 0);
  check(ns_conn_get(w.s, id) == NULL && w.cap.n == 1 && cap_tcp(&w, 0, &s) &&
            s.flags == (F_SYN | F_ACK) && s.ack == w.cl.seq + 100001 && w.s->conn_count == 1,
        "a new SYN above the old sequence space reopens a TIME_WAIT 4-tuple");
  world_free(&w);
}

void t_rst(void) {
  struct world w;
  world_init(&w, 42, OUR_IP);
  uint8_t fr[NS_FRAME_MAX];
  struct tcp_view v;

  size_t n = build_tcp(fr, PEER_IP, 41000, 80, 777, 123456, F_ACK, 65535, NULL, 0, 0);
  world_feed(&w, fr, n);
  check(w.cap.n == 1 && cap_tcp(&w, 0, &v) && v.flags == F_RST && v.seq == 123456,
        "an ACK for no connection gets RST with seq = its ack");
  n = build_tcp(fr, PEER_IP, 41000, 81, 555, 0, F_SYN, 65535, NULL, 0, 1460);
  world_feed(&w, fr, n);
  check(w.cap.n == 1 && cap_tcp(&w, 0, &v) && v.flags == (F_RST | F_ACK) && v.seq == 0 &&
            v.ack == 556 && v.sport == 81 && v.dport == 41000,
        "a SYN to a closed port gets RST|ACK acknowledging the SYN");
  n = build_tcp(fr, PEER_IP, 41000, 80, 900, 0, F_PSH, 65535, "12345", 5, 0);
  world_feed(&w, fr, n);
  check(w.cap.n == 1 && cap_tcp(&w, 0, &v) && v.flags == (F_RST | F_ACK) && v.ack == 905,
        "data without ACK for no connection: RST|ACK covering it");
  n = build_tcp(fr, PEER_IP, 41000, 80, 900, 0, F_RST, 65535, NULL, 0, 0);
  world_feed(&w, fr, n);
  check(w.cap.n == 0, "a RST for no connection is not answered");
  check_u64("stats.tcp_rst_sent", w.s->stats.tcp_rst_sent, 3);

  uint32_t id = tcp_connect(&w);
  client_segment(&w, F_RST, w.cl.seq + 50000, 0, 0, NULL, 0);
  check(ns_conn_get(w.s, id) != NULL && w.cap.n == 0, "a RST outside the window is ignored");
  client_segment(&w, F_RST, w.cl.seq, 0, 0, NULL, 0);
  check(ns_conn_get(w.s, id) == NULL && w.app.closes == 1 && w.app.last_reason == NS_CLOSE_RESET,
        "a RST in the window ends the connection; the application hears 'reset'");
  world_free(&w);
}

void t_dupack(void) {
  struct world w;
  world_init(&w, 42, OUR_IP);
  uint32_t id = tcp_connect(&w);
  struct ns_conn *c = ns_conn_get(w.s, id);
  uint8_t data[2000];
  for (int i = 0; i < 2000; i++) data[i] = (uint8_t)(i * 13);
  struct tcp_view s0, s1, r;

  cap_reset(&w.cap);
  ns_send(w.s, id, data, sizeof data, w.now, cap_emit, &w.cap);
  check(w.cap.n == 2 && cap_tcp(&w, 0, &s0) && cap_tcp(&w, 1, &s1), "2000 bytes: two segments");
  uint8_t first[1460];
  memcpy(first, s0.data, 1460);

  client_send(&w, F_ACK, "data", 4); /* data carrying the old ACK is not a duplicate ACK */
  check(w.cap.n == 1 && cap_tcp(&w, 0, &r) && r.len == 0, "client data with ack = snd_una: just an ACK back");
  client_send(&w, F_ACK, NULL, 0); /* the first segment was "lost": a duplicate ACK */
  check(w.cap.n == 1 && cap_tcp(&w, 0, &r), "a duplicate ACK triggers one retransmission");
  check(r.seq == s0.seq && r.len == 1460 && memcmp(r.data, first, 1460) == 0,
        "... of the segment at snd_una, byte-identical");
  check(w.s->stats.tcp_dup_acks == 1 && w.s->stats.tcp_retransmits == 1, "counted");
  client_segment(&w, F_ACK, w.cl.seq, s1.seq + s1.len, 65535, NULL, 0);
  check(c->sb_len == 0 && c->snd_una == c->snd_nxt && w.cap.n == 0, "acknowledging everything empties the buffer");
  world_free(&w);
}
