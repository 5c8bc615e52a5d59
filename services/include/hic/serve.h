/* The life of a pure server (firewall, dns_resolver, web_server): one endpoint registered as
 * cap://<service>/v<version>/<endpoint> -- the first version registered also becomes the alias
 * cap://<service>/<endpoint> that clients look up -- and every call answered at once by a handler.
 * Such a server keeps no state between calls that a client could depend on, so it never waits
 * on anyone and never needs its state migrated -- except what its private channel sets, if it has
 * one (hic_serve_private): the firewall's configuration versions, which a new version of the
 * firewall would start without (the Module Manager updates no firewall).
 *
 * The handler gets the call in msg and returns the reply's label: 0 with the reply's words and
 * payload written into msg, or a HIC_ERR_* code -- then the reply carries nothing else, and the
 * handler must have changed nothing. A call that brings a capability is refused here, before the
 * handler sees it, and the capability is deleted. A one-line report follows every second of
 * virtual time in which calls came. HIC_MODULE_NAME and HIC_MODULE_VERSION are the module.json's,
 * defined by the toolchain (hicmod-toolchain/build.ts).
 *
 * An update's notice (hic/notice.h) is answered here, with the server's `readiness`, and logged. */
#ifndef HIC_SERVE_H
#define HIC_SERVE_H

#include <stdbool.h>

#include "hic/notice.h"
#include "hic/runtime.h"

#define HIC_SERVE_REGISTRY 0              /* slot 0: the service registry, from the manifest */
#define HIC_SERVE_REPORT_NS 1000000000ull /* 1 s */

typedef uint64_t (*hic_serve_fn)(struct hic_msg *msg);

static uint64_t hic_serve_refused; /* calls refused, for whatever reason: for the report */

/* NOTICE_UPDATE: checked, logged, and answered with what the update means to this server. */
static inline uint64_t hic_serve_notice(struct hic_msg *msg, uint64_t readiness) {
  static const char *const events[] = {"", "begins", "completed", "rolled back", "failed"};
  uint64_t event = msg->words[0];
  if (event == 0 || event > NOTICE_EVENT_MAX || msg->len == 0 || msg->len > NOTICE_NAME_MAX) return HIC_ERR_INVALID_ARGUMENT;
  char name[NOTICE_NAME_MAX + 1];
  for (uint64_t i = 0; i < msg->len; i++) { /* a module name, [a-z][a-z0-9_]*: nothing else reaches the log */
    char c = (char)msg->payload[i];
    if (!((c >= 'a' && c <= 'z') || (i > 0 && ((c >= '0' && c <= '9') || c == '_')))) return HIC_ERR_INVALID_ARGUMENT;
    name[i] = c;
  }
  name[msg->len] = 0;
  uint64_t from = msg->words[1], to = msg->words[2];
  hic_log(HIC_MODULE_NAME ": notice: the update of %s %lu.%lu.%lu to %lu.%lu.%lu %s; answered %lu", name, from >> 16, from >> 8 & 0xff, from & 0xff,
          to >> 16, to >> 8 & 0xff, to & 0xff, events[event], readiness);
  memset(msg->words, 0, sizeof msg->words);
  msg->words[0] = readiness;
  msg->len = 0;
  return 0;
}

/* One call taken from an endpoint: answered by `answer` (a capability that came is refused and
 * deleted, a notice answered with `readiness`), and the reply sent. */
static inline void hic_serve_one(struct hic_msg *msg, hic_serve_fn answer, uint64_t readiness) {
  uint64_t status = HIC_ERR_INVALID_ARGUMENT;
  if (msg->cap >= 0) hic_cap_delete((uint64_t)msg->cap);
  else status = msg->label == NOTICE_UPDATE ? hic_serve_notice(msg, readiness) : answer(msg);
  if (status != 0) {
    hic_serve_refused++;
    memset(msg->words, 0, sizeof msg->words);
    msg->len = 0;
  }
  msg->label = status;
  msg->cap = HIC_NO_CAP;
  msg->cap_move = 0;
  int64_t r = hic_reply(msg);
  if (r < 0) hic_log(HIC_MODULE_NAME ": reply failed: %ld", r);
}

/* How often a server with a private endpoint as well looks at it (hic_serve_private): calls
 * there wait at most this long. A server waits on one endpoint at a time, so the public one,
 * which every client calls, is the one it blocks on. */
#define HIC_SERVE_PRIVATE_POLL_NS 2000000ull /* 2 ms */

/* Registers the endpoint and serves forever; returns (nonzero) only when that fails. With
 * `private_ep` >= 0 (a channel the image granted, which only its other holders can call), calls
 * there are answered by `private_answer`, looked for every HIC_SERVE_PRIVATE_POLL_NS. */
static inline int hic_serve_private(const char *service, const char *endpoint, struct hic_msg *msg, hic_serve_fn answer, void (*report)(void),
                                    uint64_t readiness, int64_t private_ep, hic_serve_fn private_answer) {
  char name[64];
  int len = hic_snprintf(name, sizeof name, "cap://%s/v%s/%s", service, HIC_MODULE_VERSION, endpoint);
  int64_t ep = hic_endpoint_create();
  int64_t r = ep < 0 ? ep : hic_registry_register(HIC_SERVE_REGISTRY, name, (uint64_t)len, (uint64_t)ep);
  if (r < 0) return hic_log(HIC_MODULE_NAME ": registering %s failed: %ld", name, r), 1;
  hic_log(HIC_MODULE_NAME " " HIC_MODULE_VERSION ": serving %s and cap://%s/%s", name, service, endpoint);
  report();

  uint64_t last_report = (uint64_t)hic_time_now(), calls = 0;
  for (;;) {
    /* Waiting at most a report period, so the last calls of a busy second get their report. */
    r = hic_recv((uint64_t)ep, msg, 0, private_ep >= 0 ? HIC_SERVE_PRIVATE_POLL_NS : HIC_SERVE_REPORT_NS);
    if (r < 0 && r != -HIC_ERR_TIMEOUT) return hic_log(HIC_MODULE_NAME ": recv failed: %ld", r), 2;
    if (r == 0) calls++, hic_serve_one(msg, answer, readiness);
    if (private_ep >= 0 && hic_recv((uint64_t)private_ep, msg, HIC_NONBLOCK, 0) == 0) calls++, hic_serve_one(msg, private_answer, readiness);
    uint64_t now = (uint64_t)hic_time_now();
    if (calls && now - last_report >= HIC_SERVE_REPORT_NS) {
      report();
      last_report = now;
      calls = 0;
    }
  }
}

static inline int hic_serve(const char *service, const char *endpoint, struct hic_msg *msg, hic_serve_fn answer, void (*report)(void), uint64_t readiness) {
  return hic_serve_private(service, endpoint, msg, answer, report, readiness, -1, 0);
}

#endif /* HIC_SERVE_H */
