// The record syscall (core0/verbs/record.ts): a guest's typed result, decoded against the record
// types its module declares. The verb is called here with the registers a guest would pass, on a
// real sandbox of the rogue module (record type 1: result); the guest side -- rogue's own refused
// and accepted records -- is in tests/isolation.test.ts. Once right; then every way to be wrong,
// each refused with its exact error and no event; then every field type round trip.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Err } from '../core0/abi/abi.ts';
import { HostClient } from '../core0/host-client.ts';
import { Kernel } from '../core0/kernel.ts';
import type { Sandbox } from '../core0/objects/sandbox.ts';
import { record } from '../core0/verbs/record.ts';
import type { SyscallContext } from '../core0/verbs/verb.ts';
import type { SyscallFrame } from '../emulator/types.ts';
import { UnicornMachine } from '../emulator/machine.ts';
import { builtWorkspace } from './support/boot.ts';

const RESULT = 1; // rogue's first (only) record type
const ATTACKS = ['read_peer', 'write_code', 'exec_data', 'divide_by_zero', 'ud2', 'bad_syscalls', 'spin', 'write_library', 'write_config'];
/** rogue's struct rogue_record_result: attack, checks, failed, clean, last_error, page_bytes, canary. */
const SIZE = 7 * 8;

let machine: UnicornMachine;
let kernel: Kernel;
let rogue: Sandbox;
let hello: Sandbox;
/** Somewhere in rogue's stack, mapped read-write: where the "guest" puts its struct. */
let at: number;
let stackEnd: number;

beforeAll(async () => {
  machine = await UnicornMachine.create({ memoryBytes: 16 << 20 });
  const ws = builtWorkspace();
  kernel = new Kernel(machine, { trust: ws.trust });
  const verify = (name: string) => kernel.modules.verify(ws.repository.fetch(name, '*')!.bytes, name);
  kernel.modules.loadLibrary(verify('ipc_lib'));
  hello = kernel.spawn({ name: 'hello', quotaBytes: 1 << 20, stackBytes: 16384 }, verify('hello'));
  rogue = kernel.spawn({ name: 'rogue', quotaBytes: 256 << 10, stackBytes: 16384, config: { attack: 'bad_syscalls' } }, verify('rogue'));
  HostClient.attach(kernel, 'host', {});
  stackEnd = kernel.events.of('threadStarted').find((e) => e.sandbox === 'rogue')!.stackTop + 8;
  at = stackEnd - 1024;
});
afterAll(() => {
  kernel.shutdown();
  machine.dispose();
});

/** The host sandbox (a TypeScript system service's): no code, so no module and no record types. */
const host = (): Sandbox => kernel.sandbox('host')!;

function context(s: Sandbox): SyscallContext {
  return { thread: [...s.threads][0]!, sandbox: s, now: 0, k: kernel.objects, console() {} };
}

function frame(...args: number[]): SyscallFrame {
  return { nr: 9, arg: (i) => args[i] ?? 0, wideArg: (i) => BigInt(args[i] ?? 0), setResult() {} };
}

/** Writes the words at `where` (in rogue's memory: virtual = physical) and calls record(type, where, len). */
function emit(words: readonly bigint[], opts: { type?: number; where?: number; len?: number; sandbox?: Sandbox } = {}): number {
  const where = opts.where ?? at;
  if (opts.where === undefined) {
    const view = new DataView(machine.frames.view(where, words.length * 8).buffer, machine.frames.view(where, words.length * 8).byteOffset);
    words.forEach((w, i) => view.setBigUint64(i * 8, BigInt.asUintN(64, w), true));
  }
  const out = record(context(opts.sandbox ?? rogue), frame(opts.type ?? RESULT, where, opts.len ?? words.length * 8));
  if (typeof out !== 'number') throw new Error(`record returned ${JSON.stringify(out)}`);
  return out;
}

const good = (over: Partial<Record<'attack' | 'checks' | 'failed' | 'clean' | 'last_error' | 'page' | 'canary', bigint>> = {}): bigint[] => {
  const f = { attack: 5n, checks: 17n, failed: 0n, clean: 1n, last_error: -17n, page: 4096n, canary: 0xfedcba9876543210n, ...over };
  return [f.attack, f.checks, f.failed, f.clean, f.last_error, f.page, f.canary];
};

