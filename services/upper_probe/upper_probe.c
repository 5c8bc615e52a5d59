/* upper_probe: the regression program of the upper services' protocols (hic/firewall.h,
 * hic/dns.h, hic/web.h). Each operation is tried once to succeed and several ways to fail; a
 * refused call must come back with HIC_ERR_INVALID_ARGUMENT and nothing else, and must change
 * nothing (the calls after it still get the same answers). One line per check, "upper_probe:
 * ok - ..." or "upper_probe: not ok - ...", then a summary; the exit status is the number of
 * failed checks (tests/netstack-e2e.test.ts boots it beside netstack.himg's services). */
#include <stdbool.h>

#include "hic/dns.h"
#include "hic/firewall.h"
#include "hic/module.h"
#include "hic/runtime.h"
#include "hic/web.h"

#define REGISTRY 0
#define BAD HIC_ERR_INVALID_ARGUMENT /* the label of every refusal */

static struct hic_msg msg;
static int checks, failures;

static void check(bool ok, const char *what) {
  checks++;
  if (!ok) failures++;
  hic_log("upper_probe: %s - %s", ok ? "ok" : "not ok", what);
}

static int64_t find(const char *name) {
  for (;;) {
    int64_t slot = hic_registry_lookup(REGISTRY, name, strlen(name));
    if (slot != -HIC_ERR_NOT_FOUND) return slot;
    hic_sleep(100000);
  }
}

/* One call; the reply's label, or the call's own error. `payload` may be NULL. */
static uint64_t call(int64_t ep, uint64_t label, const void *payload, uint64_t len, uint64_t w0, uint64_t w1, uint64_t w2, int64_t cap) {
  memset(&msg, 0, sizeof msg);
  msg.label = label;
  msg.words[0] = w0, msg.words[1] = w1, msg.words[2] = w2;
  msg.cap = cap;
  msg.len = len;
  if (payload) memcpy(msg.payload, payload, len);
  int64_t r = hic_call((uint64_t)ep, &msg, 0, 0);
  return r < 0 ? (uint64_t)-r : msg.label;
}

/* A refusal carries nothing but its label. */
static bool refused(uint64_t status) {
  return status == BAD && msg.len == 0 && msg.words[0] == 0 && msg.words[1] == 0 && msg.cap == HIC_NO_CAP;
}

static void firewall(int64_t ep) {
  check(call(ep, FW_RULES, 0, 0, 0, 0, 0, -1) == FW_OK && msg.words[0] == 9 && msg.len == FW_HEADER_BYTES + 9 * FW_RULE_BYTES,
        "firewall RULES: 9 rules, 76 bytes");
  const uint8_t *t = msg.payload;
  check(t[0] == FW_TABLE_VERSION && t[1] == 0 && t[2] == 9 && t[3] == 0, "... the header: version 1, count 9, little-endian");
  check(t[4] == FW_TCP && t[5] == FW_ALLOW && t[6] == 80 && t[7] == 0 && t[8] == 80 && t[9] == 0, "... the first rule: allow TCP 80..80");
  uint64_t hash = msg.words[1];
  check(hash != 0, "... and a hash");
  check(refused(call(ep, FW_RULES, "x", 1, 0, 0, 0, -1)), "firewall RULES with a payload: refused");
  check(refused(call(ep, 99, 0, 0, 0, 0, 0, -1)), "firewall label 99: refused");
  int64_t own = hic_endpoint_create(); /* any capability we may pass on (right G) */
  check(own >= 0 && refused(call(ep, FW_RULES, 0, 0, 0, 0, 0, own)), "firewall RULES with a capability: refused");
  check(call(ep, FW_RULES, 0, 0, 0, 0, 0, -1) == FW_OK && msg.words[1] == hash, "firewall RULES again: the same hash");
}

