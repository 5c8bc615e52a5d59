// The TAP bridge: the emulated NIC's wire joined to a Linux TAP device, so real Linux programs
// (ping, curl, dig, a TCP stream) talk to the guest network stack. What the guest transmits is
// written to the TAP at once (beside the traffic generator, if the image has one: the wire is
// shared); what Linux sends waits in the TAP's queue until a slice boundary, where the pacer
// admits it as an outside input — recorded, at the machine's virtual time — and only as many
// frames as the NIC's RX ring has free descriptors for. The rest stay queued in the kernel, which
// drops beyond its queue length, as a real NIC's wire would. Frames crossing the bridge reach the
// NIC's `tap` like any others, so a pcap capture holds them. `beforeSend` runs before a frame goes
// to Linux (hic boot seals the audit log's pending records there).

import type { NicDevice } from '../emulator/devices/nic.ts';
import type { HostPacer } from './realtime.ts';
import { TAP_FRAME_MAX, type TapDevice } from './tap.ts';

export interface TapBridge {
  readonly tap: TapDevice;
  /** Frames from Linux into the NIC, from the guest to Linux, and Linux's frames the NIC refused. */
  readonly counters: { readonly toGuest: number; readonly toLinux: number; readonly refused: number };
  close(): void;
}

export function bridgeTap(nic: NicDevice, pacer: HostPacer, tap: TapDevice, beforeSend: () => void = () => {}): TapBridge {
  const counters = { toGuest: 0, toLinux: 0, refused: 0 };
  const buffer = new Uint8Array(TAP_FRAME_MAX + 1);
  let open = true;

  const previous = nic.onTransmit;
  nic.onTransmit = (frame) => {
    previous?.(frame);
    if (!open) return;
    beforeSend();
    if (tap.write(frame)) counters.toLinux++;
  };

  pacer.addSource(() => {
    if (!open) return;
    // Frames read here are already admitted in this boundary, so the ring's room counts them.
    for (let room = nic.rxRing.free; room > 0; room--) {
      const frame = tap.read(buffer);
      if (!frame) return;
      pacer.submit({
        source: 'tap',
        what: 'frame',
        data: Buffer.from(frame).toString('base64'),
        apply: () => {
          if (nic.receive(frame)) counters.toGuest++;
          else counters.refused++;
        },
      });
    }
  });

  return {
    tap,
    counters,
    close() {
      open = false;
      tap.close();
    },
  };
}
