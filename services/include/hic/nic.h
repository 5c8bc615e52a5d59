/* The emulated NIC's programming interface (emulator/devices/nic.ts is the device side): its
 * 64-bit registers, by index into the mapped register window, and the 16-byte descriptor of its
 * RX and TX rings. One definition for every driver. */
#ifndef HIC_NIC_H
#define HIC_NIC_H

#include <stdint.h>

/* Register indices: the register at byte offset 8*i of the window. */
enum { ID, CTRL, STATUS, MAC, RX_RING, RX_SIZE, RX_HEAD, RX_TAIL, TX_RING, TX_SIZE, TX_HEAD, TX_TAIL, IRQ_STATUS, IRQ_MASK, RX_DROPPED, TX_COUNT, RX_COUNT };

#define NIC_ID 0x4849434e49433031ULL /* "HICNIC01" */
#define CTRL_RX 1
#define CTRL_TX 2
#define CTRL_RESET 4
#define STATUS_LINK_UP 1
#define STATUS_DMA_ERROR 2
#define IRQ_RX 1
#define IRQ_TX 2

/* Descriptor flags: DONE is set by the device, EOP marks a whole frame. */
#define DONE 1
#define EOP 2

struct desc {
  uint64_t addr;  /* physical address of the buffer */
  uint16_t len;   /* RX: buffer size given, frame length returned; TX: frame length */
  uint16_t flags;
  uint32_t reserved;
};

#endif /* HIC_NIC_H */
