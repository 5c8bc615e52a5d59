/* frame_sink: a test consumer standing in for one network stack instance of eth_driver. It creates
 * its frame channel (hic/frame_channel.h) and notification, attaches (hic/eth.h), and sends every
 * frame it receives back out, reflected: Ethernet addresses swapped, and for IPv4 the addresses
 * (and TCP/UDP ports) swapped too, which leaves every checksum valid. It stamps its instance id
 * into byte FRAME_SINK_STAMP of the frame -- the last byte of the Ethernet source address, the one
 * byte no checksum covers -- so whoever reads the wire sees which instance answered.
 *
 * A TCP segment whose payload starts with "HANDOVER" and one more byte T stands for a rolling
 * update's connection handover: after echoing it, the sink STEERs that connection to instance T
 * (ETH_NO_INSTANCE removes it from the table).
 *
 * Its configuration (module.json): `instance`, the id it attaches as; `claim_default`: once live,
 * make itself the default instance (what a new stack version does when it takes over); `probe`:
 * first try the protocol's refusals (each malformed call once, with the exact error it must get,
 * then each call once to succeed), exiting 3 if any answer differs; `delay` before attaching.
 * After 50 ms (virtual) without a frame it asks the driver for STATS, reports them and its own
 * counts (records `driver_stats`, `totals`), and exits 0 (1 if attaching failed, 2 if a control
 * call did). */
#include "hic/eth.h"
#include "hic/frame_channel.h"
#include "hic/module.h"
#include "hic/runtime.h"

#define REGISTRY 0
#define SLOTS 64
#define QUIET_NS 50000000ULL
#define FRAME_SINK_STAMP 11

static struct hic_msg msg;
static uint8_t frame[FC_FRAME_MAX];
static uint64_t id;
static int64_t control;

static int64_t find(const char *name) {
  for (;;) {
    int64_t slot = hic_registry_lookup(REGISTRY, name, strlen(name));
    if (slot != -HIC_ERR_NOT_FOUND) return slot;
    hic_sleep(100000);
  }
}

/* One call on an endpoint; the reply's label (ETH_OK or an error code), or the call's own error. */
static uint64_t call(int64_t ep, uint64_t label, uint64_t w0, uint64_t w1, uint64_t w2, uint64_t w3, int64_t cap) {
  msg.label = label;
  msg.words[0] = w0;
  msg.words[1] = w1;
  msg.words[2] = w2;
  msg.words[3] = w3;
  msg.cap = cap;
  msg.cap_move = 0;
  msg.len = 0;
  int64_t r = hic_call((uint64_t)ep, &msg, 0, 0);
  return r < 0 ? (uint64_t)-r : msg.label;
}

static void swap(uint8_t *a, uint8_t *b, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    uint8_t t = a[i];
    a[i] = b[i];
    b[i] = t;
  }
}

/* Turns a received frame into its reply, stamped with our id. */
static void reflect(uint8_t *f, uint32_t len) {
  swap(f, f + 6, 6);
  f[FRAME_SINK_STAMP] = (uint8_t)id;
  if (len < 14 + 20 || eth_be16(f + 12) != ETHERTYPE_IPV4) return;
  uint8_t *ip = f + 14;
  uint32_t ihl = (uint32_t)(ip[0] & 0xf) * 4;
  swap(ip + 12, ip + 16, 4);
  bool ports = (ip[9] == IPPROTO_TCP || ip[9] == 17 /* UDP */) && (eth_be16(ip + 6) & 0x1fff) == 0;
  if (ports && ihl >= 20 && 14 + ihl + 4 <= len) swap(ip + ihl, ip + ihl + 2, 2);
}

/* The handover marker: STEER the frame's connection to the instance it names. */
static int handover(const uint8_t *f, uint32_t len) {
  static const char mark[] = "HANDOVER";
  struct eth_tcp t;
  if (!eth_parse_tcp(f, len, true, &t) || t.payload_len < sizeof mark || memcmp(f + t.payload, mark, sizeof mark - 1) != 0) return 0;
  uint64_t to = f[t.payload + sizeof mark - 1];
  uint64_t ip = t.key >> 32, rport = t.key >> 16 & 0xffff, lport = t.key & 0xffff;
  uint64_t status = call(control, ETH_STEER, ip, rport, lport, to, HIC_NO_CAP);
  frame_sink_emit_handed(&(struct frame_sink_record_handed){
      .remote_ip = ip, .remote_port = rport, .local_port = lport, .to = to, .status = status, .was = msg.words[0]});
  hic_log("frame_sink %lu: handed %lu.%lu.%lu.%lu:%lu -> port %lu to instance %lu: status %lu, was %lu", id, ip >> 24, ip >> 16 & 0xff, ip >> 8 & 0xff,
          ip & 0xff, rport, lport, to, status, msg.words[0]);
  return status == ETH_OK ? 0 : 1;
}

