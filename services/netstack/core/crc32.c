/* crc32.c -- CRC-32/IEEE 802.3 (reflected polynomial 0xEDB88320), bit-for-bit zlib's crc32(),
 * so a shard's checksum can be checked with any standard tool. Snapshot shards carry one
 * (docs/migration-protocol.md) and so does every serialized connection (conn_record.c). */
#include "internal.h"

/* A 16-entry table, one lookup per half byte: 64 bytes of constants instead of zlib's 1 KiB,
 * at twice the lookups -- a fine trade for a few kilobytes per migrated connection.
 * Entry i is the CRC of the 4-bit value i: i shifted right four times through the polynomial. */
static const uint32_t NIBBLE[16] = {
    0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
    0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
};

uint32_t ns_crc32(uint32_t crc, const uint8_t *data, size_t len) {
  /* zlib's convention: the register is kept inverted between calls, so 0 starts a new CRC. */
  crc = ~crc;
  for (size_t i = 0; i < len; i++) {
    crc ^= data[i];
    crc = NIBBLE[crc & 0xf] ^ (crc >> 4);
    crc = NIBBLE[crc & 0xf] ^ (crc >> 4);
  }
  return ~crc;
}
