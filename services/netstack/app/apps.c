/* app/apps.c -- the applications on the core's connections: echo on 5432, 1194 and 8080; HTTP/1.1
 * on 80, whose responses the web_server service makes (head and body, fetched over IPC as the
 * connection can take them); DNS on UDP 53, answered by the dns_resolver service (app/upper.c is
 * the client side of both). Each connection closes its side once the client has closed and
 * everything owed is sent.
 *
 * The core's send buffer is 8 KiB per connection and our receive window is fixed, so an echo of a
 * large upload or a bulk response cannot always be handed over at once: what does not fit waits
 * in an application buffer (a pool of OUT_BUFS rings, one held per connection only while it has
 * bytes waiting) and is retried after every batch of input. */
#include "app.h"

#include "hic/dns.h"
#include "hic/runtime.h"
#include "hic/web.h"

#define DNS_PORT 53

static struct ns_stack *stack;
static struct app apps[NS_MAX_CONNS];
static uint16_t busy_list[NS_MAX_CONNS];
static uint32_t busy_count;
static uint8_t out_pool[OUT_BUFS][OUT_SIZE];
static bool out_used[OUT_BUFS];
static uint8_t chunk[1024];
static struct apps_counters counters;

struct app *app_of(uint32_t id) {
  struct app *a = &apps[id % NS_MAX_CONNS];
  return a->id == id ? a : 0;
}

struct app *app_slot(uint32_t id) { return &apps[id % NS_MAX_CONNS]; }

void app_mark_busy(struct app *a) {
  if (a->busy) return;
  a->busy = true;
  busy_list[busy_count++] = (uint16_t)(a - apps);
}

bool app_out_free(void) {
  for (uint16_t i = 0; i < OUT_BUFS; i++)
    if (!out_used[i]) return true;
  return false;
}

void app_out_release(struct app *a) {
  if (a->out) out_used[a->out - 1] = false, a->out = 0;
}

const uint8_t *app_out_ring(const struct app *a) { return a->out ? out_pool[a->out - 1] : 0; }

bool app_out_append(struct app *a, const uint8_t *data, uint32_t len) {
  if (len == 0) return true;
  if (!a->out) {
    for (uint16_t i = 0; i < OUT_BUFS && !a->out; i++)
      if (!out_used[i]) out_used[i] = true, a->out = (uint16_t)(i + 1);
    if (!a->out) return false;
    a->out_head = a->out_len = 0;
  }
  if (OUT_SIZE - a->out_len < len) return false;
  uint8_t *ring = out_pool[a->out - 1];
  for (uint32_t i = 0; i < len; i++) ring[(a->out_head + a->out_len + i) & (OUT_SIZE - 1)] = data[i];
  a->out_len += len;
  app_mark_busy(a);
  return true;
}

/* Hands ns_send what it takes; returns the bytes taken, or -1 if the connection cannot send. */
static int send_some(struct app *a, const uint8_t *data, uint32_t len) {
  int n = ns_send(stack, a->id, data, len, netstack_now(), netstack_emit, 0);
  if (n == -NS_ERR_NO_BUFS) return 0;
  return n;
}

/* A request line just ended: the web server says how long its response's body is and names the
 * response by a token; both wait with the response owed for it. A server that cannot be asked
 * leaves token 0, and that response becomes a 503 (flush): the client still gets one answer per
 * request, so the responses after it stay in step. */
static void take_request_line(struct app *a) {
  uint32_t at = (a->first + a->owed) % BODY_FIFO, length = 0;
  uint64_t token = 0; /* both stay 0 when the server is not reached */
  bool ask = true;
#if NS_FAULT_ERRORS
  /* Request n fails when n * permille passes a multiple of 1000: that many per thousand, evenly. */
  uint64_t n = counters.http_requests;
  ask = netstack_now() < netstack_started() + (uint64_t)NS_FAULT_ERRORS_AFTER || (n * NS_FAULT_ERRORS) % 1000 >= NS_FAULT_ERRORS;
#endif
  counters.http_requests++;
  if (ask) upper_http_request(a->line, a->line_len, &length, &token);
  a->bodies[at] = length;
  a->tokens[at] = token;
}

