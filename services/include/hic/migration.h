/* The state migration protocol (docs/migration-protocol.md; seed §2.2, 步骤2.3, 3.1, 3.3): the
 * calls an updatable service instance answers on its migration control channel, and the wire
 * forms of what they carry. The netstack (services/netstack/update/) is the one service that
 * speaks it; services/migctl drives it as the test harness (the Module Manager's stand-in).
 *
 * The control channel is an endpoint Core-0 creates for the update (a manifest `channels` entry):
 * the instance holds it with R and serves it, the coordinator holds it with W and calls it.
 * Nobody else holds it. Every reply's label is MIG_OK or one MIG_ERR_* code; a refused call
 * changes nothing and keeps no capability it carried. A reply whose capability cannot reach the
 * caller (its quota cannot take the memory object) is MIG_ERR_NO_MEMORY with words[0] the
 * HIC_ERR_* code, and nothing moved: a connection packaged for it is taken up again.
 *
 *   MIG_HELLO      -> payload struct mig_hello (who this instance is, what it speaks);
 *                     cap = a copy of the instance's wake-up notification (W): notify it with
 *                     MIG_KICK_BIT before a call and the call is answered without polling delay.
 *   MIG_PEER       payload struct mig_hello of the other instance, words[0] MIG_ROLE_* this
 *                     instance plays, words[1] 0 or MIG_PEER_DOWNGRADE. The instance checks the
 *                     peer (same module, another instance, the right side of the version order
 *                     -- the target newer, or with MIG_PEER_DOWNGRADE older -- the same firewall
 *                     rules) and negotiates: words[0] of the reply = the highest protocol version
 *                     both lists hold (major << 8 | minor). MIG_ERR_NO_COMMON_VERSION if there is
 *                     none, MIG_ERR_PEER / MIG_ERR_SCHEMA / MIG_ERR_CONFIG otherwise. In a
 *                     downgrade the source writes every record (snapshot and connections) in the
 *                     newest schema the target reads, and marks the snapshot as a downgrade's
 *                     (MIG_SNAPSHOT_DOWNGRADE_MAGIC); a target refuses a snapshot whose mark
 *                     does not match its PEER.
 *   MIG_PREPARE    (source, after PEER) -> words[0] schema, words[1] connection count. The
 *                     source now counts connections that close before their turn.
 *   MIG_EXPORT_STATE (source) -> cap = the snapshot's memory object, moved; words[0] its bytes,
 *                     words[1] shards, words[2] connections.
 *   MIG_IMPORT_STATE (target, after PEER) cap = a snapshot memory object (moved in) ->
 *                     words[0] connections, words[1] their schema. MIG_ERR_CORRUPT_SHARD
 *                     (words[0] = the shard), MIG_ERR_SCHEMA, MIG_ERR_FORMAT.
 *   MIG_LIST       (either) words[0] cursor (a connection id; 0 first) -> payload: up to
 *                     MIG_LIST_MAX struct mig_conn_ref in id order after the cursor, words[0] how
 *                     many, words[1] connections in all.
 *   MIG_EXPECT     (target) words[0] a steering key (hic/eth.h eth_key): hold every segment of
 *                     that connection from now until it is imported. words[1] = 1 cancels.
 *   MIG_CONN_OUT   (source, or target during an abort) words[0] connection id -> freezes it,
 *                     cap = its package (struct mig_package header, the core's connection record,
 *                     the application record), moved; words[0] bytes, words[1] the id.
 *                     MIG_ERR_NO_CONN.
 *   MIG_CONN_IN    (target, or source during an abort) cap = a package, moved in -> words[0]
 *                     the connection's id here. Imports, thaws, delivers the held segments in
 *                     arrival order. MIG_ERR_FORMAT / MIG_ERR_SCHEMA / MIG_ERR_EXISTS / ...
 *   MIG_CONN_DONE  (the exporting side) words[0] connection id: the importer acknowledged it;
 *                     the exporter forgets the connection without a word on the wire.
 *   MIG_CONN_BACK  (the exporting side) words[0] connection id: the import failed; thaw it
 *                     here again (the segments it queued while frozen are processed in order).
 *   MIG_COMPLETE   (source) -> the target owns everything: the source drops what is left
 *                     (words[0] connections dropped, words[1] connections of the snapshot that
 *                     closed before their turn). (target) -> the update is over: serving.
 *   MIG_ABORT      (either) -> back to normal service, as before HELLO. MIG_ERR_STATE while the
 *                     instance still holds connections it imported for the update.
 *   MIG_STATUS     -> payload struct mig_status.
 *   MIG_CONFIG_OUT (source, after PEER) -> payload: the config block a snapshot carries (below:
 *                     address configuration, rule hash, ARP table, routes), words[0] its ARP entries,
 *                     words[1] its routes. The warm-up's configuration sync (seed 步骤2.4 配置同步预热).
 *   MIG_CONFIG_IN  (target, after PEER) payload: a source's config block. Checked whole; the address
 *                     configuration (ip, netmask, gateway) and the rule hash must be the target's own
 *                     (MIG_ERR_CONFIG), else the ARP table and routes are taken (a read-only copy:
 *                     the snapshot's block is applied again at IMPORT_STATE, with what was learnt
 *                     since) -> words[0] ARP entries taken, words[1] routes.
 *   MIG_RULES      (serving only) fetch the firewall's table again and enforce it from now
 *                     (a configuration change, seed §4.4.2; hic/firewall.h) -> words[0] the rule
 *                     count, words[1] the hash. MIG_ERR_CONFIG when the firewall does not
 *                     answer or its table does not check: the table in force stays.
 *                     MIG_ERR_STATE while an update's migration is under way.
 */
