/* migctl: the migration test harness, standing in for the Module Manager (the next issue). It
 * holds the two migration control channels Core-0 created for the update (slot 1: the running
 * netstack, the source; slot 2: its successor, the target) and drives the state migration
 * protocol (hic/migration.h, docs/migration-protocol.md) while traffic flows:
 *
 *   handshake  HELLO to both; PEER to the target with the source's HELLO, then to the source with
 *              the target's: each checks the other and both must name the same protocol version.
 *   snapshot   PREPARE and EXPORT_STATE at the source; the snapshot's memory object moves to the
 *              target's IMPORT_STATE. The Ethernet driver's default instance becomes the target,
 *              so every new connection lands there from now on.
 *   connections one at a time (seed 步骤3.3): EXPECT at the target, STEER at the driver, CONN_OUT
 *              at the source (frozen, packaged, the package's capability moved to us), CONN_IN at
 *              the target (capability moved on), CONN_DONE at the source.
 *   the end    COMPLETE at both, the alias cap://netstack/stats switched to the target's
 *              versioned endpoint, and the seed's consistency check: every connection of the
 *              snapshot either arrived at the target or closed at the source before its turn.
 *
 * Its configuration (module.json): the mode -- update: migrate everything; abort: migrate half,
 * then abort: every connection (also those opened at the target meanwhile) goes back to the
 * source, which serves on as if nothing happened; refusals: the protocol's refusals, each checked
 * for its error and for no change. `linger`: a wait between steering a connection to the target
 * and taking it from the source, for the first LINGERED connections: segments that arrive
 * meanwhile must be held at the target and delivered after the import (0: none). `start`: when to
 * begin, in virtual time.
 *
 * What it finds is reported as typed records (module.json: step, snapshot, migrated, aborted,
 * refusal, refusals_done), which the tests and the benchmark read, and logged for people; the
 * last line is "migctl: RESULT ..." with "ok" or "FAILED" and the first check that failed. */

#include "hic/eth.h"
#include "hic/migration.h"
#include "hic/module.h"
#include "hic/runtime.h"

#define REGISTRY 0
#define OLD 1
#define NEW 2

struct side {
  const char *name;
  int64_t channel;
  int64_t wake;   /* a copy of its notification, from HELLO */
  struct mig_hello hello;
};

static struct side side[3] = {[OLD] = {.name = "source", .channel = OLD, .wake = -1}, [NEW] = {.name = "target", .channel = NEW, .wake = -1}};
static int64_t eth = -1, eth_wake = -1;
static uint64_t eth_bits;
static struct hic_msg msg;
static const char *failed; /* the first check that failed */
static uint64_t linger_ns;  /* the configuration's linger */
#define LINGERED 100
static uint32_t checks;

static void check(bool ok, const char *what) {
  checks++;
  if (!ok && !failed) failed = what;
  if (!ok) hic_log("migctl: check FAILED: %s", what);
}

static uint64_t call(struct side *s, uint64_t label, uint64_t w0, uint64_t w1, int64_t cap, const void *payload, uint64_t len) {
  memset(&msg, 0, sizeof msg);
  msg.label = label;
  msg.words[0] = w0;
  msg.words[1] = w1;
  msg.cap = cap;
  msg.cap_move = cap >= 0;
  if (payload) memcpy(msg.payload, payload, len), msg.len = len;
  if (s->wake >= 0) hic_notify((uint64_t)s->wake, MIG_KICK_BIT);
  int64_t r = hic_call((uint64_t)s->channel, &msg, 0, 0);
  if (r < 0) return hic_log("migctl: call %lu to the %s failed: %ld", label, s->name, r), 0xdead;
  return msg.label;
}

