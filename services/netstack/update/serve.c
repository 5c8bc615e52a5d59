/* update/serve.c -- the migration's control channel and its hooks in the service's loop. Every
 * call waiting on the channel is answered between batches of frames (mig_serve): the handler its
 * label names (the table below) decides, and this file does what every call shares -- the
 * capability that came is deleted, a refusal carries no capability and no words, and a reply that
 * cannot deliver its capability becomes MIG_ERR_NO_MEMORY. It also keeps the segments that
 * arrive for a connection the target expects (mig_intercept) until it is imported or cancelled. */
#include "migration.h"

#include "hic/eth.h"
#include "hic/frame_channel.h"

struct mig_state mig = {.channel = -1};

static uint64_t held_key[HOLD_MAX];
static uint16_t held_len[HOLD_MAX];
static uint8_t held[HOLD_MAX][FC_FRAME_MAX];
static struct hic_msg cmsg;

uint8_t *map_arrived(int64_t cap, uint64_t *size, uint64_t *err) {
  int64_t info = cap < 0 ? -1 : hic_cap_info((uint64_t)cap);
  if (info < 0 || info >> 8 != HIC_CAP_MEMORY || !(info & HIC_RIGHT_R)) return *err = MIG_ERR_BAD_CAP, (uint8_t *)0;
  int64_t n = hic_memory_size((uint64_t)cap), at = n < 0 ? n : hic_memory_map((uint64_t)cap);
  if (at < 0) return *err = MIG_ERR_BAD_CAP, (uint8_t *)0;
  *size = (uint64_t)n;
  return (uint8_t *)(uintptr_t)at;
}

int64_t new_object(uint64_t bytes, uint8_t **at) {
  int64_t mem = hic_memory_create(bytes);
  int64_t where = mem < 0 ? mem : hic_memory_map((uint64_t)mem);
  if (where < 0) {
    if (mem >= 0) hic_cap_delete((uint64_t)mem);
    return -1;
  }
  *at = (uint8_t *)(uintptr_t)where;
  return mem;
}

/** Removes the segments held for `key`: through the core in arrival order (`deliver`), or
 * dropped -- they were never acknowledged, so the client sends them again to whoever owns the
 * connection then. */
void release_held(uint64_t key, bool deliver) {
  uint32_t kept = 0;
  for (uint32_t j = 0; j < mig.held_count; j++) {
    if (held_key[j] == key) {
      if (deliver) ns_input(mig.stack, held[j], held_len[j], netstack_now(), netstack_emit, 0);
      else mig.st.held_dropped++;
      continue;
    }
    if (kept != j) held_key[kept] = held_key[j], held_len[kept] = held_len[j], memcpy(held[kept], held[j], held_len[j]);
    kept++;
  }
  mig.held_count = kept;
}

/** Before the core sees a received frame: true if it was taken (held for an expected
 * connection, or dropped because this instance retired). */
bool mig_intercept(const uint8_t *f, uint32_t len) {
  if (mig.phase == MIG_PHASE_RETIRED) return true;
  if (mig.expect_count == 0) return false;
  struct eth_tcp t;
  if (!eth_parse_tcp(f, len, true, &t)) return false;
  for (uint32_t i = 0; i < mig.expect_count; i++) {
    if (mig.expect[i] != t.key) continue;
    if (mig.held_count == HOLD_MAX) { /* never acknowledged: the client sends it again */
      mig.st.held_dropped++;
      return true;
    }
    held_key[mig.held_count] = t.key;
    held_len[mig.held_count] = (uint16_t)len;
    memcpy(held[mig.held_count++], f, len);
    mig.st.held++;
    return true;
  }
  return false;
}

static uint64_t on_status(struct mig_call *call) {
  struct hic_msg *m = call->msg;
  netstack_drain_rx(); /* counts include every frame the driver steered here before this call */
  struct mig_status *s = (struct mig_status *)m->payload;
  *s = mig.st;
  s->phase = mig.phase;
  s->role = mig.role;
  s->agreed = mig.agreed;
  s->peer_schema = mig.peer_schema;
  s->connections = mig.stack->conn_count;
  s->accepted = mig.stack->stats.tcp_accepted;
  s->opened = mig.stack->stats.tcp_opened;
  s->version = HIC_MODULE_VERSION_NUM;
  s->instance = mig.instance;
  m->len = sizeof *s;
  return MIG_OK;
}

