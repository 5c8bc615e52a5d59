// Install planning (hicmod-toolchain/repository/resolve.ts) over an in-memory index: the seed's
// rolling-upgrade example exactly, then each way a plan cannot be made, with its exact code and a
// message that names the modules and constraints involved. The same planner over a real signed
// repository is tried in repository.test.ts.

import { describe, expect, it } from 'vitest';
import { ModuleError, type ModuleErrorCode } from '../core0/module/errors.ts';
import { planInstall, type ModuleIndex, type PlanStep } from '../hicmod-toolchain/repository/resolve.ts';
import { refusal } from './support/refusal.ts';

/** name → version → dependency name → range */
type Spec = Record<string, Record<string, Record<string, string>>>;

function index(spec: Spec): ModuleIndex {
  return {
    versions: (name) => Object.keys(spec[name] ?? {}),
    metadata: (name, version) => {
      const deps = spec[name]?.[version];
      return deps && { dependencies: Object.entries(deps).map(([n, range]) => ({ name: n, range })) };
    },
  };
}

const SEED: Spec = {
  eth_driver: { '1.1.0': {}, '1.2.0': {} },
  ipc_lib: { '2.0.0': {} },
  netstack: {
    '1.2.0': { eth_driver: '>= 1.1.0', ipc_lib: '= 2.0.0' },
    '1.3.0': { eth_driver: '>= 1.2.0', ipc_lib: '= 2.0.0' },
  },
};

const plan = (spec: Spec, target: string, installed: Record<string, string> = {}): PlanStep[] => {
  const [name, version] = target.split('@') as [string, string];
  return planInstall(index(spec), { name, version }, new Map(Object.entries(installed)));
};