static const char UNAVAILABLE[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";

/* What the core's send buffer still takes on the connection: a body chunk is asked for only as
 * large as will be taken, so no chunk is fetched twice. */
static uint32_t send_room(const struct app *a) {
  const struct ns_conn *c = ns_conn_get(stack, a->id);
  return c ? NS_SNDBUF_SIZE - c->sb_len : 0;
}

/* Moves waiting output into the core as far as it takes it, starts the next HTTP response when
 * the previous one is all handed over, and closes once the client has closed and nothing waits. */
static void flush(struct app *a) {
  for (;;) {
    if (a->out_len) {
      uint8_t *ring = out_pool[a->out - 1];
      uint32_t n = OUT_SIZE - a->out_head < a->out_len ? OUT_SIZE - a->out_head : a->out_len;
      int took = send_some(a, ring + a->out_head, n);
      if (took < 0) return;
      a->out_head = (a->out_head + (uint32_t)took) & (OUT_SIZE - 1);
      a->out_len -= (uint32_t)took;
      if ((uint32_t)took < n) return;
      continue;
    }
    if (a->body_left) {
      uint32_t n = a->body_left < sizeof chunk ? a->body_left : (uint32_t)sizeof chunk, room = send_room(a);
      if (room < n) n = room;
      /* No room yet, or no answer from the web server: the rest waits for the next pass. */
      if (n == 0 || !upper_http_body(a->token, a->body_sent, chunk, n)) return;
      int took = send_some(a, chunk, n);
      if (took < 0) return;
      a->body_left -= (uint32_t)took;
      a->body_sent += (uint32_t)took;
      if ((uint32_t)took < n) return;
      continue;
    }
    if (a->owed) {
      /* The head is staged in an output buffer; with none to be had, or no answer from the web
       * server, the response waits (and is not dequeued, nor the connection closed) until the
       * next pass -- it must never be skipped. */
      if (!a->out && !app_out_free()) return;
      uint64_t token = a->tokens[a->first];
      char h[WEB_HEAD_MAX];
      uint32_t n = token ? upper_http_head(token, h, sizeof h) : (uint32_t)sizeof UNAVAILABLE - 1;
      if (n == 0) return;
      if (!token) memcpy(h, UNAVAILABLE, n), counters.http_errors++;
      a->token = token;
      a->body_left = token ? a->bodies[a->first] : 0;
      a->body_sent = 0;
      a->first = (uint8_t)((a->first + 1) % BODY_FIFO);
      a->owed--;
      if (!app_out_append(a, (const uint8_t *)h, n)) counters.overflows++;
      continue;
    }
    break;
  }
  app_out_release(a);
  if (a->peer_done && !a->close_sent) {
    a->close_sent = true;
    ns_close(stack, a->id, netstack_now(), netstack_emit, 0);
  }
}

static void http_input(struct app *a, const uint8_t *data, size_t len) {
  for (size_t i = 0; i < len; i++) {
    uint8_t c = data[i];
    if (a->line_len != 0xff) {
      if (c == '\r' || c == '\n') {
        if (a->line_len) take_request_line(a), a->line_len = 0xff;
      } else if (a->line_len < sizeof a->line) {
        a->line[a->line_len++] = (char)c;
      }
    }
    a->match = c == "\r\n\r\n"[a->match] ? (uint8_t)(a->match + 1) : c == '\r' ? 1 : 0;
    if (a->match == 4) { /* a complete request: its body size is recorded above */
      a->match = 0;
      a->line_len = 0;
      if (a->owed < BODY_FIFO) a->owed++;
      else counters.overflows++;
    }
  }
}

static void on_accept(void *ctx, uint32_t id) {
  (void)ctx;
  struct ns_conn *c = ns_conn_get(stack, id);
  struct app *a = app_slot(id);
  app_out_release(a);
  bool busy = a->busy; /* a stale entry in busy_list stays valid for the new occupant */
  memset(a, 0, sizeof *a);
  a->busy = busy;
  a->id = id;
  a->kind = c && c->local_port == 80 ? APP_HTTP : APP_ECHO;
  a->probe = c && c->remote_ip == PROBE_IP;
  if (a->probe) probe_accepted(id);
#if NS_FAULT_LEAK_CONN
  if (c) netstack_leak(c, sizeof *c, NS_FAULT_LEAK_CONN); /* the fault: a copy of the connection, never freed */
#endif
}

/* Room for more input on a connection: what its output can still buffer. An echo needs room for
 * what it echoes; an HTTP request for a whole response. Input beyond it is not acknowledged, so
 * the client retransmits it later instead of the service dropping it. */
static size_t on_room(void *ctx, uint32_t id) {
  (void)ctx;
  struct app *a = app_of(id);
  if (!a) return (size_t)-1;
  bool free_buffer = app_out_free();
  /* HTTP: take requests only while fewer than BODY_FIFO responses are owed (a request is small;
   * what must not overflow is the queue of responses it creates). */
  if (a->kind == APP_HTTP) return a->owed + 1 < BODY_FIFO ? OUT_SIZE : 0;
  return a->out ? OUT_SIZE - a->out_len : free_buffer ? OUT_SIZE : 0;
}

static void on_deliver(void *ctx, uint32_t id, const uint8_t *data, size_t len) {
  (void)ctx;
  struct app *a = app_of(id);
  if (!a) return;
  if (len == 0) a->peer_done = true;
  else if (a->kind == APP_HTTP) http_input(a, data, len);
  else {
#if NS_FAULT_CRASH_ECHO
    static volatile struct app *volatile broken; /* never set: the bug */
    broken->out_len = (uint32_t)len;
#endif
#if NS_FAULT_CORRUPT
    static uint8_t bent[OUT_SIZE];
    if (netstack_now() >= netstack_started() + (uint64_t)NS_FAULT_CORRUPT_AFTER && len <= sizeof bent) {
      memcpy(bent, data, len);
      bent[len / 2] ^= 0x20;
      data = bent;
    }
#endif
    uint32_t took = 0; /* straight to the core when nothing waits ahead of it */
    if (!a->out_len) {
      int n = send_some(a, data, (uint32_t)len);
      took = n > 0 ? (uint32_t)n : 0;
    }
    if (!app_out_append(a, data + took, (uint32_t)len - took)) counters.overflows++;
  }
  app_mark_busy(a);
}

static void on_closed(void *ctx, uint32_t id, enum ns_close_reason why) {
  (void)ctx;
  struct app *a = app_of(id);
  if (!a || !a->probe) mig_closed(id, why);
  if (!a) return;
  app_out_release(a);
  a->id = 0;
  a->moving = false;
}

/* A DNS query: the resolver (dns_resolver, app/upper.c) writes the response. A query it refuses as
 * malformed, or one it could not be asked about, gets none; the client asks again. */
static void on_dns(void *ctx, uint32_t src_ip, uint16_t src_port, uint16_t dst_port, const uint8_t *q, size_t len) {
  (void)ctx;
  (void)dst_port;
  static uint8_t r[DNS_MSG_MAX];
  size_t n = upper_dns(q, len, r, sizeof r);
  if (n && ns_udp_send(stack, DNS_PORT, src_ip, src_port, r, n, netstack_now(), netstack_emit, 0) >= 0) counters.dns_answered++;
}

int apps_init(struct ns_stack *s) {
  stack = s;
  ns_set_app(s, &(struct ns_app){.accept = on_accept, .deliver = on_deliver, .closed = on_closed, .room = on_room});
  return ns_udp_bind(s, DNS_PORT, on_dns, 0);
}

void apps_flush_waiting(void (*between)(void)) {
  /* Entries are dropped once nothing is left to do for them. */
  for (uint32_t i = 0, served = 0; i < busy_count;) {
    if (++served % 16 == 0) between();
    struct app *a = &apps[busy_list[i]];
    if (a->id && !a->moving) flush(a);
    if (!a->id || a->moving || (!a->out_len && !a->body_left && !a->owed)) {
      a->busy = false;
      busy_list[i] = busy_list[--busy_count];
    } else {
      i++;
    }
  }
}

void app_flush(uint32_t id) {
  struct app *a = app_of(id);
  if (a) flush(a);
}

void app_moving(uint32_t id) {
  struct app *a = app_of(id);
  if (a) a->moving = true;
}

void app_resume(uint32_t id) {
  struct app *a = app_of(id);
  if (a) a->moving = false, app_mark_busy(a);
}

const struct apps_counters *apps_counters(void) { return &counters; }
