/* A shared-memory frame channel between the Ethernet driver (services/eth_driver) and one network
 * stack instance: two single-producer, single-consumer rings of Ethernet frames in one memory
 * object. The instance creates the object, initialises it with fc_init, and passes a copy of its
 * capability to the driver (hic/eth.h: ATTACH); memory objects are mapped at their physical
 * address, so both sides see the channel at the same address.
 *
 * Layout (little-endian; every offset from the start of the memory object):
 *
 *   0                     rx ring: driver -> instance (frames from the wire)
 *   fc_ring_bytes(n)      tx ring: instance -> driver (frames to send)
 *   2 * fc_ring_bytes(n)  end (fc_channel_bytes(n))
 *
 *   a ring, n slots (n a power of two, FC_MIN_SLOTS..FC_MAX_SLOTS):
 *     +0   u32 head       frames pushed; written only by the producer
 *     +4   u32 tail       frames popped; written only by the consumer
 *     +8   u32 slots      n
 *     +12  u32 slot_size FC_SLOT_SIZE
 *     +16  reserved, to FC_RING_HEADER (64 bytes)
 *     +64  n slots of FC_SLOT_SIZE bytes: u16 length, then the frame (at most FC_FRAME_MAX)
 *
 * head and tail count frames since fc_init and wrap at 2^32; the ring holds head - tail frames,
 * frame k in slot k % n. A producer writes the slot, then publishes it with a release store of
 * head; a consumer reads head with an acquire load before it reads the slot, and gives the slot
 * back with a release store of tail. One core runs HIC's guests today, but the orderings are what
 * a multiprocessor needs, and they also keep the compiler from moving slot accesses across them.
 *
 * Each side keeps its own copy of n (struct fc_ring_end, filled by fc_open): the peer can write
 * anything into the shared header, so neither side takes its slot count from there after the
 * check in fc_open, and a head or tail that claims more than n frames reads as an empty (pop) or
 * full (push) ring rather than as an index. */
#ifndef HIC_FRAME_CHANNEL_H
#define HIC_FRAME_CHANNEL_H

#include <stdbool.h>
#include <stdint.h>

#define FC_RING_HEADER 64u
#define FC_SLOT_SIZE 2048u
#define FC_FRAME_MAX (FC_SLOT_SIZE - 2u) /* an Ethernet frame is at most 1518 bytes */
#define FC_MIN_SLOTS 4u
#define FC_MAX_SLOTS 1024u

struct fc_ring {
  uint32_t head;
  uint32_t tail;
  uint32_t slots;
  uint32_t slot_size;
  uint8_t reserved[FC_RING_HEADER - 16];
};
_Static_assert(sizeof(struct fc_ring) == FC_RING_HEADER, "fc_ring header layout");

/** One side's view of one ring: where it is, and the slot count it checked once. */
struct fc_ring_end {
  struct fc_ring *ring;
  uint8_t *slot0;
  uint32_t slots;
};

/** Both rings of a channel, as one side sees them. */
struct fc_channel {
  struct fc_ring_end rx; /* driver pushes, instance pops */
  struct fc_ring_end tx; /* instance pushes, driver pops */
};

static inline uint64_t fc_ring_bytes(uint32_t slots) {
  return FC_RING_HEADER + (uint64_t)slots * FC_SLOT_SIZE;
}

static inline uint64_t fc_channel_bytes(uint32_t slots) {
  return 2 * fc_ring_bytes(slots);
}

static inline bool fc_valid_slots(uint32_t slots) {
  return slots >= FC_MIN_SLOTS && slots <= FC_MAX_SLOTS && (slots & (slots - 1)) == 0;
}

static inline void fc_ring_init(struct fc_ring *r, uint32_t slots) {
  r->slots = slots;
  r->slot_size = FC_SLOT_SIZE;
  __atomic_store_n(&r->tail, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&r->head, 0, __ATOMIC_RELEASE);
}

/** The instance lays out a fresh channel of fc_channel_bytes(slots) at base. */
static inline bool fc_init(void *base, uint32_t slots) {
  if (!fc_valid_slots(slots)) return false;
  fc_ring_init((struct fc_ring *)base, slots);
  fc_ring_init((struct fc_ring *)((uint8_t *)base + fc_ring_bytes(slots)), slots);
  return true;
}

