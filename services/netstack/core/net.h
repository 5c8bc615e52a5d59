/* net.h -- the protocol core of the netstack guest service: Ethernet II, ARP, IPv4, ICMP echo,
 * UDP and a server-side TCP, as plain functions of (stack, input frame, virtual time) that emit
 * frames through a callback. No syscalls, no I/O, no clock, no randomness: the same inputs give
 * the same outputs, which is what lets one instance of the service export a live connection and
 * its successor import it mid-stream (rolling update, seed 步骤3.3; docs/migration-protocol.md).
 *
 * Conventions. IPv4 addresses are uint32_t in numeric order (10.0.0.1 is 0x0a000001); ports are
 * host-order uint16_t; MACs are 6 bytes in wire order. Calls that can fail return a negative
 * -NS_ERR_* code. Nothing allocates: struct ns_stack holds every table, buffer and pool (about
 * 1.8 MiB with the default sizes), so the service allocates it once.
 *
 * Callbacks (struct ns_app, UDP bindings) run inside ns_input and ns_thaw. They may call ns_send,
 * ns_close, ns_release, ns_freeze and ns_udp_send; they must not call ns_input or ns_thaw. Every
 * emitted frame is built in the stack's one transmit buffer: ns_emit_fn must copy it before it
 * returns. */
#ifndef NS_NET_H
#define NS_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Pool sizes. These may be overridden with -D, identically for every file that includes this
 * header; the serialized form of a connection does not depend on them. */
#ifndef NS_MAX_CONNS
#define NS_MAX_CONNS 4096
#endif
#ifndef NS_SNDBUF_COUNT
#define NS_SNDBUF_COUNT 128 /* send buffers, shared by all connections (one each while in use) */
#endif
#ifndef NS_QSLOT_COUNT
#define NS_QSLOT_COUNT 64 /* slots for segments that arrive on frozen connections */
#endif
/* The connection-record schema this build exports (conn_record.c): 1 (netstack 1.2.0) or 2 (1.3.0).
 * A schema-2 build also imports schema 1, converting it; a schema-1 build refuses schema 2. */
#ifndef NS_SCHEMA
#define NS_SCHEMA 1
#endif
#if NS_SCHEMA != 1 && NS_SCHEMA != 2
#error "NS_SCHEMA must be 1 or 2"
#endif

#define NS_MAX_ARP 64
#define NS_MAX_ROUTES 16
#define NS_MAX_LISTEN 8
#define NS_MAX_UDP_BINDS 8
#define NS_MAX_FW_RULES 32      /* the firewall service's FW_MAX_RULES (hic/firewall.h) */
#ifndef NS_CONN_HASH
#define NS_CONN_HASH 4096 /* buckets of the 4-tuple -> connection hash; a power of two */
#endif
#define NS_SNDBUF_SIZE 8192     /* one connection's unacknowledged plus not-yet-sent data */
#define NS_QUEUE_PER_CONN 8     /* segments a frozen connection keeps, in arrival order */
#define NS_APP_CTX_SIZE 64      /* bytes per connection that belong to the application */
#define NS_MTU_MAX 1500
#define NS_MTU_MIN 576
#define NS_FRAME_MAX (14 + NS_MTU_MAX) /* Ethernet header + largest IP datagram, no FCS */
#define NS_SEG_MAX (NS_MTU_MAX - 20)   /* largest TCP segment (header + payload) we queue */
#define NS_DEFAULT_WINDOW 8192
/* Priority classes of a connection (struct ns_conn.prio). The core only records the class and
 * carries it across a migration; a scheduler in the service may use it. */
#define NS_PRIO_NORMAL 0 /* the default for ports >= 1024 */
#define NS_PRIO_SYSTEM 1 /* the default for well-known ports (< 1024) */
#define NS_PRIO_MAX 3    /* classes 0..3 are valid; the application may set any of them */

typedef void (*ns_emit_fn)(void *ctx, const uint8_t *frame, size_t len);

