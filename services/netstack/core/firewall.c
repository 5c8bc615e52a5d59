/* firewall.c -- the rule table new inbound traffic is judged by. The table arrives in the wire
 * form the firewall service sends (hic/firewall.h; the core does not include service headers, so
 * the layout is repeated here): little-endian, a u16 version and a u16 count, then per rule u8
 * proto, u8 action, u16 first, u16 last, u16 reserved. It is checked whole before any of it is
 * applied, and its hash is taken over exactly the bytes that came, so two stacks given the same
 * table agree on the hash (the migration handshake compares it). */
#include "internal.h"

#define FW_WIRE_VERSION 1
#define FW_WIRE_HEADER 4
#define FW_WIRE_RULE 8

static uint16_t fw_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static bool fw_rule_valid(const uint8_t *r) {
  bool proto = r[0] == IPPROTO_ICMP || r[0] == IPPROTO_TCP || r[0] == IPPROTO_UDP;
  bool action = r[1] == NS_FW_DENY || r[1] == NS_FW_ALLOW;
  return proto && action && fw_le16(r + 2) <= fw_le16(r + 4) && fw_le16(r + 6) == 0;
}

int ns_set_firewall(struct ns_stack *s, const uint8_t *table, size_t len) {
  if (!table) {
    s->fw_on = false;
    s->fw_count = 0;
    s->fw_hash = 0;
    return 0;
  }
  if (len < FW_WIRE_HEADER || fw_le16(table) != FW_WIRE_VERSION) return -NS_ERR_FORMAT;
  size_t count = fw_le16(table + 2);
  if (count > NS_MAX_FW_RULES) return -NS_ERR_TABLE_FULL;
  if (len != FW_WIRE_HEADER + count * FW_WIRE_RULE) return -NS_ERR_FORMAT;
  for (size_t i = 0; i < count; i++)
    if (!fw_rule_valid(table + FW_WIRE_HEADER + i * FW_WIRE_RULE)) return -NS_ERR_FORMAT;

  for (size_t i = 0; i < count; i++) {
    const uint8_t *r = table + FW_WIRE_HEADER + i * FW_WIRE_RULE;
    s->fw[i] = (struct ns_fw_rule){
        .proto = r[0], .action = r[1], .first = fw_le16(r + 2), .last = fw_le16(r + 4)};
  }
  s->fw_count = (uint16_t)count;
  s->fw_hash = ns_crc32(0, table, len);
  s->fw_on = true;
  return (int)count;
}

bool ns_fw_allows(const struct ns_stack *s, uint8_t proto, uint16_t port) {
  if (!s->fw_on) return true;
  for (uint16_t i = 0; i < s->fw_count; i++) {
    const struct ns_fw_rule *r = &s->fw[i];
    if (r->proto == proto && r->first <= port && port <= r->last) return r->action == NS_FW_ALLOW;
  }
  return false;
}
