/* web_server: the HTTP/1.1 responder behind the network stack's port 80 (issue 5). The stack
 * finds where each request line and each request ends and asks this server for the response on
 * cap://web/v1.0.0/http (the alias cap://web/http; hic/web.h): WEB_REQUEST turns a request line
 * into a response head and a token, WEB_HEAD gives the head again for a token, and WEB_BODY the
 * body bytes at an offset. The server keeps no state between calls: a token holds the status
 * and the body's length, with a check so a made-up token is refused, and the bodies are a pure
 * function of position. */
#include "hic/module.h"
#include "hic/serve.h"
#include "hic/web.h"

#define BODY_CAP (1u << 20)
#define TOKEN_KEY 0x77656221u /* keys the token's check: a stateless server's only secret */

static uint64_t ok, bad, unsupported, heads, bodies, body_bytes;
static struct hic_msg msg;

/* Body length by the path alone -- the rule the traffic generator's runs were built against. */
static uint32_t body_length(const char *path, uint32_t n) {
  if (n > 6 && memcmp(path, "/bulk/", 6) == 0) {
    uint32_t v = 0;
    for (uint32_t k = 6; k < n && k < 13; k++) { /* the first 7 digits */
      if (path[k] < '0' || path[k] > '9') return 64;
      v = v * 10 + (uint32_t)(path[k] - '0');
    }
    return v > BODY_CAP ? BODY_CAP : v;
  }
  uint32_t h = 2166136261u; /* FNV-1a */
  for (uint32_t k = 0; k < n; k++) h = (h ^ (uint8_t)path[k]) * 16777619u;
  return 64 + h % 1500;
}

/* --- tokens: check << 48 | status << 32 | body length ------------------------------------- */

static uint16_t check_of(uint64_t low48) {
  uint32_t h = 2166136261u ^ TOKEN_KEY;
  for (int i = 0; i < 6; i++) h = (h ^ (uint8_t)(low48 >> 8 * i)) * 16777619u;
  return (uint16_t)(h ^ h >> 16);
}

static uint64_t token_of(uint32_t status, uint32_t length) {
  uint64_t low48 = (uint64_t)status << 32 | length;
  return (uint64_t)check_of(low48) << 48 | low48;
}

/* Splits a token this server issued into status and length; false for any other. */
static bool token_open(uint64_t token, uint32_t *status, uint32_t *length) {
  uint64_t low48 = token & 0xffffffffffffull;
  *status = (uint32_t)(low48 >> 32);
  *length = (uint32_t)low48;
  return token >> 48 == check_of(low48) && *status >= 200 && *status <= 599 && *length <= BODY_CAP;
}

/* --- the calls ------------------------------------------------------------------------------- */

static uint32_t span(const char *s, uint32_t at, uint32_t n, char lo, char hi) {
  while (at < n && s[at] >= lo && s[at] <= hi) at++;
  return at;
}

/* "<METHOD> <path> HTTP/1.x": the status it gets and, for 200, its body's length. */
static uint32_t judge(const char *line, uint32_t n, uint32_t *length) {
  *length = 0;
  uint32_t method_end = span(line, 0, n, 'A', 'Z');
  if (method_end == 0 || method_end >= n || line[method_end] != ' ') return 400;
  uint32_t path = method_end + 1, path_end = span(line, path, n, '!', '~');
  if (path_end == path || line[path] != '/' || path_end >= n || line[path_end] != ' ') return 400;
  uint32_t v = path_end + 1;
  if (n - v != 8 || memcmp(line + v, "HTTP/1.", 7) != 0 || (line[v + 7] != '0' && line[v + 7] != '1')) return 400;
  if (method_end != 3 || memcmp(line, "GET", 3) != 0) return 501;
  *length = body_length(line + path, path_end - path);
  return 200;
}

/* The head for a status and length into m's payload; the reply's words. */
static void write_head(struct hic_msg *m, uint32_t status, uint32_t length) {
  const char *reason = status == 200 ? "OK" : status == 400 ? "Bad Request" : "Not Implemented";
  const char *type = status == 200 ? "application/octet-stream" : "text/plain";
  int n = hic_snprintf((char *)m->payload, WEB_HEAD_MAX, "HTTP/1.1 %u %s\r\nContent-Type: %s\r\nContent-Length: %u\r\n\r\n", status, reason,
                       type, length);
  m->len = (uint64_t)n;
  m->words[0] = length;
  m->words[1] = token_of(status, length);
  m->words[2] = status;
  m->words[3] = 0;
}

static uint64_t request(struct hic_msg *m) {
  if (m->len == 0 || m->len > WEB_LINE_MAX) return HIC_ERR_INVALID_ARGUMENT;
  uint32_t length, status = judge((const char *)m->payload, (uint32_t)m->len, &length);
  if (status == 200) ok++;
  else if (status == 400) bad++;
  else unsupported++;
  write_head(m, status, length);
  return WEB_OK;
}

static uint64_t head(struct hic_msg *m) {
  uint32_t status, length;
  if (m->len != 0 || !token_open(m->words[0], &status, &length)) return HIC_ERR_INVALID_ARGUMENT;
  heads++;
  write_head(m, status, length);
  return WEB_OK;
}

static uint64_t body(struct hic_msg *m) {
  uint32_t status, length;
  uint64_t offset = m->words[1], n = m->words[2];
  if (m->len != 0 || !token_open(m->words[0], &status, &length) || n == 0 || n > WEB_CHUNK_MAX || offset > length || n > length - offset) {
    return HIC_ERR_INVALID_ARGUMENT;
  }
  for (uint32_t i = 0; i < n; i++) m->payload[i] = (uint8_t)('a' + (offset + i) % 26);
  m->len = n;
  m->words[0] = m->words[1] = m->words[2] = m->words[3] = 0;
  bodies++;
  body_bytes += n;
  return WEB_OK;
}

static uint64_t answer(struct hic_msg *m) {
  switch (m->label) {
  case WEB_REQUEST: return request(m);
  case WEB_HEAD: return head(m);
  case WEB_BODY: return body(m);
  default: return HIC_ERR_INVALID_ARGUMENT;
  }
}

static void report(void) {
  web_server_emit_report(&(struct web_server_record_report){.requests = ok + bad + unsupported, .ok = ok, .bad = bad, .unsupported = unsupported,
                                                            .heads = heads, .bodies = bodies, .body_bytes = body_bytes, .refused = hic_serve_refused});
  hic_log("web_server %s: requests %lu (ok %lu, bad %lu, unsupported %lu), heads %lu, bodies %lu (%lu bytes), refused %lu", HIC_MODULE_VERSION,
          ok + bad + unsupported, ok, bad, unsupported, heads, bodies, body_bytes, hic_serve_refused);
}

int hic_main(void) {
  return hic_serve("web", "http", &msg, answer, report, NOTICE_READY_MIGRATES); /* a token is good at any instance */
}
