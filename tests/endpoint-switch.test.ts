// Switching a registry alias under load: rpc_client makes 1000 calls through cap://echo/rpc while
// the host repoints the alias from echo v1 to echo v2 halfway through. No call may be lost or
// answered twice; every call sent before the switch is answered by v1 and every later one by v2.
// The switch time comes from a first run without a switch (the middle of the client's calls), so
// the test does not depend on the cost model.

import { afterEach, describe, expect, it } from 'vitest';
import { numbers, recordsOf, rpcSummary } from './support/kernel.ts';
import { stage } from './support/boot.ts';
import { type System } from '../system/run-image.ts';

const CALLS = 1000;
const image = {
  label: 'tests/endpoint-switch.test.ts',
  image: {
    'hic-image': 1,
    name: 'endpoint-switch',
    machine: { memory: '64MiB' },
    sandboxes: [
      { name: 'echo1', module: 'echo', quota: '256KiB', stack: '16KiB', config: { version: 1 } },
      { name: 'echo2', module: 'echo', quota: '256KiB', stack: '16KiB', config: { version: 2 } },
      { name: 'rpc_client', module: 'rpc_client', quota: '256KiB', stack: '16KiB', config: { calls: CALLS } },
    ],
    run: { until: '10s' },
    expect: { exits: { rpc_client: 0 } },
  },
};

/** rpc_client's version_changed records: call S answered by vN, sent at A, answered at B; the call before sent at C. */
function versionChanges(s: System) {
  return recordsOf(s.kernel, 'rpc_client', 'version_changed').map((r) => {
    const n = numbers(r, ['call', 'version', 'sent_at', 'answered_at', 'previous_sent_at'])!;
    return { call: n.call, version: n.version, sentAt: n.sent_at, answeredAt: n.answered_at, previousSentAt: n.previous_sent_at };
  });
}

let staged: System | undefined;
afterEach(() => staged?.machine.dispose());

describe('endpoint switch under load', () => {
  it('moves the alias from v1 to v2 between two calls: none lost, none duplicated', async () => {
    // A first run without the switch says when the client's calls start and end.
    staged = await stage(image);
    const dry = await staged.run();
    expect(dry.deviations).toEqual([]);
    expect(rpcSummary(staged.kernel)).toMatchObject({ answered: CALLS, v1: CALLS, v2: 0 });
    const first = versionChanges(staged)[0]!.sentAt;
    const end = staged.kernel.events.of('exit').find((e) => e.sandbox === 'rpc_client')!.t;
    staged.machine.dispose();
    const T = Math.round((first + end) / 2);

    staged = await stage(image);
    const { kernel } = staged;
    kernel.at(T, () => kernel.switchEndpoint('cap://echo/rpc', 'cap://echo/v2.0.0/rpc'));
    const done = await staged.run();
    expect(done.deviations).toEqual([]);

    const switched = kernel.events.of('endpointSwitched');
    expect(switched).toEqual([expect.objectContaining({ alias: 'cap://echo/rpc', from: 'cap://echo/v1.0.0/rpc', to: 'cap://echo/v2.0.0/rpc', by: 'host' })]);
    const tSwitch = switched[0]!.t;
    expect(tSwitch).toBeGreaterThanOrEqual(T);

    const sum = rpcSummary(kernel)!;
    expect(sum).toMatchObject({ calls: CALLS, answered: CALLS, lost: 0, duplicated: 0, bad: 0 });
    expect(sum.v1).toBeGreaterThan(0);
    expect(sum.v2).toBeGreaterThan(0);
    expect(sum.v1 + sum.v2).toBe(CALLS);

    // The answering version changed exactly once, at call v1 + 1: calls 1..v1 went to v1, the
    // rest to v2. The last v1 call was sent before the switch; the first v2 call was answered
    // after it (it was sent after it too: the alias resolves when the call is made).
    const changes = versionChanges(staged);
    expect(changes.map((c) => [c.call, c.version])).toEqual([
      [1, 1],
      [sum.v1 + 1, 2],
    ]);
    const toV2 = changes[1]!;
    expect(toV2.previousSentAt).toBeLessThan(tSwitch);
    expect(toV2.answeredAt).toBeGreaterThan(tSwitch);
    expect(toV2.sentAt).toBeGreaterThanOrEqual(toV2.previousSentAt);
  });
});