/* A configuration change: the firewall's table fetched again and enforced (upper_rules). Not in
 * the middle of an update: the handshake compared this table with the peer's. */
static uint64_t on_rules(struct mig_call *call) {
  struct hic_msg *m = call->msg;
  if (mig.phase != MIG_PHASE_SERVING) return MIG_ERR_STATE;
  if (upper_rules(mig.stack) != 0) return MIG_ERR_CONFIG;
  m->words[0] = mig.stack->fw_count;
  m->words[1] = mig.stack->fw_hash;
  return MIG_OK;
}

/** A connection closed by itself (not released): a source counts those that never got their
 * turn, and which of them the snapshot holds (the consistency check at the end). */
void mig_closed(uint32_t id, enum ns_close_reason why) {
  if (mig.phase != MIG_PHASE_SOURCE || why == NS_CLOSE_RELEASED) return;
  mig.st.closed_waiting++;
  if (snapshot_listed(id)) mig.st.closed_from_snapshot++;
}

void mig_init(struct ns_stack *s, int64_t channel, uint32_t instance, uint64_t started) {
  mig.stack = s;
  mig.channel = channel;
  mig.instance = instance;
  identity_init(started);
}

/* Label -> handler; a label without one is MIG_ERR_LABEL. */
static uint64_t (*const handlers[])(struct mig_call *) = {
    [MIG_HELLO] = on_hello,
    [MIG_PEER] = on_peer,
    [MIG_PREPARE] = on_prepare,
    [MIG_EXPORT_STATE] = on_export_state,
    [MIG_IMPORT_STATE] = on_import_state,
    [MIG_LIST] = on_list,
    [MIG_EXPECT] = on_expect,
    [MIG_CONN_OUT] = on_conn_out,
    [MIG_CONN_IN] = on_conn_in,
    [MIG_CONN_DONE] = on_conn_done,
    [MIG_CONN_BACK] = on_conn_back,
    [MIG_COMPLETE] = on_complete,
    [MIG_ABORT] = on_abort,
    [MIG_STATUS] = on_status,
    [MIG_RULES] = on_rules,
    [MIG_CONFIG_OUT] = on_config_out,
    [MIG_CONFIG_IN] = on_config_in,
};

/** Answers every call waiting on the control channel. */
void mig_serve(int64_t wake) {
  if (mig.channel < 0) return;
  for (;;) {
    int64_t got = hic_recv((uint64_t)mig.channel, &cmsg, HIC_NONBLOCK, 0);
    if (got == -HIC_ERR_WOULD_BLOCK) return;
    if (got < 0) return (void)hic_log("netstack: control channel: %ld", got);
    netstack_tick();
    int64_t came = cmsg.cap;
    uint64_t label = cmsg.label, status;
    cmsg.cap = HIC_NO_CAP;
    cmsg.cap_move = 0;
    uint64_t in_len = cmsg.len;
    cmsg.len = 0;
    struct mig_call call = {.msg = &cmsg, .len = in_len, .cap = came, .wake = wake};
    status = label < sizeof handlers / sizeof handlers[0] && handlers[label] ? handlers[label](&call) : MIG_ERR_LABEL;
    if (came >= 0) hic_cap_delete((uint64_t)came); /* consumed, or refused: we keep none */
    if (status != MIG_OK && cmsg.cap >= 0) hic_cap_delete((uint64_t)cmsg.cap), cmsg.cap = HIC_NO_CAP;
    if (status != MIG_OK && status != MIG_ERR_CORRUPT_SHARD) cmsg.words[0] = 0;
    cmsg.label = status;
    int64_t sent = hic_reply(&cmsg);
    if (sent < 0 && cmsg.cap >= 0) {
      /* The capability could not go (the caller's quota cannot take the memory object, or its
       * capability space is full): what it carried is dropped, and the caller, still waiting,
       * is told so instead. A connection packaged for it is taken up here again. */
      hic_cap_delete((uint64_t)cmsg.cap);
      if (label == MIG_CONN_OUT) {
        take_back((uint32_t)cmsg.words[1]);
        mig.st.exported--;
      }
      memset(cmsg.words, 0, sizeof cmsg.words);
      cmsg.words[0] = (uint64_t)-sent;
      cmsg.label = MIG_ERR_NO_MEMORY;
      cmsg.cap = HIC_NO_CAP;
      cmsg.cap_move = 0;
      hic_reply(&cmsg);
    }
  }
}
