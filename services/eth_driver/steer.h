/* The steering table of eth_driver: which network stack instance gets each received frame.
 *
 * An open-addressing hash table (linear probing, backward-shift deletion, so no tombstones ever
 * lengthen a probe) of STEER_ENTRIES keys eth_key(remote ip, remote port, local port) -> instance.
 * Key 0 marks an empty entry; it would be 0.0.0.0 port 0 to port 0, which no connection uses.
 * Inserts stop at 3/4 load so that a miss -- every unknown connection's segment -- stays a short
 * probe.
 *
 * The decision for one frame (steer_decide):
 *   a TCP segment of a connection in the table  -> its instance
 *   a SYN without ACK (a new connection)        -> the default instance, entered in the table
 *                                                  with the SYN's sequence number (the ISN)
 *   anything else (ARP, ICMP, UDP, unknown TCP) -> the default instance
 * A SYN of a connection already in the table is a retransmission when it carries the ISN the
 * entry recorded: it keeps its instance. With another ISN it opens a new connection on the same
 * addresses and ports (a client reusing a port after a close): the entry moves to the default
 * instance, which is where new connections belong. An entry made by an explicit STEER knows no
 * ISN (0) and keeps its instance for every SYN. Entries leave only by an explicit STEER to
 * ETH_NO_INSTANCE, or all of an instance's at once by ETH_FORGET.
 *
 * Freestanding and self-contained (storage comes from the caller), so the benchmark of
 * bench/benchmarks/steering.ts compiles this same file natively as its baseline. */
#ifndef ETH_STEER_H
#define ETH_STEER_H

#include <stdbool.h>
#include <stdint.h>

#include "hic/eth.h"

#define STEER_BITS 14
#define STEER_ENTRIES (1u << STEER_BITS) /* 16384: 12288 connections at most (3/4 load) */
#define STEER_MASK (STEER_ENTRIES - 1)
#define STEER_MAX_LOAD (STEER_ENTRIES / 4 * 3)
/** Bytes of storage steer_init needs: the keys, one instance byte and one ISN per entry. */
#define STEER_STORAGE (STEER_ENTRIES * 13u)

struct steer {
  uint64_t *keys;
  uint8_t *instance;
  uint32_t *isn; /* the opening SYN's sequence number; 0: not known */
  uint32_t size;
  uint8_t default_instance;
  uint64_t misses;
  uint64_t table_full;
  uint64_t reopened; /* SYNs with a new ISN on a known connection's addresses: to the default */
};

/** `storage`: STEER_STORAGE zeroed bytes, 8-byte aligned. */
static inline void steer_init(struct steer *s, void *storage) {
  s->keys = (uint64_t *)storage;
  s->instance = (uint8_t *)storage + STEER_ENTRIES * sizeof(uint64_t);
  s->isn = (uint32_t *)(s->instance + STEER_ENTRIES);
  s->size = 0;
  s->default_instance = ETH_NO_INSTANCE;
  s->misses = s->table_full = s->reopened = 0;
}

static inline uint32_t steer_home(uint64_t key) {
  return (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> (64 - STEER_BITS)); /* Fibonacci hashing */
}

/** The entry holding key, or the empty entry where it would go. */
static inline uint32_t steer_probe(const struct steer *s, uint64_t key) {
  uint32_t i = steer_home(key);
  while (s->keys[i] != 0 && s->keys[i] != key) i = (i + 1) & STEER_MASK;
  return i;
}

/** The instance of a connection, or -1. */
static inline int steer_get(const struct steer *s, uint64_t key) {
  uint32_t i = steer_probe(s, key);
  return s->keys[i] == key && key != 0 ? s->instance[i] : -1;
}

/** Sets a connection's instance; returns the previous one, -1 if new, -2 if the table is full. */
static inline int steer_put(struct steer *s, uint64_t key, uint8_t instance) {
  if (key == 0) return -2;
  uint32_t i = steer_probe(s, key);
  if (s->keys[i] == key) {
    int was = s->instance[i];
    s->instance[i] = instance;
    return was;
  }
  if (s->size >= STEER_MAX_LOAD) return -2;
  s->keys[i] = key;
  s->instance[i] = instance;
  s->isn[i] = 0;
  s->size++;
  return -1;
}

/** Removes a connection; returns its instance, or -1 if it was not there. */
static inline int steer_remove(struct steer *s, uint64_t key) {
  uint32_t i = steer_probe(s, key);
  if (key == 0 || s->keys[i] != key) return -1;
  int was = s->instance[i];
  /* Backward shift: pull later entries of the run into the hole when their home allows it, so
   * every key stays reachable from its home without crossing an empty entry. */
  for (uint32_t j = (i + 1) & STEER_MASK; s->keys[j] != 0; j = (j + 1) & STEER_MASK) {
    uint32_t home = steer_home(s->keys[j]);
    if (((j - home) & STEER_MASK) >= ((j - i) & STEER_MASK)) {
      s->keys[i] = s->keys[j];
      s->instance[i] = s->instance[j];
      s->isn[i] = s->isn[j];
      i = j;
    }
  }
  s->keys[i] = 0;
  s->size--;
  return was;
}

