/* migration.c -- the netstack's side of the state migration protocol (hic/migration.h has the
 * calls, docs/migration-protocol.md the whole exchange). What it needs of the rest of the service
 * is declared in netstack.h: the clock, the frame path, and the applications, whose record
 * (app/app_record.c) travels with the core's connection record.
 *
 * One instance plays the source (the running version) and one the target (its successor); a
 * coordinator drives both over their control channels. The pieces here:
 *
 *   identity     HELLO from the module's signed metadata (HIC_MODULE_* from module.json) and an
 *                instance UUID of its own; PEER checks the other side and negotiates the version.
 *   snapshot     EXPORT_STATE writes config, ARP table, routes and every connection record into
 *                MIG_SHARDS shards by connection hash, each with its CRC-32; IMPORT_STATE checks
 *                all of it (every record decoded, an older schema converted) before it changes
 *                anything, then takes the config and remembers which connections are to come.
 *   connections  CONN_OUT freezes one connection and packages it into a memory object whose
 *                capability moves to the coordinator and on to the target (CONN_IN), which
 *                imports it, thaws it, and then delivers the segments it held for it (EXPECT)
 *                since the Ethernet driver started steering it there. CONN_DONE releases it at
 *                the source; CONN_BACK thaws it there again if the import failed.
 *
 * Everything refused is refused before anything changes; a capability a refused call carried is
 * deleted. The two phases that own connections, SOURCE and TARGET, can also give them back
 * (abort): a target exports in the newest schema its source reads. */

#include "../netstack.h"

#include "hic/eth.h"
#include "hic/frame_channel.h"
#include "hic/migration.h"
#include "hic/runtime.h"

_Static_assert(NS_SCHEMA == HIC_MODULE_SCHEMA, "module.json's stateSchema must be the schema the core exports");
_Static_assert(sizeof(struct mig_hello) == 76, "struct mig_hello layout");
_Static_assert(sizeof(struct mig_snapshot) == 40, "struct mig_snapshot layout");

#define EXPECT_MAX 16   /* connections a target holds segments for at once */
#define HOLD_MAX 64     /* segments held in all */
#define CONFIG_FIXED 56      /* the config block before its ARP entries and routes */

static const uint8_t module_uuid[16] = HIC_MODULE_UUID;
static const uint16_t module_protocols[] = HIC_MODULE_PROTOCOLS;

static struct ns_stack *stack;

static struct {
  int64_t channel; /* the control channel (R), -1 when the image gave none */
  uint32_t instance; /* our eth_driver instance id */
  uint32_t phase, role;
  uint16_t agreed;
  uint16_t peer_schema, peer_imports;
  uint8_t instance_uuid[16];
  struct mig_status st;
  uint64_t expect[EXPECT_MAX];
  uint32_t expect_count;
  uint32_t held_count;
  uint32_t snap_count; /* target: the snapshot's connections, keys sorted */
} mig = {.channel = -1};

static uint64_t held_key[HOLD_MAX];
static uint16_t held_len[HOLD_MAX];
static uint8_t held[HOLD_MAX][FC_FRAME_MAX];
static uint64_t snap_keys[NS_MAX_CONNS];
static uint8_t snap_got[NS_MAX_CONNS];
static uint16_t shard_of_slot[NS_MAX_CONNS];
static uint32_t snap_ids[NS_MAX_CONNS]; /* source: the id in each slot when the last snapshot was taken */
static uint32_t shard_conns[MIG_SHARDS], shard_bytes[MIG_SHARDS], shard_fill[MIG_SHARDS];
static struct hic_msg cmsg;

/* --- little helpers -------------------------------------------------------------------------- */

/** The shard of a connection: CRC-32 of its steering key (8 bytes, little-endian), mod MIG_SHARDS. */
static uint32_t shard_of(uint64_t key) {
  uint8_t k[8];
  le64(k, key);
  return ns_crc32(0, k, 8) % MIG_SHARDS;
}

static uint64_t key_of(const struct ns_conn *c) { return eth_key(c->remote_ip, c->remote_port, c->local_port); }

/** The schemas this build reads: its own and every older one. */
static uint16_t import_mask(void) { return (uint16_t)(((1u << (NS_SCHEMA + 1)) - 1) & ~1u); }

/** The schema to write for the peer: ours if it reads it, else the newest older one it reads (0: none). */
static uint16_t export_schema(void) {
  for (uint16_t s = NS_SCHEMA; s >= 1; s--)
    if (mig.peer_imports & (1u << s)) return s;
  return 0;
}