static uint64_t eth_call(uint64_t label, uint64_t w0, uint64_t w1, uint64_t w2, uint64_t w3) {
  memset(&msg, 0, sizeof msg);
  msg.label = label;
  msg.words[0] = w0, msg.words[1] = w1, msg.words[2] = w2, msg.words[3] = w3;
  msg.cap = HIC_NO_CAP;
  if (eth_wake >= 0) hic_notify((uint64_t)eth_wake, eth_bits);
  int64_t r = hic_call((uint64_t)eth, &msg, 0, 0);
  return r < 0 ? (uint64_t)-r : msg.label;
}

static struct mig_status status_of(struct side *s) {
  struct mig_status st;
  memset(&st, 0, sizeof st);
  if (call(s, MIG_STATUS, 0, 0, HIC_NO_CAP, 0, 0) == MIG_OK) memcpy(&st, msg.payload, sizeof st);
  return st;
}

static int64_t lookup(const char *name) {
  for (;;) {
    int64_t slot = hic_registry_lookup(REGISTRY, name, strlen(name));
    if (slot != -HIC_ERR_NOT_FOUND) return slot;
    hic_sleep(100000);
  }
}

static bool hello(struct side *s) {
  uint64_t st = call(s, MIG_HELLO, 0, 0, HIC_NO_CAP, 0, 0);
  if (st != MIG_OK || msg.len != sizeof s->hello) return hic_log("migctl: HELLO to the %s: %lu", s->name, st), false;
  memcpy(&s->hello, msg.payload, sizeof s->hello);
  if (s->wake < 0) s->wake = msg.cap;
  else if (msg.cap >= 0) hic_cap_delete((uint64_t)msg.cap);
  return true;
}

/** PEER at `s` with the other's HELLO: the agreed version, or 0 (and *err). */
static uint16_t peer(struct side *s, const struct mig_hello *other, uint64_t role, uint64_t *err) {
  *err = call(s, MIG_PEER, role, 0, HIC_NO_CAP, other, sizeof *other);
  return *err == MIG_OK ? (uint16_t)msg.words[0] : 0;
}

static void phase(uint64_t p) {
  migctl_emit_step(&(struct migctl_record_step){.phase = p});
}

static uint16_t handshake(void) {
  if (!hello(&side[OLD]) || !hello(&side[NEW])) return 0;
  uint64_t err;
  uint16_t at_new = peer(&side[NEW], &side[OLD].hello, MIG_ROLE_TARGET, &err);
  if (!at_new) return hic_log("migctl: the target refused its peer: %lu", err), 0;
  uint16_t at_old = peer(&side[OLD], &side[NEW].hello, MIG_ROLE_SOURCE, &err);
  if (!at_old) return hic_log("migctl: the source refused its peer: %lu", err), 0;
  check(at_new == at_old, "both sides negotiate the same version");
  check(memcmp(side[OLD].hello.instance_uuid, side[NEW].hello.instance_uuid, 16) != 0, "two instances, two instance UUIDs");
  hic_log("migctl: instances %02x%02x%02x%02x-…-%02x%02x%02x%02x (source) and %02x%02x%02x%02x-…-%02x%02x%02x%02x (target) of module %s",
          side[OLD].hello.instance_uuid[0], side[OLD].hello.instance_uuid[1], side[OLD].hello.instance_uuid[2], side[OLD].hello.instance_uuid[3],
          side[OLD].hello.instance_uuid[12], side[OLD].hello.instance_uuid[13], side[OLD].hello.instance_uuid[14], side[OLD].hello.instance_uuid[15],
          side[NEW].hello.instance_uuid[0], side[NEW].hello.instance_uuid[1], side[NEW].hello.instance_uuid[2], side[NEW].hello.instance_uuid[3],
          side[NEW].hello.instance_uuid[12], side[NEW].hello.instance_uuid[13], side[NEW].hello.instance_uuid[14], side[NEW].hello.instance_uuid[15],
          side[OLD].hello.module);
  hic_log("migctl: handshake: source %u.%u.%u speaks %x %x, target %u.%u.%u speaks %x %x: agreed %u.%u",
          side[OLD].hello.version >> 16, side[OLD].hello.version >> 8 & 0xff, side[OLD].hello.version & 0xff,
          side[OLD].hello.protocols[0], side[OLD].hello.protocols[1], side[NEW].hello.version >> 16,
          side[NEW].hello.version >> 8 & 0xff, side[NEW].hello.version & 0xff, side[NEW].hello.protocols[0],
          side[NEW].hello.protocols[1], at_new >> 8, at_new & 0xff);
  return at_new;
}