static int mismatches;

static void expect(const char *what, uint64_t got, uint64_t want) {
  hic_log("frame_sink %lu: probe %s: status %lu (want %lu)%s", id, what, got, want, got == want ? "" : " MISMATCH");
  mismatches += got != want;
}

/* Every way the driver must refuse a call, before this instance attaches for real. A refused call
 * leaves the driver no capability: the ones passed here are copies, still ours afterwards. */
static void probe_refusals(int64_t attach, int64_t mem, int64_t note_w) {
  int64_t read_only = hic_cap_copy((uint64_t)mem, HIC_RIGHT_R | HIC_RIGHT_G);
  expect("ATTACH as instance 8", call(attach, ETH_ATTACH, ETH_INSTANCES, SLOTS, 0, 0, mem), HIC_ERR_INVALID_ARGUMENT);
  expect("ATTACH without a channel", call(attach, ETH_ATTACH, id, SLOTS, 0, 0, HIC_NO_CAP), HIC_ERR_INVALID_ARGUMENT);
  expect("ATTACH with a notification for a channel", call(attach, ETH_ATTACH, id, SLOTS, 0, 0, note_w), HIC_ERR_WRONG_TYPE);
  expect("ATTACH with a read-only channel", call(attach, ETH_ATTACH, id, SLOTS, 0, 0, read_only), HIC_ERR_NO_RIGHT);
  expect("ATTACH with 3 slots", call(attach, ETH_ATTACH, id, 3, 0, 0, mem), HIC_ERR_INVALID_ARGUMENT);
  expect("ATTACH with 32 slots, the header says 64", call(attach, ETH_ATTACH, id, 32, 0, 0, mem), HIC_ERR_INVALID_ARGUMENT);
  expect("ATTACH as instance 1, which is attached", call(attach, ETH_ATTACH, 1, SLOTS, 0, 0, mem), HIC_ERR_NAME_TAKEN);
  expect("NOTIFY before ATTACH", call(attach, ETH_NOTIFY, id, 0, 0, 0, note_w), HIC_ERR_NOT_FOUND);
  expect("STEER on the attach endpoint", call(attach, ETH_STEER, 1, 2, 3, 1, HIC_NO_CAP), HIC_ERR_INVALID_ARGUMENT);
  expect("ATTACH on the control endpoint", call(control, ETH_ATTACH, id, SLOTS, 0, 0, mem), HIC_ERR_INVALID_ARGUMENT);
  expect("STEER to an instance that is not live", call(control, ETH_STEER, 0x0a000001, 1000, 80, 5, HIC_NO_CAP), HIC_ERR_NOT_FOUND);
  expect("STEER removing an absent entry", call(control, ETH_STEER, 0x0a000001, 1000, 80, ETH_NO_INSTANCE, HIC_NO_CAP), HIC_ERR_NOT_FOUND);
  expect("STEER with port 65536", call(control, ETH_STEER, 0x0a000001, 65536, 80, 1, HIC_NO_CAP), HIC_ERR_INVALID_ARGUMENT);
  expect("DEFAULT to an instance that is not live", call(control, ETH_DEFAULT, 6, 0, 0, 0, HIC_NO_CAP), HIC_ERR_NOT_FOUND);
  expect("label 99", call(control, 99, 0, 0, 0, 0, HIC_NO_CAP), HIC_ERR_INVALID_ARGUMENT);
  hic_cap_delete((uint64_t)read_only);
}

/* Once live: each control call once to succeed (and the removal twice: the second must fail). */
static void probe_steering(void) {
  expect("STEER a new connection to me", call(control, ETH_STEER, 0x0a000001, 1000, 80, id, HIC_NO_CAP), ETH_OK);
  expect("  ... the previous instance", msg.words[0], ETH_NO_INSTANCE);
  expect("STEER it to instance 1", call(control, ETH_STEER, 0x0a000001, 1000, 80, 1, HIC_NO_CAP), ETH_OK);
  expect("  ... the previous instance", msg.words[0], id);
  expect("STEER it away", call(control, ETH_STEER, 0x0a000001, 1000, 80, ETH_NO_INSTANCE, HIC_NO_CAP), ETH_OK);
  expect("  ... the previous instance", msg.words[0], 1);
  expect("STEER it away again", call(control, ETH_STEER, 0x0a000001, 1000, 80, ETH_NO_INSTANCE, HIC_NO_CAP), HIC_ERR_NOT_FOUND);
  expect("DEFAULT to me", call(control, ETH_DEFAULT, id, 0, 0, 0, HIC_NO_CAP), ETH_OK);
  expect("DEFAULT back to instance 1", call(control, ETH_DEFAULT, 1, 0, 0, 0, HIC_NO_CAP), ETH_OK);
  expect("  ... the previous default", msg.words[0], id);
  expect("STATS", call(control, ETH_STATS, 0, 0, 0, 0, HIC_NO_CAP), ETH_OK);
  expect("  ... the payload length", msg.len, sizeof(struct eth_stats));
}

