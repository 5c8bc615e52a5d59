// Why the traffic generator refused a request: a closed set of codes, as elsewhere in HIC. These
// are caller mistakes (a bad configuration, an unknown connection id); traffic that goes wrong on
// the wire is never thrown — it is counted in the summary.

export type TrafficErrorCode = 'TRAFFIC_BAD_CONFIG' | 'TRAFFIC_NO_CONNECTION' | 'TRAFFIC_NO_NIC';

export class TrafficError extends Error {
  override readonly name = 'TrafficError';
  constructor(readonly code: TrafficErrorCode, message: string) {
    super(message);
  }
}

export function badConfig(message: string): never {
  throw new TrafficError('TRAFFIC_BAD_CONFIG', `traffic: ${message}`);
}