/** EXPORT_STATE at the source: the snapshot's capability (moved to us), or -1. */
static int64_t export_state(uint64_t *bytes, uint64_t *conns) {
  uint64_t st = call(&side[OLD], MIG_EXPORT_STATE, 0, 0, HIC_NO_CAP, 0, 0);
  if (st != MIG_OK || msg.cap < 0) return hic_log("migctl: EXPORT_STATE: %lu", st), -1;
  *bytes = msg.words[0];
  *conns = msg.words[2];
  return msg.cap;
}

struct move_stats {
  uint32_t moved, gone, failed;
  uint64_t ns_total, ns_max;       /* the whole sequence, EXPECT to CONN_DONE */
  uint64_t frozen_total, frozen_max; /* CONN_OUT to CONN_IN: while its segments wait */
};

/** One connection from `from` to `to` (seed 步骤3.3). */
static void move(struct side *from, struct side *to, const struct mig_conn_ref *c, struct move_stats *ms) {
  uint64_t t0 = (uint64_t)hic_time_now();
  uint64_t key = eth_key(c->remote_ip, c->remote_port, c->local_port);
  if (call(to, MIG_EXPECT, key, 0, HIC_NO_CAP, 0, 0) != MIG_OK) return (void)ms->failed++;
  uint64_t st = eth_call(ETH_STEER, c->remote_ip, c->remote_port, c->local_port, to->hello.instance);
  if (st != ETH_OK) {
    call(to, MIG_EXPECT, key, 1, HIC_NO_CAP, 0, 0);
    return (void)(hic_log("migctl: STEER: %lu", st), ms->failed++);
  }
  if (linger_ns && ms->moved < LINGERED) hic_sleep(linger_ns);
  uint64_t f0 = (uint64_t)hic_time_now();
  st = call(from, MIG_CONN_OUT, c->id, 0, HIC_NO_CAP, 0, 0);
  if (st != MIG_OK) {
    /* It closed before its turn: its segments go to whoever has the default again. */
    eth_call(ETH_STEER, c->remote_ip, c->remote_port, c->local_port, ETH_NO_INSTANCE);
    call(to, MIG_EXPECT, key, 1, HIC_NO_CAP, 0, 0);
    if (st == MIG_ERR_NO_CONN) ms->gone++;
    else hic_log("migctl: CONN_OUT %u: %lu", c->id, st), ms->failed++;
    return;
  }
  st = call(to, MIG_CONN_IN, 0, 0, msg.cap, 0, 0);
  if (st != MIG_OK) {
    hic_log("migctl: CONN_IN of %u at the %s: %lu; giving it back", c->id, to->name, st);
    eth_call(ETH_STEER, c->remote_ip, c->remote_port, c->local_port, from->hello.instance);
    call(to, MIG_EXPECT, key, 1, HIC_NO_CAP, 0, 0);
    call(from, MIG_CONN_BACK, c->id, 0, HIC_NO_CAP, 0, 0);
    return (void)ms->failed++;
  }
  uint64_t frozen = (uint64_t)hic_time_now() - f0;
  ms->frozen_total += frozen;
  if (frozen > ms->frozen_max) ms->frozen_max = frozen;
  check(call(from, MIG_CONN_DONE, c->id, 0, HIC_NO_CAP, 0, 0) == MIG_OK, "CONN_DONE after a successful CONN_IN");
  uint64_t took = (uint64_t)hic_time_now() - t0;
  if (++ms->moved % 1000 == 0) hic_log("migctl: %u connections moved from the %s", ms->moved, from->name);
  ms->ns_total += took;
  if (took > ms->ns_max) ms->ns_max = took;
}

