// The device kinds an image manifest can attach, by name. Apart from device.ts so that the
// interface every device implements does not import the devices themselves.

import { DoorbellDevice, type Device } from '../device.ts';
import { NicDevice } from './nic.ts';

export const DEVICE_FACTORIES: Readonly<Record<string, () => Device>> = {
  doorbell: () => new DoorbellDevice(),
  nic: () => new NicDevice(),
};
