/* The DNS resolver's protocol (services/dns_resolver): the network stack hands it each query that
 * arrives on UDP port 53 and sends back what it answers.
 *
 * cap://dns/v<version>/query (the alias cap://dns/query reaches the first version):
 *   DNS_QUERY  payload = the query message (RFC 1035), at most DNS_MSG_MAX bytes. Reply: label
 *              DNS_OK, payload = the response message, words[0] = its rcode (0 NOERROR,
 *              3 NXDOMAIN for a name outside the zone, 4 NOTIMP for an opcode other than QUERY).
 * A message that is not a well-formed query of exactly one question (a response, a truncated or
 * compressed name, a question cut short), another label, or a capability: label
 * HIC_ERR_INVALID_ARGUMENT and no payload -- the stack then sends nothing, as a server does with a
 * datagram it cannot parse. A capability that came with the call is deleted. */
#ifndef HIC_DNS_H
#define HIC_DNS_H

#define DNS_OK 0
#define DNS_QUERY 1

#define DNS_MSG_MAX 512 /* RFC 1035 §2.3.4: a UDP message, without EDNS */

#endif /* HIC_DNS_H */
