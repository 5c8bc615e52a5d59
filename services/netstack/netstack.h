/* netstack.h -- what the netstack service's files share. Each file is its own compilation unit
 * (the toolchain compiles every .c under services/netstack/ and links them into one object); what
 * one needs from another is declared here, and nothing else crosses between them:
 *
 *   netstack.c        the service around the core: the frame channel to eth_driver, the clock,
 *                     the stats endpoint and the loop
 *   app/              the applications on the core's connections (echo, HTTP, DNS), their record
 *                     for a migration, and the client of the upper services
 *   update/           the state migration protocol on the control channel (update/migration.h)
 *   core/             the protocol core (core/net.h), which knows none of this
 *
 * The core's sizes are compile-time constants that struct ns_stack is laid out by, so every file
 * must see the same ones: they come from module.json's `defines`, given to each file alike. */
#ifndef NETSTACK_H
#define NETSTACK_H

#if !defined(NS_MAX_CONNS) || !defined(NS_CONN_HASH) || !defined(NS_SCHEMA)
#error "NS_MAX_CONNS, NS_CONN_HASH and NS_SCHEMA come from module.json's defines, the same for every file"
#endif

#include "core/net.h"
#include "hic/netstack_probe.h"

/* --- netstack.c ------------------------------------------------------------------------------ */

/* The virtual time of the work in hand: read once per received frame, per control call and per
 * pass of the loop, and passed to every core call that may send. */
uint64_t netstack_now(void);
uint64_t netstack_tick(void); /* reads the clock into netstack_now() and returns it */

/* The virtual time the instance started at; read only by a build with a fault that waits for it. */
uint64_t netstack_started(void);

/* A deliberately broken build for the Monitor's regression images (module.json `defines`; 0 in
 * every real version): NS_FAULT_CORRUPT makes the echo give back every chunk with one byte
 * changed, from NS_FAULT_CORRUPT_AFTER virtual ns after the instance started (app/apps.c). The
 * connection stays well formed -- sequence numbers, lengths and checksums are right -- so only
 * the bytes themselves show it. netstack.c has the others. */
#ifndef NS_FAULT_CORRUPT
#define NS_FAULT_CORRUPT 0
#endif
#ifndef NS_FAULT_CORRUPT_AFTER
#define NS_FAULT_CORRUPT_AFTER 0
#endif
/* And NS_FAULT_ERRORS answers that many permille of the HTTP requests with a 503 instead of asking
 * the web server, spread evenly over them, from NS_FAULT_ERRORS_AFTER virtual ns after the
 * instance started (app/apps.c). The responses stay well formed and in step with the requests:
 * only their status shows it. */
#ifndef NS_FAULT_ERRORS
#define NS_FAULT_ERRORS 0
#endif
#ifndef NS_FAULT_ERRORS_AFTER
#define NS_FAULT_ERRORS_AFTER 0
#endif
/* And NS_FAULT_LEAK_CONN keeps that many bytes for every connection it accepts and never frees
 * them (app/apps.c): a leak the warm-up's loopback probes exercise, since each opens connections
 * (the Module Manager's memory balance, seed 步骤2.4). netstack.c has NS_FAULT_LEAK, a leak per
 * received frame, which they do not. Both keep what they leak with netstack_leak: `len` bytes of
 * `what` in `keep` bytes of an arena that is never freed. */
#ifndef NS_FAULT_LEAK_CONN
#define NS_FAULT_LEAK_CONN 0
#endif
void netstack_leak(const void *what, uint32_t len, uint32_t keep);

/* And NS_FAULT_CRASH_ECHO writes through a null pointer on the first bytes any connection to an
 * echo port delivers (app/apps.c): a version that crashes as soon as it is used, every time it is
 * started -- the loopback probe of a warm-up is its first use. */
#ifndef NS_FAULT_CRASH_ECHO
#define NS_FAULT_CRASH_ECHO 0
#endif

/* Where the frames the core emits go (an ns_emit_fn): onto the tx ring; the doorbell is rung once
 * per pass of the loop. */
void netstack_emit(void *ctx, const uint8_t *frame, size_t len);

/* Every frame the driver has pushed so far, through the migration's intercept and the core. */
void netstack_drain_rx(void);

/* --- app/apps.c: the applications ------------------------------------------------------------ */

