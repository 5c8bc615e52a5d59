/* The SSE benchmark's guest (bench/benchmarks/sse.ts): ordinary service code -- records copied
 * and cleared, a table summed, a checksum folded -- built twice, with and without SSE. With SSE,
 * gcc copies and clears with 16-byte moves and vectorises the sum; without, it uses 8-byte
 * general registers. The result is the exit status, so both builds are checked to agree. */
#include <stdint.h>
#include <string.h>

struct record {
  uint64_t id, seq, ack, window;
  uint8_t peer[16];
  uint32_t counters[8];
};

static struct record table[256];
static uint32_t values[4096];

int hic_main(void) {
  uint32_t check = 0;
  for (int round = 0; round < 200; round++) {
    for (int i = 0; i < 256; i++) {
      struct record r = table[(i * 7 + round) & 255];
      r.seq += (uint64_t)i;
      r.counters[i & 7]++;
      table[i] = r;
    }
    memset(&table[round & 255], 0, sizeof table[0]);
    for (int i = 0; i < 4096; i++) values[i] = values[i] * 3u + (uint32_t)(i ^ round);
    uint32_t sum = 0;
    for (int i = 0; i < 4096; i++) sum += values[i];
    check = (check << 5 | check >> 27) ^ sum ^ (uint32_t)table[round & 255].seq;
  }
  return (int)(check & 0x7f);
}
