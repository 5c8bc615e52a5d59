/* crc32.c -- CRC-32/IEEE 802.3 (reflected polynomial 0xEDB88320), bit-for-bit zlib's crc32(),
 * so a shard's checksum can be checked with any standard tool. Snapshot shards carry one
 * (docs/migration-protocol.md) and so does every serialized connection (conn_record.c).
 *
 * Eight bytes a step ("slicing by 8"): eight 256-entry tables, 8 KiB, filled on the first call.
 * Speed matters here more than the table's size: EXPORT_STATE checksums every connection record
 * twice while the source serves no frame, and IMPORT_STATE twice again at the target, so this
 * loop is most of the longest pause a rolling update puts in the service. About 4 guest
 * instructions a byte, where one 16-entry lookup per half byte took 13. */
#include "internal.h"

static uint32_t table[8][256];
static bool ready;

static void fill(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int bit = 0; bit < 8; bit++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    table[0][i] = c;
  }
  /* table[k][i] is byte i's CRC pushed on through k more zero bytes: it lets byte j of an 8-byte
   * step be looked up in the table of the 7 - j bytes that follow it, all at once. */
  for (int k = 1; k < 8; k++)
    for (uint32_t i = 0; i < 256; i++) table[k][i] = (table[k - 1][i] >> 8) ^ table[0][table[k - 1][i] & 0xff];
  ready = true;
}

static uint32_t le32_at(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint32_t ns_crc32(uint32_t crc, const uint8_t *data, size_t len) {
  if (!ready) fill();
  /* zlib's convention: the register is kept inverted between calls, so 0 starts a new CRC. */
  crc = ~crc;
  for (; len >= 8; data += 8, len -= 8) {
    uint32_t lo = le32_at(data) ^ crc, hi = le32_at(data + 4);
    crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
          table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^ table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
  }
  for (; len > 0; data++, len--) crc = table[0][(crc ^ *data) & 0xff] ^ (crc >> 8);
  return ~crc;
}
