// Devices through capabilities: a register window mapped read-write reaches the device and its
// interrupt comes back as a notification; a read-only capability's store faults and never
// reaches the device; a sandbox without a capability cannot map the window at all.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DoorbellDevice, readSlice, writeSlice } from '../emulator/device.ts';
import { bootImage, type Booted } from './support/boot.ts';

let run: Booted;
beforeAll(async () => {
  run = await bootImage('mmio');
});
afterAll(() => run.machine.dispose());

describe('mmio image', () => {
  it('matches its expectation: the driver works the device, the read-only snoop faults', () => {
    expect(run.deviations).toEqual([]);
    expect(run.outcome).toEqual({ exits: { driver: 0 }, faults: { snoop: 'writeProtected' } });
  });

  it('the snoop\'s store faulted at the scratch register and never reached the device', () => {
    const d = run.machine.devices[0]!;
    const f = run.kernel.events.of('fault')[0]!;
    expect(f.fault.address).toBe(d.base + 8);
    expect(readSlice(BigInt((d.device as DoorbellDevice).read(8, 8)), 0, 8)).toBe(0x1234abcdn); // the driver's value, not 0xbad
  });

  it('the doorbell\'s interrupt was routed to the driver and delivered once', () => {
    expect(run.kernel.events.of('irqRouted')).toEqual([expect.objectContaining({ line: 16, sandbox: 'driver' })]);
    const line = run.kernel.objects.irqLine(16)!;
    expect([line.raised, line.delivered, line.pending]).toEqual([1, 1, 0]);
  });
});

describe('register slices', () => {
  it('reads and writes 64-bit registers through 4-byte halves', () => {
    const r = 0x1122334455667788n;
    expect(readSlice(r, 0, 4)).toBe(0x55667788n);
    expect(readSlice(r, 4, 4)).toBe(0x11223344n);
    expect(writeSlice(writeSlice(0n, 0, 4, 0xaabbccdd), 4, 4, 0x01020304)).toBe(0x01020304aabbccddn);
  });
});
