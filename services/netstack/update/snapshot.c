/* update/snapshot.c -- EXPORT_STATE and IMPORT_STATE: the whole instance in one memory object, so
 * the successor knows everything that is to come before the first connection moves. The source
 * writes its config, ARP table, routes and every connection record into MIG_SHARDS shards by
 * connection hash, each with its CRC-32 (layout: hic/migration.h, struct mig_snapshot). The
 * target checks all of it -- every record decoded, an older schema converted -- before it changes
 * anything, then takes the ARP table and routes and remembers which connections are to come
 * (their steering keys, sorted), so it can count them as they arrive one by one.
 *
 * Config block (little-endian): ip, netmask, gateway, dns (4 each), mtu, window (2 each), the
 * listening ports (NS_MAX_LISTEN x 2 = 16), time_wait_ns (8), rule hash (4), ARP entry count
 * and route count (2 each) -- CONFIG_FIXED bytes -- then each ARP entry (ip 4, mac 6) and each
 * route (dest, mask, gateway: 4 each). */
#include "migration.h"

#include "hic/eth.h"

_Static_assert(sizeof(struct mig_snapshot) == 40, "struct mig_snapshot layout");

#define CONFIG_FIXED 56 /* the config block before its ARP entries and routes */

static uint64_t snap_keys[NS_MAX_CONNS]; /* target: the snapshot's connections, sorted (mig.snap_count) */
static uint8_t snap_got[NS_MAX_CONNS];   /* ... and which of them have come */
static uint16_t shard_of_slot[NS_MAX_CONNS];
static uint32_t snap_ids[NS_MAX_CONNS]; /* source: the id in each slot when the last snapshot was taken */
static uint32_t shard_conns[MIG_SHARDS], shard_bytes[MIG_SHARDS], shard_fill[MIG_SHARDS];

/** The shard of a connection: CRC-32 of its steering key (8 bytes, little-endian), mod MIG_SHARDS. */
static uint32_t shard_of(uint64_t key) {
  uint8_t k[8];
  le64(k, key);
  return ns_crc32(0, k, 8) % MIG_SHARDS;
}

static uint64_t key_of(const struct ns_conn *c) { return eth_key(c->remote_ip, c->remote_port, c->local_port); }

static uint32_t config_size(void) {
  const struct ns_stack *s = mig.stack;
  uint32_t n = CONFIG_FIXED;
  for (int i = 0; i < NS_MAX_ARP; i++) n += s->arp[i].used ? 10 : 0;
  for (int i = 0; i < NS_MAX_ROUTES; i++) n += s->routes[i].used ? 12 : 0;
  return n;
}

static void config_write(uint8_t *p) {
  const struct ns_stack *s = mig.stack;
  const struct ns_config *c = &s->cfg;
  memset(p, 0, CONFIG_FIXED);
  le32(p, c->ip), le32(p + 4, c->netmask), le32(p + 8, c->gateway), le32(p + 12, c->dns);
  le16(p + 16, c->mtu), le16(p + 18, c->tcp_window);
  for (int i = 0; i < NS_MAX_LISTEN; i++) le16(p + 20 + 2 * i, c->tcp_ports[i]);
  le64(p + 36, c->time_wait_ns);
  le32(p + 44, s->fw_hash);
  uint16_t arps = 0, routes = 0;
  uint8_t *q = p + CONFIG_FIXED;
  for (int i = 0; i < NS_MAX_ARP; i++) {
    if (!s->arp[i].used) continue;
    le32(q, s->arp[i].ip), memcpy(q + 4, s->arp[i].mac, 6), q += 10, arps++;
  }
  for (int i = 0; i < NS_MAX_ROUTES; i++) {
    if (!s->routes[i].used) continue;
    le32(q, s->routes[i].dest), le32(q + 4, s->routes[i].mask), le32(q + 8, s->routes[i].gateway), q += 12, routes++;
  }
  le16(p + 48, arps), le16(p + 50, routes);
}

/* The config block's length if it is well formed (its counts in reach, its length theirs), else 0. */
static uint32_t config_checked(const uint8_t *config, uint64_t len) {
  if (len < CONFIG_FIXED || rd16(config + 48) > NS_MAX_ARP || rd16(config + 50) > NS_MAX_ROUTES) return 0;
  return CONFIG_FIXED + 10u * rd16(config + 48) + 12u * rd16(config + 50) == len ? (uint32_t)len : 0;
}