/** Moves every connection `from` holds, `limit` at most; LIST again until none is left. */
static void move_all(struct side *from, struct side *to, uint32_t limit, struct move_stats *ms) {
  static struct mig_conn_ref refs[MIG_LIST_MAX];
  for (;;) {
    uint32_t before = ms->moved + ms->gone + ms->failed;
    uint64_t cursor = 0;
    do {
      if (call(from, MIG_LIST, cursor, 0, HIC_NO_CAP, 0, 0) != MIG_OK) return;
      uint32_t n = (uint32_t)msg.words[0];
      cursor = msg.words[1];
      memcpy(refs, msg.payload, n * sizeof refs[0]);
      for (uint32_t i = 0; i < n; i++) {
        if (ms->moved >= limit) return;
        move(from, to, &refs[i], ms);
      }
    } while (cursor != 0);
    if (ms->moved + ms->gone + ms->failed == before) return; /* a pass that found nothing to move */
  }
}

static bool begin(uint16_t *agreed, uint32_t *snapshot_conns) {
  phase(MIGCTL_STEP_PHASE_HANDSHAKE);
  if (!(*agreed = handshake())) return false;
  check(call(&side[OLD], MIG_PREPARE, 0, 0, HIC_NO_CAP, 0, 0) == MIG_OK, "PREPARE at the source");
  uint64_t bytes, conns;
  phase(MIGCTL_STEP_PHASE_SNAPSHOT);
  hic_log("migctl: exporting the snapshot");
  uint64_t t0 = (uint64_t)hic_time_now();
  int64_t snap = export_state(&bytes, &conns);
  if (snap < 0) return false;
  uint64_t t1 = (uint64_t)hic_time_now();
  uint64_t st = call(&side[NEW], MIG_IMPORT_STATE, 0, 0, snap, 0, 0);
  if (st != MIG_OK) return hic_log("migctl: IMPORT_STATE: %lu", st), false;
  uint64_t t2 = (uint64_t)hic_time_now();
  *snapshot_conns = (uint32_t)msg.words[0];
  check(msg.words[0] == conns, "the target imported every connection of the snapshot");
  migctl_emit_snapshot(&(struct migctl_record_snapshot){.bytes_bytes = bytes, .shards = MIG_SHARDS, .connections = conns, .source_schema = side[OLD].hello.schema,
                                                        .target_schema = side[NEW].hello.schema, .export_ns = t1 - t0, .import_ns = t2 - t1});
  hic_log("migctl: snapshot: %lu bytes, %u shards, %lu connections, schema %u read by the target (schema %u), export %lu ns, import %lu ns",
          bytes, MIG_SHARDS, conns, side[OLD].hello.schema, side[NEW].hello.schema, t1 - t0, t2 - t1);
  check(eth_call(ETH_DEFAULT, side[NEW].hello.instance, 0, 0, 0) == ETH_OK, "DEFAULT to the target");
  return true;
}

