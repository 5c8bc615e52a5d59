/* rpc_client: calls cap://echo/rpc K times (K = its configuration's `calls`) and checks every reply.
 * Each call carries its sequence number (1..K) in words[0] and a short payload the server sends
 * back reversed; words[1] of the reply says which version answered. The first call also passes
 * a copy of a memory object: afterwards the shared buffer must read "echo vN was here".
 *
 * It logs a line whenever the answering version changes -- with the call, when it was sent and
 * answered, and when the call before it was sent, so a test can place an alias switch between
 * two calls -- and exactly one summary line at the end:
 *
 *   rpc_client: K calls, A answered, v1 X, v2 Y, lost L, duplicated D, bad B
 *
 * Each of these is also a typed record (module.json: version_changed, call_failed, summary),
 * which is what tests read.
 *
 * Exit status: 0 when every call was answered exactly once and correctly; the error code
 * (HIC_ERR_*, e.g. 14 PEER_GONE) when a call failed -- the calls stop there; 1 otherwise. */
#include "hic/module.h"
#include "hic/runtime.h"

#define REGISTRY 0
#define ECHO_LABEL 0x4543484fUL /* "ECHO" */
#define SHARED_LEN 4096
#define VERSIONS 2

static struct hic_msg msg;
static const char alias[] = "cap://echo/rpc";

/* The server may not have registered yet: look the alias up until it has. */
static int64_t find_echo(void) {
  for (;;) {
    int64_t slot = hic_registry_lookup(REGISTRY, alias, sizeof alias - 1);
    if (slot != -HIC_ERR_NOT_FOUND) return slot;
    hic_sleep(100000);
  }
}

int hic_main(void) {
  uint64_t calls = hic_config()->calls;
  int64_t echo = find_echo();
  if (echo < 0) {
    hic_log("rpc_client: lookup %s failed: %ld", alias, echo);
    return 1;
  }
  int64_t shared = hic_memory_create(SHARED_LEN);
  int64_t shared_at = shared < 0 ? shared : hic_memory_map((uint64_t)shared);
  if (shared_at < 0) {
    hic_log("rpc_client: shared buffer: %ld", shared_at);
    return 1;
  }
  char *buffer = (char *)(uintptr_t)shared_at;

  uint64_t answered = 0, lost = 0, duplicated = 0, bad = 0, by[VERSIONS + 1] = {0};
  uint64_t last_version = 0, last_sent_at = 0, highest = 0;
  int64_t failed = 0;
  for (uint64_t seq = 1; seq <= calls; seq++) {
    char want[32];
    msg.label = ECHO_LABEL;
    msg.words[0] = seq;
    msg.words[1] = msg.words[2] = msg.words[3] = 0;
    msg.len = (uint64_t)hic_snprintf((char *)msg.payload, 32, "call %lu", seq);
    memcpy(want, msg.payload, msg.len);
    msg.cap = seq == 1 ? shared : HIC_NO_CAP; /* a derived copy: cap_move 0 */
    msg.cap_move = 0;
    uint64_t sent_at = (uint64_t)hic_time_now();
    int64_t r = hic_call((uint64_t)echo, &msg, 0, 0);
    if (r < 0) {
      rpc_client_emit_call_failed(&(struct rpc_client_record_call_failed){.call = seq, .error = (uint64_t)-r});
      hic_log("rpc_client: call %lu failed: error %ld", seq, -r);
      lost += calls - seq + 1;
      failed = -r;
      break;
    }
    uint64_t answer_at = (uint64_t)hic_time_now();
    uint64_t got = msg.words[0], version = msg.words[1];
    if (got <= highest) { /* an earlier call's answer again: this call's own never came */
      duplicated++;
      lost++;
      continue;
    }
    highest = got;
    /* Calls are synchronous: an answer for a later call than the one made would be a bug too. */
    int ok = got == seq && msg.label == ECHO_LABEL && msg.len == strlen(want) && version >= 1 && version <= VERSIONS;
    for (uint64_t i = 0; ok && i < msg.len; i++) ok = msg.payload[i] == (uint8_t)want[msg.len - 1 - i];
    if (!ok) {
      hic_log("rpc_client: bad reply to call %lu: seq %lu, version %lu, len %lu", seq, got, version, msg.len);
      bad++;
      continue;
    }
    answered++;
    by[version]++;
    if (version != last_version) {
      rpc_client_emit_version_changed(&(struct rpc_client_record_version_changed){
          .call = seq, .version = version, .sent_at = sent_at, .answered_at = answer_at, .previous_sent_at = last_sent_at});
      hic_log("rpc_client: call %lu answered by v%lu (sent at %lu ns, answered at %lu ns; call before sent at %lu ns)", seq, version, sent_at,
              answer_at, last_sent_at);
      last_version = version;
    }
    last_sent_at = sent_at;
    if (seq == 1) {
      char expect[32];
      hic_snprintf(expect, sizeof expect, "echo v%lu was here", version);
      if (msg.words[2] == 1 && strcmp(buffer, expect) == 0) {
        hic_log("rpc_client: shared buffer reads \"%s\"", buffer);
      } else {
        buffer[31] = 0;
        hic_log("rpc_client: shared buffer check failed (words[2] %lu, buffer \"%s\")", msg.words[2], buffer);
        bad++;
      }
    }
  }
  rpc_client_emit_summary(&(struct rpc_client_record_summary){
      .calls = calls, .answered = answered, .v1 = by[1], .v2 = by[2], .lost = lost, .duplicated = duplicated, .bad = bad});
  hic_log("rpc_client: %lu calls, %lu answered, v1 %lu, v2 %lu, lost %lu, duplicated %lu, bad %lu", calls, answered, by[1], by[2], lost, duplicated, bad);
  if (failed) return (int)failed;
  return answered == calls && lost == 0 && duplicated == 0 && bad == 0 ? 0 : 1;
}
