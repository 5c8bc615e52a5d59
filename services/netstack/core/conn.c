/* conn.c -- the connection table and the two pools connections borrow from: send buffers (held
 * only while a connection has unacknowledged or unsent data) and queue slots (held only while a
 * frozen connection has input waiting).
 *
 * Ids carry a generation (STYLE.md rule 8): id = generation * NS_MAX_CONNS + slot, and a slot's
 * next occupant gets the next generation, so the id of a closed connection never names its
 * successor. A stack has one address, so the 4-tuple lookup keys on the remote address and port
 * and our port. */
#include "internal.h"

_Static_assert(NS_MAX_CONNS < 65535, "slot + 1 must fit a uint16_t");
_Static_assert(NS_SNDBUF_COUNT < 65535 && NS_QSLOT_COUNT < 65535, "refs are uint16_t");
_Static_assert((NS_CONN_HASH & (NS_CONN_HASH - 1)) == 0, "NS_CONN_HASH is a power of two");
_Static_assert(NS_SNDBUF_SIZE <= 65535, "sb_len and sb_head are uint16_t");
_Static_assert(NS_QUEUE_PER_CONN <= 255, "q_count is a uint8_t");

/* Ids stay positive ints, so ns_import_conn can return one. */
#define MAX_GENERATION ((uint32_t)(INT32_MAX - NS_MAX_CONNS) / NS_MAX_CONNS)

const struct ns_conn *conn_find(const struct ns_stack *s, uint32_t id) {
  if (id == 0) return NULL;
  const struct ns_conn *c = &s->conns[id % NS_MAX_CONNS];
  return conn_alive(c, id) ? c : NULL;
}

static uint32_t bucket(uint32_t rip, uint16_t rport, uint16_t lport) {
  uint64_t key = (uint64_t)rip << 32 | (uint32_t)rport << 16 | lport;
  return (uint32_t)ns_mix64(key) & (NS_CONN_HASH - 1);
}

struct ns_conn *conn_lookup(struct ns_stack *s, uint32_t rip, uint16_t rport, uint16_t lport) {
  uint16_t ref = s->conn_hash[bucket(rip, rport, lport)];
  while (ref) {
    struct ns_conn *c = &s->conns[ref - 1];
    if (c->remote_ip == rip && c->remote_port == rport && c->local_port == lport) return c;
    ref = c->hash_next;
  }
  return NULL;
}

bool conn_slot_free(const struct ns_stack *s) { return s->conn_count < NS_MAX_CONNS; }

/* The lowest slot not taken, or NS_MAX_CONNS: a word of 64 slots at a time, not one slot at a time
 * (a new connection at a loaded instance used to walk every slot below the first free one). */
static uint32_t lowest_free(const struct ns_stack *s) {
  for (uint32_t w = 0; w < (NS_MAX_CONNS + 63) / 64; w++) {
    uint64_t free = ~s->conn_used[w];
    if (!free) continue;
    uint32_t slot = w * 64 + (uint32_t)__builtin_ctzll(free);
    return slot < NS_MAX_CONNS ? slot : NS_MAX_CONNS;
  }
  return NS_MAX_CONNS;
}

/* Takes the slot want_id names if it is free (an import keeping its id), else the lowest free
 * slot under a new generation. The caller sets the state at once: FREE marks an unused slot. */
struct ns_conn *conn_alloc(struct ns_stack *s, uint32_t want_id, uint32_t rip, uint16_t rport,
                           uint16_t lport) {
  uint32_t slot = NS_MAX_CONNS, id;
  if (want_id != 0 && s->conns[want_id % NS_MAX_CONNS].state == NS_TCP_FREE) {
    slot = want_id % NS_MAX_CONNS;
    id = want_id;
  } else {
    slot = lowest_free(s);
    if (slot == NS_MAX_CONNS) return NULL;
    uint32_t gen = s->conns[slot].id / NS_MAX_CONNS + 1;
    if (gen > MAX_GENERATION) gen = 1;
    id = gen * NS_MAX_CONNS + slot;
  }
  struct ns_conn *c = &s->conns[slot];
  memset(c, 0, sizeof *c);
  s->conn_used[slot / 64] |= 1ull << (slot % 64);
  c->id = id;
  c->remote_ip = rip;
  c->remote_port = rport;
  c->local_port = lport;
  uint32_t b = bucket(rip, rport, lport);
  c->hash_next = s->conn_hash[b];
  s->conn_hash[b] = (uint16_t)(slot + 1);
  s->conn_count++;
  return c;
}

