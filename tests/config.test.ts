// Named configuration (docs/configuration.md): a manifest's values are checked against the
// module's signed declaration, each mistake refused with the file, the field and what is wrong,
// before any sandbox exists; Core-0 places the values in one read-only, never-executable page of
// the sandbox, charged to its quota, whose address the first thread finds in rdi. (A guest's
// store into that page faults: tests/isolation.test.ts, rogue-config.)

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kernel, KernelError } from '../core0/kernel.ts';
import type { ConfigField } from '../core0/module/config-records.ts';
import { parseValue, resolveConfig } from '../core0/module/values.ts';
import type { VerifiedModule } from '../core0/module/verify.ts';
import { UnicornMachine } from '../emulator/machine.ts';
import { readSpec } from '../hicmod-toolchain/hicmod/spec.ts';
import { bootSandboxes } from '../system/boot.ts';
import { ManifestError, parseManifest } from '../system/manifest.ts';
import { builtWorkspace, REPO } from './support/boot.ts';

const PAGE = 4096;
const migctl = readSpec(REPO, 'migctl').meta.config;
const field = (module: string, name: string): ConfigField => readSpec(REPO, module).meta.config.find((f) => f.name === name)!;

describe('values against a declaration', () => {
  it('takes the defaults for fields the manifest leaves out, in declaration order', () => {
    expect(migctl.map((f) => f.name)).toEqual(['mode', 'start', 'linger']);
    expect(resolveConfig(migctl, {})).toEqual({ words: [0n, 450_000_000n, 0n] });
    expect(resolveConfig(migctl, { mode: 'abort', linger: '2ms' })).toEqual({ words: [1n, 450_000_000n, 2_000_000n] });
  });

  it('reads each type as a person writes it', () => {
    const size: ConfigField = { name: 'buffer', type: 'size', values: [], doc: '', default: 0n, min: 0n, max: 1n << 40n };
    const i64: ConfigField = { name: 'offset', type: 'i64', values: [], doc: '', default: 0n, min: -100n, max: 100n };
    expect(parseValue(size, '64KiB')).toEqual({ word: 65536n });
    expect(parseValue(size, '1.5MiB')).toEqual({ word: 1572864n });
    expect(parseValue(size, 4096)).toEqual({ word: 4096n });
    expect(parseValue(i64, -3)).toEqual({ word: (1n << 64n) - 3n });
    expect(parseValue(field('migctl', 'start'), '1.51s')).toEqual({ word: 1_510_000_000n });
    expect(parseValue(field('migctl', 'start'), 450)).toEqual({ word: 450n }); // a bare number is ns
    expect(parseValue(field('frame_sink', 'claim_default'), true)).toEqual({ word: 1n });
    expect(parseValue(field('rpc_client', 'calls'), '18446744073709551615')).toEqual({ word: (1n << 64n) - 1n });
  });

  it.each([
    ['an unknown field', migctl, { mode: 'abort', lingr: '2ms' }, 'lingr', 'unknown field (the module declares mode, start, linger)'],
    ['a field of a module that declares none', [] as ConfigField[], { mode: 'abort' }, 'mode', 'unknown field (the module declares no configuration)'],
    ['an enum value it does not have', migctl, { mode: 'abrt' }, 'mode', '"abrt" is not one of update, abort, refusals'],
    ['an enum value by number', migctl, { mode: 1 }, 'mode', 'expected one of update, abort, refusals, got 1'],
    ['a duration without a unit it knows', migctl, { start: '450 parsecs' }, 'start', 'expected a duration like "450ms" (ns, us, ms, s, min, h), or a number of ns, got "450 parsecs"'],
    ['a duration finer than a nanosecond', migctl, { start: '1.5ns' }, 'start', 'expected a duration like "450ms" (ns, us, ms, s, min, h), or a number of ns, got "1.5ns"'],
    ['a duration past its bound', migctl, { linger: '2s' }, 'linger', '"2s" is outside [0, 1000000000] ns'],
    ['a negative count', readSpec(REPO, 'rpc_client').meta.config, { calls: -1 }, 'calls', 'expected a non-negative integer, got -1'],
    ['a count below its minimum', readSpec(REPO, 'echo').meta.config, { version: 0 }, 'version', '0 is outside [1, 99]'],
    ['a count past 2^64', readSpec(REPO, 'rpc_client').meta.config, { calls: '18446744073709551616' }, 'calls', '"18446744073709551616" is outside [1, 18446744073709551615]'],
    ['a count that is not whole', readSpec(REPO, 'rpc_client').meta.config, { calls: 2.5 }, 'calls', 'expected a non-negative integer, got 2.5'],
    ['a bool given as a word', readSpec(REPO, 'frame_sink').meta.config, { claim_default: 'yes' }, 'claim_default', 'expected true or false, got "yes"'],
  ])('refuses %s, naming the field', (_what, fields, input, key, error) => {
    expect(resolveConfig(fields, input)).toEqual({ key, error });
  });
});

