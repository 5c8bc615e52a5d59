// Test PKIs, made once per test file in a temporary directory (RSA-3072 keys take ~2 s a set).

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TrustStore } from '../../core0/module/verify.ts';
import type { SigningKeys } from '../../hicmod-toolchain/hicmod/sign.ts';
import { identity, initPki, rootCertificate, type InitOptions } from '../../hicmod-toolchain/pki/pki.ts';

export interface TestPki {
  readonly dir: string;
  readonly keys: SigningKeys;
  readonly trust: TrustStore;
}

export function makePki(organization: string, opts: InitOptions = {}): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'hic-pki-'));
  initPki(dir, { organization, ...opts });
  return { dir, keys: { signer: identity(dir, 'signer'), timestamp: identity(dir, 'timestamp') }, trust: { roots: [rootCertificate(dir)] } };
}