/** A memory capability that arrived, mapped: its address, or 0 (and *err) if it is not one. */
static uint8_t *map_arrived(int64_t cap, uint64_t *size, uint64_t *err) {
  int64_t info = cap < 0 ? -1 : hic_cap_info((uint64_t)cap);
  if (info < 0 || info >> 8 != HIC_CAP_MEMORY || !(info & HIC_RIGHT_R)) return *err = MIG_ERR_BAD_CAP, (uint8_t *)0;
  int64_t n = hic_memory_size((uint64_t)cap), at = n < 0 ? n : hic_memory_map((uint64_t)cap);
  if (at < 0) return *err = MIG_ERR_BAD_CAP, (uint8_t *)0;
  *size = (uint64_t)n;
  return (uint8_t *)(uintptr_t)at;
}

/** A fresh memory object of `bytes`, mapped writable: its slot (*at the address), or -1. */
static int64_t new_object(uint64_t bytes, uint8_t **at) {
  int64_t mem = hic_memory_create(bytes);
  int64_t where = mem < 0 ? mem : hic_memory_map((uint64_t)mem);
  if (where < 0) {
    if (mem >= 0) hic_cap_delete((uint64_t)mem);
    return -1;
  }
  *at = (uint8_t *)(uintptr_t)where;
  return mem;
}

/* --- identity and negotiation ------------------------------------------------------------------ */

static void hello_fill(struct mig_hello *h) {
  memset(h, 0, sizeof *h);
  memcpy(h->module_uuid, module_uuid, 16);
  memcpy(h->instance_uuid, mig.instance_uuid, 16);
  memcpy(h->module, HIC_MODULE_NAME, sizeof HIC_MODULE_NAME < sizeof h->module ? sizeof HIC_MODULE_NAME : sizeof h->module);
  h->version = HIC_MODULE_VERSION_NUM;
  for (uint32_t i = 0; i < sizeof module_protocols / sizeof module_protocols[0] && i < MIG_MAX_PROTOCOLS; i++) h->protocols[i] = module_protocols[i];
  h->schema = NS_SCHEMA;
  h->imports = import_mask();
  h->rule_hash = stack->fw_hash; /* the firewall rules in force (core/firewall.c); 0: none */
  h->connections = stack->conn_count;
  h->instance = mig.instance;
}

/** The highest version both lists hold, or 0. */
static uint16_t negotiate(const uint16_t *theirs) {
  uint16_t best = 0;
  for (uint32_t i = 0; i < sizeof module_protocols / sizeof module_protocols[0]; i++)
    for (int j = 0; j < MIG_MAX_PROTOCOLS; j++)
      if (module_protocols[i] && theirs[j] == module_protocols[i] && module_protocols[i] > best) best = module_protocols[i];
  return best;
}

static uint64_t on_hello(int64_t wake) {
  if (mig.phase != MIG_PHASE_SERVING && mig.phase != MIG_PHASE_HELLO) return MIG_ERR_STATE;
  int64_t copy = hic_cap_copy((uint64_t)wake, HIC_RIGHT_W | HIC_RIGHT_G); /* G: so it can travel in the reply */
  if (copy < 0) return MIG_ERR_NO_MEMORY;
  mig.phase = MIG_PHASE_HELLO;
  hello_fill((struct mig_hello *)cmsg.payload);
  cmsg.len = sizeof(struct mig_hello);
  cmsg.cap = copy;
  cmsg.cap_move = 1;
  return MIG_OK;
}

static uint64_t on_peer(uint64_t len) {
  struct mig_hello peer;
  uint64_t role = cmsg.words[0];
  if (mig.phase != MIG_PHASE_HELLO) return MIG_ERR_STATE;
  if (len != sizeof peer || (role != MIG_ROLE_SOURCE && role != MIG_ROLE_TARGET)) return MIG_ERR_FORMAT;
  memcpy(&peer, cmsg.payload, sizeof peer);
  struct mig_hello me;
  hello_fill(&me);
  bool in_order = role == MIG_ROLE_SOURCE ? peer.version > HIC_MODULE_VERSION_NUM : peer.version < HIC_MODULE_VERSION_NUM;
  if (memcmp(peer.module_uuid, module_uuid, 16) != 0 || memcmp(peer.module, me.module, sizeof me.module) != 0 ||
      memcmp(peer.instance_uuid, mig.instance_uuid, 16) == 0 || !in_order)
    return MIG_ERR_PEER;
  uint16_t agreed = negotiate(peer.protocols);
  if (!agreed) return MIG_ERR_NO_COMMON_VERSION;
  /* The target must read the source's schema, and write one the source reads (to give
   * connections back on an abort). */
  bool readable = role == MIG_ROLE_SOURCE ? (peer.imports & (1u << NS_SCHEMA)) != 0
                                          : peer.schema < 16 && (import_mask() & (1u << peer.schema)) && (peer.imports & import_mask());
  if (!readable) return MIG_ERR_SCHEMA;
  if (peer.rule_hash != stack->fw_hash) return MIG_ERR_CONFIG;
  mig.role = (uint32_t)role;
  mig.agreed = agreed;
  mig.peer_schema = peer.schema;
  mig.peer_imports = peer.imports;
  mig.phase = MIG_PHASE_AGREED;
  cmsg.words[0] = agreed;
  return MIG_OK;
}

