// Test PKIs, made once per test file in a temporary directory (RSA-3072 keys take ~2 s a set).

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TrustStore } from '../../core0/module/verify.ts';
import type { SigningKeys } from '../../hicmod-toolchain/hicmod/sign.ts';
import { identity, rootCertificate, type InitOptions } from '../../hicmod-toolchain/pki/pki.ts';
import { offThread } from './off-thread.ts';

export interface TestPki {
  readonly dir: string;
  readonly keys: SigningKeys;
  readonly trust: TrustStore;
}

/** Makes a PKI in a worker thread: seven RSA-3072 keys take seconds the event loop should not lose. */
export async function makePki(organization: string, opts: InitOptions = {}): Promise<TestPki> {
  const dir = mkdtempSync(join(tmpdir(), 'hic-pki-'));
  await initPkiOffThread(dir, { organization, ...opts });
  return { dir, keys: { signer: identity(dir, 'signer'), timestamp: identity(dir, 'timestamp') }, trust: { roots: [rootCertificate(dir)] } };
}

/** initPki (hicmod-toolchain/pki/pki.ts) in a worker thread. */
export function initPkiOffThread(dir: string, opts: InitOptions = {}): Promise<void> {
  return offThread<void>('hicmod-toolchain/pki/pki.ts', 'initPki', dir, opts);
}
