/* The firewall service's protocol (services/firewall) and the wire form of its rule table, which
 * the network stack fetches at start and enforces in its core (services/netstack/core/firewall.c).
 *
 * cap://firewall/v<version>/rules (the alias cap://firewall/rules reaches the first version):
 *   FW_RULES  no words, no payload, no capability. Reply: label FW_OK, words[0] = the rule count,
 *             words[1] = the table's hash, payload = the table.
 * Any other label, a payload or a capability: label HIC_ERR_INVALID_ARGUMENT, nothing else; a
 * capability that came with the call is deleted.
 *
 * The table, little-endian throughout:
 *   +0  u16  FW_TABLE_VERSION
 *   +2  u16  count, at most FW_MAX_RULES
 *   +4  count rules of FW_RULE_BYTES each:
 *         +0 u8  proto: FW_ICMP, FW_TCP or FW_UDP (the IP protocol numbers)
 *         +1 u8  action: FW_DENY or FW_ALLOW
 *         +2 u16 first, +4 u16 last: the local port range, both included (ICMP: the message type)
 *         +6 u16 reserved, 0
 * What the rules judge is new inbound traffic: a TCP SYN that would open a connection, a UDP
 * datagram, an ICMP message. Rules are tried in order and the first that matches decides; what
 * no rule matches is denied. A denied SYN is answered with RST, as a closed port's is; a denied
 * datagram or ICMP message is dropped. Both are counted.
 *
 * The hash is CRC-32 (zlib's crc32()) over the whole table, header included. Two network stack
 * instances compare it in the migration handshake: a successor must enforce the same rules
 * (seed 步骤2.2; hic/migration.h). */
#ifndef HIC_FIREWALL_H
#define HIC_FIREWALL_H

#include <stdint.h>

#define FW_OK 0
#define FW_RULES 1

#define FW_TABLE_VERSION 1
#define FW_MAX_RULES 32
#define FW_HEADER_BYTES 4
#define FW_RULE_BYTES 8
#define FW_TABLE_MAX (FW_HEADER_BYTES + FW_MAX_RULES * FW_RULE_BYTES)

#define FW_ICMP 1
#define FW_TCP 6
#define FW_UDP 17
#define FW_DENY 0
#define FW_ALLOW 1

struct fw_rule {
  uint8_t proto, action;
  uint16_t first, last;
};

/* Writes the table's wire form into out (room for FW_TABLE_MAX bytes); returns its length. */
static inline uint32_t fw_encode(const struct fw_rule *rules, uint16_t count, uint8_t *out) {
  out[0] = FW_TABLE_VERSION, out[1] = 0;
  out[2] = (uint8_t)count, out[3] = (uint8_t)(count >> 8);
  uint8_t *p = out + FW_HEADER_BYTES;
  for (uint16_t i = 0; i < count; i++, p += FW_RULE_BYTES) {
    p[0] = rules[i].proto, p[1] = rules[i].action;
    p[2] = (uint8_t)rules[i].first, p[3] = (uint8_t)(rules[i].first >> 8);
    p[4] = (uint8_t)rules[i].last, p[5] = (uint8_t)(rules[i].last >> 8);
    p[6] = p[7] = 0;
  }
  return FW_HEADER_BYTES + (uint32_t)count * FW_RULE_BYTES;
}

#endif /* HIC_FIREWALL_H */
