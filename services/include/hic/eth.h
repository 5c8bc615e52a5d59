/* The Ethernet driver's protocol (services/eth_driver) with the network stack instances it serves,
 * and the minimal Ethernet/IPv4/TCP parsing both sides share. Frames themselves travel through a
 * frame channel (hic/frame_channel.h); these calls only set one up and steer.
 *
 * cap://eth/v<version>/attach (the alias cap://eth/attach reaches the first version registered):
 *   ETH_ATTACH  words[0] instance id (0..ETH_INSTANCES-1), words[1] the channel's slot count,
 *               cap = a copy of the channel's memory capability (R|W). The driver maps it and
 *               checks both ring headers. Reply: cap = a copy of the driver's doorbell
 *               notification (W), words[0] = the bits to notify it with after pushing tx frames
 *               (1 << (1 + id)), words[1] = the slot count.
 *   ETH_NOTIFY  words[0] the same id, cap = a copy of the instance's notification (W), which the
 *               driver notifies (bit 0) after pushing rx frames; words[1] ETH_STANDBY or 0. From
 *               this reply on the instance is live: frames are steered to it. The first live
 *               instance not on standby becomes the default (a successor waiting for a rolling
 *               update is on standby: it gets traffic only once it is steered some or made the
 *               default).
 * cap://eth/v<version>/control:
 *   ETH_STEER   words[0] remote IPv4 address (a.b.c.d as a << 24 | b << 16 | c << 8 | d),
 *               words[1] remote port, words[2] local port, words[3] a live instance, or
 *               ETH_NO_INSTANCE to remove the entry. Reply words[0]: the previous instance, or
 *               ETH_NO_INSTANCE if there was no entry.
 *   ETH_DEFAULT words[0] a live instance: it gets new connections (SYNs not in the table) and all
 *               traffic that is not TCP. Reply words[0]: the previous default.
 *   ETH_STATS   Reply words[0..3]: frames in, frames out, steering table size, misses; the
 *               payload is a struct eth_stats with everything.
 *   ETH_FORGET  words[0] an instance id, live or not: every steering entry naming it is removed,
 *               so its connections' frames go to the default from now on (an instance that died
 *               or was given up must not keep frames, not even a retransmitted SYN, bound to it).
 *               Reply words[0]: the entries removed.
 *   ETH_KICK    Reply: cap = a copy of the driver's notification (W), words[0] = the bits
 *               (ETH_KICK_BIT) that wake it to answer control calls at once. A caller that
 *               notifies them before a control call is answered without the polling delay below
 *               (the migration harness steers every connection this way).
 * Every reply's label is ETH_OK or a HIC_ERR_* code (INVALID_ARGUMENT for a bad id or label,
 * WRONG_TYPE / NO_RIGHT for an unusable capability, NAME_TAKEN for an id already attached,
 * NOT_FOUND for a NOTIFY without an ATTACH, a STEER or DEFAULT to an instance that is not live, or
 * a STEER removal of an absent entry, NO_MEMORY when the steering table is full). A refused call
 * keeps no capability it carried.
 *
 * Neither endpoint tells callers apart (the registry hands out unbadged capabilities): any sandbox
 * that can look the names up may attach as a free id or steer. The caller is blocked until the
 * driver next polls its endpoints, at most 100 µs of virtual time. */
#ifndef HIC_ETH_H
#define HIC_ETH_H

#include <stdbool.h>
#include <stdint.h>

#define ETH_OK 0
#define ETH_ATTACH 1
#define ETH_NOTIFY 2
#define ETH_STEER 3
#define ETH_DEFAULT 4
#define ETH_STATS 5
#define ETH_KICK 6
#define ETH_FORGET 7

#define ETH_INSTANCES 8
#define ETH_NO_INSTANCE 0xff
#define ETH_STANDBY 1 /* ETH_NOTIFY words[1]: do not become the default */
#define ETH_RX_BIT 1 /* the bit the driver notifies an instance with */
#define ETH_DOORBELL_BIT(id) (1ull << (1 + (id)))
#define ETH_KICK_BIT (1ull << (1 + ETH_INSTANCES))