describe('record', () => {
  it('a record of a declared type, its exact size, readable, every word a value: 0 and one event', () => {
    const before = kernel.events.all.length;
    expect(emit(good())).toBe(0);
    expect(kernel.events.all.slice(before)).toEqual([
      expect.objectContaining({
        kind: 'record', sandbox: 'rogue', module: 'rogue', type: 'result',
        fields: { attack: 'bad_syscalls', checks: 17, failed: 0, clean: true, last_error: -17, page: 4096, canary: '18364758544493064720' },
      }),
    ]);
  });

  it.each([
    ['type 0: ids start at 1', () => emit(good(), { type: 0 }), Err.NOT_FOUND],
    ['a type the module does not declare', () => emit(good(), { type: RESULT + 1 }), Err.NOT_FOUND],
    ['a type id past 2^53', () => emit(good(), { type: -1 }), Err.NOT_FOUND],
    ['a sandbox with no module (the host\'s)', () => emit([], { sandbox: host(), len: SIZE }), Err.NOT_FOUND],
    ['one word short', () => emit(good(), { len: SIZE - 8 }), Err.INVALID_ARGUMENT],
    ['one word long', () => emit(good(), { len: SIZE + 8 }), Err.INVALID_ARGUMENT],
    ['one byte short', () => emit(good(), { len: SIZE - 1 }), Err.INVALID_ARGUMENT],
    ['length 0', () => emit(good(), { len: 0 }), Err.INVALID_ARGUMENT],
    ['a null pointer', () => emit([], { where: 0, len: SIZE }), Err.BAD_ADDRESS],
    ['an unmapped pointer', () => emit([], { where: 0x10, len: SIZE }), Err.BAD_ADDRESS],
    ['a struct running off the end of its stack', () => emit([], { where: stackEnd - 16, len: SIZE }), Err.BAD_ADDRESS],
    ['a struct in another sandbox\'s memory', () => emit([], { where: kernel.events.of('threadStarted').find((e) => e.sandbox === 'hello')!.stackTop - 512, len: SIZE }), Err.BAD_ADDRESS],
    ['an enum index past its values', () => emit(good({ attack: BigInt(ATTACKS.length) })), Err.BAD_VALUE],
    ['an enum index of 2^64 - 1', () => emit(good({ attack: -1n })), Err.BAD_VALUE],
    ['a bool of 2', () => emit(good({ clean: 2n })), Err.BAD_VALUE],
    ['a bool with a high bit', () => emit(good({ clean: 1n << 63n })), Err.BAD_VALUE],
  ])('refuses %s with its error, and leaves no event', (_what, call, code) => {
    const before = kernel.events.all.length;
    expect(call()).toBe(-code);
    expect(kernel.events.all.length).toBe(before);
  });

  it('a refused record is all or nothing: good words before a bad one are not recorded either', () => {
    const before = kernel.events.of('record').length;
    expect(emit(good({ canary: 1n, clean: 7n }))).toBe(-Err.BAD_VALUE);
    expect(kernel.events.of('record').length).toBe(before);
  });

  it('carries every type: enum names, bools, signed and unsigned words, sizes; beyond 2^53 as decimal strings', () => {
    const cases: [bigint[], Record<string, unknown>][] = [
      [good({ attack: 0n, clean: 0n, last_error: 0n, page: 0n, canary: 0n }), { attack: 'read_peer', clean: false, last_error: 0, page: 0, canary: 0 }],
      [good({ attack: 8n, last_error: -(1n << 63n), canary: (1n << 53n) - 1n }), { attack: 'write_config', last_error: '-9223372036854775808', canary: 2 ** 53 - 1 }],
      [good({ last_error: (1n << 63n) - 1n, canary: 1n << 53n, page: (1n << 64n) - 1n }), { last_error: '9223372036854775807', canary: '9007199254740992', page: '18446744073709551615' }],
    ];
    for (const [words, want] of cases) {
      expect(emit(words)).toBe(0);
      expect(kernel.events.of('record').at(-1)!.fields).toMatchObject(want);
    }
  });

  it('a module that declares no records has no record type to emit', () => {
    expect(hello.module).toEqual({ name: 'hello', version: '1.0.0', records: [], cpuPermille: 100 });
    expect(emit([], { sandbox: hello, len: 8 })).toBe(-Err.NOT_FOUND);
  });
});
