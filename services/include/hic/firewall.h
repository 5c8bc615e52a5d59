/* The firewall service's protocol (services/firewall) and the wire form of its rule table, which
 * the network stack fetches at start and enforces in its core (services/netstack/core/firewall.c).
 *
 * cap://firewall/v<version>/rules (the alias cap://firewall/rules reaches the first version):
 *   FW_RULES  no words, no payload, no capability. Reply: label FW_OK, words[0] = the rule count,
 *             words[1] = the table's hash, words[2] = its configuration version, payload = the
 *             table.
 * Any other label, a payload or a capability: label HIC_ERR_INVALID_ARGUMENT, nothing else; a
 * capability that came with the call is deleted.
 *
 * Configuration versions (seed §4.4.2 配置版本管理). The table in force is one of the versions
 * the firewall keeps: version 1 is the table it was built with, and every table put since is the
 * next number. FW_VERSIONS are kept: the one in force and the newest of the others (a new version
 * takes the place of the oldest, never of the one in force, so the version a change replaced can
 * always be put back); any of them can be put in force again. Changing the
 * table is the Module Manager's (services/module_manager/configure.c), through the admin channel
 * an image grants the two of them (the firewall's config.admin_slot); the public endpoint above
 * only reads. On the admin channel:
 *   FW_PUT     payload = a table. Checked whole (the wire form below, every rule valid); it becomes
 *              the next version and the one in force.
 *   FW_REVERT  words[0] = a version still kept: it is in force again (no new version is made).
 *   Reply to both: label FW_OK, words[0] = the rule count, words[1] = the hash, words[2] = the
 *   version now in force (bits 0-31) and the one in force before (bits 32-63), words[3] = the
 *   change against that one: rules added (bits 32-63) and removed (bits 0-31), each rule
 *   compared whole, order aside.
 *   Refusals change nothing: HIC_ERR_INVALID_ARGUMENT for a malformed table or message,
 *   HIC_ERR_NOT_FOUND for a version not kept.
 * The public endpoint refuses FW_PUT and FW_REVERT like any other label. A network stack does
 * not learn of a change by itself: the Module Manager has each instance fetch the table again
 * (MIG_RULES, hic/migration.h).
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
#define FW_PUT 2
#define FW_REVERT 3

#define FW_VERSIONS 16 /* configuration versions kept */

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
