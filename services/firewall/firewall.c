/* firewall: the rule table for the network stack's inbound traffic (issue 5). It holds the
 * compiled-in rules below and answers FW_RULES on cap://firewall/v1.0.0/rules (the alias
 * cap://firewall/rules) with the table in its wire form and the table's hash (hic/firewall.h).
 * The netstack fetches the table when it starts and enforces it in its core; two netstack
 * instances compare the hash before one hands its connections to the other.
 *
 * The table is configuration, kept in versions (seed §4.4.2): version 1 is the one below, and
 * the Module Manager may put a new one, or put a kept one back, through the admin channel the
 * image grants (config.admin_slot). Each change is a `version` record. */
#include "hic/firewall.h"
#include "hic/module.h"
#include "hic/serve.h"

/* The services the netstack runs, ping, and nothing else. The explicit telnet rule changes no
 * outcome -- the catch-alls below it deny port 23 too -- but names the refusal an audit of the
 * table will look for. ICMP other than echo requests matches no rule: denied. */
static const struct fw_rule RULES[] = {
    {FW_TCP, FW_ALLOW, 80, 80},     /* HTTP (web_server) */
    {FW_TCP, FW_ALLOW, 5432, 5432}, /* the echo services */
    {FW_TCP, FW_ALLOW, 1194, 1194},
    {FW_TCP, FW_ALLOW, 8080, 8080},
    {FW_UDP, FW_ALLOW, 53, 53}, /* DNS (dns_resolver) */
    {FW_ICMP, FW_ALLOW, 8, 8},  /* echo request */
    {FW_TCP, FW_DENY, 23, 23},  /* telnet */
    {FW_TCP, FW_DENY, 0, 65535},
    {FW_UDP, FW_DENY, 0, 65535},
};
#define RULE_COUNT (sizeof RULES / sizeof RULES[0])
_Static_assert(RULE_COUNT <= FW_MAX_RULES, "the table fits its wire form");

/* The configuration versions kept: the last FW_VERSIONS put, and the one in force, numbered from 1. */
struct version {
  uint64_t number; /* 0: an empty place */
  uint32_t len, hash;
  uint16_t count;
  uint8_t table[FW_TABLE_MAX];
};
static struct version kept[FW_VERSIONS];
static struct version *current;
static uint64_t newest;
static uint64_t served;
static struct hic_msg msg;

/* CRC-32 as zlib's crc32() computes it (reflected polynomial 0xEDB88320), one bit at a time:
 * a table is hashed once, when it is put, so speed does not matter. */
static uint32_t crc32(const uint8_t *p, uint32_t len) {
  uint32_t crc = 0xffffffffu;
  for (uint32_t i = 0; i < len; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++) crc = crc >> 1 ^ (0xedb88320u & -(crc & 1));
  }
  return ~crc;
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* A table in its wire form, whole: the header's version and count, and every rule one the network
 * stack's core takes (services/netstack/core/firewall.c checks the same again). */
static bool valid(const uint8_t *t, uint64_t len) {
  if (len < FW_HEADER_BYTES || le16(t) != FW_TABLE_VERSION) return false;
  uint64_t count = le16(t + 2);
  if (count > FW_MAX_RULES || len != FW_HEADER_BYTES + count * FW_RULE_BYTES) return false;
  for (const uint8_t *r = t + FW_HEADER_BYTES; r < t + len; r += FW_RULE_BYTES) {
    bool proto = r[0] == FW_ICMP || r[0] == FW_TCP || r[0] == FW_UDP;
    if (!proto || r[1] > FW_ALLOW || le16(r + 2) > le16(r + 4) || le16(r + 6) != 0) return false;
  }
  return true;
}

/* Rules of `a` that `b` does not have, each compared whole (8 bytes), order aside. */
static uint32_t missing_from(const struct version *a, const struct version *b) {
  uint32_t n = 0;
  for (uint16_t i = 0; i < a->count; i++) {
    const uint8_t *r = a->table + FW_HEADER_BYTES + i * FW_RULE_BYTES;
    bool found = false;
    for (uint16_t j = 0; j < b->count && !found; j++) found = memcmp(r, b->table + FW_HEADER_BYTES + j * FW_RULE_BYTES, FW_RULE_BYTES) == 0;
    n += !found;
  }
  return n;
}

