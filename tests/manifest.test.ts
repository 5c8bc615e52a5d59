// Image manifests: every mistake is reported with the file and the field, and nothing boots.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MEMORY_MAX, ManifestError, parseManifest } from '../system/manifest.ts';
import { bootSandboxes } from '../system/boot.ts';
import { Kernel } from '../core0/kernel.ts';
import { UnicornMachine } from '../emulator/machine.ts';
import { bootImage, builtWorkspace, REPO } from './support/boot.ts';

const good = {
  'hic-image': 1,
  name: 't',
  sandboxes: [{ name: 'a', module: 'hello', quota: '1MiB' }],
};
const parse = (m: unknown) => parseManifest('t.himg', JSON.stringify(m));
const mutate = (f: (m: any) => void) => {
  const m = structuredClone(good);
  f(m);
  return m;
};

function refusal(m: unknown): ManifestError {
  try {
    parse(m);
  } catch (e) {
    if (e instanceof ManifestError) return e;
    throw e;
  }
  throw new Error('manifest was accepted');
}

describe('manifest', () => {
  it('accepts a minimal image and fills in defaults', () => {
    const m = parse(good);
    expect(m.sandboxes[0]).toEqual({ name: 'a', module: 'hello', version: '*', quota: 1 << 20, stack: 65536, config: {}, budget: 100_000, caps: { registry: 3, loader: 0, irqs: [], mmio: [], control: [], channels: [] } });
    expect(m.memory).toBe(256 << 20);
    expect(m.until).toBe(60e9);
  });

  it.each([
    ['unknown top-level field', mutate((m) => (m.sandbox = [])), 'sandbox', /unknown field/],
    ['unknown sandbox field', mutate((m) => (m.sandboxes[0].qouta = 1)), 'sandboxes[0].qouta', /unknown field/],
    ['bad quota unit', mutate((m) => (m.sandboxes[0].quota = '1 MB')), 'sandboxes[0].quota', /expected a size/],
    ['quota larger than memory', mutate((m) => (m.sandboxes[0].quota = '1GiB')), 'sandboxes[0].quota', /outside/],
    ['quota too small for the stack', mutate((m) => (m.sandboxes[0].stack = '1MiB')), 'sandboxes[0].quota', /cannot hold/],
    ['missing quota', mutate((m) => delete m.sandboxes[0].quota), 'sandboxes[0].quota', /expected a size/],
    ['bad name', mutate((m) => (m.sandboxes[0].name = 'A B')), 'sandboxes[0].name', /not a name/],
    ['duplicate name', mutate((m) => m.sandboxes.push({ ...m.sandboxes[0] })), 'sandboxes[1].name', /earlier sandbox/],
    ['wrong format version', mutate((m) => (m['hic-image'] = 2)), 'hic-image', /expected 1/],
    ['no sandboxes', mutate((m) => (m.sandboxes = [])), 'sandboxes', /non-empty/],
    ['bad time', mutate((m) => (m.run = { until: '3 fortnights' })), 'run.until', /duration/],
    ['unknown fault kind', mutate((m) => (m.expect = { faults: { a: 'oops' } })), 'expect.faults.a', /unknown fault kind/],
    ['alert of a rule the Monitor has not', mutate((m) => (m.expect = { alerts: ['leaks'] })), 'expect.alerts[0]', /unknown rule "leaks" \(one of: crash_loop, /],
    ['alerts as a word, not a list', mutate((m) => (m.expect = { alerts: 'none' })), 'expect.alerts', /a list of the Monitor's rules/],
    ['the same alert twice', mutate((m) => (m.expect = { alerts: ['leak', 'leak'] })), 'expect.alerts', /listed twice/],
    ['expectation about a sandbox that does not exist', mutate((m) => (m.expect = { exits: { b: 0 } })), 'expect.exits.b', /unknown field/],
    ['channel without rights', mutate((m) => (m.sandboxes[0].caps = { channels: ['mig'] })), 'sandboxes[0].caps.channels[0]', /"name:r"/],
    ['channel with a bad right', mutate((m) => (m.sandboxes[0].caps = { channels: ['mig:g'] })), 'sandboxes[0].caps.channels[0]', /"name:r"/],
    ['channels not a list', mutate((m) => (m.sandboxes[0].caps = { channels: 'mig:r' })), 'sandboxes[0].caps.channels', /list of channels/],
    ['loader with grant rights', mutate((m) => (m.sandboxes[0].caps = { loader: 'rwg' })), 'sandboxes[0].caps.loader', /"r" \(query\), "w" \(reserve and spawn\) or "rw"/],
    ['loader as a boolean', mutate((m) => (m.sandboxes[0].caps = { loader: true })), 'sandboxes[0].caps.loader', /string/],
    ['traffic share of an unknown class', mutate((m) => { m.machine = { devices: ['nic'] }; m.traffic = { server: '10.0.0.2', connections: 1, shares: { bulk: 1 } }; }), 'traffic.shares.bulk', /unknown field/],
    ['more than 4 GiB of memory (the device windows begin there)', mutate((m) => (m.machine = { memory: '4100MiB' })), 'machine.memory', /outside \[4194304, 4294967296\] bytes/],
    ['traffic server that is not an IPv4 address', mutate((m) => { m.machine = { devices: ['nic'] }; m.traffic = { server: '999.999.999.999', connections: 1 }; }), 'traffic.server', /not an IPv4 address/],
    ['the packed argument, gone for named configuration', mutate((m) => (m.sandboxes[0].arg = 1)), 'sandboxes[0].arg', /unknown field/],
    ['configuration that is not an object', mutate((m) => (m.sandboxes[0].config = 'abort')), 'sandboxes[0].config', /expected an object/],
    ['configuration value that is a list', mutate((m) => (m.sandboxes[0].config = { mode: ['abort'] })), 'sandboxes[0].config.mode', /a string, a number or true\/false/],
    ['configuration field that is not a name', mutate((m) => (m.sandboxes[0].config = { 'Mode!': 1 })), 'sandboxes[0].config.Mode!', /not a configuration field name/],
    ['traffic duration that is not a time', mutate((m) => { m.machine = { devices: ['nic'] }; m.traffic = { server: '10.0.0.2', connections: 1, duration: '5 fortnights' }; }), 'traffic.duration', /duration/],
  ])('%s → names the field', (_what, m, field, detail) => {
    const e = refusal(m);
    expect(e.field).toBe(field);
    expect(e.message).toMatch(detail);
    expect(e.message.startsWith(`t.himg: ${field}: `)).toBe(true);
  });

  it('reads channels in slot order after the other capabilities, and the traffic\'s duration and class shares', () => {
    const m = parse(mutate((x) => {
      x.machine = { devices: ['nic'] };
      x.sandboxes[0].caps = { registry: 'rwg', channels: ['mig-old:r', 'mig-new:rw'] };
      x.traffic = { server: '10.0.0.2', connections: 10, duration: '2.4s', shares: { idle: 3, http: 1 } };
    }));
    expect(m.sandboxes[0]!.caps.channels).toEqual([{ name: 'mig-old', rights: 1 }, { name: 'mig-new', rights: 3 }]);
    expect(m.traffic).toMatchObject({ durationNs: 2.4e9, shares: { idle: 3, http: 1 } });
  });

  it('reads the module loader\'s rights: "r" queries, "rw" also reserves and spawns', () => {
    expect(parse(mutate((x) => (x.sandboxes[0].caps = { loader: 'r' }))).sandboxes[0]!.caps.loader).toBe(1);
    expect(parse(mutate((x) => (x.sandboxes[0].caps = { loader: 'rw' }))).sandboxes[0]!.caps.loader).toBe(3);
  });

  it('reports JSON syntax errors with the file', () => {
    expect(() => parseManifest('x.himg', '{ "hic-image": 1,')).toThrow(/^x\.himg: not valid JSON/);
  });

  it('a missing module is a manifest error before any sandbox exists', async () => {
    const machine = await UnicornMachine.create({ memoryBytes: 16 << 20 });
    const m = parse(mutate((x) => x.sandboxes.push({ name: 'b', module: 'nosuch', quota: '1MiB' })));
    const ws = builtWorkspace();
    expect(() => bootSandboxes(new Kernel(machine, { trust: ws.trust }), m, ws.repository)).toThrow(/t\.himg: sandboxes\[1\]\.module: no module "nosuch"/);
    expect(machine.frames.accounting().allocated).toBe(0);
    machine.dispose();
  });

  it('a kernel refusal names the manifest field it concerns, not always the quota', async () => {
    const ws = builtWorkspace();
    const cases: [string, (x: any) => void][] = [
      ['sandboxes[0].caps.channels', (x) => (x.sandboxes[0].caps = { channels: Array.from({ length: 100 }, (_, i) => `ch${i}:r`) })],
      ['sandboxes[0].caps.irqs', (x) => (x.sandboxes[0].caps = { irqs: Array.from({ length: 200 }, (_, i) => i) })],
      ['sandboxes[0].quota', (x) => Object.assign(x.sandboxes[0], { quota: '20KiB', stack: '12KiB' })],
    ];
    for (const [field, change] of cases) {
      const machine = await UnicornMachine.create({ memoryBytes: 16 << 20 });
      try {
        const m = parse(mutate(change));
        expect(() => bootSandboxes(new Kernel(machine, { trust: ws.trust }), m, ws.repository), field).toThrow(expect.objectContaining({ code: 'HIC_BAD_MANIFEST', field }));
        expect(machine.frames.accounting().allocated, field).toBe(0);
      } finally {
        machine.dispose();
      }
    }
  });

  it('the largest machine, exactly 4 GiB, runs its guests (every guest once faulted at its entry there)', async () => {
    const hello = JSON.parse(readFileSync(join(REPO, 'images', 'hello.himg'), 'utf8'));
    const run = await bootImage({ label: 'hello-4g.himg', image: { ...hello, machine: { memory: '4096MiB' } } });
    try {
      expect(run.machine.frames.frameCount * 4096).toBe(MEMORY_MAX);
      expect(run.kernel.events.of('fault')).toEqual([]);
      expect(run.deviations).toEqual([]);
      expect(run.outcome.exits).toEqual({ hello: 0 });
    } finally {
      run.machine.dispose();
    }
  });
});
