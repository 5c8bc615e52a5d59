// Signing a module: RSA-3072 over the SHA-384 module hash with the signer's key, the signer's
// certificate chain, and a timestamp token from the timestamp authority binding the hash to the
// signing time. The signed region already records the block's length (encode.ts), so the block's
// size is computed before anything is hashed.

import { createHash, sign } from 'node:crypto';
import type { ModuleContent } from '../../core0/module/format.ts';
import { ALG_RSA3072_SHA384, SIG_MAGIC, SIG_VERSION, signatureBlockLength, timestampMessage } from '../../core0/module/signature.ts';
import type { Identity } from '../pki/pki.ts';
import { Writer, encodeModule } from './encode.ts';

export interface SigningKeys {
  readonly signer: Identity;
  readonly timestamp: Identity;
}

/** The complete signed .hicmod file. `time` is the signing time (ms since 1970 UTC). */
export function signModule(content: ModuleContent, keys: SigningKeys, time: number): Uint8Array {
  const length = signatureBlockLength(keys.signer.chain, keys.timestamp.chain);
  const body = encodeModule(content, length);
  const hash = createHash('sha384').update(body).digest();
  const w = new Writer().u32(SIG_MAGIC).u16(SIG_VERSION).u16(ALG_RSA3072_SHA384).bytes(hash);
  const signature = sign('sha384', hash, keys.signer.key);
  w.u16(signature.length).bytes(signature);
  const certs = (chain: readonly Uint8Array[]) => {
    w.u16(chain.length);
    for (const c of chain) w.u32(c.length).bytes(c);
  };
  certs(keys.signer.chain);
  w.u16(SIG_VERSION).u64(time).bytes(hash);
  certs(keys.timestamp.chain);
  const tsSignature = sign('sha384', timestampMessage(hash, time), keys.timestamp.key);
  w.u16(tsSignature.length).bytes(tsSignature);
  const block = w.done();
  if (block.length !== length) throw new Error(`signature block is ${block.length} bytes, expected ${length}`);
  return Buffer.concat([body, block]);
}
