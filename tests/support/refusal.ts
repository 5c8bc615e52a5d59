// The typed error a call refuses with (a ModuleError unless another class is named); anything
// else thrown, or nothing, fails the test.

import { ModuleError } from '../../core0/module/errors.ts';

export function refusal(fn: () => unknown): ModuleError;
export function refusal<E extends Error>(fn: () => unknown, kind: new (...args: never[]) => E): E;
export function refusal(fn: () => unknown, kind: new (...args: never[]) => Error = ModuleError): Error {
  try {
    fn();
  } catch (e) {
    if (e instanceof kind) return e;
    throw e;
  }
  throw new Error(`expected a ${kind.name}, nothing was thrown`);
}
