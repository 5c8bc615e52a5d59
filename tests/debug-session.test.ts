// The debugger's session (system/debug/): breakpoints of every kind stop the machine and the run
// goes on exactly as if they had not (the same event log, bit for bit); stepping backwards and
// forwards returns to the same registers and memory; reverse-continue finds the last hit; a typed
// record a guest emits stops the machine with its fields in the condition.
// images/ipc.himg: an RPC server and client, and a guest passing and revoking capabilities.

import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { DebugSession } from '../system/debug/session.ts';
import { bootImage, builtWorkspace, loadManifest, REPO } from './support/boot.ts';

let session: DebugSession | undefined;
afterEach(() => {
  session?.dispose();
  session = undefined;
});

async function open(image: string): Promise<DebugSession> {
  const ws = builtWorkspace();
  session = await DebugSession.open(loadManifest(image), { modules: ws.repository, trust: ws.trust }, REPO);
  return session;
}

/** The current thread's registers and a hash of all of physical memory. */
function snapshot(s: DebugSession) {
  const t = s.currentThread()!;
  const memory = s.machine.system.machine.frames.view(0, s.config.manifest.memory);
  return {
    thread: t.id,
    count: s.machine.count(t),
    time: s.kernel.machine.clock.now,
    registers: t.sandbox.cpu.debug.registers(t.handle),
    memory: createHash('sha256').update(memory).digest('hex'),
  };
}