/* A closed set; calls return the negated value. */
enum ns_err {
  NS_OK = 0,
  NS_ERR_NO_CONN = 1,      /* no live connection has that id */
  NS_ERR_STATE = 2,        /* the connection's TCP state does not allow the call */
  NS_ERR_FROZEN = 3,       /* the connection is frozen for migration */
  NS_ERR_NO_BUFS = 4,      /* the send-buffer or queue-slot pool is exhausted */
  NS_ERR_TABLE_FULL = 5,   /* no free connection slot, route or UDP binding; too many rules */
  NS_ERR_EXISTS = 6,       /* import: that 4-tuple is already a connection; bind: port taken */
  NS_ERR_FORMAT = 7,       /* import, firewall table: truncated, malformed, inconsistent, bad CRC */
  NS_ERR_VERSION = 8,      /* import: a schema version this build does not read */
  NS_ERR_ADDR = 9,         /* import: the connection's local address is not this stack's */
  NS_ERR_ARP_PENDING = 10, /* the next hop's MAC is unknown; an ARP request went out */
  NS_ERR_NO_ROUTE = 11,    /* no route to the destination */
  NS_ERR_TOO_BIG = 12,     /* the datagram does not fit the MTU */
  NS_ERR_INVALID = 13,     /* a bad argument (port 0, no callback, non-contiguous mask, ...) */
};

/* TCP states. The values are part of the serialized form: never renumber. LISTEN is not a
 * connection state here -- a listening port is a config entry, and a SYN to it creates the
 * connection directly in SYN_RCVD. */
enum ns_tcp_state {
  NS_TCP_FREE = 0, /* an unused slot */
  NS_TCP_SYN_RCVD = 1,
  NS_TCP_ESTABLISHED = 2,
  NS_TCP_FIN_WAIT_1 = 3,
  NS_TCP_FIN_WAIT_2 = 4,
  NS_TCP_CLOSING = 5,
  NS_TCP_TIME_WAIT = 6,
  NS_TCP_CLOSE_WAIT = 7,
  NS_TCP_LAST_ACK = 8,
};

enum ns_close_reason {
  NS_CLOSE_NORMAL = 0,   /* both FINs exchanged and acknowledged (or TIME_WAIT expired) */
  NS_CLOSE_RESET = 1,    /* the peer sent RST */
  NS_CLOSE_RELEASED = 2, /* ns_release: the connection now lives in another instance */
};

struct ns_config {
  uint8_t mac[6];
  uint32_t ip, netmask, gateway; /* gateway 0: no default route */
  uint32_t dns;                  /* kept for the application's resolver; the core never uses it */
  uint16_t mtu;                  /* IP MTU; outside [NS_MTU_MIN, NS_MTU_MAX] means NS_MTU_MAX */
  uint16_t tcp_window;           /* the fixed receive window we advertise; 0: NS_DEFAULT_WINDOW */
  uint16_t tcp_ports[NS_MAX_LISTEN]; /* listening TCP ports; 0 entries are unused */
  uint64_t isn_seed;             /* keys the initial sequence numbers (see tcp_in.c) */
  uint64_t time_wait_ns;         /* how long TIME_WAIT lasts before ns_poll reaps it */
};

/* The application's hooks. A delivery with len 0 (data NULL) is end-of-stream: the peer sent
 * FIN. `closed` is called once the connection is gone, only for connections `accept` announced. */
typedef void (*ns_accept_fn)(void *ctx, uint32_t conn_id);
typedef void (*ns_deliver_fn)(void *ctx, uint32_t conn_id, const uint8_t *data, size_t len);
typedef void (*ns_closed_fn)(void *ctx, uint32_t conn_id, enum ns_close_reason why);
/* How many more bytes the application can take on a connection now. Optional: without it every
 * in-window byte is taken. With it, the stack accepts (and acknowledges) no more than that, so an
 * application that cannot keep up makes the peer retransmit instead of losing data. */
typedef size_t (*ns_room_fn)(void *ctx, uint32_t conn_id);
struct ns_app {
  ns_accept_fn accept;
  ns_deliver_fn deliver;
  ns_closed_fn closed;
  void *ctx;
  ns_room_fn room;
};

typedef void (*ns_udp_fn)(void *ctx, uint32_t src_ip, uint16_t src_port, uint16_t dst_port,
                          const uint8_t *data, size_t len);