static inline void fc_end_at(struct fc_ring_end *e, void *ring, uint32_t slots) {
  e->ring = (struct fc_ring *)ring;
  e->slot0 = (uint8_t *)ring + FC_RING_HEADER;
  e->slots = slots;
}

/**
 * Checks the channel at base (both headers name `slots` slots of FC_SLOT_SIZE, and both rings are
 * empty) and fills `out`. The driver calls it on a channel it was handed; the instance on its own.
 */
static inline bool fc_open(void *base, uint32_t slots, struct fc_channel *out) {
  if (!fc_valid_slots(slots)) return false;
  struct fc_ring *rx = (struct fc_ring *)base;
  struct fc_ring *tx = (struct fc_ring *)((uint8_t *)base + fc_ring_bytes(slots));
  for (int i = 0; i < 2; i++) {
    struct fc_ring *r = i == 0 ? rx : tx;
    uint32_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
    if (r->slots != slots || r->slot_size != FC_SLOT_SIZE || head != __atomic_load_n(&r->tail, __ATOMIC_RELAXED)) return false;
  }
  fc_end_at(&out->rx, rx, slots);
  fc_end_at(&out->tx, tx, slots);
  return true;
}

/** Frames waiting in the ring, as the consumer sees it (0 if the counters make no sense). */
static inline uint32_t fc_count(const struct fc_ring_end *e) {
  uint32_t n = __atomic_load_n(&e->ring->head, __ATOMIC_ACQUIRE) - __atomic_load_n(&e->ring->tail, __ATOMIC_RELAXED);
  return n <= e->slots ? n : 0;
}

/** Producer: copies one frame into the next slot and publishes it; false when the ring is full. */
static inline bool fc_push(struct fc_ring_end *e, const void *frame, uint32_t len) {
  if (len == 0 || len > FC_FRAME_MAX) return false;
  uint32_t head = __atomic_load_n(&e->ring->head, __ATOMIC_RELAXED); /* ours: only we write it */
  uint32_t tail = __atomic_load_n(&e->ring->tail, __ATOMIC_ACQUIRE); /* the consumer is done with those slots */
  if (head - tail >= e->slots) return false;                        /* full, or a tail that makes no sense */
  uint8_t *slot = e->slot0 + (uint64_t)(head & (e->slots - 1)) * FC_SLOT_SIZE;
  slot[0] = (uint8_t)len;
  slot[1] = (uint8_t)(len >> 8);
  __builtin_memcpy(slot + 2, frame, len);
  __atomic_store_n(&e->ring->head, head + 1, __ATOMIC_RELEASE);
  return true;
}

/**
 * Consumer: copies the oldest frame into `out` (room for `cap` bytes) and frees its slot. Returns
 * its length; 0 when the ring is empty; -1 when the slot held a length of 0 or over FC_FRAME_MAX
 * or `cap` (the frame is dropped, its slot freed, so one bad slot cannot wedge the ring).
 */
static inline int32_t fc_pop(struct fc_ring_end *e, void *out, uint32_t cap) {
  uint32_t tail = __atomic_load_n(&e->ring->tail, __ATOMIC_RELAXED); /* ours */
  uint32_t head = __atomic_load_n(&e->ring->head, __ATOMIC_ACQUIRE); /* the slots up to it are written */
  if (head == tail || head - tail > e->slots) return 0;
  const uint8_t *slot = e->slot0 + (uint64_t)(tail & (e->slots - 1)) * FC_SLOT_SIZE;
  uint32_t len = (uint32_t)slot[0] | (uint32_t)slot[1] << 8;
  int32_t got = -1;
  if (len > 0 && len <= FC_FRAME_MAX && len <= cap) {
    __builtin_memcpy(out, slot + 2, len);
    got = (int32_t)len;
  }
  __atomic_store_n(&e->ring->tail, tail + 1, __ATOMIC_RELEASE);
  return got;
}

#endif /* HIC_FRAME_CHANNEL_H */