static uint64_t on_prepare(void) {
  if (mig.phase != MIG_PHASE_AGREED || mig.role != MIG_ROLE_SOURCE) return MIG_ERR_STATE;
  mig.phase = MIG_PHASE_SOURCE;
  cmsg.words[0] = NS_SCHEMA;
  cmsg.words[1] = stack->conn_count;
  return MIG_OK;
}

/* --- the snapshot -------------------------------------------------------------------------------
 * Config block (little-endian): ip, netmask, gateway, dns (4 each), mtu, window (2 each), the
 * listening ports (NS_MAX_LISTEN x 2 = 16), time_wait_ns (8), rule hash (4), ARP entry count
 * and route count (2 each) -- CONFIG_FIXED bytes -- then each ARP entry (ip 4, mac 6) and each
 * route (dest, mask, gateway: 4 each). */

static uint32_t config_size(void) {
  uint32_t n = CONFIG_FIXED;
  for (int i = 0; i < NS_MAX_ARP; i++) n += stack->arp[i].used ? 10 : 0;
  for (int i = 0; i < NS_MAX_ROUTES; i++) n += stack->routes[i].used ? 12 : 0;
  return n;
}

static void config_write(uint8_t *p) {
  const struct ns_config *c = &stack->cfg;
  memset(p, 0, CONFIG_FIXED);
  le32(p, c->ip), le32(p + 4, c->netmask), le32(p + 8, c->gateway), le32(p + 12, c->dns);
  le16(p + 16, c->mtu), le16(p + 18, c->tcp_window);
  for (int i = 0; i < NS_MAX_LISTEN; i++) le16(p + 20 + 2 * i, c->tcp_ports[i]);
  le64(p + 36, c->time_wait_ns);
  le32(p + 44, stack->fw_hash);
  uint16_t arps = 0, routes = 0;
  uint8_t *q = p + CONFIG_FIXED;
  for (int i = 0; i < NS_MAX_ARP; i++) {
    if (!stack->arp[i].used) continue;
    le32(q, stack->arp[i].ip), memcpy(q + 4, stack->arp[i].mac, 6), q += 10, arps++;
  }
  for (int i = 0; i < NS_MAX_ROUTES; i++) {
    if (!stack->routes[i].used) continue;
    le32(q, stack->routes[i].dest), le32(q + 4, stack->routes[i].mask), le32(q + 8, stack->routes[i].gateway), q += 12, routes++;
  }
  le16(p + 48, arps), le16(p + 50, routes);
}

