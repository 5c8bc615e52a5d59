// The NIC (emulator/devices/nic.ts) under a real guest driver (services/nic_echo): frames from the
// wire come back in order with their MAC addresses swapped; a burst larger than the RX ring drops
// exactly the excess and counts it; a hostile driver pointing DMA at memory it does not own is
// refused and the foreign bytes stay as they were. Then the device alone, against a fake DMA
// window: the register rules a driver relies on.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DmaWindow } from '../emulator/device.ts';
import {
  CTRL_RESET, CTRL_RX_ENABLE, CTRL_TX_ENABLE, DESC_DONE, DESC_EOP, IRQ_RX, MAX_FRAME, NIC_ID, NIC_REG as R, NicDevice,
  STATUS_DMA_ERROR, STATUS_LINK_UP,
} from '../emulator/devices/nic.ts';
import { recordsOf } from './support/kernel.ts';
import { stage } from './support/boot.ts';
import { type System, type RunResult } from '../system/run-image.ts';

const NIC_MAC = [0x02, 0x48, 0x49, 0x43, 0x00, 0x01];
const HOST_MAC = [0x02, 0x00, 0x00, 0x00, 0x00, 0xaa];
const ms = 1_000_000;

/** An Ethernet II frame to the NIC: sequence number, then a pattern; 60..1514 bytes. */
function frame(seq: number): Uint8Array {
  const f = new Uint8Array(60 + ((seq * 97) % 1455));
  f.set(NIC_MAC, 0);
  f.set(HOST_MAC, 6);
  f.set([0x88, 0xb5], 12); // the IEEE local experimental EtherType
  new DataView(f.buffer).setUint32(14, seq, true);
  for (let i = 18; i < f.length; i++) f[i] = (seq + i) & 0xff;
  return f;
}

const swapped = (f: Uint8Array) => Uint8Array.from([...f.subarray(6, 12), ...f.subarray(0, 6), ...f.subarray(12)]);
const reg = (nic: NicDevice, at: number) => Number(nic.read(at, 4)) + Number(nic.read(at + 4, 4)) * 2 ** 32;

describe('nic image: the echo driver', () => {
  const FRAMES = 200;
  const BURST = 40;
  const RING_USABLE = 31; // 32 descriptors, one slot always empty
  let staged: System;
  let done: RunResult;
  let nic: NicDevice;
  const accepted: boolean[] = [];
  const burst: boolean[] = [];
  const sent: Uint8Array[] = [];
  const tapped: string[] = [];
  let counters: Record<string, number> = {};
  let late: boolean | undefined;

  beforeAll(async () => {
    staged = await stage('nic');
    nic = staged.machine.devices[0]!.device as NicDevice;
    nic.onTransmit = (f) => sent.push(f);
    nic.tap = (direction) => tapped.push(direction);
    const { kernel } = staged;
    for (let i = 0; i < FRAMES; i++) kernel.at(10 * ms + i * 100_000, () => accepted.push(nic.receive(frame(i))));
    kernel.at(50 * ms, () => {
      for (let i = 0; i < BURST; i++) burst.push(nic.receive(frame(FRAMES + i)));
    });
    kernel.at(150 * ms, () => {
      counters = { rx: reg(nic, R.RX_COUNT), tx: reg(nic, R.TX_COUNT), dropped: reg(nic, R.RX_DROPPED), status: reg(nic, R.STATUS) };
    });
    // After the driver exited: its memory is gone, so the device, still enabled, must reach nothing.
    kernel.at(200 * ms, () => (late = nic.receive(frame(999))));
    done = await staged.run();
  });
  afterAll(() => staged?.machine.dispose());

  it('the driver ran to its normal exit', () => {
    expect(done.deviations).toEqual([]);
    expect(done.outcome).toEqual({ exits: { driver: 0 }, faults: {} });
  });

  it('all 200 frames came back, in order, MACs swapped, payloads identical', () => {
    expect(accepted).toEqual(Array(FRAMES).fill(true));
    expect(sent.length).toBe(FRAMES + RING_USABLE);
    for (let i = 0; i < FRAMES; i++) expect(sent[i], `frame ${i}`).toEqual(swapped(frame(i)));
  });

  it('a burst larger than the ring drops exactly the excess, and what fit is echoed', () => {
    expect(burst).toEqual([...Array(RING_USABLE).fill(true), ...Array(BURST - RING_USABLE).fill(false)]);
    for (let i = 0; i < RING_USABLE; i++) expect(sent[FRAMES + i], `burst frame ${i}`).toEqual(swapped(frame(FRAMES + i)));
  });

  it('the device counters, the tap and the driver\'s own count agree', () => {
    const through = FRAMES + RING_USABLE;
    expect(counters).toEqual({ rx: through, tx: through, dropped: BURST - RING_USABLE, status: STATUS_LINK_UP });
    expect(tapped.filter((d) => d === 'rx').length).toBe(through);
    expect(tapped.filter((d) => d === 'tx').length).toBe(through);
    // One interrupt per spaced frame, one for the whole burst; each delivered once.
    expect(recordsOf(staged.kernel, 'driver', 'summary').map(({ t: _t, ...fields }) => fields)).toEqual([
      { echoed: through, interrupts: FRAMES + 1, bad: 0, tx_full: 0, device_rx: through, device_tx: through, device_dropped: BURST - RING_USABLE, status: STATUS_LINK_UP },
    ]);
    const line = staged.kernel.objects.irqLine(16)!;
    expect([line.raised, line.delivered, line.pending]).toEqual([FRAMES + 1, FRAMES + 1, 0]);
  });

  it('once the driver is gone, the device reaches none of its old memory', () => {
    expect(late).toBe(false);
    expect(nic.dmaFaults).toEqual([{ ring: 'rx', what: 'descriptor', address: expect.any(Number), length: 16 }]);
    expect(reg(nic, R.STATUS) & STATUS_DMA_ERROR).toBe(STATUS_DMA_ERROR);
    expect(reg(nic, R.CTRL)).toBe(0);
  });
});