/* One TCP connection. The ring `sndbuf` holds the bytes from snd_una on: first those sent and
 * not yet acknowledged, then those the application wrote that are not sent yet. A connection
 * borrows a pool buffer on its first ns_send and returns it whenever everything is acknowledged,
 * so idle connections cost no buffer. */
struct ns_conn {
  uint32_t id;        /* generation * NS_MAX_CONNS + slot; positive, fits an int; 0 never */
  uint8_t state;      /* enum ns_tcp_state */
  bool frozen;        /* migrating: input is queued in qslot[], nothing is emitted */
  bool fin_sent;      /* our FIN holds sequence number snd_nxt - 1 once sent */
  bool accepted;      /* the application was told; it will be told of the close too */
  bool ack_now;       /* an ACK is owed; any segment we send pays it (piggybacking) */
  uint8_t q_count;    /* queued segments in qslot[], oldest first */
  uint8_t prio;       /* priority class, NS_PRIO_*: from the local port at open; the app's after */
  uint32_t local_ip, remote_ip; /* with the ports and TCP: the 5-tuple */
  uint16_t local_port, remote_port;
  uint8_t remote_mac[6]; /* next hop, learned from the SYN; travels with the connection so an
                          * importing instance needs no ARP entry to keep talking */
  uint16_t mss;       /* the largest payload we send: min(ours, the peer's SYN option) */
  uint32_t iss, irs;  /* initial send / receive sequence numbers */
  uint32_t snd_una, snd_nxt, rcv_nxt;
  uint16_t snd_wnd;   /* the peer's last advertised window */
  uint16_t rcv_wnd;   /* ours, fixed from the config when the connection opened */
  uint16_t sndbuf;    /* pool index + 1; 0 while nothing is buffered */
  uint16_t sb_head;   /* ring offset of the byte at snd_una */
  uint16_t sb_len;    /* bytes buffered from snd_una */
  uint16_t hash_next; /* next slot + 1 in this hash bucket; 0 ends the chain */
  uint16_t qslot[NS_QUEUE_PER_CONN]; /* queue-slot index + 1 */
  uint64_t last_activity; /* virtual ns of the last segment in or data out; TIME_WAIT start */
  uint64_t established_at; /* virtual ns the handshake completed; 0: unknown (still SYN_RCVD,
                            * or imported from a schema-1 record, which does not carry it) */
  uint64_t bytes_in;      /* payload bytes delivered to the application */
  uint64_t bytes_out;     /* payload bytes the application handed to ns_send */
  uint8_t app_ctx[NS_APP_CTX_SIZE]; /* the application's; migrates with the connection */
};

struct ns_counters {
  uint64_t rx_frames, tx_frames, rx_dropped; /* rx_dropped: runt, not our MAC, unknown type */
  uint64_t arp_rx, arp_bad, arp_replies, arp_requests;
  uint64_t ip_rx, ip_bad_header, ip_bad_checksum, ip_fragments, ip_not_ours, ip_unknown_proto;
  uint64_t icmp_echo_replies, icmp_bad_checksum, icmp_ignored;
  uint64_t udp_rx, udp_bad_header, udp_bad_checksum, udp_no_port, udp_tx;
  uint64_t tcp_rx, tcp_bad_header, tcp_bad_checksum, tcp_rst_rx, tcp_rst_sent;
  uint64_t tcp_accepted, tcp_conn_full, tcp_dup_segments, tcp_ooo_segments;
  uint64_t tcp_app_full; /* segments cut short because the application had no room */
  uint64_t tcp_dup_acks, tcp_retransmits, tcp_frozen_queued, tcp_frozen_dropped;
  uint64_t tcp_fw_denied, udp_fw_denied, icmp_fw_denied; /* refused by the firewall's rules */
  uint64_t tcp_opened; /* SYNs that opened a connection (tcp_accepted counts completed handshakes) */
};

struct ns_arp_entry {
  bool used;
  uint32_t ip;
  uint8_t mac[6];
  uint64_t updated; /* virtual ns; the least recently updated entry is replaced when full */
};

struct ns_route {
  bool used;
  uint32_t dest, mask, gateway; /* gateway 0: the destination is on-link */
};

struct ns_udp_binding {
  uint16_t port; /* 0: unused */
  ns_udp_fn fn;
  void *ctx;
};