/* A query for `name` (dotted) of `type`, id 0x4242, RD set; its length. */
static uint32_t query(uint8_t *q, const char *name, uint16_t type) {
  static const uint8_t head[12] = {0x42, 0x42, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  memcpy(q, head, 12);
  uint32_t n = 12;
  for (const char *p = name; *p;) {
    uint32_t len = 0;
    while (p[len] && p[len] != '.') len++;
    q[n++] = (uint8_t)len;
    memcpy(q + n, p, len);
    n += len, p += len + (p[len] == '.');
  }
  q[n++] = 0;
  q[n++] = (uint8_t)(type >> 8), q[n++] = (uint8_t)type, q[n++] = 0, q[n++] = 1;
  return n;
}

static void dns(int64_t ep) {
  uint8_t q[DNS_MSG_MAX + 1];
  uint32_t n = query(q, "svc-3.hic.test", 1);
  const uint8_t *r = msg.payload;
  check(call(ep, DNS_QUERY, q, n, 0, 0, 0, -1) == DNS_OK && msg.words[0] == 0 && msg.len == n + 16, "dns svc-3.hic.test A: NOERROR, one record");
  check(r[0] == 0x42 && r[1] == 0x42 && r[2] == 0x85 && r[3] == 0 && r[5] == 1 && r[7] == 1 && memcmp(r + 12, q + 12, n - 12) == 0,
        "... the id, QR AA RD, the question as asked");
  check(r[n] == 0xc0 && r[n + 1] == 12 && r[n + 11] == 4 && r[n + 12] == 10 && r[n + 13] == 0 && r[n + 14] == 2 && r[n + 15] == 4,
        "... an A record for 10.0.2.4 owned by the question's name");
  n = query(q, "SVC-3.Hic.Test", 1);
  check(call(ep, DNS_QUERY, q, n, 0, 0, 0, -1) == DNS_OK && msg.len == n + 16 && r[n + 15] == 4, "dns names are matched without case");
  n = query(q, "nowhere.hic.test", 1);
  check(call(ep, DNS_QUERY, q, n, 0, 0, 0, -1) == DNS_OK && msg.words[0] == 3 && r[3] == 3 && r[7] == 0 && msg.len == n, "dns a name outside the zone: NXDOMAIN");
  n = query(q, "svc-3.hic.test", 28);
  check(call(ep, DNS_QUERY, q, n, 0, 0, 0, -1) == DNS_OK && msg.words[0] == 0 && r[7] == 0 && msg.len == n, "dns AAAA for a name in the zone: NOERROR, no record");

  n = query(q, "svc-3.hic.test", 1);
  q[2] |= 0x80;
  check(refused(call(ep, DNS_QUERY, q, n, 0, 0, 0, -1)), "dns a response instead of a query: refused");
  q[2] &= 0x7f, q[5] = 2;
  check(refused(call(ep, DNS_QUERY, q, n, 0, 0, 0, -1)), "dns two questions: refused");
  q[5] = 1;
  check(refused(call(ep, DNS_QUERY, q, n - 1, 0, 0, 0, -1)), "dns a question cut short: refused");
  check(refused(call(ep, DNS_QUERY, q, 11, 0, 0, 0, -1)), "dns a header cut short: refused");
  uint8_t pointer[] = {0x42, 0x42, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1};
  check(refused(call(ep, DNS_QUERY, pointer, sizeof pointer, 0, 0, 0, -1)), "dns a compressed name: refused");
  memset(q + n, 0, DNS_MSG_MAX + 1 - n);
  check(refused(call(ep, DNS_QUERY, q, DNS_MSG_MAX + 1, 0, 0, 0, -1)), "dns 513 bytes: refused");
  check(refused(call(ep, 7, q, n, 0, 0, 0, -1)), "dns label 7: refused");
  check(call(ep, DNS_QUERY, q, n, 0, 0, 0, -1) == DNS_OK && msg.len == n + 16, "dns after the refusals: the same answer");
}

static bool body_is(const uint8_t *p, uint32_t offset, uint32_t n) {
  for (uint32_t i = 0; i < n; i++)
    if (p[i] != 'a' + (offset + i) % 26) return false;
  return msg.len == n;
}

static bool head_is(const char *want) {
  return msg.len == strlen(want) && memcmp(msg.payload, want, msg.len) == 0;
}

static void web(int64_t ep) {
  static const char line[] = "GET /bulk/4096 HTTP/1.1";
  static const char ok4096[] = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 4096\r\n\r\n";
  check(call(ep, WEB_REQUEST, line, sizeof line - 1, 0, 0, 0, -1) == WEB_OK && msg.words[0] == 4096 && msg.words[2] == 200 && head_is(ok4096),
        "web REQUEST /bulk/4096: 200, the head, a 4096-byte body");
  uint64_t token = msg.words[1];
  check(token != 0, "... named by a token");
  check(call(ep, WEB_HEAD, 0, 0, token, 0, 0, -1) == WEB_OK && head_is(ok4096) && msg.words[0] == 4096, "web HEAD: the same head again");
  check(call(ep, WEB_BODY, 0, 0, token, 0, 26, -1) == WEB_OK && body_is(msg.payload, 0, 26), "web BODY 0+26: a..z");
  check(call(ep, WEB_BODY, 0, 0, token, 3072, 1024, -1) == WEB_OK && body_is(msg.payload, 3072, 1024), "web BODY 3072+1024: the body's last kilobyte");
  check(refused(call(ep, WEB_BODY, 0, 0, token, 3073, 1024, -1)), "web BODY past the body's end: refused");
  check(refused(call(ep, WEB_BODY, 0, 0, token, 0, 1025, -1)), "web BODY of 1025 bytes: refused");
  check(refused(call(ep, WEB_BODY, 0, 0, token, 0, 0, -1)), "web BODY of 0 bytes: refused");
  check(refused(call(ep, WEB_BODY, 0, 0, token ^ 1, 0, 1, -1)), "web BODY with a token it did not issue: refused");
  check(refused(call(ep, WEB_HEAD, 0, 0, 0, 0, 0, -1)), "web HEAD of token 0: refused");

  static const char item[] = "GET /item/7/3 HTTP/1.1";
  uint32_t h = 2166136261u;
  for (const char *p = "/item/7/3"; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
  check(call(ep, WEB_REQUEST, item, sizeof item - 1, 0, 0, 0, -1) == WEB_OK && msg.words[0] == 64 + h % 1500, "web REQUEST /item/7/3: 64 + FNV-1a(path) % 1500 bytes");
  static const char huge[] = "GET /bulk/99999999 HTTP/1.1";
  check(call(ep, WEB_REQUEST, huge, sizeof huge - 1, 0, 0, 0, -1) == WEB_OK && msg.words[0] == 1048576, "web REQUEST /bulk/99999999: capped at 1 MiB");
  static const char junk[] = "hello there";
  check(call(ep, WEB_REQUEST, junk, sizeof junk - 1, 0, 0, 0, -1) == WEB_OK && msg.words[2] == 400 && msg.words[0] == 0 &&
            head_is("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n"),
        "web REQUEST of a malformed line: 400 with an empty body");
  static const char post[] = "POST /bulk/10 HTTP/1.1";
  check(call(ep, WEB_REQUEST, post, sizeof post - 1, 0, 0, 0, -1) == WEB_OK && msg.words[2] == 501 && msg.words[0] == 0, "web REQUEST POST: 501 with an empty body");
  static const char old[] = "GET / HTTP/2.0";
  check(call(ep, WEB_REQUEST, old, sizeof old - 1, 0, 0, 0, -1) == WEB_OK && msg.words[2] == 400, "web REQUEST HTTP/2.0: 400");
  char long_line[WEB_LINE_MAX + 1];
  memset(long_line, 'a', sizeof long_line);
  check(refused(call(ep, WEB_REQUEST, long_line, sizeof long_line, 0, 0, 0, -1)), "web REQUEST of 97 bytes: refused");
  check(refused(call(ep, WEB_REQUEST, 0, 0, 0, 0, 0, -1)), "web REQUEST of nothing: refused");
  check(refused(call(ep, 9, 0, 0, 0, 0, 0, -1)), "web label 9: refused");
  check(call(ep, WEB_BODY, 0, 0, token, 0, 26, -1) == WEB_OK && body_is(msg.payload, 0, 26), "web BODY after the refusals: the same bytes");
}

int hic_main(void) {
  firewall(find("cap://firewall/rules"));
  dns(find("cap://dns/query"));
  web(find("cap://web/http"));
  upper_probe_emit_summary(&(struct upper_probe_record_summary){.checks = (uint64_t)checks, .failed = (uint64_t)failures});
  hic_log("upper_probe: %d checks, %d failed", checks, failures);
  return failures;
}