static int migrate(bool abort_halfway) {
  uint16_t agreed;
  uint32_t snapshot_conns = 0;
  uint64_t t0 = (uint64_t)hic_time_now();
  if (!begin(&agreed, &snapshot_conns)) return hic_log("migctl: RESULT FAILED: the update could not begin"), 1;
  struct mig_status old_at_default = status_of(&side[OLD]);
  struct move_stats ms = {0};
  phase(MIGCTL_STEP_PHASE_CONNECTIONS);
  t0 = (uint64_t)hic_time_now(); /* the connections' phase */
  move_all(&side[OLD], &side[NEW], abort_halfway ? snapshot_conns / 2 : 0xffffffffu, &ms);
  uint64_t moved_ns = (uint64_t)hic_time_now() - t0;

  if (abort_halfway) {
    struct mig_status at_new = status_of(&side[NEW]);
    hic_log("migctl: aborting after %u of %u connections; the target holds %u", ms.moved, snapshot_conns, at_new.connections);
    check(eth_call(ETH_DEFAULT, side[OLD].hello.instance, 0, 0, 0) == ETH_OK, "DEFAULT back to the source");
    struct move_stats back = {0};
    move_all(&side[NEW], &side[OLD], 0xffffffffu, &back);
    check(call(&side[NEW], MIG_ABORT, 0, 0, HIC_NO_CAP, 0, 0) == MIG_OK, "ABORT at the target (it holds nothing)");
    check(call(&side[OLD], MIG_ABORT, 0, 0, HIC_NO_CAP, 0, 0) == MIG_OK, "ABORT at the source");
    struct mig_status o = status_of(&side[OLD]), n = status_of(&side[NEW]);
    check(n.connections == 0, "the target holds no connection after the abort");
    check(back.failed == 0 && ms.failed == 0, "no connection failed to move");
    check(o.phase == MIG_PHASE_SERVING && n.phase == MIG_PHASE_SERVING, "both serve as before the update");
    migctl_emit_aborted(&(struct migctl_record_aborted){.moved_out = ms.moved, .moved_back = back.moved,
                                                        .opened_at_target = back.moved > ms.moved ? back.moved - ms.moved : 0, .failed = ms.failed + back.failed,
                                                        .source_holds = o.connections, .target_holds = n.connections, .checks = checks, .ok = !failed});
    hic_log("migctl: RESULT abort moved %u out, %u back (of them %u opened at the target), failed %u, source holds %u, target %u, %u checks %s%s",
            ms.moved, back.moved, back.moved > ms.moved ? back.moved - ms.moved : 0, ms.failed + back.failed, o.connections,
            n.connections, checks, failed ? "FAILED: " : "ok", failed ? failed : "");
    return failed ? 1 : 0;
  }

  phase(MIGCTL_STEP_PHASE_COMPLETE);
  struct mig_status o = status_of(&side[OLD]);
  check(call(&side[OLD], MIG_COMPLETE, 0, 0, HIC_NO_CAP, 0, 0) == MIG_OK, "COMPLETE at the source");
  uint64_t dropped = msg.words[0], closed_from_snapshot = msg.words[1];
  check(call(&side[NEW], MIG_COMPLETE, 0, 0, HIC_NO_CAP, 0, 0) == MIG_OK, "COMPLETE at the target");
  struct mig_status n = status_of(&side[NEW]);
  static const char alias[] = "cap://netstack/stats";
  char target[64];
  int len = hic_snprintf(target, sizeof target, "cap://netstack/v%u.%u.%u/stats", side[NEW].hello.version >> 16,
                         side[NEW].hello.version >> 8 & 0xff, side[NEW].hello.version & 0xff);
  int64_t sw = hic_registry_switch(REGISTRY, alias, sizeof alias - 1, target, (uint64_t)len);
  check(sw == 0, "the alias switch to the target's endpoint");
  /* Seed 步骤3.5's consistency check: every connection in the snapshot arrived, or closed at the
   * source before its turn came (those opened later went to the target directly). */
  check(n.snapshot_received + closed_from_snapshot == n.snapshot_connections, "every snapshot connection arrived or closed first");
  check(dropped == 0, "the source held nothing at COMPLETE");
  check(o.opened == old_at_default.opened, "no new connection reached the source after DEFAULT");
  check(ms.failed == 0, "no connection failed to move");
  check(n.held_dropped == 0, "no segment held for a moving connection was dropped");
  migctl_emit_migrated(&(struct migctl_record_migrated){
      .migrated = ms.moved, .closed_first = ms.gone, .failed = ms.failed, .protocol_major = agreed >> 8, .protocol_minor = agreed & 0xff,
      .snapshot = n.snapshot_connections, .received = n.snapshot_received, .snapshot_closed_first = closed_from_snapshot,
      .source_opened_after_default = o.opened - old_at_default.opened, .target_opened = n.opened, .held = n.held, .held_dropped = n.held_dropped,
      .per_connection_avg_ns = ms.moved ? ms.ns_total / ms.moved : 0, .per_connection_max_ns = ms.ns_max,
      .frozen_avg_ns = ms.moved ? ms.frozen_total / ms.moved : 0, .frozen_max_ns = ms.frozen_max, .phase_ns = moved_ns, .checks = checks, .ok = !failed});
  hic_log("migctl: RESULT migrated %u (%u closed first), failed %u, protocol %u.%u, snapshot %u received %u closed first %lu, "
          "source opened after default %lu, target opened %lu, segments held %u dropped %u, per connection avg %lu ns max %lu ns, frozen avg %lu ns max %lu ns, "
          "all %lu ns, %u checks %s%s",
          ms.moved, ms.gone, ms.failed, agreed >> 8, agreed & 0xff, n.snapshot_connections, n.snapshot_received, closed_from_snapshot,
          o.opened - old_at_default.opened, n.opened, n.held, n.held_dropped, ms.moved ? ms.ns_total / ms.moved : 0, ms.ns_max,
          ms.moved ? ms.frozen_total / ms.moved : 0, ms.frozen_max, moved_ns, checks,
          failed ? "FAILED: " : "ok", failed ? failed : "");
  return failed ? 1 : 0;
}