static uint64_t on_export_state(void) {
  if (mig.phase != MIG_PHASE_SOURCE) return MIG_ERR_STATE;
  memset(shard_conns, 0, sizeof shard_conns);
  memset(shard_bytes, 0, sizeof shard_bytes);
  memset(snap_ids, 0, sizeof snap_ids);
  mig.st.closed_from_snapshot = 0;
  uint32_t conns = 0;
  for (uint32_t i = 0; i < NS_MAX_CONNS; i++) {
    const struct ns_conn *c = &stack->conns[i];
    if (c->state == NS_TCP_FREE) continue;
    uint32_t k = shard_of(key_of(c));
    shard_of_slot[i] = (uint16_t)k;
    snap_ids[i] = c->id;
    shard_conns[k]++;
    shard_bytes[k] += (uint32_t)ns_export_size(stack, c->id);
    conns++;
  }
  uint32_t config = config_size();
  uint64_t total = sizeof(struct mig_snapshot) + config + MIG_SHARDS * sizeof(struct mig_shard);
  for (uint32_t k = 0; k < MIG_SHARDS; k++) total += shard_bytes[k];
  uint8_t *at;
  int64_t mem = new_object(total, &at);
  if (mem < 0) return MIG_ERR_NO_MEMORY;

  struct mig_snapshot *h = (struct mig_snapshot *)at;
  *h = (struct mig_snapshot){.magic = MIG_SNAPSHOT_MAGIC, .protocol = mig.agreed, .schema = NS_SCHEMA, .taken_at = netstack_now(),
                             .shards = MIG_SHARDS, .connections = conns, .config_len = config, .total = total};
  config_write(at + sizeof *h);
  h->config_crc = ns_crc32(0, at + sizeof *h, config);
  /* Each shard's records go at its own offset: shard_fill is where the next one is written. */
  uint8_t *shards = at + sizeof *h + config;
  uint64_t off = 0;
  for (uint32_t k = 0; k < MIG_SHARDS; k++) {
    shard_fill[k] = (uint32_t)(off + sizeof(struct mig_shard));
    off += sizeof(struct mig_shard) + shard_bytes[k];
  }
  for (uint32_t i = 0; i < NS_MAX_CONNS; i++) {
    const struct ns_conn *c = &stack->conns[i];
    if (c->state == NS_TCP_FREE) continue;
    uint32_t k = shard_of_slot[i];
    shard_fill[k] += (uint32_t)ns_export_conn(stack, c->id, shards + shard_fill[k], shard_bytes[k]);
  }
  off = 0;
  for (uint32_t k = 0; k < MIG_SHARDS; k++) {
    struct mig_shard *s = (struct mig_shard *)(shards + off);
    *s = (struct mig_shard){.id = k, .connections = shard_conns[k], .bytes = shard_bytes[k]};
    s->crc = ns_crc32(0, (const uint8_t *)(s + 1), shard_bytes[k]);
    off += sizeof *s + shard_bytes[k];
  }
  hic_memory_unmap((uint64_t)mem);
  cmsg.cap = mem;
  cmsg.cap_move = 1;
  cmsg.words[0] = total;
  cmsg.words[1] = MIG_SHARDS;
  cmsg.words[2] = conns;
  return MIG_OK;
}

static void sort_keys(uint64_t *k, uint32_t n) { /* Shell sort (Ciura's gaps): n is at most NS_MAX_CONNS */
  static const uint32_t gaps[] = {701, 301, 132, 57, 23, 10, 4, 1};
  for (uint32_t g = 0; g < sizeof gaps / sizeof gaps[0]; g++) {
    for (uint32_t i = gaps[g]; i < n; i++) {
      uint64_t v = k[i];
      uint32_t j = i;
      for (; j >= gaps[g] && k[j - gaps[g]] > v; j -= gaps[g]) k[j] = k[j - gaps[g]];
      k[j] = v;
    }
  }
}

