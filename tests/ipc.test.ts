// IPC with real guests (images/ipc.himg): rpc_client calls echo through the registry alias
// cap://echo/rpc 200 times, the first call passing a memory capability as a shared buffer, while
// cap_forger tries forged, stale and under-privileged capabilities and must get the exact error
// for each; it also passes a capability to cap_holder and revokes it there.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootImage, type Booted } from './support/boot.ts';
import { consoleOf, rpcSummary } from './support/kernel.ts';

let run: Booted;

beforeAll(async () => {
  run = await bootImage('ipc');
});
afterAll(() => run.machine.dispose());

describe('ipc image', () => {
  it('matches the outcome its manifest expects, and ends idle with echo still serving', () => {
    expect(run.deviations).toEqual([]);
    expect(run.halt).toBe('idle');
    expect(run.kernel.events.of('sandboxDestroyed').find((e) => e.sandbox === 'echo')?.reason).toBe('shutdown');
  });

  it('echo registered v1 as the default alias cap://echo/rpc', () => {
    const reg = run.kernel.events.of('endpointRegistered').find((e) => e.sandbox === 'echo');
    expect(reg).toMatchObject({ name: 'cap://echo/v1.0.0/rpc', alias: 'cap://echo/rpc', isDefault: true });
  });

  it('every one of the 200 calls was answered once, correctly, by v1', () => {
    expect(rpcSummary(run.kernel)).toEqual({ calls: 200, answered: 200, v1: 200, v2: 0, lost: 0, duplicated: 0, bad: 0 });
    expect(run.outcome.exits.rpc_client).toBe(0);
  });

  it('the first call passed a copy of a memory object: echo wrote into the shared frames', () => {
    const moved = run.kernel.events.of('capTransferred');
    expect(moved).toContainEqual(expect.objectContaining({ from: 'rpc_client', to: 'echo', type: 'MEMORY', moved: false, rights: 7 }));
    const lines = consoleOf(run.kernel, 'rpc_client').map((l) => l.text);
    expect(lines).toContain('rpc_client: shared buffer reads "echo v1 was here"');
    // echo deleted its copy after use: the revocation is logged against echo.
    expect(run.kernel.events.of('capRevoked')).toContainEqual(expect.objectContaining({ sandbox: 'echo', type: 'MEMORY', revoked: 1 }));
  });

  it('every forged or misused capability got its exact error', () => {
    const lines = consoleOf(run.kernel, 'cap_forger').map((l) => l.text);
    const checks = lines.filter((l) => l.startsWith('cap_forger: check '));
    expect(checks.filter((l) => l.includes('FAIL'))).toEqual([]);
    expect(checks.length).toBeGreaterThanOrEqual(50);
    for (const name of [
      'info huge slot', 'info slot 64', 'info slot 9999', 'notify empty slot', // BAD_SLOT
      'notify on endpoint', 'recv on registry', // WRONG_TYPE
      'recv without R', 'copy W asking RW', 'switch without G', 'send cap without G', // NO_RIGHT
      'info after delete', 'info B after revoke', 'info C after revoke', // stale
      'lookup unknown', 'register malformed', 'copy into full cspace', 'recv nonblocking', 'recv timeout', 'recv waited the timeout',
      'info endpoint', 'info registry', 'info send-only copy', 'info looked up', 'info memory',
    ]) {
      expect(checks).toContain(`cap_forger: check ${name}: ok`);
    }
    expect(lines.at(-1)).toBe('cap_forger: 0 check(s) failed');
  });

  it('revoking A took B and C with it, within one CSpace and across two sandboxes', () => {
    const revoked = run.kernel.events.of('capRevoked').filter((e) => e.sandbox === 'cap_forger');
    expect(revoked).toContainEqual(expect.objectContaining({ type: 'ENDPOINT', revoked: 2 }));
    expect(revoked).toContainEqual(expect.objectContaining({ type: 'NOTIFICATION', revoked: 2 }));
    // B reached the holder by IPC, C was derived there; after the revoke both slots are empty.
    expect(run.kernel.events.of('capTransferred')).toContainEqual(expect.objectContaining({ from: 'cap_forger', to: 'cap_holder', type: 'NOTIFICATION', moved: false }));
    const granter = consoleOf(run.kernel, 'cap_forger').map((l) => l.text);
    const holder = consoleOf(run.kernel, 'cap_holder').map((l) => l.text);
    for (const name of ['revoke A across sandboxes', 'A survives', 'holder lost B and C']) expect(granter).toContain(`cap_forger: check ${name}: ok`);
    for (const name of ['copy C from B', 'B gone', 'C gone', 'notify through C']) expect(holder).toContain(`cap_forger: check ${name}: ok`);
    expect(holder.at(-1)).toBe('cap_forger: 0 check(s) failed');
  });

  it('no frame is left allocated after the run', () => {
    expect(run.machine.frames.accounting().allocated).toBe(0);
  });
});