describe('at boot', () => {
  let machine: UnicornMachine;
  let kernel: Kernel;
  const ws = builtWorkspace();
  const image = (config: unknown) =>
    parseManifest('images/x.himg', JSON.stringify({
      'hic-image': 1,
      name: 'x',
      sandboxes: [
        { name: 'echo', module: 'echo', quota: '256KiB', config: { version: 2 } },
        { name: 'ctl', module: 'migctl', quota: '1MiB', config },
      ],
    }));

  beforeAll(async () => {
    machine = await UnicornMachine.create({ memoryBytes: 16 << 20 });
  });
  afterAll(() => machine.dispose());

  it.each([
    [{ mode: 'abrt' }, 'images/x.himg: sandboxes[1].config.mode: "abrt" is not one of update, abort, refusals'],
    [{ mode: 'abort', begin: '1s' }, 'images/x.himg: sandboxes[1].config.begin: unknown field (the module declares mode, start, linger)'],
    [{ start: 'soon' }, 'images/x.himg: sandboxes[1].config.start: expected a duration like "450ms" (ns, us, ms, s, min, h), or a number of ns, got "soon"'],
  ])('%j is refused with the file and the field, before any sandbox exists', (config, message) => {
    kernel = new Kernel(machine, { trust: ws.trust });
    let error: unknown;
    try {
      bootSandboxes(kernel, image(config), ws.repository);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ManifestError);
    expect((error as ManifestError).message).toBe(message);
    expect(kernel.events.of('sandboxCreated')).toEqual([]);
    expect(machine.frames.accounting().allocated).toBe(0);
  });

  it('the kernel checks again: a spawn with a value its declaration refuses creates nothing', () => {
    kernel = new Kernel(machine, { trust: ws.trust });
    const m = kernel.modules.verify(ws.repository.fetch('migctl', '*')!.bytes, 'migctl');
    let error: unknown;
    try {
      kernel.spawn({ name: 'ctl', quotaBytes: 1 << 20, stackBytes: 16384, config: { mode: 'abrt' } }, m);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KernelError);
    expect(error).toMatchObject({ code: 'BAD_SPEC', field: 'config.mode' });
    expect(kernel.events.of('moduleRejected')).toEqual([expect.objectContaining({ code: 'BAD_SPEC', reason: 'ctl: config.mode: "abrt" is not one of update, abort, refusals' })]);
    expect(kernel.sandbox('ctl')).toBeUndefined();
    expect(machine.frames.accounting().allocated).toBe(0);
  });
});

describe('the configuration page', () => {
  let machine: UnicornMachine;
  let kernel: Kernel;
  let migctlModule: VerifiedModule;
  let helloModule: VerifiedModule;

  beforeAll(async () => {
    machine = await UnicornMachine.create({ memoryBytes: 16 << 20 });
    const ws = builtWorkspace();
    kernel = new Kernel(machine, { trust: ws.trust });
    kernel.modules.loadLibrary(kernel.modules.verify(ws.repository.fetch('ipc_lib', '*')!.bytes, 'ipc_lib'));
    migctlModule = kernel.modules.verify(ws.repository.fetch('migctl', '*')!.bytes, 'migctl');
    helloModule = kernel.modules.verify(ws.repository.fetch('hello', '*')!.bytes, 'hello');
  });
  afterAll(() => {
    kernel.shutdown();
    machine.dispose();
  });

  it('holds the words in declaration order, right after the image, read-only and never executable, its address in rdi', () => {
    const s = kernel.spawn({ name: 'ctl', quotaBytes: 1 << 20, stackBytes: 16384, config: { mode: 'refusals', linger: '3ms' } }, migctlModule);
    const loaded = kernel.events.of('moduleLoaded').find((e) => e.sandbox === 'ctl')!;
    const started = kernel.events.of('threadStarted').find((e) => e.sandbox === 'ctl')!;
    const page = loaded.base + loaded.pages * PAGE;
    expect(started.config).toBe(page);
    expect(loaded.config).toEqual({ mode: 'refusals', start: 450_000_000, linger: 3_000_000 });
    const view = new DataView(machine.frames.view(page, PAGE).slice().buffer);
    expect([0, 8, 16].map((at) => view.getBigUint64(at, true))).toEqual([2n, 450_000_000n, 3_000_000n]);
    expect(machine.frames.view(page + 24, PAGE - 24).every((b) => b === 0)).toBe(true);
    const entry = [...s.cpu.space.pageTable()].find(([va]) => va === page)?.[1];
    expect(entry).toMatchObject({ frame: page / PAGE, writable: false, executable: false });
    expect(machine.frames.ownerOf(page / PAGE)).toBe(s.id);
    // Charged to the quota: the image, this page, the guard page and the stack.
    expect(s.usedPages).toBe(loaded.pages + 1 + 1 + 16384 / PAGE);
  });

  it('is not there for a module that declares no configuration: rdi is 0, no page charged', () => {
    const s = kernel.spawn({ name: 'hello', quotaBytes: 1 << 20, stackBytes: 16384 }, helloModule);
    const loaded = kernel.events.of('moduleLoaded').find((e) => e.sandbox === 'hello')!;
    expect(kernel.events.of('threadStarted').find((e) => e.sandbox === 'hello')!.config).toBe(0);
    expect(loaded.config).toEqual({});
    expect(s.usedPages).toBe(loaded.pages + 1 + 16384 / PAGE);
  });
});