#ifndef HIC_MIGRATION_H
#define HIC_MIGRATION_H

#include <stdint.h>

#define MIG_HELLO 1
#define MIG_PEER 2
#define MIG_PREPARE 3
#define MIG_EXPORT_STATE 4
#define MIG_IMPORT_STATE 5
#define MIG_LIST 6
#define MIG_EXPECT 7
#define MIG_CONN_OUT 8
#define MIG_CONN_IN 9
#define MIG_CONN_DONE 10
#define MIG_CONN_BACK 11
#define MIG_COMPLETE 12
#define MIG_ABORT 13
#define MIG_STATUS 14
#define MIG_RULES 15
#define MIG_CONFIG_OUT 16
#define MIG_CONFIG_IN 17

#define MIG_OK 0
#define MIG_ERR_LABEL 1            /* not a call of this protocol */
#define MIG_ERR_STATE 2            /* not allowed in the instance's current phase */
#define MIG_ERR_PEER 3             /* another module, the same instance, or the wrong version order */
#define MIG_ERR_NO_COMMON_VERSION 4 /* the two protocol lists share no version */
#define MIG_ERR_SCHEMA 5           /* a state schema this instance cannot read */
#define MIG_ERR_CONFIG 6           /* the peers' firewall rules differ (seed 步骤2.2) */
#define MIG_ERR_CORRUPT_SHARD 7    /* a snapshot shard's CRC32 does not match its bytes */
#define MIG_ERR_FORMAT 8           /* malformed: a size, magic, count or record that does not parse */
#define MIG_ERR_NO_CONN 9          /* no such connection here */
#define MIG_ERR_EXISTS 10          /* that connection already lives here */
#define MIG_ERR_NO_MEMORY 11       /* a memory object, table or buffer could not be had */
#define MIG_ERR_BAD_CAP 12         /* the call needed a memory capability and got none or another */

#define MIG_ROLE_SOURCE 1 /* the running instance, giving its state away */
#define MIG_ROLE_TARGET 2 /* its successor, taking it */

#define MIG_PEER_DOWNGRADE 1 /* MIG_PEER words[1]: the target is the older version (a rollback) */

#define MIG_KICK_BIT (1ull << 8)
#define MIG_SHARDS 1024
#define MIG_MAX_PROTOCOLS 4
#define MIG_LIST_MAX 64

#define MIG_PROTO(major, minor) ((uint16_t)((major) << 8 | (minor)))
#define MIG_VERSION(major, minor, patch) ((uint32_t)((major) << 16 | (minor) << 8 | (patch)))