describe('a hostile driver: DMA outside its own memory is refused', () => {
  const image = {
    label: 'tests/nic.test.ts',
    image: {
      'hic-image': 1,
      name: 'nic-hostile',
      machine: { memory: '32MiB', devices: ['nic'] },
      sandboxes: [
        // Spawned first, so its stack's top page lies just below the hostile driver's image.
        { name: 'victim', module: 'echo', quota: '256KiB', stack: '16KiB', config: { version: 1 } },
        { name: 'hostile', module: 'nic_echo', quota: '512KiB', config: { role: 'hostile' }, caps: { irqs: [16], mmio: ['nic'] } },
      ],
      run: { until: '300ms' },
      expect: { exits: { hostile: 0 } },
    },
  };
  let staged: System;
  let done: RunResult;
  let nic: NicDevice;
  let foreign: number;
  let owner: number | undefined;
  let before: Uint8Array | undefined;
  let after: Uint8Array | undefined;
  const received: boolean[] = [];

  beforeAll(async () => {
    staged = await stage(image);
    const { kernel, machine } = staged;
    nic = machine.devices[0]!.device as NicDevice;
    const loaded = kernel.events.of('moduleLoaded').find((e) => e.sandbox === 'hostile')!;
    expect(loaded.entry).toBe(loaded.base); // the guest finds its base from _start
    foreign = loaded.base - 4096;
    const page = () => machine.frames.view(foreign, 4096).slice();
    kernel.at(5 * ms, () => {
      before = page();
      owner = machine.frames.ownerOf(foreign / 4096);
    });
    kernel.at(10 * ms, () => received.push(nic.receive(frame(1)))); // the ring is foreign
    kernel.at(70 * ms, () => received.push(nic.receive(frame(2)))); // a buffer is foreign
    kernel.at(150 * ms, () => (after = page()));
    done = await staged.run();
  });
  afterAll(() => staged?.machine.dispose());

  it('the foreign page is the victim\'s, and holds data worth protecting', () => {
    expect(owner).toBe(staged.kernel.sandbox('victim')!.id);
    expect(before!.some((b) => b !== 0)).toBe(true);
  });

  it('both attempts were refused: no frame taken, DMA error latched, RX stopped', () => {
    expect(received).toEqual([false, false]);
    expect(nic.dmaFaults).toEqual([
      { ring: 'rx', what: 'descriptor', address: foreign, length: 16 },
      { ring: 'rx', what: 'buffer', address: foreign, length: 2048 },
    ]);
    expect(reg(nic, R.STATUS)).toBe(STATUS_LINK_UP | STATUS_DMA_ERROR);
    expect(reg(nic, R.CTRL)).toBe(0);
    expect([reg(nic, R.RX_COUNT), reg(nic, R.RX_DROPPED)]).toEqual([0, 1]); // the reset between the attempts zeroed the first
    const attempts = recordsOf(staged.kernel, 'hostile', 'dma_attempt').map(({ target, at, rx_dropped, refused }) => ({ target, at, rx_dropped, refused }));
    expect(attempts).toEqual([
      { target: 'rx_ring', at: foreign, rx_dropped: 1, refused: true },
      { target: 'rx_buffer', at: foreign, rx_dropped: 1, refused: true },
    ]);
  });

  it('not one byte of the foreign page changed, and nothing else broke', () => {
    expect(after).toEqual(before);
    expect(done.deviations).toEqual([]);
    expect(done.outcome).toEqual({ exits: { hostile: 0 }, faults: {} });
  });
});

