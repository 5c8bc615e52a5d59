// What the run's traffic check calls a deviation (system/traffic.ts, trafficDeviations): a lost,
// changed, duplicated or reordered byte, a failed connection, a server error (5xx), beyond what a
// rollback could not undo: the connections an emergency rollback gave up, the bytes changed and
// the connections refused before a rollback for corruption or a failed function ended, the 5xx
// answered before a rollback for the error rate ended. The inputs are the generator's summary
// figures; the whole runs that produce them are in the rollback-* tests.

import { describe, expect, it } from 'vitest';
import { trafficDeviations, type AttachedTraffic } from '../system/traffic.ts';
import type { TrafficSummary } from '../traffic/summary.ts';

const clean = {
  failed: 0, lost: 0, lostOnFailed: 0, corrupted: 0, corruptedOnFailed: 0, corruptedClosed: { connections: 0, lastAt: 0, lost: 0 }, refused: { connections: 0, lastAt: 0 },
  duplicated: 0, reordered: 0, seqGaps: 0, httpErrors: 0, serverErrors: { responses: 0, lastAt: 0 },
};

function traffic(s: Partial<TrafficSummary>): AttachedTraffic {
  return { generator: { done: true, summary: () => ({ ...clean, ...s }) } } as unknown as AttachedTraffic;
}

describe('trafficDeviations', () => {
  it('passes a clean run, and names every kind of damage in one', () => {
    expect(trafficDeviations(traffic({}))).toEqual([]);
    expect(trafficDeviations(traffic({ failed: 2, lost: 5, corrupted: 3, duplicated: 1, reordered: 4 }))).toEqual([
      'traffic: 2 connection(s) failed', 'traffic: 5 lost', 'traffic: 3 corrupted', 'traffic: 1 duplicated', 'traffic: 4 reordered',
    ]);
  });

  it('forgives an emergency rollback\'s abandoned connections what they lost or had changed, and no more', () => {
    const given = { failed: 600, lost: 900, lostOnFailed: 900, corrupted: 40, corruptedOnFailed: 40 };
    expect(trafficDeviations(traffic(given), { abandoned: 600 })).toEqual([]);
    expect(trafficDeviations(traffic(given), { abandoned: 599 })).toEqual([
      'traffic: 600 connection(s) failed, more than the 599 an emergency rollback gave up', 'traffic: 900 lost', 'traffic: 40 corrupted',
    ]);
    expect(trafficDeviations(traffic({ ...given, corrupted: 41 }), { abandoned: 600 })).toEqual(['traffic: 1 corrupted']);
  });

  it('forgives changes on connections that closed only when a rollback for corruption ended after the last of them', () => {
    const harmed = { failed: 600, lost: 926, lostOnFailed: 900, corrupted: 66, corruptedOnFailed: 40, corruptedClosed: { connections: 20, lastAt: 5_000, lost: 26 } };
    expect(trafficDeviations(traffic(harmed), { abandoned: 600, corruptionUntil: 5_000 })).toEqual([]);
    expect(trafficDeviations(traffic(harmed), { abandoned: 600 })).toEqual(['traffic: 26 lost', 'traffic: 26 corrupted']); // no such rollback
    expect(trafficDeviations(traffic(harmed), { abandoned: 600, corruptionUntil: 4_999 })).toEqual(['traffic: 26 lost', 'traffic: 26 corrupted']); // a change after it ended
    expect(trafficDeviations(traffic({ ...harmed, lost: 927 }), { abandoned: 600, corruptionUntil: 5_000 })).toEqual(['traffic: 1 lost']); // a loss that is no change's hole
  });

  it('forgives connections refused before a rollback for a failed critical function ended, and no others', () => {
    const refused = { failed: 5, refused: { connections: 5, lastAt: 7_000 } };
    expect(trafficDeviations(traffic(refused), { refusalsUntil: 7_000 })).toEqual([]);
    expect(trafficDeviations(traffic(refused))).toEqual(['traffic: 5 connection(s) failed']);
    expect(trafficDeviations(traffic(refused), { refusalsUntil: 6_999 })).toEqual(['traffic: 5 connection(s) failed']); // one refused after it
    expect(trafficDeviations(traffic({ ...refused, failed: 6 }), { refusalsUntil: 7_000 })).toEqual(['traffic: 6 connection(s) failed, more than the 5 a failing version refused']);
    expect(trafficDeviations(traffic({ ...refused, failed: 606 }), { abandoned: 600, refusalsUntil: 7_000 })).toEqual([
      'traffic: 606 connection(s) failed, more than the 600 an emergency rollback gave up and the 5 a failing version refused',
    ]);
  });

  it('names server errors (5xx), and forgives them only when all came before a rollback for the error rate ended', () => {
    const erred = { serverErrors: { responses: 15, lastAt: 9_000 } };
    expect(trafficDeviations(traffic(erred))).toEqual(['traffic: 15 server errors (5xx)']);
    expect(trafficDeviations(traffic(erred), { serverErrorsUntil: 9_000 })).toEqual([]);
    expect(trafficDeviations(traffic(erred), { serverErrorsUntil: 8_999 })).toEqual(['traffic: 15 server errors (5xx)']); // one after it
    expect(trafficDeviations(traffic(erred), { refusalsUntil: 9_000, corruptionUntil: 9_000 })).toEqual(['traffic: 15 server errors (5xx)']); // another rule's rollback
  });
});