describe('debug session', () => {
  it('stops at code, syscall, IPC, event and watchpoint breakpoints; the run is the undisturbed one', async () => {
    const reference = await bootImage('ipc');
    reference.system.dispose();
    const s = await open('ipc');
    expect(s.addBreakpoint('break', ['rpc_client:hic_main']).where).toMatch(/^0x[0-9a-f]+ <rpc_client:hic_main>$/);
    s.addBreakpoint('break', ['syscall', 'call', 'in', 'rpc_client', 'if', 'arg0', '!=', '999']);
    s.addBreakpoint('break', ['ipc', 'cap://echo/rpc']);
    s.addBreakpoint('break', ['event', 'cap']);
    s.addBreakpoint('watch', ['rpc_client:msg', '8']);

    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const stop = await s.continue();
      expect(stop.reason).not.toBe('halt');
      seen.add(stop.reason);
      for (const id of stop.breakpoints) seen.add(s.breakpoints.get(id)!.spec.kind);
    }
    expect([...seen].sort()).toEqual(['breakpoint', 'code', 'event', 'ipc', 'syscall', 'watch', 'watchpoint'].sort());
    expect(s.breakpoints.get(1)!.hits).toBe(1);

    s.breakpoints.delete();
    const end = await s.continue();
    expect(end.reason).toBe('halt');
    expect(s.machine.result!.deviations).toEqual([]);
    expect(s.machine.result!.logHash).toBe(reference.logHash);
  });

  it('reverse-stepi N then stepi N returns to the same registers, memory and clock', async () => {
    const s = await open('ipc');
    s.addBreakpoint('break', ['syscall', 'call', 'in', 'rpc_client']);
    await s.continue();
    await s.continue(); // the second call: the client has run for a while
    const before = snapshot(s);
    expect(before.count).toBeGreaterThan(100);

    const back = await s.reverseStepInstructions(37);
    expect(back.position).toEqual({ kind: 'insn', thread: before.thread, count: before.count - 37 });
    expect(snapshot(s).registers.rip).not.toBe(before.registers.rip);
    await s.stepInstructions(37);
    expect(snapshot(s)).toEqual(before);
  });

  it('reverse-continue stops at the last breakpoint hit before now, then the one before it', async () => {
    const s = await open('ipc');
    const { breakpoint } = s.addBreakpoint('break', ['syscall', 'call', 'in', 'rpc_client']);
    const hits: { position: unknown; state: ReturnType<typeof snapshot> }[] = [];
    for (let i = 0; i < 4; i++) {
      const stop = await s.continue();
      expect(stop.breakpoints).toEqual([breakpoint.id]);
      hits.push({ position: stop.position, state: snapshot(s) });
    }
    await s.stepInstructions(20);
    const r1 = await s.reverseContinue();
    expect(r1.breakpoints).toEqual([breakpoint.id]);
    expect(r1.position).toEqual(hits[3]!.position);
    expect(snapshot(s)).toEqual(hits[3]!.state);
    const r2 = await s.reverseContinue();
    expect(r2.position).toEqual(hits[2]!.position);
    expect(snapshot(s)).toEqual(hits[2]!.state);
    expect(breakpoint.hits).toBe(4); // the searches do not count as hits of the session's run
  });

  it('step-event and reverse-step-event move one kernel event at a time', async () => {
    const s = await open('ipc');
    s.addBreakpoint('break', ['event', 'capTransferred']);
    const first = await s.continue();
    expect(first.summary).toMatch(/capTransferred/);
    const seq = s.kernel.events.all.length;
    const next = await s.stepEvent();
    expect(next.reason).toBe('event');
    expect(s.machine.stoppedAtEvent).toBeGreaterThanOrEqual(seq);
    const at = s.machine.stoppedAtEvent!;
    const e = s.kernel.events.all[at]!;
    const back = await s.reverseStepEvent();
    expect(back.reason).toBe('event');
    expect(s.machine.stoppedAtEvent).toBe(at - 1);
    expect(s.kernel.events.all.length).toBe(at);
    await s.stepEvent();
    expect(s.kernel.events.all[s.machine.stoppedAtEvent!]).toEqual(e);
  });

  it('stops at a typed record a guest emits, with its fields in the condition', async () => {
    const s = await open('ipc');
    s.addBreakpoint('break', ['record', 'rpc_client.summary', 'if', 'calls', '==', '7']); // its calls are 200: never
    const { breakpoint } = s.addBreakpoint('break', ['record', '*.summary', 'in', 'rpc_client', 'if', 'answered', '==', 'calls']);
    const stop = await s.continue();
    expect(stop.breakpoints).toEqual([breakpoint.id]);
    expect(stop.summary).toMatch(/^breakpoint 2, event #\d+: \[[\d.]+s\] record sandbox=rpc_client module=rpc_client type=summary fields=\{"calls":200,"answered":200,/);
    const e = (stop.detail as { event: { kind: string; fields: Record<string, unknown> } }).event;
    expect(e.kind).toBe('record');
    expect(e.fields).toMatchObject({ calls: 200, answered: 200, lost: 0 });
    expect((await s.continue()).reason).toBe('halt');
    expect(s.breakpoints.get(1)!.hits).toBe(0);
  });

  it("stops at a Module Manager step: the update's phases are records like any other", async () => {
    const s = await open('update-refusals'); // four requests, each refused in phase 1
    const { breakpoint } = s.addBreakpoint('break', ['record', 'module_manager.step', 'if', 'step', '==', '"fetch"']);
    const stop = await s.continue();
    expect(stop.breakpoints).toEqual([breakpoint.id]);
    const e = (stop.detail as { event: { kind: string; fields: Record<string, unknown> } }).event;
    expect(e.fields).toMatchObject({ id: 2, phase: 1, step: 'fetch', state: 'begin' });
    await s.stepEvent(); // the refusal the request comes to, next
    expect(s.kernel.events.all[s.machine.stoppedAtEvent!]).toMatchObject({ kind: 'record', type: 'refused', fields: { id: 2, reason: 'no_such_version' } });
  });

  it('a condition that cannot be evaluated stops and says why; unknown breakpoints are refused', async () => {
    const s = await open('ipc');
    s.addBreakpoint('break', ['syscall', 'call', 'if', 'nosuchname', '==', '1']);
    const stop = await s.continue();
    expect(stop.summary).toMatch(/condition 'nosuchname == 1' failed: 'nosuchname' is not known/);
    expect(() => s.addBreakpoint('break', ['syscall', 'frobnicate'])).toThrow(/no syscall 'frobnicate'/);
    expect(() => s.addBreakpoint('break', ['event', 'nothing'])).toThrow(/no event kind nothing/);
    expect(() => s.addBreakpoint('break', ['record', 'migctl.step.phase'])).toThrow(/'migctl\.step\.phase' is not MODULE\.TYPE/);
    expect(() => s.addBreakpoint('break', ['record'])).toThrow(/usage: break record MODULE\.TYPE/);
    expect(() => s.addBreakpoint('break', ['syscall', 'call', 'if', '(1'])).toThrow(/expected \)/);
    expect(s.addBreakpoint('break', ['nosandbox:hic_main']).where).toMatch(/^pending: no sandbox or module named 'nosandbox'/);
  });
});