/** Removes every connection of `instance`; returns how many. A removal can shift a later entry
 * of the run into the hole, so the scan looks at the same index again before it moves on. */
static inline uint32_t steer_forget(struct steer *s, uint8_t instance) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < STEER_ENTRIES;) {
    if (s->keys[i] != 0 && s->instance[i] == instance) {
      steer_remove(s, s->keys[i]);
      n++;
      continue;
    }
    i++;
  }
  return n;
}

/** The instance a received frame goes to (ETH_NO_INSTANCE when there is no default yet). */
static inline uint8_t steer_decide(struct steer *s, const uint8_t *frame, uint32_t len) {
  struct eth_tcp t;
  if (!eth_parse_tcp(frame, len, true, &t)) return s->default_instance;
  bool syn = (t.flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
  uint32_t i = steer_probe(s, t.key);
  if (s->keys[i] == t.key) {
    if (!syn || s->isn[i] == 0 || s->isn[i] == t.seq || s->default_instance == ETH_NO_INSTANCE) return s->instance[i];
    s->reopened++; /* a new connection on old addresses */
    s->instance[i] = s->default_instance;
    s->isn[i] = t.seq;
    return s->default_instance;
  }
  if (!syn) {
    s->misses++;
    return s->default_instance;
  }
  if (s->default_instance != ETH_NO_INSTANCE) {
    if (steer_put(s, t.key, s->default_instance) == -2) s->table_full++;
    else s->isn[steer_probe(s, t.key)] = t.seq;
  }
  return s->default_instance;
}

/* --- the steering benchmark (eth_driver mode steering_bench; natively in bench/benchmarks/steering.ts) --- */

#define STEER_BENCH_CONNECTIONS (STEER_ENTRIES / 2) /* half the table: every other decision is a miss */

/** A TCP ACK from 10.0.0.0:0 to 192.0.2.1:80 with an IPv4 header the parser accepts (54 bytes). */
static inline void steer_bench_frame(uint8_t *f) {
  static const uint8_t header[54] = {
      0x02, 0x48, 0x49, 0x43, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0xaa, 0x08, 0x00, /* Ethernet */
      0x45, 0x00, 0x00, 0x28, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00,             /* IPv4 */
      10, 0, 0, 0, 192, 0, 2, 1,                                                           /* src, dst */
      0x00, 0x00, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, TCP_ACK, 0xff, 0xff, 0, 0, 0, 0, /* TCP */
  };
  for (uint32_t i = 0; i < sizeof header; i++) f[i] = header[i];
}

/** Connection c's remote address 10.c.c.c and port 1024 + c % 16384, written into the frame. */
static inline void steer_bench_address(uint8_t *f, uint32_t c) {
  uint32_t port = 1024 + (c & 0x3fff);
  f[27] = (uint8_t)(c >> 16);
  f[28] = (uint8_t)(c >> 8);
  f[29] = (uint8_t)c;
  f[34] = (uint8_t)(port >> 8);
  f[35] = (uint8_t)port;
}

/** Enters STEER_BENCH_CONNECTIONS connections (0..8191), alternately on instances 1 and 2. */
static inline void steer_bench_setup(struct steer *s, uint8_t *frame) {
  steer_bench_frame(frame);
  for (uint32_t c = 0; c < STEER_BENCH_CONNECTIONS; c++) {
    steer_bench_address(frame, c);
    struct eth_tcp t;
    if (eth_parse_tcp(frame, 54, true, &t)) steer_put(s, t.key, (uint8_t)(1 + (c & 1)));
  }
  s->default_instance = 3;
}

/**
 * n decisions, each on a frame of connection (i * 2654435761) % STEER_ENTRIES -- half of them
 * known, half misses that go to the default (3). Returns the sum of the instances chosen, which the
 * benchmark checks (every decision must really have been made): c < STEER_BENCH_CONNECTIONS gives
 * 1 + c % 2, others 3.
 */
static inline uint64_t steer_bench_run(struct steer *s, uint8_t *frame, uint64_t n) {
  uint64_t sum = 0;
  for (uint64_t i = 0; i < n; i++) {
    steer_bench_address(frame, (uint32_t)(i * 2654435761u) & STEER_MASK);
    sum += steer_decide(s, frame, 54);
  }
  return sum;
}

#endif /* ETH_STEER_H */
