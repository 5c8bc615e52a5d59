/* checksum.c -- the Internet checksum (RFC 1071) over IPv4 headers, ICMP messages and the
 * TCP/UDP pseudo-header plus segment. Summing big-endian 16-bit words, one's complement. */
#include "internal.h"

/* Only the last piece of a sum may have an odd length: an odd byte is the high half of a word. */
uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len) {
  while (len > 1) {
    sum += (uint32_t)(p[0] << 8 | p[1]);
    p += 2;
    len -= 2;
  }
  if (len) sum += (uint32_t)p[0] << 8;
  return sum;
}

uint16_t csum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

/* RFC 793 §3.1 / RFC 768: source, destination, zero, protocol, L4 length. */
uint32_t csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len) {
  return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
}

uint16_t ns_checksum(uint32_t src, uint32_t dst, uint8_t proto, const uint8_t *p, size_t len) {
  return csum_fold(csum_add(proto ? csum_pseudo(src, dst, proto, (uint16_t)len) : 0, p, len));
}
