/* dns_resolver: the authoritative DNS server for hic.test (issue 5). The network stack hands it
 * every query that arrives on UDP port 53 (DNS_QUERY on cap://dns/v1.0.0/query, the alias
 * cap://dns/query; hic/dns.h) and sends back the response it writes: an A record for a name in
 * the compiled-in zone below, NXDOMAIN for any other name. The zone is what the traffic
 * generator asks (traffic/probes.ts: svc-0 … svc-15.hic.test, and serviceZone(16,
 * 10.0.2.1), the addresses its tests check), plus the stack's own names. */
#include "hic/dns.h"
#include "hic/module.h"
#include "hic/serve.h"

#define QR 0x80 /* in the flags' first byte */
#define AA 0x04
#define RD 0x01
#define TYPE_A 1
#define CLASS_IN 1
#define RCODE_NOERROR 0
#define RCODE_NXDOMAIN 3
#define RCODE_NOTIMP 4
#define HEADER 12
#define NAME_MAX 255 /* RFC 1035 §2.3.4, as it is on the wire */
#define TTL 60

struct zone_entry {
  const char *name; /* lowercase, no final dot */
  uint32_t addr;    /* a.b.c.d as a << 24 | b << 16 | c << 8 | d */
};

static const struct zone_entry ZONE[] = {
    {"hic.test", 0x0a000002},     {"ns.hic.test", 0x0a000002},  {"www.hic.test", 0x0a000002},
    {"svc-0.hic.test", 0x0a000201}, {"svc-1.hic.test", 0x0a000202}, {"svc-2.hic.test", 0x0a000203},
    {"svc-3.hic.test", 0x0a000204}, {"svc-4.hic.test", 0x0a000205}, {"svc-5.hic.test", 0x0a000206},
    {"svc-6.hic.test", 0x0a000207}, {"svc-7.hic.test", 0x0a000208}, {"svc-8.hic.test", 0x0a000209},
    {"svc-9.hic.test", 0x0a00020a}, {"svc-10.hic.test", 0x0a00020b}, {"svc-11.hic.test", 0x0a00020c},
    {"svc-12.hic.test", 0x0a00020d}, {"svc-13.hic.test", 0x0a00020e}, {"svc-14.hic.test", 0x0a00020f},
    {"svc-15.hic.test", 0x0a000210},
};
#define ZONE_SIZE (sizeof ZONE / sizeof ZONE[0])

static uint64_t answered, nxdomain, other;
static struct hic_msg msg;

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c; }

/* Does the wire-form name at q (already checked to be well formed) spell `name`, ignoring case? */
static bool same_name(const uint8_t *q, const char *name) {
  for (;;) {
    uint8_t n = *q++;
    if (n == 0) return *name == 0;
    for (uint8_t i = 0; i < n; i++)
      if (*name == 0 || q[i] == '.' || lower((char)q[i]) != *name++) return false;
    q += n;
    if (*q != 0 && *name++ != '.') return false;
  }
}

static const struct zone_entry *lookup(const uint8_t *qname) {
  for (uint32_t i = 0; i < ZONE_SIZE; i++)
    if (same_name(qname, ZONE[i].name)) return &ZONE[i];
  return 0;
}

/* The end of the question (just past its type and class), or 0 when the message is not a query
 * of exactly one question with an uncompressed name. */
static uint32_t question_end(const uint8_t *q, uint32_t len) {
  if (len < HEADER || len > DNS_MSG_MAX || (q[2] & QR) || be16(q + 4) != 1) return 0;
  uint32_t at = HEADER;
  while (at < len && q[at] != 0) {
    if (q[at] > 63) return 0; /* a pointer (a query's name is never compressed) or a reserved form */
    at += 1u + q[at];
    if (at - HEADER > NAME_MAX) return 0;
  }
  return at + 5 <= len ? at + 5 : 0; /* the root label, type, class */
}

/* Writes the response into m's payload: the header, the question as asked, at most one A record. */
static uint64_t answer(struct hic_msg *m) {
  uint32_t end = m->label == DNS_QUERY && m->len <= DNS_MSG_MAX ? question_end(m->payload, (uint32_t)m->len) : 0;
  if (end == 0) return HIC_ERR_INVALID_ARGUMENT;
  uint8_t *r = m->payload; /* the response is the query's first `end` bytes, rewritten in place */
  const struct zone_entry *e = lookup(r + HEADER);
  bool query = (r[2] >> 3 & 0x0f) == 0; /* opcode QUERY */
  bool a_in = be16(r + end - 4) == TYPE_A && be16(r + end - 2) == CLASS_IN;
  uint8_t rcode = !query ? RCODE_NOTIMP : e ? RCODE_NOERROR : RCODE_NXDOMAIN;
  bool record = rcode == RCODE_NOERROR && a_in;
  r[2] = (uint8_t)(QR | (r[2] & 0x78) | AA | (r[2] & RD)); /* the opcode and RD as asked */
  r[3] = rcode;                                             /* RA 0: we recurse for nobody */
  r[6] = 0, r[7] = record ? 1 : 0;
  memset(r + 8, 0, 4); /* no authority or additional records (an EDNS OPT is not echoed) */
  uint32_t n = end;
  if (record) {
    const uint8_t rr[16] = {0xc0, HEADER, 0, TYPE_A, 0, CLASS_IN, 0, 0, 0, TTL, 0, 4,
                            (uint8_t)(e->addr >> 24), (uint8_t)(e->addr >> 16), (uint8_t)(e->addr >> 8), (uint8_t)e->addr};
    memcpy(r + n, rr, sizeof rr); /* the owner: a pointer to the question's name */
    n += sizeof rr;
  }
  m->len = n;
  m->words[0] = rcode;
  m->words[1] = m->words[2] = m->words[3] = 0;
  if (record) answered++;
  else if (rcode == RCODE_NXDOMAIN) nxdomain++;
  else other++;
  return DNS_OK;
}

static void report(void) {
  dns_resolver_emit_report(&(struct dns_resolver_record_report){.names = ZONE_SIZE, .answered = answered, .nxdomain = nxdomain, .no_record = other,
                                                                .refused = hic_serve_refused});
  hic_log("dns_resolver %s: %u names; answered %lu, nxdomain %lu, no record %lu, refused %lu", HIC_MODULE_VERSION, (unsigned)ZONE_SIZE,
          answered, nxdomain, other, hic_serve_refused);
}

int hic_main(void) {
  return hic_serve("dns", "query", &msg, answer, report, NOTICE_READY);
}
