/* update/conn_move.c -- connections moved one at a time, then the end of the update. For each
 * connection the coordinator calls EXPECT at the target (hold the segments the Ethernet driver
 * is about to steer here), CONN_OUT at the source (freeze it and package it, the core's record
 * and the application's, into a memory object whose capability moves to the coordinator), CONN_IN
 * at the target (import it, thaw it, then deliver what was held, in arrival order), and CONN_DONE
 * at the source to forget it -- or CONN_BACK to take it up again if the import failed. LIST
 * names the connections still here. COMPLETE ends the update: the source retires (drops what it
 * still has), the target is the instance now. ABORT takes back whatever is frozen half-way.
 *
 * Only the two phases that own connections, SOURCE and TARGET, move them, and both can give them
 * back: a target exports in the newest schema its source reads. */
#include "migration.h"

static bool owns_connections(void) { return mig.phase == MIG_PHASE_SOURCE || mig.phase == MIG_PHASE_TARGET; }

/** Takes a frozen connection up here again: the application resumes and the segments queued
 * while it was frozen are processed in arrival order. */
void take_back(uint32_t id) {
  app_resume(id);
  ns_thaw(mig.stack, id, netstack_now(), netstack_emit, 0);
}

uint64_t on_list(struct mig_call *call) {
  struct hic_msg *m = call->msg;
  uint32_t cursor = (uint32_t)m->words[0], n = 0;
  struct mig_conn_ref *out = (struct mig_conn_ref *)m->payload;
  uint32_t slot = cursor;
  uint64_t now = netstack_now();
  for (; slot < NS_MAX_CONNS && n < MIG_LIST_MAX; slot++) {
    const struct ns_conn *c = &mig.stack->conns[slot];
    if (c->state == NS_TCP_FREE || c->frozen) continue; /* a frozen one is on its way */
    out[n++] = (struct mig_conn_ref){.id = c->id, .remote_ip = c->remote_ip, .remote_port = c->remote_port, .local_port = c->local_port,
                                       .idle_ms = (uint32_t)((now > c->last_activity ? now - c->last_activity : 0) / 1000000)};
  }
  m->len = n * sizeof *out;
  m->words[0] = n;
  m->words[1] = slot < NS_MAX_CONNS ? slot : 0; /* the next cursor; 0: the end */
  m->words[2] = mig.stack->conn_count;
  return MIG_OK;
}

uint64_t on_expect(struct mig_call *call) {
  struct hic_msg *m = call->msg;
  uint64_t key = m->words[0];
  if (!owns_connections()) return MIG_ERR_STATE;
  for (uint32_t i = 0; i < mig.expect_count; i++) {
    if (mig.expect[i] != key) continue;
    if (m->words[1] != 1) return MIG_OK;
    mig.expect[i] = mig.expect[--mig.expect_count];
    release_held(key, false); /* the connection is not coming */
    return MIG_OK;
  }
  if (m->words[1] == 1) return MIG_ERR_NO_CONN;
  if (mig.expect_count == EXPECT_MAX) return MIG_ERR_NO_MEMORY;
  mig.expect[mig.expect_count++] = key;
  return MIG_OK;
}

uint64_t on_conn_out(struct mig_call *call) {
  struct hic_msg *m = call->msg;
  uint32_t id = (uint32_t)m->words[0];
  if (!owns_connections()) return MIG_ERR_STATE;
  struct ns_conn *c = ns_conn_get(mig.stack, id);
  if (!c || c->frozen) return MIG_ERR_NO_CONN;
  uint16_t schema = export_schema(); /* ours, unless the peer reads only an older one (an abort's or a downgrade's way back) */
  if (!schema) return MIG_ERR_SCHEMA;
  /* Frames the driver pushed before it began steering the connection away are in our ring:
   * they are processed first, so none is left behind. Then the application hands the core
   * what it can before the freeze. */
  netstack_drain_rx();
  app_flush(id);
  c = ns_conn_get(mig.stack, id);
  if (!c) return MIG_ERR_NO_CONN; /* it closed meanwhile and is gone */
  ns_freeze(mig.stack, id);
  uint32_t core = (uint32_t)ns_export_size_as(mig.stack, id, schema);
  uint32_t app_len = app_record_size(id);
  uint8_t *at;
  int64_t mem = new_object(sizeof(struct mig_package) + core + app_len, &at);
  if (mem < 0) {
    ns_thaw(mig.stack, id, netstack_now(), netstack_emit, 0);
    return MIG_ERR_NO_MEMORY;
  }
  struct mig_package *pk = (struct mig_package *)at;
  ns_export_conn_as(mig.stack, id, schema, at + sizeof *pk, core);
  app_record_write(id, at + sizeof *pk + core);
  *pk = (struct mig_package){.magic = MIG_PACKAGE_MAGIC, .core_len = core, .app_len = app_len,
                             .crc = ns_crc32(0, at + sizeof *pk, core + app_len)};
  hic_memory_unmap((uint64_t)mem);
  app_moving(id);
  mig.st.exported++;
  m->cap = mem;
  m->cap_move = 1;
  m->words[0] = sizeof *pk + core + app_len;
  m->words[1] = id;
  return MIG_OK;
}