/* The ARP table and routes of a checked config block taken into this instance. */
static void config_take(const uint8_t *config) {
  const uint8_t *q = config + CONFIG_FIXED;
  for (uint16_t i = 0; i < rd16(config + 48); i++, q += 10) ns_arp_learn(mig.stack, rd32(q), q + 4, netstack_now());
  for (uint16_t i = 0; i < rd16(config + 50); i++, q += 12) ns_route_add(mig.stack, rd32(q), rd32(q + 4), rd32(q + 8));
}

/* The warm-up's configuration sync (seed 步骤2.4): the source's config block, and the target
 * taking it before any connection is to come. */
uint64_t on_config_out(struct mig_call *call) {
  struct hic_msg *m = call->msg;
  if (mig.phase != MIG_PHASE_AGREED || mig.role != MIG_ROLE_SOURCE) return MIG_ERR_STATE;
  uint32_t n = config_size();
  _Static_assert(CONFIG_FIXED + 10 * NS_MAX_ARP + 12 * NS_MAX_ROUTES <= HIC_MSG_PAYLOAD_MAX, "a whole config block fits one message");
  config_write(m->payload);
  m->len = n;
  m->words[0] = rd16(m->payload + 48);
  m->words[1] = rd16(m->payload + 50);
  return MIG_OK;
}

uint64_t on_config_in(struct mig_call *call) {
  struct hic_msg *m = call->msg;
  if (mig.phase != MIG_PHASE_AGREED || mig.role != MIG_ROLE_TARGET) return MIG_ERR_STATE;
  if (!config_checked(m->payload, call->len)) return MIG_ERR_FORMAT;
  const struct ns_config *c = &mig.stack->cfg;
  const uint8_t *p = m->payload;
  /* The address configuration is the image's, copied but not activated: it must be ours already. */
  if (rd32(p) != c->ip || rd32(p + 4) != c->netmask || rd32(p + 8) != c->gateway || rd32(p + 44) != mig.stack->fw_hash) return MIG_ERR_CONFIG;
  config_take(p);
  m->words[0] = rd16(p + 48);
  m->words[1] = rd16(p + 50);
  return MIG_OK;
}

