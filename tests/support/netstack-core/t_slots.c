/* t_slots.c -- the connection table's slots: a new connection takes the lowest free slot (found a
 * word of 64 slots at a time, services/netstack/core/conn.c), across word boundaries, after frees
 * anywhere below, and none once the table is full; an import keeps the slot its id names. */
#include "../../../services/netstack/core/internal.h"
#include "harness.h"
#include "scenarios.h"

#define CLIENT 0x0a000009u

static uint32_t slot_of(const struct world *w, const struct ns_conn *c) { return (uint32_t)(c - w->s->conns); }

static struct ns_conn *open_one(struct world *w, uint16_t port) {
  struct ns_conn *c = conn_alloc(w->s, 0, CLIENT, port, 80);
  if (c) c->state = NS_TCP_ESTABLISHED;
  return c;
}

void t_slots(void) {
  struct world w;
  world_init(&w, 11, OUR_IP);
  bool in_order = true;
  for (uint16_t i = 0; i < 130; i++) {
    struct ns_conn *c = open_one(&w, (uint16_t)(1000 + i));
    in_order = in_order && c && slot_of(&w, c) == i;
  }
  check(in_order, "130 connections take slots 0-129 in order, across two word boundaries");
  /* Freed at 129, 64 and 5: the next three take 5, 64 and 129, then 130. */
  conn_free(w.s, &w.s->conns[129], NS_CLOSE_NORMAL);
  conn_free(w.s, &w.s->conns[64], NS_CLOSE_NORMAL);
  conn_free(w.s, &w.s->conns[5], NS_CLOSE_NORMAL);
  uint32_t next[4];
  for (int i = 0; i < 4; i++) next[i] = slot_of(&w, open_one(&w, (uint16_t)(2000 + i)));
  check(next[0] == 5 && next[1] == 64 && next[2] == 129 && next[3] == 130, "after frees at 129, 64, 5 the next take %u %u %u %u (want 5 64 129 130)",
        next[0], next[1], next[2], next[3]);
  check_u64("a reused slot's id is its next generation", w.s->conns[5].id, 2u * NS_MAX_CONNS + 5);
  /* An import keeps the slot its id names when that slot is free; the lowest free is not taken. */
  conn_free(w.s, &w.s->conns[7], NS_CLOSE_NORMAL);
  struct ns_conn *kept = conn_alloc(w.s, 3u * NS_MAX_CONNS + 200, CLIENT, 3000, 80);
  check(kept && slot_of(&w, kept) == 200 && kept->id == 3u * NS_MAX_CONNS + 200, "an import with id 3*N+200 takes slot 200");
  if (kept) kept->state = NS_TCP_ESTABLISHED;
  check_u64("and the next new one the lowest free, 7", slot_of(&w, open_one(&w, 4000)), 7);
  /* Full: every slot taken, the next refused; one freed at the very end is found. */
  uint32_t opened = 0;
  for (uint32_t i = 0; open_one(&w, (uint16_t)(5000 + i % 60000)) != 0; i++) opened++;
  check_u64("the table fills to NS_MAX_CONNS", w.s->conn_count, NS_MAX_CONNS);
  conn_free(w.s, &w.s->conns[NS_MAX_CONNS - 1], NS_CLOSE_NORMAL);
  struct ns_conn *last = open_one(&w, 65000);
  check(last && slot_of(&w, last) == NS_MAX_CONNS - 1, "the last slot, freed, is the one found");
  check(open_one(&w, 65001) == 0, "a full table gives no slot");
  world_free(&w);
}
