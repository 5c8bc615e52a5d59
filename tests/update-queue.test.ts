// The operator's channel holds at most MAX_PENDING_UPDATES requests not yet delivered to the
// Module Manager (images/update-refusals.himg, driven from kernel.at steps): one more is refused
// with UpdateQueueFull and leaves no event and no id behind; deliveries make room again; an
// image's requests keep their places from boot, so requests made before they are due cannot
// take them.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { System } from '../system/run-image.ts';
import { UpdateQueueFull } from '../system/update/operator.ts';
import { MAX_PENDING_UPDATES, type UpdateRequest } from '../system/update/request.ts';
import { REPO, stage } from './support/boot.ts';

const IMAGE = JSON.parse(readFileSync(join(REPO, 'images', 'update-refusals.himg'), 'utf8')) as Record<string, unknown> & { updates: unknown[] };

/** Refused by the Module Manager at once (unknown_service), so deliveries follow each other quickly. */
const NOSUCH: UpdateRequest = { service: 'nosuch', to: '1.0.0', allowDowngrade: false, policy: {} };

const systems: System[] = [];
afterAll(() => systems.forEach((s) => s.dispose()));

async function staged(label: string, updates: unknown[]): Promise<System> {
  const image = structuredClone(IMAGE);
  image.updates = updates;
  delete image.expect;
  const system = await stage({ label, image });
  systems.push(system);
  return system;
}

/** Requests until the channel refuses: the ids it gave, and the refusal with the event log's length on either side. */
function fill(system: System): { ids: number[]; refusal: unknown; eventsBefore: number; eventsAfter: number } {
  const ids: number[] = [];
  for (;;) {
    const eventsBefore = system.kernel.events.length;
    try {
      ids.push(system.operator.request(NOSUCH));
    } catch (refusal) {
      return { ids, refusal, eventsBefore, eventsAfter: system.kernel.events.length };
    }
    if (ids.length > MAX_PENDING_UPDATES) throw new Error(`the channel took ${ids.length} requests at once; its bound is ${MAX_PENDING_UPDATES}`);
  }
}

describe("the operator's channel holds a bounded number of requests", () => {
  it('refuses one more than the bound with nothing recorded, and takes requests again once they are delivered', async () => {
    const system = await staged('update-refusals, a full queue', []);
    let full: ReturnType<typeof fill> | undefined;
    let later: { pending: number; delivered: number; id: number } | undefined;
    system.kernel.at(1e6, () => (full = fill(system)));
    system.kernel.at(90e6, () => (later = { pending: system.operator.pending, delivered: system.kernel.events.of('updateDelivered').length, id: system.operator.request(NOSUCH) }));
    await system.run();

    expect(MAX_PENDING_UPDATES).toBe(8); // the number docs/module-manager.md and docs/control-protocol.md give
    expect(full!.ids).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(full!.refusal).toBeInstanceOf(UpdateQueueFull);
    expect(full!.refusal).toMatchObject({ code: 'UPDATE_QUEUE_FULL', pending: 8, limit: 8 });
    expect((full!.refusal as Error).message).toBe("8 update requests are waiting for the Module Manager, the most the operator's channel holds (8); ask again once one is delivered");
    expect(full!.eventsAfter).toBe(full!.eventsBefore);
    // Every one delivered and refused by the Module Manager; the refused request took no id.
    expect(later).toEqual({ pending: 0, delivered: 8, id: 9 });
    expect(system.kernel.events.of('updateRequested').map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(system.updates.outcomes().slice(0, 8)).toEqual(Array(8).fill('refused:unknown_service'));
  });

  it("keeps the places of an image's requests not yet due", async () => {
    const system = await staged('update-refusals, two image updates and a full queue', IMAGE.updates.slice(0, 2));
    let full: ReturnType<typeof fill> | undefined;
    system.kernel.at(1e6, () => (full = fill(system)));
    await system.run();

    expect(full!.ids).toEqual([1, 2, 3, 4, 5, 6]);
    expect(full!.refusal).toMatchObject({ pending: 8 });
    expect(full!.eventsAfter).toBe(full!.eventsBefore);
    const requested = system.kernel.events.of('updateRequested');
    expect(requested.map((e) => [e.id, e.service, e.to])).toEqual([
      ...[1, 2, 3, 4, 5, 6].map((id) => [id, 'nosuch', '1.0.0']),
      [7, 'nosuch', '1.0.0'],
      [8, 'netstack', '9.9.9'],
    ]);
    expect(system.updates.outcomes()).toEqual([...Array(7).fill('refused:unknown_service'), 'refused:no_such_version']);
  });
});