describe('planInstall', () => {
  it('the seed example: keep ipc_lib, upgrade eth_driver, then netstack', () => {
    expect(plan(SEED, 'netstack@1.3.0', { eth_driver: '1.1.0', ipc_lib: '2.0.0', netstack: '1.2.0' })).toEqual([
      { action: 'keep', name: 'ipc_lib', to: '2.0.0' },
      { action: 'upgrade', name: 'eth_driver', from: '1.1.0', to: '1.2.0' },
      { action: 'upgrade', name: 'netstack', from: '1.2.0', to: '1.3.0' },
    ]);
  });

  it('installs everything, dependencies first, on an empty system', () => {
    expect(plan(SEED, 'netstack@1.3.0')).toEqual([
      { action: 'install', name: 'eth_driver', to: '1.2.0' },
      { action: 'install', name: 'ipc_lib', to: '2.0.0' },
      { action: 'install', name: 'netstack', to: '1.3.0' },
    ]);
  });

  it('an already satisfied system is all keeps', () => {
    const installed = { eth_driver: '1.2.0', ipc_lib: '2.0.0', netstack: '1.3.0' };
    expect(plan(SEED, 'netstack@1.3.0', installed).map((s) => `${s.action} ${s.name}`)).toEqual(['keep eth_driver', 'keep ipc_lib', 'keep netstack']);
    // An installed version that satisfies the range is kept even when a newer one exists.
    expect(plan(SEED, 'netstack@1.2.0', { eth_driver: '1.1.0' })[0]).toEqual({ action: 'keep', name: 'eth_driver', to: '1.1.0' });
  });

  it('plans a module reached twice (a diamond) once', () => {
    const spec: Spec = { ...SEED, app: { '1.0.0': { netstack: '^1.2.0', eth_driver: '*' } } };
    const steps = plan(spec, 'app@1.0.0');
    expect(steps.map((s) => s.name)).toEqual(['eth_driver', 'ipc_lib', 'netstack', 'app']);
  });

  it('a constraint found late restarts the walk with it known', () => {
    const spec: Spec = { a: { '1.0.0': {}, '1.5.0': {}, '2.0.0': {} }, b: { '1.0.0': { a: '< 2.0.0' } }, t: { '1.0.0': { a: '*', b: '*' } } };
    expect(plan(spec, 't@1.0.0')).toEqual([
      { action: 'install', name: 'a', to: '1.5.0' },
      { action: 'install', name: 'b', to: '1.0.0' },
      { action: 'install', name: 't', to: '1.0.0' },
    ]);
  });

  it('honours what installed modules need when a version allows it', () => {
    const spec: Spec = { ...SEED, eth_driver: { '1.1.0': {}, '1.2.0': {}, '1.3.0': {} }, monitor: { '1.0.0': { eth_driver: '< 1.3.0' } } };
    expect(plan(spec, 'netstack@1.3.0', { eth_driver: '1.1.0', monitor: '1.0.0' })[0]).toEqual({ action: 'upgrade', name: 'eth_driver', from: '1.1.0', to: '1.2.0' });
  });

  it('MODULE_NOT_FOUND: no such target, no such version, no such dependency', () => {
    expect(refusal(() => plan(SEED, 'nope@1.0.0'))).toMatchObject({ code: 'MODULE_NOT_FOUND', message: 'the repository has no module nope' });
    expect(refusal(() => plan(SEED, 'netstack@9.0.0'))).toMatchObject({ code: 'MODULE_NOT_FOUND', message: 'the repository has no netstack 9.0.0; it has 1.2.0, 1.3.0' });
    const spec: Spec = { ...SEED, app: { '1.0.0': { missing_lib: '^1.0.0' } } };
    expect(refusal(() => plan(spec, 'app@1.0.0'))).toMatchObject({ code: 'MODULE_NOT_FOUND', message: 'the repository has no module missing_lib (needed by app 1.0.0)' });
  });

  it('MODULE_NOT_FOUND: no version satisfies the range, saying which range and who asks', () => {
    const spec: Spec = { ...SEED, app: { '1.0.0': { eth_driver: '>= 2.0.0' } } };
    expect(refusal(() => plan(spec, 'app@1.0.0'))).toMatchObject({
      code: 'MODULE_NOT_FOUND',
      message: 'no version of eth_driver satisfies >= 2.0.0 (needed by app 1.0.0); the repository has 1.1.0, 1.2.0',
    });
  });

  it('DEPENDENCY_CYCLE: names the cycle', () => {
    const spec: Spec = { t: { '1.0.0': { a: '*' } }, a: { '1.0.0': { b: '*' } }, b: { '1.0.0': { a: '^1.0.0' } } };
    expect(refusal(() => plan(spec, 't@1.0.0'))).toMatchObject({ code: 'DEPENDENCY_CYCLE', message: 'dependency cycle: a → b → a' });
    const self: Spec = { ...SEED, eth_driver: { '1.2.0': { netstack: '*' } } };
    expect(refusal(() => plan(self, 'netstack@1.3.0'))).toMatchObject({ code: 'DEPENDENCY_CYCLE', message: 'dependency cycle: netstack → eth_driver → netstack' });
  });

  it('DEPENDENCY_CONFLICT: two dependents whose ranges exclude each other', () => {
    const spec: Spec = { ...SEED, tool: { '1.0.0': { eth_driver: '< 1.2.0' } }, app: { '1.0.0': { netstack: '1.3.0', tool: '*' } } };
    expect(refusal(() => plan(spec, 'app@1.0.0'))).toMatchObject({
      code: 'DEPENDENCY_CONFLICT',
      message: 'no version of eth_driver satisfies all of: < 1.2.0 (tool 1.0.0), >= 1.2.0 (netstack 1.3.0); the repository has 1.1.0, 1.2.0',
    });
  });

  it('DEPENDENCY_CONFLICT: an upgrade an installed module forbids', () => {
    const spec: Spec = { ...SEED, monitor: { '1.0.0': { eth_driver: '< 1.2.0' } } };
    expect(refusal(() => plan(spec, 'netstack@1.3.0', { eth_driver: '1.1.0', monitor: '1.0.0' }))).toMatchObject({
      code: 'DEPENDENCY_CONFLICT',
      message: 'no version of eth_driver satisfies all of: < 1.2.0 (installed monitor 1.0.0), >= 1.2.0 (netstack 1.3.0); the repository has 1.1.0, 1.2.0',
    });
    const pinned: Spec = { ...SEED, app: { '1.0.0': { netstack: '< 1.3.0' } } };
    expect(refusal(() => plan(pinned, 'netstack@1.3.0', { netstack: '1.2.0', app: '1.0.0' }))).toMatchObject({
      code: 'DEPENDENCY_CONFLICT',
      message: 'netstack 1.3.0 is asked for, but installed app 1.0.0 needs netstack < 1.3.0',
    });
  });

  it('DOWNGRADE: never plans one, for the target or a dependency', () => {
    expect(refusal(() => plan(SEED, 'netstack@1.2.0', { netstack: '1.3.0' })).code).toBe('DOWNGRADE');
    const spec: Spec = { ...SEED, app: { '1.0.0': { eth_driver: '= 1.1.0' } } };
    expect(refusal(() => plan(spec, 'app@1.0.0', { eth_driver: '1.2.0' }))).toMatchObject({
      code: 'DOWNGRADE',
      message: 'eth_driver 1.2.0 is installed; = 1.1.0 (app 1.0.0) would need a downgrade to 1.1.0',
    });
  });
});