/* --- the refusals ------------------------------------------------------------------------------ */

/* `what`: MIGCTL_REFUSAL_WHAT_*, the case in the record; `text`: the same in words, for the log. */
static void expect_refusal(uint64_t got, uint64_t want, uint64_t what, const char *text) {
  migctl_emit_refusal(&(struct migctl_record_refusal){.what = what, .got = got, .want = want});
  hic_log("migctl: refusal %s: %lu (want %lu)", text, got, want);
  check(got == want, text);
}

/** The phase and connection count of both, to compare before and after a refused call. */
static bool unchanged(const struct mig_status *o0, const struct mig_status *n0) {
  struct mig_status o = status_of(&side[OLD]), n = status_of(&side[NEW]);
  return o.phase == o0->phase && n.phase == n0->phase && n.connections == n0->connections && o.exported == o0->exported &&
         n.imported == n0->imported;
}

/** Flips one byte in the records of the first shard that has any; the shard's id, or -1. */
static int64_t corrupt_a_shard(int64_t snap) {
  int64_t at = hic_memory_map((uint64_t)snap);
  if (at < 0) return -1;
  uint8_t *p = (uint8_t *)(uintptr_t)at;
  struct mig_snapshot *h = (struct mig_snapshot *)p;
  uint8_t *s = p + sizeof *h + h->config_len;
  int64_t id = -1;
  for (uint32_t k = 0; k < h->shards; k++) {
    struct mig_shard *sh = (struct mig_shard *)s;
    if (sh->bytes) {
      ((uint8_t *)(sh + 1))[sh->bytes / 2] ^= 0x40;
      id = k;
      break;
    }
    s += sizeof *sh + sh->bytes;
  }
  hic_memory_unmap((uint64_t)snap);
  return id;
}

