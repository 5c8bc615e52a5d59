/* app/upper.c -- the netstack's side of the upper services (issue 5): the firewall whose rules the
 * core enforces (hic/firewall.h), the DNS resolver that answers UDP port 53 (hic/dns.h) and the
 * web server that writes every HTTP response on port 80 (hic/web.h). Each is reached through its
 * registry alias, so an update of one is a switch of that alias, with one synchronous call per
 * question; they are pure servers and answer at once. The calls are declared in netstack.h. */
#include "../netstack.h"

#include "hic/dns.h"
#include "hic/firewall.h"
#include "hic/module.h"
#include "hic/runtime.h"
#include "hic/web.h"

#define UPPER_REGISTRY 0
#define UPPER_WAIT_NS 1000000000ull /* how long the three may take, together, to register at boot */
#define UPPER_CALL_NS 100000000ull  /* a pure server that has not answered in 100 ms is stuck */
#define UPPER_LOGGED 8              /* failed calls logged one by one; the rest only counted */

static int64_t fw_ep = -1, dns_ep = -1, web_ep = -1;
static struct hic_msg upper_msg; /* not shared with the control channel's: a DNS call can come in the middle of a migration step */
static uint64_t upper_failures;

/* The alias's capability, waiting for the service to register it; -HIC_ERR_* when it has not by
 * `deadline` (virtual ns) or the lookup fails otherwise. */
static int64_t upper_find(const char *name, uint64_t deadline) {
  for (;;) {
    int64_t slot = hic_registry_lookup(UPPER_REGISTRY, name, strlen(name));
    if (slot != -HIC_ERR_NOT_FOUND || (uint64_t)hic_time_now() >= deadline) return slot;
    hic_sleep(100000);
  }
}

/* One call with upper_msg's payload already in place; the reply's label, or the HIC_ERR_* code
 * the call itself failed with (counted, and logged while there are few). */
static uint64_t upper_call(int64_t ep, const char *who, uint64_t label, uint64_t len, uint64_t w0, uint64_t w1, uint64_t w2) {
  upper_msg.label = label;
  upper_msg.words[0] = w0, upper_msg.words[1] = w1, upper_msg.words[2] = w2, upper_msg.words[3] = 0;
  upper_msg.cap = HIC_NO_CAP;
  upper_msg.cap_move = 0;
  upper_msg.len = len;
  int64_t r = hic_call((uint64_t)ep, &upper_msg, 0, UPPER_CALL_NS);
  if (r < 0 && upper_failures++ < UPPER_LOGGED) hic_log("netstack " HIC_MODULE_VERSION ": a call to the %s failed: %ld", who, r);
  return r < 0 ? (uint64_t)-r : upper_msg.label;
}

/* Finds the three services and applies the firewall's rules to `s`. 0, or -1 (logged). */
int upper_init(struct ns_stack *s) {
  uint64_t deadline = (uint64_t)hic_time_now() + UPPER_WAIT_NS;
  fw_ep = upper_find("cap://firewall/rules", deadline);
  dns_ep = upper_find("cap://dns/query", deadline);
  web_ep = upper_find("cap://web/http", deadline);
  if (fw_ep < 0 || dns_ep < 0 || web_ep < 0) {
    return hic_log("netstack " HIC_MODULE_VERSION ": upper services missing: firewall %ld, dns %ld, web %ld", fw_ep, dns_ep, web_ep), -1;
  }
  if (upper_rules(s) != 0) return -1;
  hic_log("netstack " HIC_MODULE_VERSION ": firewall rules applied: %u rules, hash 0x%08x; dns and web servers found", s->fw_count, s->fw_hash);
  return 0;
}

/* Fetches the firewall's table and enforces it in `s`, emitting a `rules` record: at start, and
 * again when the Module Manager asks (MIG_RULES, a configuration change). 0, or -1 (logged) with
 * the table in force before kept. */
int upper_rules(struct ns_stack *s) {
  uint64_t status = upper_call(fw_ep, "firewall", FW_RULES, 0, 0, 0, 0);
  if (status != FW_OK) return hic_log("netstack " HIC_MODULE_VERSION ": the firewall did not answer RULES: %lu", status), -1;
  static struct ns_fw_rule before[NS_MAX_FW_RULES];
  uint16_t before_count = s->fw_count;
  uint32_t before_hash = s->fw_hash;
  bool before_on = s->fw_on;
  memcpy(before, s->fw, sizeof before);
  int count = ns_set_firewall(s, upper_msg.payload, upper_msg.len);
  if (count < 0) return hic_log("netstack " HIC_MODULE_VERSION ": the firewall's table is malformed: %d", count), -1;
  /* The hash the core took over the bytes that came must be the one the firewall sent. */
  if ((uint64_t)count != upper_msg.words[0] || s->fw_hash != upper_msg.words[1]) {
    hic_log("netstack " HIC_MODULE_VERSION ": the firewall's table does not match its reply: %d rules, hash 0x%08x; it said %lu, 0x%08lx", count, s->fw_hash,
            upper_msg.words[0], upper_msg.words[1]);
    memcpy(s->fw, before, sizeof before);
    s->fw_count = before_count, s->fw_hash = before_hash, s->fw_on = before_on;
    return -1;
  }
  netstack_emit_rules(&(struct netstack_record_rules){.rules = s->fw_count, .hash = s->fw_hash, .version = upper_msg.words[2]});
  return 0;
}

/* The resolver's response to a query, written into out; its length, or 0 when there is none (a
 * query it refused as malformed, or no answer from it). */
size_t upper_dns(const uint8_t *query, size_t len, uint8_t *out, size_t cap) {
  if (len > DNS_MSG_MAX) return 0;
  memcpy(upper_msg.payload, query, len);
  if (upper_call(dns_ep, "dns resolver", DNS_QUERY, len, 0, 0, 0) != DNS_OK || upper_msg.len > cap) return 0;
  memcpy(out, upper_msg.payload, upper_msg.len);
  return upper_msg.len;
}

/* A request line: its response's body length and token. False when the web server was not reached. */
bool upper_http_request(const char *line, uint32_t len, uint32_t *body_len, uint64_t *token) {
  if (len > WEB_LINE_MAX) return false;
  memcpy(upper_msg.payload, line, len);
  if (upper_call(web_ep, "web server", WEB_REQUEST, len, 0, 0, 0) != WEB_OK) return false;
  *body_len = (uint32_t)upper_msg.words[0];
  *token = upper_msg.words[1];
  return true;
}

/* The head of the response a token names, written into out; its length, or 0 if not had. */
uint32_t upper_http_head(uint64_t token, char *out, size_t cap) {
  if (upper_call(web_ep, "web server", WEB_HEAD, 0, token, 0, 0) != WEB_OK || upper_msg.len > cap) return 0;
  memcpy(out, upper_msg.payload, upper_msg.len);
  return (uint32_t)upper_msg.len;
}

/* Body bytes [offset, offset + len) of the response a token names, len at most WEB_CHUNK_MAX. */
bool upper_http_body(uint64_t token, uint32_t offset, uint8_t *out, uint32_t len) {
  if (upper_call(web_ep, "web server", WEB_BODY, 0, token, offset, len) != WEB_OK || upper_msg.len != len) return false;
  memcpy(out, upper_msg.payload, len);
  return true;
}
