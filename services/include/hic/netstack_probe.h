/* hic/netstack_probe.h -- netstack's stats endpoint (cap://netstack/v<version>/stats; the alias
 * cap://netstack/stats follows the instance in service), as the Monitor and the Module Manager
 * call it. Two calls:
 *
 *   NS_STATS  Reply words[0] connections, words[1] TCP connections accepted, words[2] version
 *             (major << 16 | minor << 8 | patch), words[3] the CPU spent in the core on
 *             received frames so far (cpu_time, virtual ns: the same for the same work, however
 *             the instance was preempted); payload a struct ns_stats_head (frames received and
 *             their bytes, HTTP requests taken and those answered with a server error), then the core's
 *             counters (netstack's struct ns_counters). A health check.
 *   NS_PROBE  words[0] the probe's number, payload up to NS_PROBE_DATA_MAX bytes. The instance runs
 *             a scripted client through its own core and applications (netstack's app/probe.c):
 *             a connection to port 80 (HTTP) is accepted, and port 5432's echo gives the payload
 *             back and closes. Nothing reaches the wire and no counter of the traffic moves.
 *             Reply words[0] the CPU the probe took in the instance (virtual ns, cpu_time:
 *             the same for the same work, preempted or not), words[1] the
 *             functions that failed (NS_PROBE_* bits, of NS_PROBE_FUNCTIONS checked), words[2]
 *             version, words[3] a CRC-32 of the transcript -- each segment's
 *             flags, sequence and acknowledgement numbers relative to the two ISNs, and payload,
 *             so that two instances that behave alike give the same -- and payload the bytes
 *             echoed, for the caller to compare with the ones it sent.
 *
 * Any other label is refused with HIC_ERR_INVALID_ARGUMENT. */
#ifndef HIC_NETSTACK_PROBE_H
#define HIC_NETSTACK_PROBE_H

#define NS_STATS 1
#define NS_PROBE 2
#define NS_PROBE_DATA_MAX 512
#define NS_PROBE_FUNCTIONS 2
#define NS_PROBE_HTTP 1 /* port 80 accepted no connection */
#define NS_PROBE_ECHO 2 /* port 5432's echo did not give back as many bytes and close */
#define NS_PROBE_ALL (NS_PROBE_HTTP | NS_PROBE_ECHO)
#define NS_PROBE_BYTES 64 /* what the Monitor and the Module Manager send */

#include <stdbool.h>

#include "hic/runtime.h"

/* NS_STATS's payload begins with this: counts since the instance started. */
struct ns_stats_head {
  uint64_t rx_frames;     /* frames received */
  uint64_t rx_bytes;      /* ... their bytes: with the frames, the work words[3]'s CPU was spent on */
  uint64_t http_requests; /* HTTP requests taken */
  uint64_t http_errors;   /* ... answered with a server error (503: the web server not asked, or not reached) */
  uint64_t fw_denied;     /* new inbound traffic the firewall's rules refused: SYNs, datagrams, ICMP messages */
};

/* One NS_PROBE as its caller sees it. */
struct ns_probe_answer {
  bool answered;
  uint32_t failed;  /* NS_PROBE_* bits */
  uint32_t hash;    /* the transcript's */
  uint32_t echoed;  /* bytes the echo gave back */
  uint32_t changed; /* ... of them, not the byte sent at that place */
  uint64_t cpu_ns;  /* the CPU the probe took in the instance */
};

/* NS_PROBE `number` on `ep`, through `msg`, with NS_PROBE_BYTES bytes that differ from one
 * number to the next (they are made here, and the echo compared with them); unanswered within
 * timeout_ns, or answered with a refusal, it is `answered` false. */
static inline struct ns_probe_answer ns_probe(int64_t ep, struct hic_msg *msg, uint64_t number, uint64_t timeout_ns) {
  uint8_t sent[NS_PROBE_BYTES];
  for (uint32_t i = 0; i < NS_PROBE_BYTES; i++) sent[i] = (uint8_t)(number * 131 + i * 7 + (i >> 3));
  memset(msg, 0, sizeof *msg - HIC_MSG_PAYLOAD_MAX);
  msg->label = NS_PROBE;
  msg->cap = HIC_NO_CAP;
  msg->words[0] = number;
  msg->len = NS_PROBE_BYTES;
  memcpy(msg->payload, sent, NS_PROBE_BYTES);
  struct ns_probe_answer a = {0};
  if (ep < 0 || hic_call((uint64_t)ep, msg, 0, timeout_ns) < 0 || msg->label != 0 || msg->len > NS_PROBE_BYTES) return a;
  a = (struct ns_probe_answer){.answered = true, .failed = (uint32_t)msg->words[1], .hash = (uint32_t)msg->words[3], .echoed = (uint32_t)msg->len,
                               .cpu_ns = msg->words[0]};
  for (uint32_t i = 0; i < a.echoed; i++) a.changed += msg->payload[i] != sent[i];
  return a;
}

#endif /* HIC_NETSTACK_PROBE_H */