describe('the NIC alone, against a fake DMA window', () => {
  const RAM = 0x1000; // the window covers [RAM, RAM + 64 KiB)
  let mem: Uint8Array;
  let nic: NicDevice;
  let raised: number;
  const w64 = (at: number, v: number | bigint) => {
    const b = BigInt(v);
    nic.write(at, 4, Number(b & 0xffff_ffffn)); // as Unicorn delivers a 64-bit store
    nic.write(at + 4, 4, Number(b >> 32n));
  };
  const desc = (at: number) => new DataView(mem.buffer, at - RAM, 16);
  const window: DmaWindow = (at, length) => (at >= RAM && at + length <= RAM + mem.length ? mem.subarray(at - RAM, at - RAM + length) : undefined);

  /** An RX ring of 4 at RAM with buffers of `capacity` bytes, three descriptors the device's. */
  function rxRing(capacity = 2048): void {
    for (let i = 0; i < 4; i++) {
      desc(RAM + 16 * i).setBigUint64(0, BigInt(RAM + 0x1000 + i * 2048), true);
      desc(RAM + 16 * i).setUint16(8, capacity, true);
    }
    w64(R.RX_RING, RAM);
    w64(R.RX_SIZE, 4);
    w64(R.RX_TAIL, 3);
    w64(R.CTRL, CTRL_RX_ENABLE);
  }

  beforeAll(() => {
    mem = new Uint8Array(0x10000);
  });
  const fresh = (bind = true) => {
    mem.fill(0);
    nic = new NicDevice();
    raised = 0;
    nic.raise = () => raised++;
    if (bind) nic.bind(window);
  };

  it('identifies itself; read-only registers ignore writes', () => {
    fresh();
    expect(nic.read(R.ID, 4) | (nic.read(R.ID + 4, 4) << 32n)).toBe(NIC_ID);
    expect(reg(nic, R.MAC)).toBe(NIC_MAC.reduceRight((v, b) => v * 256 + b, 0));
    w64(R.STATUS, 0);
    w64(R.RX_COUNT, 7);
    w64(R.RX_HEAD, 2);
    expect([reg(nic, R.STATUS), reg(nic, R.RX_COUNT), reg(nic, R.RX_HEAD)]).toEqual([STATUS_LINK_UP, 0, 0]);
    expect(new NicDevice({ mac: '02:00:00:00:00:07' }).read(R.MAC, 4)).toBe(0x02n);
    expect(() => new NicDevice({ mac: '02:00:00:00:00' })).toThrow(/bad MAC/);
  });

  it('takes only valid ring sizes and tails, and no ring change while enabled', () => {
    fresh();
    for (const bad of [0, 2, 3, 6, 512]) {
      w64(R.RX_SIZE, bad);
      expect(reg(nic, R.RX_SIZE), `size ${bad}`).toBe(0);
    }
    w64(R.CTRL, CTRL_RX_ENABLE | CTRL_TX_ENABLE);
    expect(reg(nic, R.CTRL)).toBe(0); // no ring sizes yet
    w64(R.RX_SIZE, 8);
    w64(R.RX_TAIL, 8);
    expect(reg(nic, R.RX_TAIL)).toBe(0);
    w64(R.RX_RING, RAM + 0x13);
    expect(reg(nic, R.RX_RING)).toBe(RAM + 0x10);
    w64(R.CTRL, CTRL_RX_ENABLE);
    w64(R.RX_RING, RAM + 0x100);
    w64(R.RX_SIZE, 16);
    expect([reg(nic, R.CTRL), reg(nic, R.RX_RING), reg(nic, R.RX_SIZE)]).toEqual([CTRL_RX_ENABLE, RAM + 0x10, 8]);
  });

  it('fills descriptors in order, leaves one slot empty, and raises once per pending edge', () => {
    fresh();
    rxRing();
    expect([nic.receive(frame(0)), raised]).toEqual([true, 0]); // masked
    w64(R.IRQ_MASK, IRQ_RX);
    expect(raised).toBe(1); // unmasking a pending status raises
    expect([nic.receive(frame(1)), nic.receive(frame(2)), nic.receive(frame(3))]).toEqual([true, true, false]);
    expect(raised).toBe(1); // still pending: no new edge
    expect([reg(nic, R.RX_HEAD), reg(nic, R.RX_COUNT), reg(nic, R.RX_DROPPED)]).toEqual([3, 3, 1]);
    expect([desc(RAM + 16).getUint16(8, true), desc(RAM + 16).getUint16(10, true)]).toEqual([frame(1).length, DESC_DONE | DESC_EOP]);
    expect(mem.subarray(0x1000 + 2048, 0x1000 + 2048 + frame(1).length)).toEqual(frame(1));
    w64(R.IRQ_STATUS, IRQ_RX); // write 1 to clear
    w64(R.RX_TAIL, 2); // slot 3 goes back to the device
    expect([nic.receive(frame(4)), raised, reg(nic, R.IRQ_STATUS)]).toEqual([true, 2, IRQ_RX]);
  });

  it('drops a frame whose buffer is under 1518 bytes, keeping the descriptor', () => {
    fresh();
    rxRing(MAX_FRAME - 1);
    expect(nic.receive(frame(0))).toBe(false);
    expect([reg(nic, R.RX_HEAD), reg(nic, R.RX_DROPPED), reg(nic, R.STATUS)]).toEqual([0, 1, STATUS_LINK_UP]);
    expect(desc(RAM).getUint16(10, true)).toBe(0);
  });

  it('sends [HEAD, TAIL) in the TAIL store; a bad length completes unsent', () => {
    fresh();
    const sent: Uint8Array[] = [];
    nic.onTransmit = (f) => sent.push(f);
    const lengths = [frame(5).length, 9, MAX_FRAME + 1, 60];
    lengths.forEach((len, i) => {
      desc(RAM + 16 * i).setBigUint64(0, BigInt(RAM + 0x1000 + i * 2048), true);
      desc(RAM + 16 * i).setUint16(8, len, true);
    });
    mem.set(frame(5), 0x1000);
    w64(R.TX_RING, RAM);
    w64(R.TX_SIZE, 8);
    w64(R.TX_TAIL, 4); // TX still off: queued
    expect(sent).toEqual([]);
    w64(R.CTRL, CTRL_TX_ENABLE);
    expect(sent.map((f) => f.length)).toEqual([frame(5).length, 60]);
    expect(sent[0]).toEqual(frame(5));
    expect([0, 1, 2, 3].map((i) => desc(RAM + 16 * i).getUint16(10, true) & DESC_DONE)).toEqual([1, 1, 1, 1]);
    expect([reg(nic, R.TX_HEAD), reg(nic, R.TX_COUNT)]).toEqual([4, 2]);
  });

  it('without a bound driver it reaches no memory: the error latches until reset', () => {
    fresh(false);
    rxRing();
    expect(nic.receive(frame(0))).toBe(false);
    expect(nic.dmaFaults).toEqual([{ ring: 'rx', what: 'descriptor', address: RAM, length: 16 }]);
    expect([reg(nic, R.STATUS), reg(nic, R.CTRL)]).toEqual([STATUS_LINK_UP | STATUS_DMA_ERROR, 0]);
    w64(R.CTRL, CTRL_RX_ENABLE);
    expect(reg(nic, R.CTRL)).toBe(0);
    w64(R.CTRL, CTRL_RESET);
    expect([reg(nic, R.STATUS), reg(nic, R.RX_SIZE), reg(nic, R.RX_DROPPED)]).toEqual([STATUS_LINK_UP, 0, 0]);
  });

  it('snapshots its state and restores it', () => {
    fresh();
    rxRing();
    nic.receive(frame(0));
    const state = nic.getState();
    nic.receive(frame(1));
    nic.setState(state);
    expect([reg(nic, R.RX_HEAD), reg(nic, R.RX_COUNT), reg(nic, R.RX_RING)]).toEqual([1, 1, RAM]);
  });
});
