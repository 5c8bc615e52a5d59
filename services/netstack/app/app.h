/* app/app.h -- the applications' per-connection state, shared by the two files that own it:
 * apps.c (echo and HTTP on the core's callbacks) and app_record.c (the same state as bytes, for a
 * migration). Nothing outside app/ sees struct app; the rest of the service goes through the
 * calls in netstack.h. */
#ifndef APP_APP_H
#define APP_APP_H

#include "../netstack.h"

#define OUT_BUFS 32
#define OUT_SIZE 65536u /* a power of two: one echo exchange is at most 40 KiB */
#define BODY_FIFO 8     /* responses owed, in request order (clients wait, but pipelining is legal) */

enum app_kind { APP_ECHO = 1, APP_HTTP = 2 };

/* One connection, as the applications see it; indexed by the connection's slot. */
struct app {
  uint32_t id; /* the core's connection id; 0: unused */
  uint8_t kind;
  bool peer_done, close_sent, busy;
  uint16_t out;                    /* pool index + 1; 0: nothing waits */
  uint32_t out_head, out_len;      /* the ring of bytes ns_send has not taken yet */
  uint32_t body_left;              /* HTTP: bytes of the current body still to generate */
  uint32_t body_sent;              /* ... and already generated (the pattern's position) */
  uint32_t bodies[BODY_FIFO];      /* HTTP: body sizes of complete requests not yet answered */
  uint8_t owed, first;
  uint8_t match;                   /* how much of "\r\n\r\n" the request so far ends with */
  uint8_t line_len;                /* bytes of the request line kept; 0xff once it ended */
  char line[96];
  bool moving;                     /* exported for a migration: left alone until it is settled */
  bool probe;                      /* the loopback probe's (app/probe.c): no migration hears of it */
  uint64_t token;                  /* HTTP: the web server's token for the body being sent */
  uint64_t tokens[BODY_FIFO];      /* ... and for each response owed (0: the server was not reached) */
};

struct app *app_of(uint32_t id);   /* connection id's application, or 0 */
struct app *app_slot(uint32_t id); /* the slot connection id's application lives in */
void app_mark_busy(struct app *a); /* on the list the loop flushes */

/* The pool of output buffers: one held per connection only while it has bytes waiting. */
bool app_out_free(void);          /* is a buffer free? */
void app_out_release(struct app *a); /* gives a's buffer back, if it holds one */
const uint8_t *app_out_ring(const struct app *a); /* a's buffer, or 0 */
/* Queues bytes behind whatever already waits; false if the pool or the ring has no room. */
bool app_out_append(struct app *a, const uint8_t *data, uint32_t len);

#endif /* APP_APP_H */
