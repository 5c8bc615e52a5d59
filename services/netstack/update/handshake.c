/* update/handshake.c -- the first three calls of a migration: HELLO says who this instance is
 * (the module's signed metadata, HIC_MODULE_* from module.json, and an instance UUID of its own),
 * PEER checks who the other side is and agrees on the protocol version and the record schemas
 * both can use, PREPARE makes the source give its connections away. Until PEER succeeds nothing
 * about the instance has changed. */
#include "migration.h"

_Static_assert(NS_SCHEMA == HIC_MODULE_SCHEMA, "module.json's stateSchema must be the schema the core exports");
_Static_assert(sizeof(struct mig_hello) == 76, "struct mig_hello layout");

static const uint8_t module_uuid[16] = HIC_MODULE_UUID;
static const uint16_t module_protocols[] = HIC_MODULE_PROTOCOLS;

/** The instance UUID: the module's, with its last 8 bytes keyed by version, instance and start time. */
void identity_init(uint64_t started) {
  memcpy(mig.instance_uuid, module_uuid, 16);
  uint64_t h = 14695981039346656037ull; /* FNV-1a */
  uint64_t parts[3] = {HIC_MODULE_VERSION_NUM, mig.instance, started};
  for (int i = 0; i < 3; i++)
    for (int b = 0; b < 8; b++) h = (h ^ (uint8_t)(parts[i] >> (8 * b))) * 1099511628211ull;
  le64(mig.instance_uuid + 8, h);
  mig.instance_uuid[8] = (uint8_t)((mig.instance_uuid[8] & 0x3f) | 0x80); /* RFC 9562 variant */
}

/** The schemas this build reads: its own and every older one. */
uint16_t import_mask(void) { return (uint16_t)(((1u << (NS_SCHEMA + 1)) - 1) & ~1u); }

/** The schema to write for the peer: ours if it reads it, else the newest older one it reads (0: none). */
uint16_t export_schema(void) {
  for (uint16_t s = NS_SCHEMA; s >= 1; s--)
    if (mig.peer_imports & (1u << s)) return s;
  return 0;
}

static void hello_fill(struct mig_hello *h) {
  memset(h, 0, sizeof *h);
  memcpy(h->module_uuid, module_uuid, 16);
  memcpy(h->instance_uuid, mig.instance_uuid, 16);
  memcpy(h->module, HIC_MODULE_NAME, sizeof HIC_MODULE_NAME < sizeof h->module ? sizeof HIC_MODULE_NAME : sizeof h->module);
  h->version = HIC_MODULE_VERSION_NUM;
  for (uint32_t i = 0; i < sizeof module_protocols / sizeof module_protocols[0] && i < MIG_MAX_PROTOCOLS; i++) h->protocols[i] = module_protocols[i];
  h->schema = NS_SCHEMA;
  h->imports = import_mask();
  h->rule_hash = mig.stack->fw_hash; /* the firewall rules in force (core/firewall.c); 0: none */
  h->connections = mig.stack->conn_count;
  h->instance = mig.instance;
}

/** The highest version both lists hold, or 0. */
static uint16_t negotiate(const uint16_t *theirs) {
  uint16_t best = 0;
  for (uint32_t i = 0; i < sizeof module_protocols / sizeof module_protocols[0]; i++)
    for (int j = 0; j < MIG_MAX_PROTOCOLS; j++)
      if (module_protocols[i] && theirs[j] == module_protocols[i] && module_protocols[i] > best) best = module_protocols[i];
  return best;
}

uint64_t on_hello(struct mig_call *call) {
  struct hic_msg *m = call->msg;
  if (mig.phase != MIG_PHASE_SERVING && mig.phase != MIG_PHASE_HELLO) return MIG_ERR_STATE;
  int64_t copy = hic_cap_copy((uint64_t)call->wake, HIC_RIGHT_W | HIC_RIGHT_G); /* G: so it can travel in the reply */
  if (copy < 0) return MIG_ERR_NO_MEMORY;
  mig.phase = MIG_PHASE_HELLO;
  hello_fill((struct mig_hello *)m->payload);
  m->len = sizeof(struct mig_hello);
  m->cap = copy;
  m->cap_move = 1;
  return MIG_OK;
}

uint64_t on_peer(struct mig_call *call) {
  struct hic_msg *m = call->msg;
  struct mig_hello peer;
  uint64_t role = m->words[0], flags = m->words[1];
  if (mig.phase != MIG_PHASE_HELLO) return MIG_ERR_STATE;
  if (call->len != sizeof peer || (role != MIG_ROLE_SOURCE && role != MIG_ROLE_TARGET) || (flags & ~(uint64_t)MIG_PEER_DOWNGRADE)) return MIG_ERR_FORMAT;
  bool downgrade = flags & MIG_PEER_DOWNGRADE;
  memcpy(&peer, m->payload, sizeof peer);
  struct mig_hello me;
  hello_fill(&me);
  /* The target is the newer version, or in a downgrade the older one: a rollback is asked for
   * knowingly, never inferred from the versions. */
  bool target_newer = role == MIG_ROLE_SOURCE ? peer.version > HIC_MODULE_VERSION_NUM : peer.version < HIC_MODULE_VERSION_NUM;
  bool target_older = role == MIG_ROLE_SOURCE ? peer.version < HIC_MODULE_VERSION_NUM : peer.version > HIC_MODULE_VERSION_NUM;
  bool in_order = downgrade ? target_older : target_newer;
  if (memcmp(peer.module_uuid, module_uuid, 16) != 0 || memcmp(peer.module, me.module, sizeof me.module) != 0 ||
      memcmp(peer.instance_uuid, mig.instance_uuid, 16) == 0 || !in_order)
    return MIG_ERR_PEER;
  uint16_t agreed = negotiate(peer.protocols);
  if (!agreed) return MIG_ERR_NO_COMMON_VERSION;
  /* The target must read the source's schema, and write one the source reads (to give
   * connections back on an abort). In a downgrade the source writes the newest schema the target
   * reads (every build writes each schema it reads: core/conn_record.c), so the two need one
   * schema in common. */
  bool readable = downgrade                  ? (peer.imports & import_mask()) != 0
                  : role == MIG_ROLE_SOURCE ? (peer.imports & (1u << NS_SCHEMA)) != 0
                                            : peer.schema < 16 && (import_mask() & (1u << peer.schema)) && (peer.imports & import_mask());
  if (!readable) return MIG_ERR_SCHEMA;
  if (peer.rule_hash != mig.stack->fw_hash) return MIG_ERR_CONFIG;
  mig.role = (uint32_t)role;
  mig.agreed = agreed;
  mig.peer_schema = peer.schema;
  mig.peer_imports = peer.imports;
  mig.downgrade = downgrade;
  mig.phase = MIG_PHASE_AGREED;
  m->words[0] = agreed;
  return MIG_OK;
}

uint64_t on_prepare(struct mig_call *call) {
  struct hic_msg *m = call->msg;
  if (mig.phase != MIG_PHASE_AGREED || mig.role != MIG_ROLE_SOURCE) return MIG_ERR_STATE;
  mig.phase = MIG_PHASE_SOURCE;
  m->words[0] = NS_SCHEMA;
  m->words[1] = mig.stack->conn_count;
  return MIG_OK;
}
