/* firewall: the rule table for the network stack's inbound traffic (issue 5). It holds the
 * compiled-in rules below and answers FW_RULES on cap://firewall/v1.0.0/rules (the alias
 * cap://firewall/rules) with the table in its wire form and the table's hash (hic/firewall.h).
 * The netstack fetches the table when it starts and enforces it in its core; two netstack
 * instances compare the hash before one hands its connections to the other. The table never
 * changes while the service runs, so every caller gets the same bytes. */
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

static uint8_t table[FW_TABLE_MAX];
static uint32_t table_len, table_hash;
static uint64_t served;
static struct hic_msg msg;

/* CRC-32 as zlib's crc32() computes it (reflected polynomial 0xEDB88320), one bit at a time:
 * the table is hashed once, so speed does not matter. */
static uint32_t crc32(const uint8_t *p, uint32_t len) {
  uint32_t crc = 0xffffffffu;
  for (uint32_t i = 0; i < len; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++) crc = crc >> 1 ^ (0xedb88320u & -(crc & 1));
  }
  return ~crc;
}

static uint64_t answer(struct hic_msg *m) {
  if (m->label != FW_RULES || m->len != 0) return HIC_ERR_INVALID_ARGUMENT;
  served++;
  memcpy(m->payload, table, table_len);
  m->len = table_len;
  m->words[0] = RULE_COUNT;
  m->words[1] = table_hash;
  m->words[2] = m->words[3] = 0;
  return FW_OK;
}

static void report(void) {
  firewall_emit_report(&(struct firewall_record_report){.rules = RULE_COUNT, .hash = table_hash, .served = served, .refused = hic_serve_refused});
  hic_log("firewall %s: %u rules, hash 0x%08x; served %lu, refused %lu", HIC_MODULE_VERSION, (unsigned)RULE_COUNT, table_hash, served,
          hic_serve_refused);
}

int hic_main(void) {
  table_len = fw_encode(RULES, RULE_COUNT, table);
  table_hash = crc32(table, table_len);
  return hic_serve("firewall", "rules", &msg, answer, report, NOTICE_READY_REFRESH); /* a new netstack fetches the table at start */
}