void conn_free(struct ns_stack *s, struct ns_conn *c, enum ns_close_reason why) {
  uint16_t self = (uint16_t)(c - s->conns + 1);
  uint16_t *link = &s->conn_hash[bucket(c->remote_ip, c->remote_port, c->local_port)];
  while (*link && *link != self) link = &s->conns[*link - 1].hash_next;
  if (*link) *link = c->hash_next;
  if (c->sndbuf) s->sndbuf_used[c->sndbuf - 1] = false;
  for (int i = 0; i < c->q_count; i++) qslot_release(s, c->qslot[i]);

  uint32_t id = c->id;
  bool tell = c->accepted;
  uint32_t slot = (uint32_t)(c - s->conns);
  s->conn_used[slot / 64] &= ~(1ull << (slot % 64));
  memset(c, 0, sizeof *c);
  c->id = id; /* kept: the slot's next occupant takes the following generation */
  s->conn_count--;
  if (tell && s->app.closed) s->app.closed(s->app.ctx, id, why);
}

unsigned sndbuf_free_count(const struct ns_stack *s) {
  unsigned n = 0;
  for (int i = 0; i < NS_SNDBUF_COUNT; i++) n += !s->sndbuf_used[i];
  return n;
}

void sndbuf_read(const struct ns_stack *s, const struct ns_conn *c, uint32_t off, uint8_t *dst,
                 uint32_t n) {
  if (n == 0) return;
  const uint8_t *ring = s->sndbuf[c->sndbuf - 1];
  uint32_t at = (c->sb_head + off) % NS_SNDBUF_SIZE;
  uint32_t first = n < NS_SNDBUF_SIZE - at ? n : NS_SNDBUF_SIZE - at;
  memcpy(dst, ring + at, first);
  memcpy(dst + first, ring, n - first);
}

/* The caller has checked that n fits (sb_len + n <= NS_SNDBUF_SIZE). False: the pool is empty. */
bool sndbuf_append(struct ns_stack *s, struct ns_conn *c, const uint8_t *src, uint32_t n) {
  if (n == 0) return true;
  if (!c->sndbuf) {
    for (int i = 0; i < NS_SNDBUF_COUNT && !c->sndbuf; i++) {
      if (!s->sndbuf_used[i]) {
        s->sndbuf_used[i] = true;
        c->sndbuf = (uint16_t)(i + 1);
        c->sb_head = 0;
      }
    }
    if (!c->sndbuf) return false;
  }
  uint8_t *ring = s->sndbuf[c->sndbuf - 1];
  uint32_t at = (c->sb_head + c->sb_len) % NS_SNDBUF_SIZE;
  uint32_t first = n < NS_SNDBUF_SIZE - at ? n : NS_SNDBUF_SIZE - at;
  memcpy(ring + at, src, first);
  memcpy(ring, src + first, n - first);
  c->sb_len = (uint16_t)(c->sb_len + n);
  return true;
}

/* Drops n acknowledged bytes from the front; an emptied buffer goes back to the pool. */
void sndbuf_consume(struct ns_stack *s, struct ns_conn *c, uint32_t n) {
  if (n > c->sb_len) n = c->sb_len;
  c->sb_head = (uint16_t)((c->sb_head + n) % NS_SNDBUF_SIZE);
  c->sb_len = (uint16_t)(c->sb_len - n);
  if (c->sb_len == 0 && c->sndbuf) {
    s->sndbuf_used[c->sndbuf - 1] = false;
    c->sndbuf = 0;
    c->sb_head = 0;
  }
}

unsigned qslot_free_count(const struct ns_stack *s) {
  unsigned n = 0;
  for (int i = 0; i < NS_QSLOT_COUNT; i++) n += s->qslots[i].len == 0;
  return n;
}

/* False when the connection's queue or the pool is full, or the segment cannot be a TCP one. */
bool conn_enqueue(struct ns_stack *s, struct ns_conn *c, const uint8_t *seg, size_t len) {
  if (c->q_count >= NS_QUEUE_PER_CONN || len < TCP_HLEN || len > NS_SEG_MAX) return false;
  for (int i = 0; i < NS_QSLOT_COUNT; i++) {
    if (s->qslots[i].len == 0) {
      memcpy(s->qslots[i].seg, seg, len);
      s->qslots[i].len = (uint16_t)len;
      c->qslot[c->q_count++] = (uint16_t)(i + 1);
      return true;
    }
  }
  return false;
}

uint16_t conn_dequeue(struct ns_conn *c) {
  uint16_t ref = c->qslot[0];
  for (int i = 1; i < c->q_count; i++) c->qslot[i - 1] = c->qslot[i];
  c->qslot[--c->q_count] = 0;
  return ref;
}

void qslot_release(struct ns_stack *s, uint16_t ref) { s->qslots[ref - 1].len = 0; }
