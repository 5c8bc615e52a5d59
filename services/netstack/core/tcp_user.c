/* tcp_user.c -- the application's side of TCP (RFC 793's "user calls": SEND, CLOSE) and the
 * migration controls: freeze, thaw, release, retransmit. Each call checks its arguments and the
 * connection's state before it changes anything. */
#include "internal.h"

/* conn_find's twin for a mutable stack (export needs the const one). */
struct ns_conn *ns_conn_get(struct ns_stack *s, uint32_t conn_id) {
  if (conn_id == 0) return NULL;
  struct ns_conn *c = &s->conns[conn_id % NS_MAX_CONNS];
  return conn_alive(c, conn_id) ? c : NULL;
}

int ns_send(struct ns_stack *s, uint32_t conn_id, const uint8_t *data, size_t len, uint64_t now,
            ns_emit_fn emit, void *ctx) {
  const struct ns_io io = {emit, ctx, now};
  struct ns_conn *c = ns_conn_get(s, conn_id);
  if (!c) return -NS_ERR_NO_CONN;
  if (c->state != NS_TCP_ESTABLISHED && c->state != NS_TCP_CLOSE_WAIT) return -NS_ERR_STATE;
  uint32_t room = NS_SNDBUF_SIZE - c->sb_len;
  uint32_t n = len < room ? (uint32_t)len : room;
  if (n == 0) return 0;
  if (!sndbuf_append(s, c, data, n)) return -NS_ERR_NO_BUFS;
  c->bytes_out += n;
  c->last_activity = now;
  tcp_output(s, c, &io); /* does nothing while frozen: the data waits for ns_thaw */
  return (int)n;
}

int ns_close(struct ns_stack *s, uint32_t conn_id, uint64_t now, ns_emit_fn emit, void *ctx) {
  const struct ns_io io = {emit, ctx, now};
  struct ns_conn *c = ns_conn_get(s, conn_id);
  if (!c) return -NS_ERR_NO_CONN;
  if (c->frozen) return -NS_ERR_FROZEN;
  if (c->state == NS_TCP_ESTABLISHED) c->state = NS_TCP_FIN_WAIT_1;
  else if (c->state == NS_TCP_CLOSE_WAIT) c->state = NS_TCP_LAST_ACK;
  else return -NS_ERR_STATE; /* not yet announced, or already closing */
  c->last_activity = now;
  tcp_output(s, c, &io); /* sends the FIN now if no data is waiting for the window */
  return NS_OK;
}

int ns_retransmit(struct ns_stack *s, uint32_t conn_id, uint64_t now, ns_emit_fn emit, void *ctx) {
  const struct ns_io io = {emit, ctx, now};
  struct ns_conn *c = ns_conn_get(s, conn_id);
  if (!c) return -NS_ERR_NO_CONN;
  if (c->frozen) return -NS_ERR_FROZEN;
  return tcp_retransmit(s, c, NS_SNDBUF_SIZE, &io);
}

int ns_freeze(struct ns_stack *s, uint32_t conn_id) {
  struct ns_conn *c = ns_conn_get(s, conn_id);
  if (!c) return -NS_ERR_NO_CONN;
  c->frozen = true;
  return NS_OK;
}

int ns_thaw(struct ns_stack *s, uint32_t conn_id, uint64_t now, ns_emit_fn emit, void *ctx) {
  const struct ns_io io = {emit, ctx, now};
  struct ns_conn *c = ns_conn_get(s, conn_id);
  if (!c) return -NS_ERR_NO_CONN;
  c->frozen = false;
  int done = 0;
  /* A callback may freeze the connection again (the rest stays queued) or end it (conn_free
   * returns the rest of the queue to the pool). The slot being processed is off the queue. */
  while (c->q_count > 0 && !c->frozen) {
    uint16_t ref = conn_dequeue(c);
    tcp_segment(s, c, s->qslots[ref - 1].seg, s->qslots[ref - 1].len, &io);
    qslot_release(s, ref);
    done++;
    if (!conn_alive(c, conn_id)) return done;
  }
  tcp_output(s, c, &io); /* what the application wrote while the connection was frozen */
  return done;
}

int ns_release(struct ns_stack *s, uint32_t conn_id) {
  struct ns_conn *c = ns_conn_get(s, conn_id);
  if (!c) return -NS_ERR_NO_CONN;
  conn_free(s, c, NS_CLOSE_RELEASED);
  return NS_OK;
}

void ns_poll(struct ns_stack *s, uint64_t now) {
  for (int i = 0; i < NS_MAX_CONNS; i++) {
    struct ns_conn *c = &s->conns[i];
    if (c->state == NS_TCP_TIME_WAIT && !c->frozen && now >= c->last_activity &&
        now - c->last_activity >= s->cfg.time_wait_ns)
      conn_free(s, c, NS_CLOSE_NORMAL);
  }
}
