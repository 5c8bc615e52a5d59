/* echo: the RPC server of the IPC images. Its configuration's `version` is N (1 or 2): it
 * registers cap://echo/vN.0.0/rpc -- the first version registered becomes the alias
 * cap://echo/rpc that clients hold -- and answers every call forever:
 *
 *   request  label, words[0] = sequence number, payload, optionally a memory capability
 *   reply    label, words[0] = the same sequence number, words[1] = N (who answered),
 *            words[2] = 1 if a memory capability came and was written, payload reversed
 *
 * A memory capability is the way to share a buffer larger than a message: the server maps it,
 * writes "echo vN was here" at its start, unmaps it and deletes its copy. */
#include "hic/module.h"
#include "hic/runtime.h"

#define REGISTRY 0 /* slot 0: the service registry, from the manifest */

static struct hic_msg msg;

/* Maps the memory object the caller passed, signs it, and gives the capability up again. */
static int sign_shared(int64_t slot, uint64_t version) {
  int64_t at = hic_memory_map((uint64_t)slot);
  if (at < 0) {
    hic_log("echo: memory_map of slot %ld failed: %ld", slot, at);
    hic_cap_delete((uint64_t)slot);
    return 0;
  }
  hic_snprintf((char *)(uintptr_t)at, 64, "echo v%lu was here", version);
  int64_t r = hic_memory_unmap((uint64_t)slot);
  if (r == 0) r = hic_cap_delete((uint64_t)slot);
  if (r < 0) hic_log("echo: releasing the shared buffer failed: %ld", r);
  return r == 0;
}

static void reverse(uint8_t *p, uint64_t len) {
  for (uint64_t i = 0, j = len; i + 1 < j; i++, j--) {
    uint8_t t = p[i];
    p[i] = p[j - 1];
    p[j - 1] = t;
  }
}

int hic_main(void) {
  uint64_t version = hic_config()->version;
  int64_t ep = hic_endpoint_create();
  if (ep < 0) {
    hic_log("echo: endpoint_create failed: %ld", ep);
    return 1;
  }
  char name[64];
  int len = hic_snprintf(name, sizeof name, "cap://echo/v%lu.0.0/rpc", version);
  int64_t r = hic_registry_register(REGISTRY, name, (uint64_t)len, (uint64_t)ep);
  if (r < 0) {
    hic_log("echo: register %s failed: %ld", name, r);
    return 1;
  }
  hic_log("echo: v%lu serving %s", version, name);

  for (uint64_t served = 0;; served++) {
    r = hic_recv((uint64_t)ep, &msg, 0, 0);
    if (r < 0) {
      hic_log("echo: recv failed after %lu calls: %ld", served, r);
      return 1;
    }
    /* label and words[0] stay as they came: the reply names the request it answers. */
    msg.words[1] = version;
    msg.words[2] = msg.cap >= 0 ? (uint64_t)sign_shared(msg.cap, version) : 0;
    msg.words[3] = 0;
    reverse(msg.payload, msg.len);
    msg.cap = HIC_NO_CAP; /* the reply passes nothing back */
    msg.cap_move = 0;
    r = hic_reply(&msg);
    if (r < 0) hic_log("echo: reply to call %lu failed: %ld", msg.words[0], r);
  }
}