/* One firewall rule (firewall.c): new inbound traffic of IP protocol `proto` (1 ICMP, 6 TCP,
 * 17 UDP) to a local port in [first, last] -- ICMP: of a message type in it -- gets `action`. */
#define NS_FW_DENY 0
#define NS_FW_ALLOW 1
struct ns_fw_rule {
  uint8_t proto, action;
  uint16_t first, last;
};

struct ns_qslot {
  uint16_t len; /* 0: free (a TCP segment is never shorter than 20 bytes) */
  uint8_t seg[NS_SEG_MAX];
};

struct ns_stack {
  struct ns_config cfg;
  struct ns_app app;
  struct ns_counters stats;
  struct ns_arp_entry arp[NS_MAX_ARP];
  struct ns_route routes[NS_MAX_ROUTES];
  struct ns_udp_binding udp[NS_MAX_UDP_BINDS];
  bool fw_on;         /* a rule table is set: what no rule allows is refused */
  uint16_t fw_count;
  uint32_t fw_hash;   /* CRC-32 of the table's wire form, as the firewall service hashes it */
  struct ns_fw_rule fw[NS_MAX_FW_RULES];
  uint32_t conn_count;
  uint64_t conn_used[(NS_MAX_CONNS + 63) / 64]; /* bit per slot: taken (conn_alloc), so the lowest free one is found a word at a time */
  uint16_t conn_hash[NS_CONN_HASH]; /* slot + 1 of each bucket's first connection */
  struct ns_conn conns[NS_MAX_CONNS];
  bool sndbuf_used[NS_SNDBUF_COUNT];
  uint8_t sndbuf[NS_SNDBUF_COUNT][NS_SNDBUF_SIZE];
  struct ns_qslot qslots[NS_QSLOT_COUNT];
  uint8_t tx[NS_FRAME_MAX]; /* every emitted frame is built here */
};

/* stack.c */
void ns_init(struct ns_stack *s, const struct ns_config *cfg);
void ns_set_app(struct ns_stack *s, const struct ns_app *app);
void ns_input(struct ns_stack *s, const uint8_t *frame, size_t len, uint64_t now_ns,
              ns_emit_fn emit, void *ctx);
/* Adds (or replaces) the route for dest/mask. ns_init adds the on-link subnet and, if the config
 * names a gateway, the default route. */
int ns_route_add(struct ns_stack *s, uint32_t dest, uint32_t mask, uint32_t gateway);

/* arp.c */
bool ns_arp_lookup(const struct ns_stack *s, uint32_t ip, uint8_t mac[6]);
/* Enters (or refreshes) an entry, as a reply would: a successor instance takes over its
 * predecessor's table this way (the migration snapshot's config block). */
void ns_arp_learn(struct ns_stack *s, uint32_t ip, const uint8_t mac[6], uint64_t now);

/* udp.c */
int ns_udp_bind(struct ns_stack *s, uint16_t port, ns_udp_fn fn, void *ctx);
/* Sends one datagram from our address. Unknown next-hop MAC: sends an ARP request and returns
 * -NS_ERR_ARP_PENDING (nothing is queued; send again once the reply has come in). */
int ns_udp_send(struct ns_stack *s, uint16_t src_port, uint32_t dst_ip, uint16_t dst_port,
                const uint8_t *data, size_t len, uint64_t now, ns_emit_fn emit, void *ctx);

/* tcp_user.c -- the application's side of TCP. */
struct ns_conn *ns_conn_get(struct ns_stack *s, uint32_t conn_id);
/* Buffers up to len bytes (as many as the send buffer has room for) and sends what the peer's
 * window allows. Returns the count buffered, which is less than len (maybe 0) when the buffer
 * is full: write the rest after the peer acknowledges. Allowed in ESTABLISHED and CLOSE_WAIT;
 * while frozen the data is buffered and goes out on ns_thaw. */
int ns_send(struct ns_stack *s, uint32_t conn_id, const uint8_t *data, size_t len, uint64_t now,
            ns_emit_fn emit, void *ctx);
/* Our side is done: FIN follows the buffered data (active close from ESTABLISHED, the end of a
 * passive close from CLOSE_WAIT). */
