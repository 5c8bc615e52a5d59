// A new version that crashes mid-migration (images/regression-crash.himg): netstack 1.3.7 writes
// through a null pointer 100 ms after it starts. Core-0 stops the sandbox on the page fault and
// puts a crash dump in the fault event first (core0/crash-dump.ts). The Monitor finds the
// instance gone -- its stats endpoint was revoked with it -- and the seed's rule 3 (service
// completely unavailable) calls for an emergency rollback; the report's root cause carries the dump.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpdateAccount } from '../system/update/outcome.ts';
import { reportOf } from '../system/update/report.ts';
import { validateReport } from '../system/report/validate.ts';
import { summarize } from '../system/report/summary.ts';
import type { TrafficSummary } from '../traffic/summary.ts';
import { bootUpdate, type Booted } from './support/boot.ts';

let run: Booted, summary: TrafficSummary, account: UpdateAccount;
beforeAll(async () => void ({ run, summary, account } = await bootUpdate('regression-crash')), 600_000);
afterAll(() => run?.machine.dispose());

describe('a new version that crashes mid-migration, rolled back in an emergency with its crash dump', () => {
  it('faults as the image expects, and ends rolled back on the "unavailable" rule, classified a code defect', () => {
    expect(run.deviations).toEqual([]);
    expect(run.system.updates.outcomes()).toEqual(['rolled_back:unavailable']);
    expect(account.monitor.verdict).toMatchObject({ action: 'emergency_rollback', rule: 'unavailable', level: 1 });
    expect(account.monitor.cause).toMatchObject({ cause: 'code' });
    // The Monitor saw the instance end, not a slow answer: Core-0 counted its crash, and no sandbox of 1.3.7 ran on.
    const crashed = account.monitor.samples.find((s) => Number(s.crashes) > 0)!;
    expect(crashed).toMatchObject({ crashes: 1, running: false });
    expect(crashed.tNs).toBeLessThanOrEqual(account.monitor.verdict!.tNs);
  });

  it('dumps the crashed guest before its sandbox goes: registers, the code at RIP, the stack', () => {
    const [fault] = run.kernel.events.of('fault');
    expect(fault).toMatchObject({ sandbox: 'netstack-1-3-7', fault: { kind: 'writeUnmapped' } });
    const dump = fault!.dump!;
    expect(dump.registers.rip).toBe(`0x${fault!.fault.rip.toString(16)}`);
    expect(Object.keys(dump.registers)).toEqual(expect.arrayContaining(['rax', 'rsp', 'rip', 'rflags']));
    expect(dump.code[0]).toBe(`${dump.registers.rip}  ${fault!.fault.instruction}`); // the faulting instruction first
    expect(dump.code.length).toBeGreaterThan(1);
    expect(dump.before).toMatch(/^[0-9a-f]{32}$/);
    expect(dump.stack).toHaveLength(16);
    expect(dump.stack[0]).toMatch(/^rsp\+0x0 {2}0x[0-9a-f]+$/);
    // The fault came before the Monitor's verdict, and the sandbox was gone after it.
    expect(fault!.t).toBeLessThan(account.monitor.verdict!.tNs);
    expect(run.kernel.events.of('sandboxDestroyed').find((e) => e.sandbox === 'netstack-1-3-7')).toMatchObject({ reason: 'fault' });
  });

  it('switches back, gives up at most the connections the dead instance was steered, and marks 1.3.7 bad', () => {
    const r = account.rollback!;
    expect(r).toMatchObject({ kind: 'emergency', moved_back: 0, counted: 'steering', marked_bad: true, ok: true }); // ok: a sandbox already ended counts as destroyed
    expect(Number(r.switched_back) - Number(r.verdict)).toBeLessThan(100_000_000); // seed §4.3 步骤5.3
    expect(summary.failed).toBeGreaterThan(100);
    expect(summary.failed).toBeLessThanOrEqual(Number(r.abandoned));
    expect(summary.lost).toBe(summary.lostOnFailed); // bytes were lost only on the connections given up
    expect({ corrupted: summary.corrupted, duplicated: summary.duplicated, reordered: summary.reordered }).toEqual({ corrupted: 0, duplicated: 0, reordered: 0 });
  });

  it('reports the crash in the root cause: the dump, the fault among the evidence, and `hic report` prints RIP', () => {
    const report = reportOf(account, 'regression-crash');
    validateReport(report);
    const c = report.rootCause!;
    expect(c.class).toBe('code');
    expect(c.evidence.map((e) => e.kind)).toContain('fault writeUnmapped');
    expect(c.crash!.registers.rip).toBe(run.kernel.events.of('fault')[0]!.dump!.registers.rip);
    expect(c.crash!.disassembly[0]).toContain('mov byte ptr [rax + 4], 0');
    expect(c.crash!.stack).toHaveLength(16);
    expect(summarize(report).join('\n')).toContain(`at rip:    ${c.crash!.disassembly[0]}`);
  });
});