static int refusals(void) {
  if (!hello(&side[OLD]) || !hello(&side[NEW])) return hic_log("migctl: RESULT FAILED: no HELLO"), 1;
  struct mig_status o0 = status_of(&side[OLD]), n0 = status_of(&side[NEW]);
  uint64_t err;

  /* A successor that speaks only a version the source does not. */
  struct mig_hello alien = side[NEW].hello;
  memset(alien.protocols, 0, sizeof alien.protocols);
  alien.protocols[0] = MIG_PROTO(1, 5);
  peer(&side[OLD], &alien, MIG_ROLE_SOURCE, &err);
  expect_refusal(err, MIG_ERR_NO_COMMON_VERSION, MIGCTL_REFUSAL_WHAT_NO_COMMON_VERSION, "no common protocol version");
  check(unchanged(&o0, &n0), "no common version: nothing changed");

  /* Another module, and the source itself posing as its successor. */
  struct mig_hello other = side[NEW].hello;
  memcpy(other.module, "dns_resolver", 13);
  peer(&side[OLD], &other, MIG_ROLE_SOURCE, &err);
  expect_refusal(err, MIG_ERR_PEER, MIGCTL_REFUSAL_WHAT_OTHER_MODULE, "a peer of another module");
  peer(&side[OLD], &side[OLD].hello, MIG_ROLE_SOURCE, &err);
  expect_refusal(err, MIG_ERR_PEER, MIGCTL_REFUSAL_WHAT_SELF_AS_PEER, "the instance itself as its peer");
  struct mig_hello older = side[NEW].hello;
  older.version = MIG_VERSION(1, 1, 0);
  peer(&side[OLD], &older, MIG_ROLE_SOURCE, &err);
  expect_refusal(err, MIG_ERR_PEER, MIGCTL_REFUSAL_WHAT_OLDER_SUCCESSOR, "a successor older than the source");
  check(unchanged(&o0, &n0), "bad peers: nothing changed");

  /* A successor enforcing other firewall rules (seed 步骤2.2's consistency check), and one that
   * cannot read the source's schema. */
  struct mig_hello rules = side[NEW].hello;
  rules.rule_hash ^= 1;
  peer(&side[OLD], &rules, MIG_ROLE_SOURCE, &err);
  expect_refusal(err, MIG_ERR_CONFIG, MIGCTL_REFUSAL_WHAT_OTHER_RULES, "a peer with other firewall rules");
  struct mig_hello reader = side[NEW].hello;
  reader.imports = 1u << 2;
  peer(&side[OLD], &reader, MIG_ROLE_SOURCE, &err);
  expect_refusal(err, MIG_ERR_SCHEMA, MIGCTL_REFUSAL_WHAT_UNREADABLE_SCHEMA, "a successor that cannot read the source's schema");
  check(unchanged(&o0, &n0), "config and schema mismatches: nothing changed");

  /* Calls out of order: no snapshot before PEER, no connection out before PREPARE. */
  expect_refusal(call(&side[OLD], MIG_EXPORT_STATE, 0, 0, HIC_NO_CAP, 0, 0), MIG_ERR_STATE, MIGCTL_REFUSAL_WHAT_EXPORT_BEFORE_PEER, "EXPORT_STATE before PEER");
  expect_refusal(call(&side[OLD], MIG_CONN_OUT, 1, 0, HIC_NO_CAP, 0, 0), MIG_ERR_STATE, MIGCTL_REFUSAL_WHAT_CONN_OUT_BEFORE_PREPARE, "CONN_OUT before PREPARE");

  /* The real handshake, then broken snapshots. */
  uint16_t agreed = handshake();
  check(agreed == MIG_PROTO(1, 3), "the real pair agrees on 1.3");
  check(call(&side[OLD], MIG_PREPARE, 0, 0, HIC_NO_CAP, 0, 0) == MIG_OK, "PREPARE");
  o0 = status_of(&side[OLD]), n0 = status_of(&side[NEW]);
  uint64_t bytes, conns;
  int64_t snap = export_state(&bytes, &conns);
  int64_t shard = snap < 0 ? -1 : corrupt_a_shard(snap);
  check(shard >= 0, "a snapshot with a shard to corrupt");
  expect_refusal(call(&side[NEW], MIG_IMPORT_STATE, 0, 0, snap, 0, 0), MIG_ERR_CORRUPT_SHARD, MIGCTL_REFUSAL_WHAT_CORRUPT_SHARD, "a corrupt shard");
  check((int64_t)msg.words[0] == shard, "the refusal names the corrupt shard");
  check(unchanged(&o0, &n0), "corrupt shard: nothing changed");

  snap = export_state(&bytes, &conns);
  if (snap >= 0) {
    int64_t at = hic_memory_map((uint64_t)snap);
    if (at >= 0) ((struct mig_snapshot *)(uintptr_t)at)->schema = 9, hic_memory_unmap((uint64_t)snap);
  }
  expect_refusal(call(&side[NEW], MIG_IMPORT_STATE, 0, 0, snap, 0, 0), MIG_ERR_SCHEMA, MIGCTL_REFUSAL_WHAT_UNKNOWN_SCHEMA, "a snapshot of an unknown schema");
  check(unchanged(&o0, &n0), "unknown schema: nothing changed");

  expect_refusal(call(&side[OLD], MIG_CONN_OUT, 0x7ffffff0u, 0, HIC_NO_CAP, 0, 0), MIG_ERR_NO_CONN, MIGCTL_REFUSAL_WHAT_UNKNOWN_CONNECTION, "an unknown connection");
  check(unchanged(&o0, &n0), "unknown connection: nothing changed");

  int64_t note = hic_notification_create();
  expect_refusal(call(&side[NEW], MIG_IMPORT_STATE, 0, 0, note, 0, 0), MIG_ERR_BAD_CAP, MIGCTL_REFUSAL_WHAT_NOT_A_MEMORY_OBJECT, "a snapshot that is not a memory object");
  check(unchanged(&o0, &n0), "not a memory object: nothing changed");
  expect_refusal(call(&side[NEW], 99, 0, 0, HIC_NO_CAP, 0, 0), MIG_ERR_LABEL, MIGCTL_REFUSAL_WHAT_UNKNOWN_CALL, "an unknown call");

  check(call(&side[NEW], MIG_ABORT, 0, 0, HIC_NO_CAP, 0, 0) == MIG_OK, "ABORT at the target");
  check(call(&side[OLD], MIG_ABORT, 0, 0, HIC_NO_CAP, 0, 0) == MIG_OK, "ABORT at the source");
  struct mig_status o = status_of(&side[OLD]);
  check(o.phase == MIG_PHASE_SERVING && o.exported == 0, "the source serves on, nothing exported");
  migctl_emit_refusals_done(&(struct migctl_record_refusals_done){.source_holds = o.connections, .checks = checks, .ok = !failed});
  hic_log("migctl: RESULT refusals, source holds %u connections, %u checks %s%s", o.connections, checks,
          failed ? "FAILED: " : "ok", failed ? failed : "");
  return failed ? 1 : 0;
}

int hic_main(void) {
  const struct migctl_config *config = hic_config();
  uint64_t mode = config->mode, start_ns = config->start_ns;
  linger_ns = config->linger_ns;
  eth = lookup("cap://eth/control");
  memset(&msg, 0, sizeof msg);
  msg.label = ETH_KICK;
  msg.cap = HIC_NO_CAP;
  if (hic_call((uint64_t)eth, &msg, 0, 0) == 0 && msg.label == ETH_OK) eth_wake = msg.cap, eth_bits = msg.words[0];
  uint64_t now = (uint64_t)hic_time_now();
  if (start_ns > now) hic_sleep(start_ns - now);
  static const char *const modes[] = {"update", "abort", "refusals"};
  hic_log("migctl: mode %s begins", mode < 3 ? modes[mode] : "?");
  switch (mode) {
  case MIGCTL_MODE_UPDATE: return migrate(false);
  case MIGCTL_MODE_ABORT: return migrate(true);
  case MIGCTL_MODE_REFUSALS: return refusals();
  default: return hic_log("migctl: unknown mode %lu", mode), 2;
  }
}