static void reply_with(struct hic_msg *m, const struct version *v) {
  m->words[0] = v->count;
  m->words[1] = v->hash;
  m->words[2] = v->number;
  m->words[3] = 0;
}

/* `v` is in force from now: recorded, with what changed against the version before. */
static void in_force(struct version *v, struct hic_msg *m, bool revert) {
  struct version *before = current;
  current = v;
  uint32_t added = before ? missing_from(v, before) : v->count, removed = before ? missing_from(before, v) : 0;
  reply_with(m, v);
  m->words[2] |= (before ? before->number : 0) << 32;
  m->words[3] = (uint64_t)added << 32 | removed;
  m->len = 0;
  firewall_emit_version(&(struct firewall_record_version){.version = v->number, .previous = before ? before->number : 0, .rules = v->count, .hash = v->hash,
                                                          .added = added, .removed = removed, .revert = revert});
  hic_log("firewall: configuration version %lu in force (%s version %lu): %u rules, hash 0x%08x; %u added, %u removed", v->number,
          revert ? "back from" : "after", before ? before->number : 0, v->count, v->hash, added, removed);
}

/* A new version takes the place of the oldest kept, never of the one in force (after reverts that
 * may be the oldest of all). */
static struct version *put(const uint8_t *t, uint32_t len) {
  struct version *v = 0;
  for (uint32_t i = 0; i < FW_VERSIONS; i++)
    if (&kept[i] != current && (!v || kept[i].number < v->number)) v = &kept[i];
  if (!v) return 0; /* only when FW_VERSIONS is 1 */
  memcpy(v->table, t, len);
  v->number = ++newest, v->len = len, v->count = le16(t + 2), v->hash = crc32(t, len);
  return v;
}

static uint64_t answer(struct hic_msg *m) {
  if (m->label != FW_RULES || m->len != 0) return HIC_ERR_INVALID_ARGUMENT;
  served++;
  memcpy(m->payload, current->table, current->len);
  m->len = current->len;
  reply_with(m, current);
  return FW_OK;
}

/* The admin channel: only its holders (the Module Manager) change the table. */
static uint64_t admin(struct hic_msg *m) {
  if (m->label == FW_PUT) {
    if (!valid(m->payload, m->len)) return HIC_ERR_INVALID_ARGUMENT;
    struct version *v = put(m->payload, (uint32_t)m->len);
    if (!v) return HIC_ERR_NO_MEMORY;
    in_force(v, m, false);
    return FW_OK;
  }
  if (m->label == FW_REVERT && m->len == 0) {
    for (uint32_t i = 0; i < FW_VERSIONS; i++)
      if (kept[i].number && kept[i].number == m->words[0]) return in_force(&kept[i], m, true), FW_OK;
    return HIC_ERR_NOT_FOUND;
  }
  return HIC_ERR_INVALID_ARGUMENT;
}

static void report(void) {
  firewall_emit_report(&(struct firewall_record_report){.rules = current->count, .hash = current->hash, .served = served, .refused = hic_serve_refused,
                                                        .version = current->number});
  hic_log("firewall %s: configuration version %lu, %u rules, hash 0x%08x; served %lu, refused %lu", HIC_MODULE_VERSION, current->number,
          (unsigned)current->count, current->hash, served, hic_serve_refused);
}

int hic_main(void) {
  const struct firewall_config *config = hic_config();
  static uint8_t built[FW_TABLE_MAX];
  in_force(put(built, fw_encode(RULES, RULE_COUNT, built)), &msg, false); /* version 1 */
  int64_t admin_ep = config->admin_slot ? (int64_t)config->admin_slot : -1;
  /* A new netstack fetches the table at start: an update's notice needs no more of us. */
  return hic_serve_private("firewall", "rules", &msg, answer, report, NOTICE_READY_REFRESH, admin_ep, admin);
}
