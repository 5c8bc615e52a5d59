/* Revocation across sandboxes. The granter (cap_forger, role granter) passes a copy B of its
 * notification capability A to the holder (cap_forger, role holder) in a call; the holder derives C
 * from B; the granter revokes A, which must take B and C out of the holder's CSpace at once. A
 * second call asks the holder whether both slots are empty now. */
#include "forger.h"

static const char holder_name[] = "cap://holder/v1.0.0/in", holder_alias[] = "cap://holder/in";
static struct hic_msg msg;

void cascade_grant(void) {
  int64_t a = hic_notification_create();
  int64_t holder;
  while ((holder = hic_registry_lookup(REGISTRY, holder_alias, sizeof holder_alias - 1)) == -HIC_ERR_NOT_FOUND) hic_sleep(100000);
  check("lookup holder", holder >= 0 && a >= 0, 1);

  memset(&msg, 0, sizeof msg);
  msg.cap = a; /* a derived copy, B, goes to the holder */
  check("call holder with B", hic_call((uint64_t)holder, &msg, 0, 0), 0);
  check("holder derived C", msg.words[0], 1);
  check("revoke A across sandboxes", hic_cap_revoke((uint64_t)a), 2);
  check("A survives", hic_cap_info((uint64_t)a), ((int64_t)HIC_CAP_NOTIFICATION << 8) | HIC_RIGHTS_ALL);

  memset(&msg, 0, sizeof msg);
  msg.cap = HIC_NO_CAP;
  check("call holder again", hic_call((uint64_t)holder, &msg, 0, 0), 0);
  check("holder lost B and C", msg.words[0], 0);
}

void cascade_hold(void) {
  int64_t ep = hic_endpoint_create();
  check("register holder", ep < 0 ? ep : hic_registry_register(REGISTRY, holder_name, sizeof holder_name - 1, (uint64_t)ep), 0);
  if (ep < 0) return;

  check("recv B", hic_recv((uint64_t)ep, &msg, 0, 0), 0);
  int64_t b = msg.cap;
  check("B is a notification", hic_cap_info((uint64_t)b), ((int64_t)HIC_CAP_NOTIFICATION << 8) | HIC_RIGHTS_ALL);
  int64_t c = hic_cap_copy((uint64_t)b, HIC_RIGHT_W);
  check("copy C from B", c >= 0, 1);
  msg.cap = HIC_NO_CAP;
  msg.words[0] = c >= 0;
  check("reply", hic_reply(&msg), 0);

  check("recv after revoke", hic_recv((uint64_t)ep, &msg, 0, 0), 0);
  int before = failures;
  check("B gone", hic_cap_info((uint64_t)b), -HIC_ERR_BAD_SLOT);
  check("C gone", hic_cap_info((uint64_t)c), -HIC_ERR_BAD_SLOT);
  check("notify through C", hic_notify((uint64_t)c, 1), -HIC_ERR_BAD_SLOT);
  msg.cap = HIC_NO_CAP;
  msg.words[0] = (uint64_t)(failures - before);
  check("reply again", hic_reply(&msg), 0);
}