int hic_main(void) {
  const struct frame_sink_config *config = hic_config();
  id = config->instance;
  if (config->delay_ns) hic_sleep(config->delay_ns);

  int64_t mem = hic_memory_create(fc_channel_bytes(SLOTS));
  int64_t at = mem < 0 ? mem : hic_memory_map((uint64_t)mem);
  struct fc_channel ch;
  if (at < 0 || !fc_init((void *)(uintptr_t)at, SLOTS) || !fc_open((void *)(uintptr_t)at, SLOTS, &ch)) {
    return hic_log("frame_sink %lu: no channel: %ld", id, at), 1;
  }
  int64_t rx_note = hic_notification_create();
  int64_t rx_note_w = rx_note < 0 ? rx_note : hic_cap_copy((uint64_t)rx_note, HIC_RIGHT_W | HIC_RIGHT_G);
  if (rx_note_w < 0) return hic_log("frame_sink %lu: no notification: %ld", id, rx_note_w), 1;

  int64_t attach = find("cap://eth/attach");
  control = find("cap://eth/control");
  if (attach < 0 || control < 0) return hic_log("frame_sink %lu: lookup failed: %ld %ld", id, attach, control), 1;
  if (config->probe) probe_refusals(attach, mem, rx_note_w);
  uint64_t status = call(attach, ETH_ATTACH, id, SLOTS, 0, 0, mem);
  if (status != ETH_OK || msg.cap < 0) return hic_log("frame_sink %lu: ATTACH refused: %lu", id, status), 1;
  int64_t doorbell = msg.cap;
  uint64_t bell = msg.words[0];
  status = call(attach, ETH_NOTIFY, id, 0, 0, 0, rx_note_w);
  if (status != ETH_OK) return hic_log("frame_sink %lu: NOTIFY refused: %lu", id, status), 1;
  hic_log("frame_sink %lu: attached, channel at 0x%lx, doorbell bits 0x%lx", id, at, bell);
  if (config->claim_default) {
    status = call(control, ETH_DEFAULT, id, 0, 0, 0, HIC_NO_CAP);
    frame_sink_emit_default_claimed(&(struct frame_sink_record_default_claimed){.status = status, .was = msg.words[0]});
    hic_log("frame_sink %lu: DEFAULT -> %lu: status %lu, was %lu", id, id, status, msg.words[0]);
    if (status != ETH_OK) return 2;
  }
  if (config->probe) {
    probe_steering();
    if (mismatches) return hic_log("frame_sink %lu: %d probes answered wrongly", id, mismatches), 3;
  }

  uint64_t received = 0, sent = 0, bad = 0, full = 0;
  int failed = 0;
  for (;;) {
    int64_t bits = hic_wait((uint64_t)rx_note, 0, QUIET_NS);
    if (bits == -HIC_ERR_TIMEOUT) break;
    if (bits < 0) return hic_log("frame_sink %lu: wait failed: %ld", id, bits), 1;
    int32_t len;
    while ((len = fc_pop(&ch.rx, frame, sizeof frame)) != 0) {
      if (len < 0) {
        bad++;
        continue;
      }
      received++;
      failed |= handover(frame, (uint32_t)len);
      reflect(frame, (uint32_t)len);
      while (!fc_push(&ch.tx, frame, (uint32_t)len)) { /* the driver drains it once rung */
        full++;
        hic_notify((uint64_t)doorbell, bell);
        hic_yield();
      }
      sent++;
    }
    hic_notify((uint64_t)doorbell, bell);
  }

  status = call(control, ETH_STATS, 0, 0, 0, 0, HIC_NO_CAP);
  struct eth_stats s;
  memcpy(&s, msg.payload, sizeof s);
  frame_sink_emit_driver_stats(&(struct frame_sink_record_driver_stats){.status = status, .in = s.frames_in, .out = s.frames_out, .table = s.table_size,
                                                                      .misses = s.misses, .default_instance = s.default_instance, .version = s.version});
  frame_sink_emit_totals(&(struct frame_sink_record_totals){.received = received, .sent = sent, .bad = bad, .tx_full = full});
  hic_log("frame_sink %lu: driver stats (%lu): in %lu, out %lu, table %lu, misses %lu, default %u, version 0x%x", id, status, s.frames_in, s.frames_out,
          s.table_size, s.misses, s.default_instance, s.version);
  hic_log("frame_sink %lu: received %lu, sent %lu, bad %lu, tx full %lu", id, received, sent, bad, full);
  return failed || status != ETH_OK ? 2 : 0;
}
