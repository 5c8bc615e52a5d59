/* cap_forger: a hostile guest for capabilities. It names slots it does not hold, uses
 * capabilities of the wrong type or without the right, derives more rights than it has, keeps
 * using capabilities after they were deleted or revoked, and fills its CSpace; every attempt must
 * fail with the exact error and change nothing. One line per check:
 *
 *   cap_forger: check <name>: ok       or       cap_forger: check <name>: FAIL got X want Y
 *
 * Its configuration's `role`: alone runs the checks in this file; granter also grants a
 * capability to a holder and revokes it (cascade.c); holder is that holder. The exit status is the number of failed checks. It
 * needs only the registry capability in slot 0 with the default rights (R|W, no G). */
#include "forger.h"

#define SLOTS 64 /* CSPACE_SLOTS */
#define TIMEOUT_NS 2000000 /* 2 ms */
#define INFO(type, rights) (((int64_t)(type) << 8) | (rights))

int failures;
static struct hic_msg msg;

void check(const char *name, int64_t got, int64_t want) {
  if (got == want) {
    hic_log("cap_forger: check %s: ok", name);
  } else {
    hic_log("cap_forger: check %s: FAIL got %ld want %ld", name, got, want);
    failures++;
  }
}

/* A check that needs a capability to work with: a failure to make it is a failure too. */
static int64_t need(const char *what, int64_t slot) {
  if (slot < 0) check(what, slot, 0);
  return slot;
}

static void forged_slots(int64_t ep) {
  check("info huge slot", hic_cap_info(~0ULL), -HIC_ERR_BAD_SLOT);
  check("info slot 64", hic_cap_info(SLOTS), -HIC_ERR_BAD_SLOT);
  check("info slot 9999", hic_cap_info(9999), -HIC_ERR_BAD_SLOT);
  check("notify empty slot", hic_notify((uint64_t)ep + 1, 1), -HIC_ERR_BAD_SLOT);
  check("notify on endpoint", hic_notify((uint64_t)ep, 1), -HIC_ERR_WRONG_TYPE);
  check("recv on registry", hic_recv(REGISTRY, &msg, HIC_NONBLOCK, 0), -HIC_ERR_WRONG_TYPE);
}

static void rights(int64_t ep) {
  int64_t send_only = need("copy W", hic_cap_copy((uint64_t)ep, HIC_RIGHT_W));
  check("info endpoint", hic_cap_info((uint64_t)ep), INFO(HIC_CAP_ENDPOINT, HIC_RIGHTS_ALL));
  check("info registry", hic_cap_info(REGISTRY), INFO(HIC_CAP_REGISTRY, HIC_RIGHT_R | HIC_RIGHT_W));
  check("info send-only copy", hic_cap_info((uint64_t)send_only), INFO(HIC_CAP_ENDPOINT, HIC_RIGHT_W));
  check("recv without R", hic_recv((uint64_t)send_only, &msg, HIC_NONBLOCK, 0), -HIC_ERR_NO_RIGHT);
  check("copy W asking RW", hic_cap_copy((uint64_t)send_only, HIC_RIGHT_R | HIC_RIGHT_W), -HIC_ERR_NO_RIGHT);
  check("copy bad rights", hic_cap_copy((uint64_t)ep, 8), -HIC_ERR_INVALID_ARGUMENT);

  /* Passing a capability on needs G; the refusal comes before the endpoint is even looked at. */
  memset(&msg, 0, sizeof msg);
  msg.cap = send_only;
  check("send cap without G", hic_send((uint64_t)ep, &msg, HIC_NONBLOCK), -HIC_ERR_NO_RIGHT);
  msg.cap = HIC_NO_CAP;
  check("send nobody waits", hic_send((uint64_t)ep, &msg, HIC_NONBLOCK), -HIC_ERR_WOULD_BLOCK);

  check("delete copy", hic_cap_delete((uint64_t)send_only), 0);
  check("info after delete", hic_cap_info((uint64_t)send_only), -HIC_ERR_BAD_SLOT);
  check("send after delete", hic_send((uint64_t)send_only, &msg, HIC_NONBLOCK), -HIC_ERR_BAD_SLOT);
}

