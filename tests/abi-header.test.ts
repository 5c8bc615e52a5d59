// The guest header is generated from core0/abi/abi.ts; the checked-in copy must not drift.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HEADER_PATH, generateHeader } from '../core0/abi/gen-header.ts';
import { DOCS_PATH, generateDocs } from '../core0/abi/gen-docs.ts';
import { ERRORS, SYSCALLS } from '../core0/abi/abi.ts';
import { REPO } from './support/boot.ts';

describe('ABI', () => {
  it(`${HEADER_PATH} is exactly what gen-header.ts makes of abi.ts (else run: npx hic abi --write)`, () => {
    expect(readFileSync(join(REPO, HEADER_PATH), 'utf8')).toBe(generateHeader());
  });

  it(`${DOCS_PATH} is exactly what gen-docs.ts makes of abi.ts (else run: npx hic abi --write)`, () => {
    expect(readFileSync(join(REPO, DOCS_PATH), 'utf8')).toBe(generateDocs());
  });

  it('has unique syscall numbers and error codes', () => {
    expect(new Set(SYSCALLS.map((s) => s.nr)).size).toBe(SYSCALLS.length);
    expect(new Set(ERRORS.map((e) => e.code)).size).toBe(ERRORS.length);
  });
});
