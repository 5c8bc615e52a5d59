/* app/app_record.c -- an application's state as bytes: what travels with the core's connection
 * record when a migration moves a connection (the second half of a package, hic/migration.h),
 * so an HTTP response or an echo half sent continues at the successor. Little-endian fields at
 * fixed offsets, never a struct copy, so the two instances may be different builds:
 *
 *   off size  field
 *     0    2  version, APP_RECORD_VERSION
 *     2    1  kind (APP_ECHO, APP_HTTP)
 *     3    1  flags: bit 0 the peer closed, bit 1 our close was sent
 *     4    4  HTTP: body bytes still to send     8  4  body bytes sent
 *    12    1  responses owed   13  1  the first owed   14  1  "\r\n\r\n" matched so far
 *    15    1  request-line length (0xff: the line ended)
 *    16   32  the owed responses' body sizes (BODY_FIFO x 4)
 *    48   96  the request line so far
 *   144    8  the web server's token of the body being sent
 *   152   64  the tokens of the owed responses (BODY_FIFO x 8)
 *   216    4  pending output length N, then the N bytes in order */
#include "app.h"

#include "hic/runtime.h"

#define APP_RECORD_VERSION 1
#define APP_RECORD_FIXED 216 /* the record before its pending output */
#define APP_LINE_AT 48
#define APP_TOKEN_AT 144
_Static_assert(APP_LINE_AT + sizeof(((struct app *)0)->line) == APP_TOKEN_AT, "application record layout");
_Static_assert(APP_TOKEN_AT + 8 + BODY_FIFO * 8 == APP_RECORD_FIXED, "application record layout");
_Static_assert(16 + BODY_FIFO * 4 == APP_LINE_AT, "application record layout");

/* A connection without an application (none was accepted yet) travels as an idle echo. */
static const struct app none = {.kind = APP_ECHO};

static const struct app *app_or_none(uint32_t id) {
  const struct app *a = app_of(id);
  return a ? a : &none;
}

uint32_t app_record_size(uint32_t id) { return APP_RECORD_FIXED + 4 + app_or_none(id)->out_len; }

void app_record_write(uint32_t id, uint8_t *p) {
  const struct app *a = app_or_none(id);
  memset(p, 0, APP_RECORD_FIXED);
  le16(p, APP_RECORD_VERSION);
  p[2] = a->kind;
  p[3] = (uint8_t)((a->peer_done ? 1 : 0) | (a->close_sent ? 2 : 0));
  le32(p + 4, a->body_left);
  le32(p + 8, a->body_sent);
  p[12] = a->owed, p[13] = a->first, p[14] = a->match, p[15] = a->line_len;
  for (int i = 0; i < BODY_FIFO; i++) le32(p + 16 + 4 * i, a->bodies[i]);
  memcpy(p + APP_LINE_AT, a->line, sizeof a->line);
  le64(p + APP_TOKEN_AT, a->token);
  for (int i = 0; i < BODY_FIFO; i++) le64(p + APP_TOKEN_AT + 8 + 8 * i, a->tokens[i]);
  le32(p + APP_RECORD_FIXED, a->out_len);
  const uint8_t *ring = app_out_ring(a);
  for (uint32_t i = 0; i < a->out_len; i++) p[APP_RECORD_FIXED + 4 + i] = ring[(a->out_head + i) & (OUT_SIZE - 1)];
}

bool app_record_ok(const uint8_t *p, uint32_t len) {
  if (len < APP_RECORD_FIXED + 4 || rd16(p) != APP_RECORD_VERSION) return false;
  uint32_t out = rd32(p + APP_RECORD_FIXED);
  return (p[2] == APP_ECHO || p[2] == APP_HTTP) && (p[3] & ~3u) == 0 && p[12] <= BODY_FIFO && p[13] < BODY_FIFO &&
         p[14] < 4 && (p[15] <= sizeof(((struct app *)0)->line) || p[15] == 0xff) && out <= OUT_SIZE &&
         len == APP_RECORD_FIXED + 4 + out;
}

/* Pending output needs a buffer of the pool; a record without any loads anywhere. */
bool app_record_fits(const uint8_t *p) { return app_out_free() || rd32(p + APP_RECORD_FIXED) == 0; }

/* False if no output buffer is free (app_record_fits said whether one is). */
bool app_record_load(uint32_t id, const uint8_t *p) {
  struct app *a = app_slot(id);
  uint32_t out = rd32(p + APP_RECORD_FIXED);
  bool busy = a->busy;
  app_out_release(a);
  memset(a, 0, sizeof *a);
  a->busy = busy;
  a->id = id;
  a->kind = p[2];
  a->peer_done = (p[3] & 1) != 0;
  a->close_sent = (p[3] & 2) != 0;
  a->body_left = rd32(p + 4);
  a->body_sent = rd32(p + 8);
  a->owed = p[12], a->first = p[13], a->match = p[14], a->line_len = p[15];
  for (int i = 0; i < BODY_FIFO; i++) a->bodies[i] = rd32(p + 16 + 4 * i);
  memcpy(a->line, p + APP_LINE_AT, sizeof a->line);
  a->token = rd64(p + APP_TOKEN_AT);
  for (int i = 0; i < BODY_FIFO; i++) a->tokens[i] = rd64(p + APP_TOKEN_AT + 8 + 8 * i);
  if (!app_out_append(a, p + APP_RECORD_FIXED + 4, out)) return false;
  app_mark_busy(a);
  return true;
}