/* Takes the core's callbacks on `s` and binds DNS; 0, or negative if the port cannot be had. */
int apps_init(struct ns_stack *s);

/* Output that waited, connection by connection; `between` runs after every 16 of them (the
 * loop's control channel: a migration step must not wait for all of them). */
void apps_flush_waiting(void (*between)(void));

/* A migration's hold on one connection's application (a no-op for a connection without one):
 * app_flush hands the core what waits before a freeze, app_moving leaves the application alone
 * while the connection is exported, app_resume takes it up again when it comes back. */
void app_flush(uint32_t id);
void app_moving(uint32_t id);
void app_resume(uint32_t id);

struct apps_counters {
  uint64_t overflows;    /* output that found no room in its buffer (dropped) */
  uint64_t dns_answered; /* queries the resolver answered and we sent back */
  uint64_t http_requests; /* HTTP requests taken (NS_STATS) */
  uint64_t http_errors;   /* ... answered with a server error: the 503 of a request the web server was not asked or did not take */
};
const struct apps_counters *apps_counters(void);

/* --- app/probe.c: the loopback probe (NS_PROBE) ---------------------------------------------- */

/* The probe's client address: on-link (10.0.0.0/16) and never a real client's. */
#define PROBE_IP 0x0afffffeu /* 10.0.255.254 */

struct probe_result {
  uint32_t failed;  /* NS_PROBE_* bits (hic/netstack_probe.h) */
  uint32_t hash;    /* CRC-32 of the transcript (flags, relative numbers, payloads) */
  uint32_t echoed;  /* bytes the echo gave back, at out */
};
/* Probe number `number` of this instance, echoing `len` bytes of `data` into `out` (app/probe.c). */
void probe_run(struct ns_stack *s, uint64_t number, const uint8_t *data, uint32_t len, uint8_t *out, struct probe_result *r);
/* netstack_emit's first question: is this frame the running probe's? Then it is taken. */
bool probe_take(const uint8_t *frame, size_t len);
/* The application's word that the probe's connection was accepted, as connection `id`. */
void probe_accepted(uint32_t id);

/* --- app/app_record.c: the application's state as bytes, for a migration ---------------------- */

uint32_t app_record_size(uint32_t id);        /* the record of connection id's application */
void app_record_write(uint32_t id, uint8_t *p); /* app_record_size(id) bytes */
bool app_record_ok(const uint8_t *p, uint32_t len); /* well formed? */
bool app_record_fits(const uint8_t *p);        /* can a checked record be loaded now? */
bool app_record_load(uint32_t id, const uint8_t *p); /* a checked record, as connection id's */

/* --- app/upper.c: the firewall, DNS resolver and web server, each one call away --------------- */

int upper_init(struct ns_stack *s);
int upper_rules(struct ns_stack *s);
size_t upper_dns(const uint8_t *query, size_t len, uint8_t *out, size_t cap);
bool upper_http_request(const char *line, uint32_t len, uint32_t *body_len, uint64_t *token);
uint32_t upper_http_head(uint64_t token, char *out, size_t cap);
bool upper_http_body(uint64_t token, uint32_t offset, uint8_t *out, uint32_t len);

/* --- update/: the migration's hooks in the service --------------------------------------------- */

/* Opens the protocol on the control channel (-1: the image granted none). */
void mig_init(struct ns_stack *s, int64_t channel, uint32_t instance, uint64_t started);
/* Answers every call waiting on the control channel; `wake` is the notification the loop waits on. */
void mig_serve(int64_t wake);
/* Before the core sees a received frame: true if the migration took it. */
bool mig_intercept(const uint8_t *frame, uint32_t len);
/* A connection closed (the core's closed callback, before the application forgets it). */
void mig_closed(uint32_t id, enum ns_close_reason why);

/* --- little-endian fields, for the records the service writes ---------------------------------- */

static inline void le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static inline void le32(uint8_t *p, uint32_t v) { le16(p, (uint16_t)v), le16(p + 2, (uint16_t)(v >> 16)); }
static inline void le64(uint8_t *p, uint64_t v) { le32(p, (uint32_t)v), le32(p + 4, (uint32_t)(v >> 32)); }
static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static inline uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

#endif /* NETSTACK_H */