/* Malformed messages are refused before anything is sent or received. */
static void messages(int64_t ep) {
  memset(&msg, 0, sizeof msg);
  msg.cap = HIC_NO_CAP;
  msg.len = HIC_MSG_PAYLOAD_MAX + 1;
  check("send payload too long", hic_send((uint64_t)ep, &msg, HIC_NONBLOCK), -HIC_ERR_INVALID_ARGUMENT);
  msg.len = 0;
  msg.cap_move = 2;
  check("send cap_move 2", hic_send((uint64_t)ep, &msg, HIC_NONBLOCK), -HIC_ERR_INVALID_ARGUMENT);
  msg.cap_move = 0;
  check("send bad flags", hic_send((uint64_t)ep, &msg, 2), -HIC_ERR_INVALID_ARGUMENT);
  check("send unmapped message", hic_send((uint64_t)ep, (const void *)0x10, HIC_NONBLOCK), -HIC_ERR_BAD_ADDRESS);
  /* Our own code is mapped read-only: no message can be received into it. */
  check("recv into code", hic_recv((uint64_t)ep, (void *)(uintptr_t)&hic_main, HIC_NONBLOCK, 0), -HIC_ERR_BAD_ADDRESS);
  check("reply without a caller", hic_reply(&msg), -HIC_ERR_NOT_FOUND);
}

/* A -> B -> C inside one CSpace: revoking A takes B and C, and keeps A. */
static void revocation(int64_t ep) {
  int64_t b = need("copy B", hic_cap_copy((uint64_t)ep, HIC_RIGHT_W | HIC_RIGHT_G));
  int64_t c = need("copy C", hic_cap_copy((uint64_t)b, HIC_RIGHT_W));
  check("revoke A", hic_cap_revoke((uint64_t)ep), 2);
  check("info B after revoke", hic_cap_info((uint64_t)b), -HIC_ERR_BAD_SLOT);
  check("info C after revoke", hic_cap_info((uint64_t)c), -HIC_ERR_BAD_SLOT);
  check("A survives revoke", hic_cap_info((uint64_t)ep), INFO(HIC_CAP_ENDPOINT, HIC_RIGHTS_ALL));
  check("revoke A again", hic_cap_revoke((uint64_t)ep), 0);
}

static void registry(int64_t ep) {
  static const char unknown[] = "cap://nosuch/rpc", alias[] = "cap://forger/x";
  static const char bad[] = "cap://Forger Name", unversioned[] = "cap://forger/x";
  static const char mine[] = "cap://forger/v1.0.0/x", other[] = "cap://forger/v2.0.0/x";
  check("lookup unknown", hic_registry_lookup(REGISTRY, unknown, sizeof unknown - 1), -HIC_ERR_NOT_FOUND);
  check("register malformed", hic_registry_register(REGISTRY, bad, sizeof bad - 1, (uint64_t)ep), -HIC_ERR_INVALID_ARGUMENT);
  check("register unversioned", hic_registry_register(REGISTRY, unversioned, sizeof unversioned - 1, (uint64_t)ep), -HIC_ERR_INVALID_ARGUMENT);
  check("register empty name", hic_registry_register(REGISTRY, mine, 0, (uint64_t)ep), -HIC_ERR_INVALID_ARGUMENT);
  check("register", hic_registry_register(REGISTRY, mine, sizeof mine - 1, (uint64_t)ep), 0);
  check("register twice", hic_registry_register(REGISTRY, mine, sizeof mine - 1, (uint64_t)ep), -HIC_ERR_NAME_TAKEN);
  check("register other", hic_registry_register(REGISTRY, other, sizeof other - 1, (uint64_t)ep), 0);
  check("switch without G", hic_registry_switch(REGISTRY, alias, sizeof alias - 1, other, sizeof other - 1), -HIC_ERR_NO_RIGHT);
  check("lookup on endpoint", hic_registry_lookup((uint64_t)ep, alias, sizeof alias - 1), -HIC_ERR_WRONG_TYPE);
  int64_t found = need("lookup alias", hic_registry_lookup(REGISTRY, alias, sizeof alias - 1));
  check("info looked up", hic_cap_info((uint64_t)found), INFO(HIC_CAP_ENDPOINT, HIC_RIGHT_W | HIC_RIGHT_G));
  check("delete looked up", hic_cap_delete((uint64_t)found), 0);
}