uint64_t on_export_state(struct mig_call *call) {
  struct hic_msg *m = call->msg;
  if (mig.phase != MIG_PHASE_SOURCE) return MIG_ERR_STATE;
  uint16_t schema = export_schema(); /* ours, or in a downgrade the newest the target reads */
  if (!schema) return MIG_ERR_SCHEMA;
  memset(shard_conns, 0, sizeof shard_conns);
  memset(shard_bytes, 0, sizeof shard_bytes);
  mig.st.closed_from_snapshot = 0;
  uint32_t conns = 0;
  for (uint32_t i = 0; i < NS_MAX_CONNS; i++) {
    const struct ns_conn *c = &mig.stack->conns[i];
    snap_ids[i] = 0; /* cleared slot by slot, not by a 64 KiB memset first: the source serves no frame meanwhile */
    if (c->state == NS_TCP_FREE) continue;
    uint32_t k = shard_of(key_of(c));
    shard_of_slot[i] = (uint16_t)k;
    snap_ids[i] = c->id;
    shard_conns[k]++;
    shard_bytes[k] += (uint32_t)ns_export_size_as(mig.stack, c->id, schema);
    conns++;
  }
  uint32_t config = config_size();
  uint64_t total = sizeof(struct mig_snapshot) + config + MIG_SHARDS * sizeof(struct mig_shard);
  for (uint32_t k = 0; k < MIG_SHARDS; k++) total += shard_bytes[k];
  uint8_t *at;
  int64_t mem = new_object(total, &at);
  if (mem < 0) return MIG_ERR_NO_MEMORY;

  struct mig_snapshot *h = (struct mig_snapshot *)at;
  *h = (struct mig_snapshot){.magic = mig.downgrade ? MIG_SNAPSHOT_DOWNGRADE_MAGIC : MIG_SNAPSHOT_MAGIC, .protocol = mig.agreed, .schema = schema, .taken_at = netstack_now(),
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
    const struct ns_conn *c = &mig.stack->conns[i];
    if (c->state == NS_TCP_FREE) continue;
    uint32_t k = shard_of_slot[i];
    shard_fill[k] += (uint32_t)ns_export_conn_as(mig.stack, c->id, schema, shards + shard_fill[k], shard_bytes[k]);
  }
  off = 0;
  for (uint32_t k = 0; k < MIG_SHARDS; k++) {
    struct mig_shard *s = (struct mig_shard *)(shards + off);
    *s = (struct mig_shard){.id = k, .connections = shard_conns[k], .bytes = shard_bytes[k]};
    s->crc = ns_crc32(0, (const uint8_t *)(s + 1), shard_bytes[k]);
    off += sizeof *s + shard_bytes[k];
  }
  hic_memory_unmap((uint64_t)mem);
  m->cap = mem;
  m->cap_move = 1;
  m->words[0] = total;
  m->words[1] = MIG_SHARDS;
  m->words[2] = conns;
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

/** Checks a whole snapshot; MIG_OK and its connections' keys in snap_keys, or the refusal (a
 * corrupt shard named in *bad_shard). */
static uint64_t snapshot_check(const uint8_t *at, uint64_t size, uint32_t *count, uint32_t *bad_shard) {
  const struct mig_snapshot *h = (const struct mig_snapshot *)at;
  uint32_t magic = mig.downgrade ? MIG_SNAPSHOT_DOWNGRADE_MAGIC : MIG_SNAPSHOT_MAGIC; /* a rollback's snapshot only where PEER said so */
  if (size < sizeof *h || h->magic != magic || h->total > size || h->total < sizeof *h) return MIG_ERR_FORMAT;
  if (h->schema >= 16 || !(import_mask() & (1u << h->schema))) return MIG_ERR_SCHEMA;
  if (h->shards != MIG_SHARDS || h->connections > NS_MAX_CONNS || h->config_len < CONFIG_FIXED ||
      h->config_len > h->total - sizeof *h)
    return MIG_ERR_FORMAT;
  const uint8_t *config = at + sizeof *h;
  if (ns_crc32(0, config, h->config_len) != h->config_crc) return MIG_ERR_FORMAT;
  if (!config_checked(config, h->config_len)) return MIG_ERR_FORMAT;
  const uint8_t *p = config + h->config_len, *end = at + h->total;
  uint32_t n = 0;
  for (uint32_t k = 0; k < MIG_SHARDS; k++) {
    const struct mig_shard *s = (const struct mig_shard *)p;
    if ((uint64_t)(end - p) < sizeof *s || s->id != k || s->bytes > (uint64_t)(end - p) - sizeof *s) return MIG_ERR_FORMAT;
    const uint8_t *r = (const uint8_t *)(s + 1), *stop = r + s->bytes;
    if (ns_crc32(0, r, s->bytes) != s->crc) return *bad_shard = k, MIG_ERR_CORRUPT_SHARD;
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

uint64_t on_import_state(struct mig_call *call) {
  struct hic_msg *m = call->msg;
  if (mig.phase != MIG_PHASE_AGREED || mig.role != MIG_ROLE_TARGET) return MIG_ERR_STATE;
  uint64_t size, err = MIG_OK;
  const uint8_t *at = map_arrived(call->cap, &size, &err);
  if (!at) return err;
  uint32_t n = 0, bad_shard = 0;
  err = snapshot_check(at, size, &n, &bad_shard);
  if (err == MIG_ERR_CORRUPT_SHARD) m->words[0] = bad_shard;
  if (err == MIG_OK) {
    /* Checked: take the predecessor's ARP table and routes (the address configuration is the
     * image's, and the firewall rules were compared in PEER). */
    const struct mig_snapshot *h = (const struct mig_snapshot *)at;
    config_take(at + sizeof *h);
    sort_keys(snap_keys, n);
    memset(snap_got, 0, sizeof snap_got);
    mig.snap_count = n;
    mig.st.snapshot_connections = n;
    mig.st.snapshot_received = 0;
    mig.phase = MIG_PHASE_TARGET;
    m->words[0] = n;
    m->words[1] = h->schema;
  }
  hic_memory_unmap((uint64_t)call->cap);
  return err;
}

void snapshot_arrived(uint64_t key) {
  int32_t s = snap_find(key);
  if (s >= 0 && !snap_got[s]) snap_got[s] = 1, mig.st.snapshot_received++;
}

bool snapshot_listed(uint32_t id) { return snap_ids[id % NS_MAX_CONNS] == id; }