int ns_close(struct ns_stack *s, uint32_t conn_id, uint64_t now, ns_emit_fn emit, void *ctx);
/* Sends again every segment from snd_una that was sent and is not yet acknowledged, byte for
 * byte (used after an import, in case frames were lost in the switch-over). Returns the number
 * of segments sent. */
int ns_retransmit(struct ns_stack *s, uint32_t conn_id, uint64_t now, ns_emit_fn emit, void *ctx);
int ns_freeze(struct ns_stack *s, uint32_t conn_id);
/* Unfreezes and processes the queued segments in arrival order, then sends data written while
 * frozen. Returns the number of segments processed. */
int ns_thaw(struct ns_stack *s, uint32_t conn_id, uint64_t now, ns_emit_fn emit, void *ctx);
/* Forgets a connection without a word on the wire: another instance owns it now. */
int ns_release(struct ns_stack *s, uint32_t conn_id);
/* Timers: reaps TIME_WAIT connections older than cfg.time_wait_ns. */
void ns_poll(struct ns_stack *s, uint64_t now);

/* conn_record.c -- one connection's serialized form (layouts in conn_record.c). */
#define NS_CONN_SCHEMA NS_SCHEMA /* the schema ns_export_conn writes */
/* The default priority class of a connection on that local port (what a schema-1 import gets). */
uint8_t ns_prio_class(uint16_t local_port);
size_t ns_export_size(const struct ns_stack *s, uint32_t conn_id); /* 0: no such connection */
/* Returns the bytes written, or 0 if there is no such connection or cap is too small. */
size_t ns_export_conn(const struct ns_stack *s, uint32_t conn_id, uint8_t *out, size_t cap);
/* The same in an older schema (1..NS_CONN_SCHEMA), for a rollback to the version that reads only
 * that one; 0 also for a schema this build cannot write. */
size_t ns_export_size_as(const struct ns_stack *s, uint32_t conn_id, uint16_t schema);
size_t ns_export_conn_as(const struct ns_stack *s, uint32_t conn_id, uint16_t schema, uint8_t *out, size_t cap);
/* Checks a record as ns_import_conn would, changing nothing: its schema, or -NS_ERR_*. `key`
 * (may be NULL) gets the connection's remote address, remote port and local port as the Ethernet
 * driver's steering key (hic/eth.h eth_key). */
int ns_check_conn(const uint8_t *in, size_t len, uint64_t *key);
/* Returns the connection's id in this stack -- the exported id when its slot is free here, a
 * fresh one otherwise -- or -NS_ERR_*. On error nothing changed. The application is not called
 * back: whoever imports tells it. */
int ns_import_conn(struct ns_stack *s, const uint8_t *in, size_t len);

/* firewall.c -- the rules new inbound traffic is judged by: a TCP SYN that would open a
 * connection (refused: RST, as from a closed port), a UDP datagram, an ICMP message (refused:
 * dropped); each refusal is counted (stats.*_fw_denied). Rules are tried in order, the first match
 * decides, and what none matches is refused. Without a table nothing is refused. */
/* Sets the table from its wire form (hic/firewall.h, the firewall service's FW_RULES reply), whole
 * or not at all: returns the rule count, or -NS_ERR_FORMAT / -NS_ERR_TABLE_FULL and changes
 * nothing. A NULL table removes the rules. */
int ns_set_firewall(struct ns_stack *s, const uint8_t *table, size_t len);
bool ns_fw_allows(const struct ns_stack *s, uint8_t proto, uint16_t port);

/* checksum.c -- the Internet checksum (RFC 1071) as it goes into a header: of `len` bytes at p,
 * with the TCP/UDP pseudo-header of src, dst and proto in front (proto 0: none, an IPv4 header).
 * For a caller that builds frames itself (the service's loopback probe). */
uint16_t ns_checksum(uint32_t src, uint32_t dst, uint8_t proto, const uint8_t *p, size_t len);

/* crc32.c -- CRC-32/IEEE exactly as zlib's crc32(): pass 0 first, then the previous result. */
uint32_t ns_crc32(uint32_t crc, const uint8_t *data, size_t len);

#endif /* NS_NET_H */
