/* malloc, calloc, realloc, free and aligned_alloc over memory objects the sandbox creates and maps
 * itself (memory_create, memory_map: the "memory" capability), charged to its quota like any
 * other frames. The heap grows one memory object at a time, each at least HEAP_STEP bytes, so a
 * sandbox keeps few engine mappings; freed memory is reused, never given back.
 *
 * Blocks carry a 16-byte header (size and a tag); free blocks form one list in address order,
 * so free() merges a block with its free neighbours. First fit. A pointer free() does not know
 * (a double free, a pointer into the middle of a block) stops the sandbox with a message rather
 * than corrupting the heap quietly. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libc.h"

#define ALIGN 16
#define HEADER 16
#define MIN_BLOCK 32 /* a header and a free-list link, rounded to ALIGN */
#define HEAP_STEP (64 * 1024)

enum { TAG_USED = 0x48494355, TAG_FREE = 0x48494346, TAG_ALIGNED = 0x48494341 };

struct block {
  size_t size; /* bytes, header included; a multiple of ALIGN */
  uint32_t tag;
  uint32_t shift; /* TAG_ALIGNED only: bytes back to the block's own payload */
  struct block *next; /* free blocks only: the next free block, by address */
};

static struct block *free_list;

static void *payload(struct block *b) { return (char *)b + HEADER; }
static struct block *header(void *p) { return (struct block *)((char *)p - HEADER); }

static __attribute__((noreturn)) void heap_fault(const char *what, void *p) {
  fprintf(stderr, "%s(): invalid pointer %p\n", what, p);
  abort();
}

/* Adds a block to the free list in address order and merges it with the blocks on either side
 * when they touch. */
static void release(struct block *b) {
  struct block **link = &free_list, *prev = NULL;
  while (*link && *link < b) prev = *link, link = &(*link)->next;
  b->tag = TAG_FREE;
  b->next = *link;
  *link = b;
  if (b->next && (char *)b + b->size == (char *)b->next) {
    b->size += b->next->size;
    b->next = b->next->next;
  }
  if (prev && (char *)prev + prev->size == (char *)b) {
    prev->size += b->size;
    prev->next = b->next;
  }
}

/* One more memory object for the heap: at least `need` bytes. False when the quota (or the
 * capability) says no. */
static int grow(size_t need) {
  size_t len = need > HEAP_STEP ? need : HEAP_STEP;
  len = (len + 4095) & ~(size_t)4095;
  int64_t slot = hic_memory_create(len);
  if (slot < 0) return 0;
  int64_t at = hic_memory_map((uint64_t)slot);
  if (at < 0) {
    hic_cap_delete((uint64_t)slot);
    return 0;
  }
  struct block *b = (struct block *)(uintptr_t)at;
  b->size = len;
  release(b);
  return 1;
}

LIBC void *malloc(size_t n) {
  if (n > SIZE_MAX / 2) {
    errno = ENOMEM;
    return NULL;
  }
  size_t need = (n + HEADER + ALIGN - 1) & ~(size_t)(ALIGN - 1);
  if (need < MIN_BLOCK) need = MIN_BLOCK;
  for (int tries = 0; tries < 2; tries++) {
    for (struct block **link = &free_list; *link; link = &(*link)->next) {
      struct block *b = *link;
      if (b->size < need) continue;
      if (b->size - need >= MIN_BLOCK) {
        /* Split: the tail stays free, in b's place in the list. */
        struct block *rest = (struct block *)((char *)b + need);
        rest->size = b->size - need;
        rest->tag = TAG_FREE;
        rest->next = b->next;
        *link = rest;
        b->size = need;
      } else {
        *link = b->next;
      }
      b->tag = TAG_USED;
      return payload(b);
    }
    if (tries == 0 && !grow(need)) break;
  }
  errno = ENOMEM;
  return NULL;
}

LIBC void free(void *p) {
  if (!p) return;
  if ((uintptr_t)p % ALIGN != 0) heap_fault("free", p);
  struct block *b = header(p);
  if (b->tag == TAG_ALIGNED) b = header((char *)p - b->shift);
  if (b->tag != TAG_USED) heap_fault("free", p);
  release(b);
}

LIBC void *calloc(size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / size) {
    errno = ENOMEM;
    return NULL;
  }
  void *p = malloc(count * size);
  if (p) memset(p, 0, count * size);
  return p;
}

LIBC void *realloc(void *p, size_t n) {
  if (!p) return malloc(n);
  if (n == 0) {
    free(p);
    return NULL;
  }
  struct block *b = header(p);
  size_t have;
  if ((uintptr_t)p % ALIGN == 0 && b->tag == TAG_USED) have = b->size - HEADER;
  else if ((uintptr_t)p % ALIGN == 0 && b->tag == TAG_ALIGNED) have = header((char *)p - b->shift)->size - HEADER - b->shift;
  else heap_fault("realloc", p);
  if (n <= have) return p;
  void *q = malloc(n);
  if (!q) return NULL;
  memcpy(q, p, have);
  free(p);
  return q;
}

/* Over-allocates and hands out an aligned address inside; a second header just before it says how
 * far back the block's own payload is, for free() and realloc(). */
LIBC void *aligned_alloc(size_t alignment, size_t size) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || size > SIZE_MAX / 2 - alignment) {
    errno = EINVAL;
    return NULL;
  }
  if (alignment <= ALIGN) return malloc(size);
  char *raw = malloc(size + alignment + HEADER);
  if (!raw) return NULL;
  char *p = (char *)(((uintptr_t)raw + HEADER + alignment - 1) & ~(uintptr_t)(alignment - 1));
  struct block *mark = header(p);
  mark->tag = TAG_ALIGNED;
  mark->shift = (uint32_t)(p - raw);
  return p;
}