/* Copies until the CSpace is full: the next one gets NO_SLOT; then every copy is deleted. */
static void fill(int64_t ep) {
  int64_t copies[SLOTS], n = 0, r;
  while ((r = hic_cap_copy((uint64_t)ep, HIC_RIGHT_W)) >= 0 && n < SLOTS) copies[n++] = r;
  check("copy into full cspace", r, -HIC_ERR_NO_SLOT);
  int deleted = 0;
  for (int64_t i = 0; i < n; i++) deleted += hic_cap_delete((uint64_t)copies[i]) == 0;
  check("delete every copy", deleted, n);
  int64_t again = hic_cap_copy((uint64_t)ep, HIC_RIGHT_W);
  check("copy after emptying", again >= 0 ? 0 : again, 0);
  if (again >= 0) hic_cap_delete((uint64_t)again);
}

static void blocking(int64_t ep) {
  check("recv nonblocking", hic_recv((uint64_t)ep, &msg, HIC_NONBLOCK, 0), -HIC_ERR_WOULD_BLOCK);
  int64_t before = hic_time_now();
  check("recv timeout", hic_recv((uint64_t)ep, &msg, 0, TIMEOUT_NS), -HIC_ERR_TIMEOUT);
  int64_t waited = hic_time_now() - before;
  check("recv waited the timeout", waited >= TIMEOUT_NS, 1);
  int64_t n = need("notification", hic_notification_create());
  check("info notification", hic_cap_info((uint64_t)n), INFO(HIC_CAP_NOTIFICATION, HIC_RIGHTS_ALL));
  check("wait nonblocking", hic_wait((uint64_t)n, HIC_NONBLOCK, 0), -HIC_ERR_WOULD_BLOCK);
  check("notify no bits", hic_notify((uint64_t)n, 0), -HIC_ERR_INVALID_ARGUMENT);
  check("notify", hic_notify((uint64_t)n, 6), 0);
  check("wait takes the bits", hic_wait((uint64_t)n, 0, TIMEOUT_NS), 6);
  check("wait on endpoint", hic_wait((uint64_t)ep, 0, TIMEOUT_NS), -HIC_ERR_WRONG_TYPE);
  check("delete notification", hic_cap_delete((uint64_t)n), 0);
  check("wait after delete", hic_wait((uint64_t)n, HIC_NONBLOCK, 0), -HIC_ERR_BAD_SLOT);
}

/* A memory capability without R cannot be mapped; one with R only maps read-only. */
static void memory(void) {
  int64_t m = need("memory_create", hic_memory_create(4096));
  check("info memory", hic_cap_info((uint64_t)m), INFO(HIC_CAP_MEMORY, HIC_RIGHTS_ALL));
  int64_t w = need("copy memory W", hic_cap_copy((uint64_t)m, HIC_RIGHT_W));
  check("map without R", hic_memory_map((uint64_t)w), -HIC_ERR_NO_RIGHT);
  check("unmap never mapped", hic_memory_unmap((uint64_t)m), -HIC_ERR_NOT_FOUND);
  check("map on registry slot", hic_memory_map(REGISTRY), -HIC_ERR_WRONG_TYPE);
  check("memory_create zero", hic_memory_create(0), -HIC_ERR_INVALID_ARGUMENT);
  check("memory_create past quota", hic_memory_create(64UL << 20), -HIC_ERR_QUOTA_EXCEEDED);
  check("delete memory", hic_cap_delete((uint64_t)m), 0);
  check("copy gone with parent", hic_cap_info((uint64_t)w), -HIC_ERR_BAD_SLOT);
}

int hic_main(void) {
  uint64_t role = hic_config()->role;
  if (role == CAP_FORGER_ROLE_HOLDER) {
    cascade_hold();
    hic_log("cap_forger: %d check(s) failed", failures);
    return failures;
  }
  int64_t ep = hic_endpoint_create();
  if (ep < 0) {
    hic_log("cap_forger: endpoint_create failed: %ld", ep);
    return 1;
  }
  forged_slots(ep);
  rights(ep);
  messages(ep);
  revocation(ep);
  registry(ep);
  fill(ep);
  blocking(ep);
  memory();
  if (role == CAP_FORGER_ROLE_GRANTER) cascade_grant();
  hic_log("cap_forger: %d check(s) failed", failures);
  return failures;
}