/** Who an instance is and what it speaks (MIG_HELLO's reply, MIG_PEER's payload). */
struct mig_hello {
  uint8_t module_uuid[16];   /* the module's UUID (module.json), the same for every version */
  uint8_t instance_uuid[16]; /* this running instance's own */
  char module[16];           /* "netstack", NUL-padded */
  uint32_t version;          /* MIG_VERSION */
  uint16_t protocols[MIG_MAX_PROTOCOLS]; /* MIG_PROTO values, ascending; 0 unused */
  uint16_t schema;           /* the state schema it exports */
  uint16_t imports;          /* bit s: it imports schema s */
  uint32_t rule_hash;        /* the firewall rules it enforces (0: none) */
  uint32_t connections;      /* live connections now */
  uint32_t instance;         /* its eth_driver instance id */
};

/** One connection in a MIG_LIST reply. */
struct mig_conn_ref {
  uint32_t id;
  uint32_t remote_ip;
  uint16_t remote_port, local_port;
  uint32_t idle_ms; /* since its last segment in or data out: what a coordinator classifies by */
};

/** What MIG_STATUS returns. */
struct mig_status {
  uint32_t phase;             /* MIG_PHASE_* */
  uint32_t role;              /* MIG_ROLE_*, 0 before PEER */
  uint16_t agreed;            /* the negotiated protocol version, 0 before PEER */
  uint16_t peer_schema;
  uint32_t connections;       /* live now */
  uint32_t snapshot_connections; /* target: in the imported snapshot */
  uint32_t snapshot_received; /* target: of those, how many arrived by MIG_CONN_IN */
  uint32_t exported, imported, released, thawed_back; /* MIG_CONN_OUT / IN / DONE / BACK done */
  uint32_t closed_waiting;    /* source: closed after PREPARE, before their turn */
  uint32_t closed_from_snapshot; /* source: of those, how many the last snapshot holds */
  uint32_t held, held_dropped; /* target: segments held for an expected connection (all so far),
                                * and of them dropped (the hold was full, or cancelled) */
  uint64_t accepted;          /* TCP connections this instance accepted since it started */
  uint64_t opened;            /* ... and opened (SYNs that made a connection): new arrivals */
  uint32_t version;           /* its own, MIG_VERSION-packed */
  uint32_t instance;          /* its Ethernet driver id (hic/eth.h) */
};

#define MIG_PHASE_SERVING 0  /* no update in progress */
#define MIG_PHASE_HELLO 1    /* said HELLO */
#define MIG_PHASE_AGREED 2   /* PEER accepted */
#define MIG_PHASE_SOURCE 3   /* PREPAREd: giving connections away */
#define MIG_PHASE_TARGET 4   /* snapshot imported: taking connections */
#define MIG_PHASE_RETIRED 5  /* COMPLETEd: owns nothing, serves nothing */

/** A connection package (MIG_CONN_OUT's memory object): this header, then the core's record
 * (services/netstack/core/conn_record.c), then the application's record. */
struct mig_package {
  uint32_t magic;    /* MIG_PACKAGE_MAGIC */
  uint32_t core_len; /* bytes of the core's record, right after this header */
  uint32_t app_len;  /* bytes of the application's record, after it */
  uint32_t crc;      /* CRC-32 of the two records */
};
#define MIG_PACKAGE_MAGIC 0x4b50494du /* "MIPK" */

/** The snapshot (MIG_EXPORT_STATE's memory object): this header, the config block, then
 * MIG_SHARDS shards in id order, each a struct mig_shard and its connection records. */
struct mig_snapshot {
  uint32_t magic;     /* MIG_SNAPSHOT_MAGIC */
  uint16_t protocol;  /* the negotiated MIG_PROTO */
  uint16_t schema;    /* every record's schema */
  uint64_t taken_at;  /* virtual ns */
  uint32_t shards;    /* MIG_SHARDS */
  uint32_t connections;
  uint32_t config_len; /* bytes of the config block after this header */
  uint32_t config_crc; /* CRC-32 of the config block */
  uint64_t total;      /* bytes of the whole snapshot */
};
#define MIG_SNAPSHOT_MAGIC 0x504e5348u /* "HSNP" */
#define MIG_SNAPSHOT_DOWNGRADE_MAGIC 0x42525348u /* "HSRB": a rollback snapshot, to an older version */

struct mig_shard {
  uint32_t id;          /* 0..MIG_SHARDS-1, in order */
  uint32_t connections; /* records that follow */
  uint32_t bytes;       /* their bytes */
  uint32_t crc;         /* CRC-32 of those bytes */
};

#endif /* HIC_MIGRATION_H */