/** What STATS returns in its payload; counters since the driver started. */
struct eth_stats {
  uint64_t frames_in;                 /* taken from the NIC's RX ring */
  uint64_t frames_out;                /* put on the NIC's TX ring */
  uint64_t delivered[ETH_INSTANCES];  /* pushed onto each instance's rx ring */
  uint64_t sent[ETH_INSTANCES];       /* taken from each instance's tx ring and sent */
  uint64_t dropped[ETH_INSTANCES];    /* steered to the instance but its rx ring was full */
  uint64_t no_instance;               /* steered to an instance that is not live: dropped */
  uint64_t bad;                       /* frames of an impossible length, from the NIC or a ring */
  uint64_t table_size;                /* connections in the steering table */
  uint64_t misses;                    /* TCP segments of no known connection, not a SYN: default */
  uint64_t table_full;                /* SYNs that found no room in the table: default, not entered */
  uint32_t default_instance;          /* or ETH_NO_INSTANCE */
  uint32_t version;                   /* major << 16 | minor << 8 | patch */
  uint64_t reopened;                  /* SYNs with a new ISN on a known connection's addresses: default */
};

#define ETHERTYPE_IPV4 0x0800
#define IPPROTO_TCP 6
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/** A connection as the steering table keys it: remote address, remote port, local port. */
static inline uint64_t eth_key(uint32_t remote_ip, uint16_t remote_port, uint16_t local_port) {
  return (uint64_t)remote_ip << 32 | (uint64_t)remote_port << 16 | local_port;
}

static inline uint32_t eth_be16(const uint8_t *p) {
  return (uint32_t)p[0] << 8 | p[1];
}

static inline uint32_t eth_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/** A TCP segment's place in a frame. */
struct eth_tcp {
  uint64_t key;      /* eth_key of the connection, seen from this host */
  uint8_t flags;     /* TCP_* */
  uint32_t seq;      /* the segment's sequence number (a SYN's: the sender's ISN) */
  uint16_t payload;  /* offset of the TCP payload in the frame */
  uint16_t payload_len;
};

/**
 * Is the frame an IPv4 TCP segment whose header is all there (and not a later fragment, which has
 * no ports)? If so fills `out`. `incoming`: the frame came from the wire, so the remote end is
 * its source; otherwise (a frame an instance sends) its destination. Options and lengths are
 * checked against the frame, never trusted: this runs on bytes from the wire.
 */
static inline bool eth_parse_tcp(const uint8_t *f, uint32_t len, bool incoming, struct eth_tcp *out) {
  if (len < 14 + 20 || eth_be16(f + 12) != ETHERTYPE_IPV4) return false;
  const uint8_t *ip = f + 14;
  uint32_t ihl = (uint32_t)(ip[0] & 0xf) * 4;
  uint32_t total = eth_be16(ip + 2);
  if (ip[0] >> 4 != 4 || ihl < 20 || total < ihl + 20 || 14 + total > len) return false;
  if (ip[9] != IPPROTO_TCP || (eth_be16(ip + 6) & 0x1fff) != 0) return false; /* a later fragment */
  const uint8_t *tcp = ip + ihl;
  uint32_t doff = (uint32_t)(tcp[12] >> 4) * 4;
  if (doff < 20 || ihl + doff > total) return false;
  uint32_t src = eth_be32(ip + 12), dst = eth_be32(ip + 16);
  uint16_t sport = (uint16_t)eth_be16(tcp), dport = (uint16_t)eth_be16(tcp + 2);
  out->key = incoming ? eth_key(src, sport, dport) : eth_key(dst, dport, sport);
  out->flags = tcp[13];
  out->seq = eth_be32(tcp + 4);
  out->payload = (uint16_t)(14 + ihl + doff);
  out->payload_len = (uint16_t)(total - ihl - doff);
  return true;
}

#endif /* HIC_ETH_H */