static uint64_t import_error(int err) {
  switch (-err) {
  case NS_ERR_VERSION: return MIG_ERR_SCHEMA;
  case NS_ERR_EXISTS: return MIG_ERR_EXISTS;
  case NS_ERR_TABLE_FULL:
  case NS_ERR_NO_BUFS: return MIG_ERR_NO_MEMORY;
  default: return MIG_ERR_FORMAT;
  }
}

uint64_t on_conn_in(struct mig_call *call) {
  struct hic_msg *m = call->msg;
  if (!owns_connections()) return MIG_ERR_STATE;
  uint64_t size, err = MIG_OK;
  const uint8_t *at = map_arrived(call->cap, &size, &err);
  if (!at) return err;
  const struct mig_package *pk = (const struct mig_package *)at;
  const uint8_t *core = at + sizeof *pk;
  uint64_t key = 0;
  int id = -NS_ERR_FORMAT;
  if (size < sizeof *pk || pk->magic != MIG_PACKAGE_MAGIC || pk->core_len > size - sizeof *pk ||
      pk->app_len > size - sizeof *pk - pk->core_len || ns_crc32(0, core, pk->core_len + pk->app_len) != pk->crc ||
      !app_record_ok(core + pk->core_len, pk->app_len)) {
    err = MIG_ERR_FORMAT;
  } else if ((id = ns_check_conn(core, pk->core_len, &key)) < 0) {
    err = import_error(id);
  } else if (!app_record_fits(core + pk->core_len)) {
    err = MIG_ERR_NO_MEMORY; /* its pending output needs a buffer */
  } else if ((id = ns_import_conn(mig.stack, core, pk->core_len)) < 0) {
    err = import_error(id);
  } else {
    app_record_load((uint32_t)id, core + pk->core_len); /* a free buffer was checked above */
    /* The segments the source queued while the connection was frozen, then those held here
     * since the driver steered it to us: arrival order. */
    ns_thaw(mig.stack, (uint32_t)id, netstack_now(), netstack_emit, 0);
    release_held(key, true);
    for (uint32_t i = 0; i < mig.expect_count; i++)
      if (mig.expect[i] == key) mig.expect[i] = mig.expect[--mig.expect_count];
    if (mig.phase == MIG_PHASE_TARGET) snapshot_arrived(key);
    mig.st.imported++;
    m->words[0] = (uint64_t)id;
  }
  hic_memory_unmap((uint64_t)call->cap);
  return err;
}

/** DONE: forget it (the importer has it); BACK: take it up again (the import failed). */
static uint64_t conn_settle(struct hic_msg *m, bool done) {
  uint32_t id = (uint32_t)m->words[0];
  struct ns_conn *c = ns_conn_get(mig.stack, id);
  if (!owns_connections()) return MIG_ERR_STATE;
  if (!c || !c->frozen) return MIG_ERR_NO_CONN;
  if (done) {
    ns_release(mig.stack, id); /* the closed callback (app/apps.c) clears the application's side */
    mig.st.released++;
  } else {
    take_back(id);
    mig.st.thawed_back++;
  }
  return MIG_OK;
}

uint64_t on_conn_done(struct mig_call *call) { return conn_settle(call->msg, true); }

uint64_t on_conn_back(struct mig_call *call) { return conn_settle(call->msg, false); }

uint64_t on_complete(struct mig_call *call) {
  struct hic_msg *m = call->msg;
  if (mig.phase == MIG_PHASE_TARGET) { /* the update is over: this is the instance now */
    mig.phase = MIG_PHASE_SERVING;
    mig.role = 0;
    return MIG_OK;
  }
  if (mig.phase != MIG_PHASE_SOURCE) return MIG_ERR_STATE;
  uint32_t dropped = 0;
  for (uint32_t i = 0; i < NS_MAX_CONNS; i++) {
    struct ns_conn *c = &mig.stack->conns[i];
    if (c->state == NS_TCP_FREE) continue;
    ns_release(mig.stack, c->id);
    dropped++;
  }
  mig.phase = MIG_PHASE_RETIRED;
  m->words[0] = dropped;
  m->words[1] = mig.st.closed_from_snapshot;
  hic_log("netstack %s: retired; %u connections dropped, %u closed before their turn (%u of them in the snapshot)", HIC_MODULE_VERSION,
          dropped, mig.st.closed_waiting, mig.st.closed_from_snapshot);
  return MIG_OK;
}

uint64_t on_abort(struct mig_call *call) {
  (void)call;
  if (mig.phase == MIG_PHASE_RETIRED) return MIG_ERR_STATE;
  if (mig.phase == MIG_PHASE_TARGET && mig.stack->conn_count > 0) return MIG_ERR_STATE;
  for (uint32_t i = 0; i < NS_MAX_CONNS; i++) { /* anything frozen half-way is taken up again */
    struct ns_conn *c = &mig.stack->conns[i];
    if (c->state == NS_TCP_FREE || !c->frozen) continue;
    take_back(c->id);
    mig.st.thawed_back++;
  }
  mig.st.held_dropped += mig.held_count;
  mig.held_count = mig.expect_count = 0;
  mig.snap_count = 0;
  mig.phase = MIG_PHASE_SERVING;
  mig.role = 0;
  mig.agreed = 0;
  return MIG_OK;
}