static int32_t snap_find(uint64_t key) {
  uint32_t lo = 0, hi = mig.snap_count;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (snap_keys[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo < mig.snap_count && snap_keys[lo] == key ? (int32_t)lo : -1;
}

/** Checks a whole snapshot; MIG_OK and its connections' keys in snap_keys, or the refusal. */
static uint64_t snapshot_check(const uint8_t *at, uint64_t size, uint32_t *count) {
  const struct mig_snapshot *h = (const struct mig_snapshot *)at;
  if (size < sizeof *h || h->magic != MIG_SNAPSHOT_MAGIC || h->total > size || h->total < sizeof *h) return MIG_ERR_FORMAT;
  if (h->schema >= 16 || !(import_mask() & (1u << h->schema))) return MIG_ERR_SCHEMA;
  if (h->shards != MIG_SHARDS || h->connections > NS_MAX_CONNS || h->config_len < CONFIG_FIXED ||
      h->config_len > h->total - sizeof *h)
    return MIG_ERR_FORMAT;
  const uint8_t *config = at + sizeof *h;
  if (ns_crc32(0, config, h->config_len) != h->config_crc) return MIG_ERR_FORMAT;
  if (CONFIG_FIXED + 10u * rd16(config + 48) + 12u * rd16(config + 50) != h->config_len) return MIG_ERR_FORMAT;
  const uint8_t *p = config + h->config_len, *end = at + h->total;
  uint32_t n = 0;
  for (uint32_t k = 0; k < MIG_SHARDS; k++) {
    const struct mig_shard *s = (const struct mig_shard *)p;
    if ((uint64_t)(end - p) < sizeof *s || s->id != k || s->bytes > (uint64_t)(end - p) - sizeof *s) return MIG_ERR_FORMAT;
    const uint8_t *r = (const uint8_t *)(s + 1), *stop = r + s->bytes;
    if (ns_crc32(0, r, s->bytes) != s->crc) return cmsg.words[0] = k, MIG_ERR_CORRUPT_SHARD;
    for (uint32_t i = 0; i < s->connections; i++) {
      if (stop - r < 12) return MIG_ERR_FORMAT;
      uint32_t len = rd32(r + 8);
      uint64_t key;
      if (len > (uint64_t)(stop - r)) return MIG_ERR_FORMAT;
      int schema = ns_check_conn(r, len, &key);
      if (schema == -NS_ERR_VERSION) return MIG_ERR_SCHEMA;
      if (schema != h->schema || shard_of(key) != k || n >= NS_MAX_CONNS) return MIG_ERR_FORMAT;
      snap_keys[n++] = key;
      r += len;
    }
    if (r != stop) return MIG_ERR_FORMAT;
    p = stop;
  }
  if (p != end || n != h->connections) return MIG_ERR_FORMAT;
  *count = n;
  return MIG_OK;
}

static uint64_t on_import_state(int64_t cap) {
  if (mig.phase != MIG_PHASE_AGREED || mig.role != MIG_ROLE_TARGET) return MIG_ERR_STATE;
  uint64_t size, err = MIG_OK;
  const uint8_t *at = map_arrived(cap, &size, &err);
  if (!at) return err;
  uint32_t n = 0;
  err = snapshot_check(at, size, &n);
  if (err == MIG_OK) {
    /* Checked: take the predecessor's ARP table and routes (the address configuration is the
     * image's, and the firewall rules were compared in PEER). */
    const struct mig_snapshot *h = (const struct mig_snapshot *)at;
    const uint8_t *c = at + sizeof *h, *q = c + CONFIG_FIXED;
    for (uint16_t i = 0; i < rd16(c + 48); i++, q += 10) ns_arp_learn(stack, rd32(q), q + 4, netstack_now());
    for (uint16_t i = 0; i < rd16(c + 50); i++, q += 12) ns_route_add(stack, rd32(q), rd32(q + 4), rd32(q + 8));
    sort_keys(snap_keys, n);
    memset(snap_got, 0, sizeof snap_got);
    mig.snap_count = n;
    mig.st.snapshot_connections = n;
    mig.st.snapshot_received = 0;
    mig.phase = MIG_PHASE_TARGET;
    cmsg.words[0] = n;
    cmsg.words[1] = h->schema;
  }
  hic_memory_unmap((uint64_t)cap);
  return err;
}

/* --- one connection ----------------------------------------------------------------------------- */

static bool owns_connections(void) { return mig.phase == MIG_PHASE_SOURCE || mig.phase == MIG_PHASE_TARGET; }

static uint64_t on_list(void) {
  uint32_t cursor = (uint32_t)cmsg.words[0], n = 0;
  struct mig_conn_ref *out = (struct mig_conn_ref *)cmsg.payload;
  uint32_t slot = cursor;
  for (; slot < NS_MAX_CONNS && n < MIG_LIST_MAX; slot++) {
    const struct ns_conn *c = &stack->conns[slot];
    if (c->state == NS_TCP_FREE || c->frozen) continue; /* a frozen one is on its way */
    out[n++] = (struct mig_conn_ref){.id = c->id, .remote_ip = c->remote_ip, .remote_port = c->remote_port, .local_port = c->local_port};
  }
  cmsg.len = n * sizeof *out;
  cmsg.words[0] = n;
  cmsg.words[1] = slot < NS_MAX_CONNS ? slot : 0; /* the next cursor; 0: the end */
  cmsg.words[2] = stack->conn_count;
  return MIG_OK;
}

/** Takes a frozen connection up here again: the application resumes and the segments queued
 * while it was frozen are processed in arrival order. */
static void take_back(uint32_t id) {
  app_resume(id);
  ns_thaw(stack, id, netstack_now(), netstack_emit, 0);
}

/** Removes the segments held for `key`: through the core in arrival order (`deliver`), or
 * dropped -- they were never acknowledged, so the client sends them again to whoever owns the
 * connection then. */
static void release_held(uint64_t key, bool deliver) {
  uint32_t kept = 0;
  for (uint32_t j = 0; j < mig.held_count; j++) {
    if (held_key[j] == key) {
      if (deliver) ns_input(stack, held[j], held_len[j], netstack_now(), netstack_emit, 0);
      else mig.st.held_dropped++;
      continue;
    }
    if (kept != j) held_key[kept] = held_key[j], held_len[kept] = held_len[j], memcpy(held[kept], held[j], held_len[j]);
    kept++;
  }
  mig.held_count = kept;
}

static uint64_t on_expect(void) {
  uint64_t key = cmsg.words[0];
  if (!owns_connections()) return MIG_ERR_STATE;
  for (uint32_t i = 0; i < mig.expect_count; i++) {
    if (mig.expect[i] != key) continue;
    if (cmsg.words[1] != 1) return MIG_OK;
    mig.expect[i] = mig.expect[--mig.expect_count];
    release_held(key, false); /* the connection is not coming */
    return MIG_OK;
  }
  if (cmsg.words[1] == 1) return MIG_ERR_NO_CONN;
  if (mig.expect_count == EXPECT_MAX) return MIG_ERR_NO_MEMORY;
  mig.expect[mig.expect_count++] = key;
  return MIG_OK;
}

static uint64_t on_conn_out(void) {
  uint32_t id = (uint32_t)cmsg.words[0];
  if (!owns_connections()) return MIG_ERR_STATE;
  struct ns_conn *c = ns_conn_get(stack, id);
  if (!c || c->frozen) return MIG_ERR_NO_CONN;
  uint16_t schema = mig.phase == MIG_PHASE_SOURCE ? NS_SCHEMA : export_schema();
  if (!schema) return MIG_ERR_SCHEMA;
  /* Frames the driver pushed before it began steering the connection away are in our ring:
   * they are processed first, so none is left behind. Then the application hands the core
   * what it can before the freeze. */
  netstack_drain_rx();
  app_flush(id);
  c = ns_conn_get(stack, id);
  if (!c) return MIG_ERR_NO_CONN; /* it closed meanwhile and is gone */
  ns_freeze(stack, id);
  uint32_t core = (uint32_t)ns_export_size_as(stack, id, schema);
  uint32_t app_len = app_record_size(id);
  uint8_t *at;
  int64_t mem = new_object(sizeof(struct mig_package) + core + app_len, &at);
  if (mem < 0) {
    ns_thaw(stack, id, netstack_now(), netstack_emit, 0);
    return MIG_ERR_NO_MEMORY;
  }
  struct mig_package *pk = (struct mig_package *)at;
  ns_export_conn_as(stack, id, schema, at + sizeof *pk, core);
  app_record_write(id, at + sizeof *pk + core);
  *pk = (struct mig_package){.magic = MIG_PACKAGE_MAGIC, .core_len = core, .app_len = app_len,
                             .crc = ns_crc32(0, at + sizeof *pk, core + app_len)};
  hic_memory_unmap((uint64_t)mem);
  app_moving(id);
  mig.st.exported++;
  cmsg.cap = mem;
  cmsg.cap_move = 1;
  cmsg.words[0] = sizeof *pk + core + app_len;
  cmsg.words[1] = id;
  return MIG_OK;
}

static uint64_t import_error(int err) {
  switch (-err) {
  case NS_ERR_VERSION: return MIG_ERR_SCHEMA;
  case NS_ERR_EXISTS: return MIG_ERR_EXISTS;
  case NS_ERR_TABLE_FULL:
  case NS_ERR_NO_BUFS: return MIG_ERR_NO_MEMORY;
  default: return MIG_ERR_FORMAT;
  }
}

static uint64_t on_conn_in(int64_t cap) {
  if (!owns_connections()) return MIG_ERR_STATE;
  uint64_t size, err = MIG_OK;
  const uint8_t *at = map_arrived(cap, &size, &err);
  if (!at) return err;
  const struct mig_package *pk = (const struct mig_package *)at;
  const uint8_t *core = at + sizeof *pk;
  uint64_t key = 0;
  int id = -NS_ERR_FORMAT;
  if (size < sizeof *pk || pk->magic != MIG_PACKAGE_MAGIC || pk->core_len > size - sizeof *pk ||
      pk->app_len > size - sizeof *pk - pk->core_len || ns_crc32(0, core, pk->core_len + pk->app_len) != pk->crc ||
      !app_record_ok(core + pk->core_len, pk->app_len)) {
    err = MIG_ERR_FORMAT;
  } else if ((id = ns_check_conn(core, pk->core_len, &key)) < 0) {
    err = import_error(id);
  } else if (!app_record_fits(core + pk->core_len)) {
    err = MIG_ERR_NO_MEMORY; /* its pending output needs a buffer */
  } else if ((id = ns_import_conn(stack, core, pk->core_len)) < 0) {
    err = import_error(id);
  } else {
    app_record_load((uint32_t)id, core + pk->core_len); /* a free buffer was checked above */
    /* The segments the source queued while the connection was frozen, then those held here
     * since the driver steered it to us: arrival order. */
    ns_thaw(stack, (uint32_t)id, netstack_now(), netstack_emit, 0);
    release_held(key, true);
    for (uint32_t i = 0; i < mig.expect_count; i++)
      if (mig.expect[i] == key) mig.expect[i] = mig.expect[--mig.expect_count];
    int32_t s = mig.phase == MIG_PHASE_TARGET ? snap_find(key) : -1;
    if (s >= 0 && !snap_got[s]) snap_got[s] = 1, mig.st.snapshot_received++;
    mig.st.imported++;
    cmsg.words[0] = (uint64_t)id;
  }
  hic_memory_unmap((uint64_t)cap);
  return err;
}

/** DONE: forget it (the importer has it); BACK: take it up again (the import failed). */
static uint64_t on_conn_settle(bool done) {
  uint32_t id = (uint32_t)cmsg.words[0];
  struct ns_conn *c = ns_conn_get(stack, id);
  if (!owns_connections()) return MIG_ERR_STATE;
  if (!c || !c->frozen) return MIG_ERR_NO_CONN;
  if (done) {
    ns_release(stack, id); /* on_closed clears the application's side */
    mig.st.released++;
  } else {
    take_back(id);
    mig.st.thawed_back++;
  }
  return MIG_OK;
}

static uint64_t on_complete(void) {
  if (mig.phase == MIG_PHASE_TARGET) { /* the update is over: this is the instance now */
    mig.phase = MIG_PHASE_SERVING;
    mig.role = 0;
    return MIG_OK;
  }
  if (mig.phase != MIG_PHASE_SOURCE) return MIG_ERR_STATE;
  uint32_t dropped = 0;
  for (uint32_t i = 0; i < NS_MAX_CONNS; i++) {
    struct ns_conn *c = &stack->conns[i];
    if (c->state == NS_TCP_FREE) continue;
    ns_release(stack, c->id);
    dropped++;
  }
  mig.phase = MIG_PHASE_RETIRED;
  cmsg.words[0] = dropped;
  cmsg.words[1] = mig.st.closed_from_snapshot;
  hic_log("netstack %s: retired; %u connections dropped, %u closed before their turn (%u of them in the snapshot)", HIC_MODULE_VERSION,
          dropped, mig.st.closed_waiting, mig.st.closed_from_snapshot);
  return MIG_OK;
}

static uint64_t on_abort(void) {
  if (mig.phase == MIG_PHASE_RETIRED) return MIG_ERR_STATE;
  if (mig.phase == MIG_PHASE_TARGET && stack->conn_count > 0) return MIG_ERR_STATE;
  for (uint32_t i = 0; i < NS_MAX_CONNS; i++) { /* anything frozen half-way is taken up again */
    struct ns_conn *c = &stack->conns[i];
    if (c->state == NS_TCP_FREE || !c->frozen) continue;
    take_back(c->id);
    mig.st.thawed_back++;
  }
  mig.st.held_dropped += mig.held_count;
  mig.held_count = mig.expect_count = 0;
  mig.snap_count = 0;
  mig.phase = MIG_PHASE_SERVING;
  mig.role = 0;
  mig.agreed = 0;
  return MIG_OK;
}

static uint64_t on_status(void) {
  netstack_drain_rx(); /* counts include every frame the driver steered here before this call */
  struct mig_status *s = (struct mig_status *)cmsg.payload;
  *s = mig.st;
  s->phase = mig.phase;
  s->role = mig.role;
  s->agreed = mig.agreed;
  s->peer_schema = mig.peer_schema;
  s->connections = stack->conn_count;
  s->accepted = stack->stats.tcp_accepted;
  s->opened = stack->stats.tcp_opened;
  cmsg.len = sizeof *s;
  return MIG_OK;
}

/* --- the loop's hooks --------------------------------------------------------------------------- */

/** Before the core sees a received frame: true if it was taken (held for an expected
 * connection, or dropped because this instance retired). */
bool mig_intercept(const uint8_t *f, uint32_t len) {
  if (mig.phase == MIG_PHASE_RETIRED) return true;
  if (mig.expect_count == 0) return false;
  struct eth_tcp t;
  if (!eth_parse_tcp(f, len, true, &t)) return false;
  for (uint32_t i = 0; i < mig.expect_count; i++) {
    if (mig.expect[i] != t.key) continue;
    if (mig.held_count == HOLD_MAX) { /* never acknowledged: the client sends it again */
      mig.st.held_dropped++;
      return true;
    }
    held_key[mig.held_count] = t.key;
    held_len[mig.held_count] = (uint16_t)len;
    memcpy(held[mig.held_count++], f, len);
    mig.st.held++;
    return true;
  }
  return false;
}

/** A connection closed by itself (not released): a source counts those that never got their
 * turn, and which of them the snapshot holds (the consistency check at the end). */
void mig_closed(uint32_t id, enum ns_close_reason why) {
  if (mig.phase != MIG_PHASE_SOURCE || why == NS_CLOSE_RELEASED) return;
  mig.st.closed_waiting++;
  if (snap_ids[id % NS_MAX_CONNS] == id) mig.st.closed_from_snapshot++;
}

/** The instance UUID: the module's, with its last 8 bytes keyed by version, instance and start time. */
void mig_init(struct ns_stack *s, int64_t channel, uint32_t instance, uint64_t started) {
  stack = s;
  mig.channel = channel;
  mig.instance = instance;
  memcpy(mig.instance_uuid, module_uuid, 16);
  uint64_t h = 14695981039346656037ull; /* FNV-1a */
  uint64_t parts[3] = {HIC_MODULE_VERSION_NUM, instance, started};
  for (int i = 0; i < 3; i++)
    for (int b = 0; b < 8; b++) h = (h ^ (uint8_t)(parts[i] >> (8 * b))) * 1099511628211ull;
  le64(mig.instance_uuid + 8, h);
  mig.instance_uuid[8] = (uint8_t)((mig.instance_uuid[8] & 0x3f) | 0x80); /* RFC 9562 variant */
}

/** Answers every call waiting on the control channel. */
void mig_serve(int64_t wake) {
  if (mig.channel < 0) return;
  for (;;) {
    int64_t got = hic_recv((uint64_t)mig.channel, &cmsg, HIC_NONBLOCK, 0);
    if (got == -HIC_ERR_WOULD_BLOCK) return;
    if (got < 0) return (void)hic_log("netstack: control channel: %ld", got);
    netstack_tick();
    int64_t came = cmsg.cap;
    uint64_t label = cmsg.label, status;
    cmsg.cap = HIC_NO_CAP;
    cmsg.cap_move = 0;
    uint64_t in_len = cmsg.len;
    cmsg.len = 0;
    switch (label) {
    case MIG_HELLO: status = on_hello(wake); break;
    case MIG_PEER: status = on_peer(in_len); break;
    case MIG_PREPARE: status = on_prepare(); break;
    case MIG_EXPORT_STATE: status = on_export_state(); break;
    case MIG_IMPORT_STATE: status = on_import_state(came); break;
    case MIG_LIST: status = on_list(); break;
    case MIG_EXPECT: status = on_expect(); break;
    case MIG_CONN_OUT: status = on_conn_out(); break;
    case MIG_CONN_IN: status = on_conn_in(came); break;
    case MIG_CONN_DONE: status = on_conn_settle(true); break;
    case MIG_CONN_BACK: status = on_conn_settle(false); break;
    case MIG_COMPLETE: status = on_complete(); break;
    case MIG_ABORT: status = on_abort(); break;
    case MIG_STATUS: status = on_status(); break;
    default: status = MIG_ERR_LABEL;
    }
    if (came >= 0) hic_cap_delete((uint64_t)came); /* consumed, or refused: we keep none */
    if (status != MIG_OK && cmsg.cap >= 0) hic_cap_delete((uint64_t)cmsg.cap), cmsg.cap = HIC_NO_CAP;
    if (status != MIG_OK && status != MIG_ERR_CORRUPT_SHARD) cmsg.words[0] = 0;
    cmsg.label = status;
    int64_t sent = hic_reply(&cmsg);
    if (sent < 0 && cmsg.cap >= 0) {
      /* The capability could not go (the caller's quota cannot take the memory object, or its
       * capability space is full): what it carried is dropped, and the caller, still waiting,
       * is told so instead. A connection packaged for it is taken up here again. */
      hic_cap_delete((uint64_t)cmsg.cap);
      if (label == MIG_CONN_OUT) {
        take_back((uint32_t)cmsg.words[1]);
        mig.st.exported--;
      }
      memset(cmsg.words, 0, sizeof cmsg.words);
      cmsg.words[0] = (uint64_t)-sent;
      cmsg.label = MIG_ERR_NO_MEMORY;
      cmsg.cap = HIC_NO_CAP;
      cmsg.cap_move = 0;
      hic_reply(&cmsg);
    }
  }
}
