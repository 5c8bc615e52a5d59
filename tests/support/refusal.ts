// The ModuleError a call refuses with; anything else thrown (or nothing) fails the test.

import { ModuleError } from '../../core0/module/errors.ts';

export function refusal(fn: () => unknown): ModuleError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ModuleError) return e;
    throw e;
  }
  throw new Error('expected a ModuleError, nothing was thrown');
}
