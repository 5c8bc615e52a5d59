/* probe_flood: a hostile caller of netstack's loopback probe (hic/netstack_probe.h), for
 * images/probe-flood.himg. Any sandbox that can look up cap://netstack/stats can call it, so it
 * must refuse what is malformed and stay bounded under a flood: an oversized payload and an
 * unknown label are refused with INVALID_ARGUMENT, an empty payload and numbers at the edges of
 * the range are probes like any other, and `probes` well-formed ones in a row all pass. The exit
 * status says which check failed first (0: none); the image expects 0, and netstack's traffic
 * beside it keeps every byte. */
#include "hic/module.h"
#include "hic/netstack_probe.h"
#include "hic/runtime.h"

#define REGISTRY 0
#define TIMEOUT_NS 100000000ull

static struct hic_msg msg;

/* A raw call: label, words[0] and `len` payload bytes of 0x5a; returns the reply's label, or the
 * call's error as a negative. */
static int64_t raw(int64_t ep, uint64_t label, uint64_t number, uint64_t len) {
  memset(&msg, 0, sizeof msg);
  msg.label = label;
  msg.cap = HIC_NO_CAP;
  msg.words[0] = number;
  msg.len = len;
  memset(msg.payload, 0x5a, len);
  int64_t r = hic_call((uint64_t)ep, &msg, 0, TIMEOUT_NS);
  return r < 0 ? r : (int64_t)msg.label;
}

int hic_main(void) {
  const struct probe_flood_config *config = hic_config();
  static const char name[] = "cap://netstack/stats";
  int64_t ep;
  while ((ep = hic_registry_lookup(REGISTRY, name, sizeof name - 1)) == -HIC_ERR_NOT_FOUND) hic_sleep(1000000);
  if (ep < 0) return hic_log("probe_flood: lookup: %ld", ep), 1;
  if (raw(ep, NS_PROBE, 1, NS_PROBE_DATA_MAX + 1) != HIC_ERR_INVALID_ARGUMENT) return hic_log("probe_flood: an oversized probe was not refused"), 2;
  if (raw(ep, NS_PROBE, 1, HIC_MSG_PAYLOAD_MAX) != HIC_ERR_INVALID_ARGUMENT) return hic_log("probe_flood: a full-size probe was not refused"), 3;
  if (raw(ep, 99, 0, 0) != HIC_ERR_INVALID_ARGUMENT) return hic_log("probe_flood: an unknown label was not refused"), 4;
  if (raw(ep, NS_PROBE, ~0ull, 0) != 0 || msg.words[1] != 0 || msg.len != 0) return hic_log("probe_flood: an empty probe failed: %lu", msg.words[1]), 5;
  if (raw(ep, NS_PROBE, 0, NS_PROBE_DATA_MAX) != 0 || msg.words[1] != 0 || msg.len != NS_PROBE_DATA_MAX) return hic_log("probe_flood: a largest probe failed"), 6;
  for (uint64_t i = 0; i < config->probes; i++) {
    struct ns_probe_answer a = ns_probe(ep, &msg, 0x8000 + i, TIMEOUT_NS);
    if (!a.answered || a.failed || a.changed || a.echoed != NS_PROBE_BYTES) return hic_log("probe_flood: probe %lu: answered %d failed %u changed %u", i, a.answered, a.failed, a.changed), 7;
  }
  hic_log("probe_flood: 3 malformed calls refused, %lu probes passed", config->probes + 2);
  return 0;
}
