/* hic/netstack_probe.h -- netstack's stats endpoint (cap://netstack/v<version>/stats; the alias
 * cap://netstack/stats follows the instance in service), as the Monitor and the Module Manager
 * call it. Two calls:
 *
 *   NS_STATS  Reply words[0] connections, words[1] TCP connections accepted, words[2] version
 *             (major << 16 | minor << 8 | patch), words[3] the CPU spent in the core on
 *             received frames so far (cpu_time, virtual ns: the same for the same work, however
 *             the instance was preempted); payload the core's counters, beginning with the frames
 *             received (u64). A health check.
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

#endif /* HIC_NETSTACK_PROBE_H */
