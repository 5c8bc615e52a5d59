/* update/migration.h -- what the files of the netstack's migration side share: the instance's
 * migration state, the one shape every call handler has, and what one file gives the others.
 * The rest of the service sees none of it, only the four hooks in netstack.h (mig_init,
 * mig_serve, mig_intercept, mig_closed). hic/migration.h has the protocol's calls and wire forms,
 * docs/migration-protocol.md the whole exchange.
 *
 *   serve.c      the control channel: dispatch, the reply that cannot carry its capability, the
 *                segments held for expected connections (mig_intercept), STATUS
 *   handshake.c  HELLO, PEER, PREPARE: who we are, who the peer is, which version and schema
 *   snapshot.c   EXPORT_STATE, IMPORT_STATE: config and every connection record, in CRC'd shards
 *   conn_move.c  LIST, EXPECT, CONN_OUT, CONN_IN, CONN_DONE, CONN_BACK, then COMPLETE or ABORT
 *
 * Everything refused is refused before anything changes; a capability a refused call carried is
 * deleted (serve.c does both deletions, so no handler has to). */
#ifndef UPDATE_MIGRATION_H
#define UPDATE_MIGRATION_H

#include "../netstack.h"

#include "hic/migration.h"
#include "hic/runtime.h"

#define EXPECT_MAX 16 /* connections a target holds segments for at once */
#define HOLD_MAX 64   /* segments held in all */

/* One call on the control channel, as its handler sees it. A handler returns MIG_OK or a
 * MIG_ERR_*; it writes its reply's words, payload and capability into msg. */
struct mig_call {
  struct hic_msg *msg; /* the request in, the reply out (len and cap already cleared) */
  uint64_t len;        /* the request's payload length */
  int64_t cap;         /* the capability the request carried, or -1; serve.c deletes it after */
  int64_t wake;        /* the loop's notification: HELLO hands the coordinator a copy */
};

/* The instance's side of one migration (serve.c owns it). */
struct mig_state {
  struct ns_stack *stack;
  int64_t channel;   /* the control channel (R), -1 when the image gave none */
  uint32_t instance; /* our eth_driver instance id */
  uint32_t phase, role;
  uint16_t agreed;
  uint16_t peer_schema, peer_imports;
  bool downgrade;    /* PEER said MIG_PEER_DOWNGRADE: the target is the older version */
  uint8_t instance_uuid[16];
  struct mig_status st;
  uint64_t expect[EXPECT_MAX]; /* steering keys of the connections to come */
  uint32_t expect_count;
  uint32_t held_count; /* segments held for them */
  uint32_t snap_count; /* target: the snapshot's connections, keys sorted */
};
extern struct mig_state mig;

/* serve.c */
uint8_t *map_arrived(int64_t cap, uint64_t *size, uint64_t *err); /* a memory cap, mapped; 0 (and *err) if it is not one */
int64_t new_object(uint64_t bytes, uint8_t **at); /* a fresh memory object, mapped writable; -1 if none */
/* Removes the segments held for `key`: through the core in arrival order (`deliver`), or dropped. */
void release_held(uint64_t key, bool deliver);

/* handshake.c */
void identity_init(uint64_t started); /* the instance UUID */
uint16_t import_mask(void);           /* bit s: this build reads schema s */
uint16_t export_schema(void);         /* the schema to write for the peer (0: none it reads) */
uint64_t on_hello(struct mig_call *call);
uint64_t on_peer(struct mig_call *call);
uint64_t on_prepare(struct mig_call *call);

/* snapshot.c */
uint64_t on_export_state(struct mig_call *call);
uint64_t on_config_out(struct mig_call *call);
uint64_t on_config_in(struct mig_call *call);
uint64_t on_import_state(struct mig_call *call);
void snapshot_arrived(uint64_t key); /* target: a connection of the snapshot came (counted once) */
bool snapshot_listed(uint32_t id);   /* source: is the connection in the last snapshot taken? */

/* conn_move.c */
void take_back(uint32_t id); /* a frozen connection taken up here again */
uint64_t on_list(struct mig_call *call);
uint64_t on_expect(struct mig_call *call);
uint64_t on_conn_out(struct mig_call *call);
uint64_t on_conn_in(struct mig_call *call);
uint64_t on_conn_done(struct mig_call *call);
uint64_t on_conn_back(struct mig_call *call);
uint64_t on_complete(struct mig_call *call);
uint64_t on_abort(struct mig_call *call);

#endif /* UPDATE_MIGRATION_H */
