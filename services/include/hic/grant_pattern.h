/* The bytes mem_giver writes into the memory object it moves and mem_taker checks: one
 * definition, so the two can never disagree. */
#ifndef HIC_GRANT_PATTERN_H
#define HIC_GRANT_PATTERN_H

#include <stdint.h>

#define GRANT_LEN (64 * 1024)

static inline uint8_t grant_pattern(uint64_t i) {
  return (uint8_t)(i * 131 + (i >> 12) + 5);
}

#endif /* HIC_GRANT_PATTERN_H */
