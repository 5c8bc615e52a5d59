// Benchmark `module`: loading a signed module of the netstack's size — about 50 KiB of code with a
// relocation every 64 bytes — through Core-0: verify (hash, RSA signatures, chains, timestamp,
// decode), then spawn (claim frames, relocate against the real address, copy, map, first thread).
// The RSA work inside verify is measured on its own (the two RSA-3072 signature checks and the
// three certificate checks verify performs). Baseline: SHA-384 over the same file, the least any
// verifier must do.

import { X509Certificate, createHash, verify as rsaVerify } from 'node:crypto';
import { Kernel } from '../../core0/kernel.ts';
import { decodeContainer } from '../../core0/module/format.ts';
import { decodeSignatureBlock, timestampMessage } from '../../core0/module/signature.ts';
import { UnicornMachine } from '../../emulator/machine.ts';
import { rawServiceModule } from '../../hicmod-toolchain/hicmod/raw.ts';
import { signModule } from '../../hicmod-toolchain/hicmod/sign.ts';
import { identity, rootCertificate } from '../../hicmod-toolchain/pki/pki.ts';
import { workspacePki } from '../../hicmod-toolchain/workspace.ts';
import type { Benchmark } from '../benchmark.ts';
import { formatNs, formatRatio, formatRow, summarize } from '../stats.ts';

const CODE_BYTES = 50 * 1024;
const RELOC_EVERY = 64;
const RUNS = 40;

/** 50 KiB of code: every 64 bytes a `movabs rax, <address in the image>` (relocated), nops, and an exit at the end. */
function bigModule() {
  const code = new Uint8Array(CODE_BYTES).fill(0x90);
  const relocations = [];
  for (let at = 0; at + RELOC_EVERY <= CODE_BYTES - 16; at += RELOC_EVERY) {
    code.set([0x48, 0xb8], at);
    relocations.push({ kind: 'image' as const, site: at + 2, addend: (at * 7) % CODE_BYTES });
  }
  code.set([0xb8, 4, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05], CODE_BYTES - 16); // mov eax, 4; xor edi, edi; syscall
  const m = rawServiceModule({ name: 'bench_module', version: '1.0.0', uuid: '00000000-0000-4000-8000-0000000bed50' }, code);
  return { ...m, relocations: [...relocations, ...m.relocations] };
}

const time = (f: () => void) => {
  const t = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t);
};

export const moduleLoad: Benchmark = {
  name: 'module',
  title: 'verify + relocate + map of a 50 KiB signed module, RSA cost apart, against SHA-384 of the file',
  async run(ctx) {
    const pki = workspacePki(ctx.repoRoot);
    const content = bigModule();
    const file = signModule(content, { signer: identity(pki, 'signer'), timestamp: identity(pki, 'timestamp') }, Date.now());
    const root = rootCertificate(pki);
    const machine = await UnicornMachine.create({ memoryBytes: 64 << 20 });
    try {
      const k = new Kernel(machine, { trust: { roots: [root] } });
      const block = decodeSignatureBlock(decodeContainer(file).signature);
      const [signer, intermediate] = block.chain.map((d) => new X509Certificate(d));
      const tsa = new X509Certificate(block.timestamp.chain[0]!);
      const samples = { verify: [] as number[], load: [] as number[], rsa: [] as number[], sha384: [] as number[] };
      for (let i = 0; i <= RUNS; i++) {
        let v!: ReturnType<Kernel['modules']['verify']>;
        const verify = time(() => (v = k.modules.verify(file, 'bench_module')));
        const load = time(() => k.spawn({ name: 'bench', quotaBytes: 1 << 20, stackBytes: 16384 }, v));
        k.destroy(k.sandbox('bench')!, 'shutdown');
        const rsa = time(() => {
          rsaVerify('sha384', block.hash, signer!.publicKey, block.signature);
          rsaVerify('sha384', timestampMessage(block.hash, block.timestamp.time), tsa.publicKey, block.timestamp.signature);
          signer!.verify(intermediate!.publicKey);
          intermediate!.verify(root.publicKey);
          tsa.verify(root.publicKey);
        });
        const sha = time(() => createHash('sha384').update(file).digest());
        if (i === 0) continue; // warm-up
        samples.verify.push(verify);
        samples.load.push(load);
        samples.rsa.push(rsa);
        samples.sha384.push(sha);
      }
      const s = Object.fromEntries(Object.entries(samples).map(([key, v]) => [key, summarize(v)])) as Record<keyof typeof samples, ReturnType<typeof summarize>>;
      const base = s.sha384.median;
      const row = (label: string, x: ReturnType<typeof summarize>, note?: string) =>
        formatRow({ label, hic: formatNs(x.median), range: `${formatNs(x.min)} – ${formatNs(x.max)}`, native: formatNs(base), ratio: formatRatio(x.median / base), ...(note ? { note } : {}) });
      return {
        lines: [
          row('module 50 KiB: verify + relocate + map', summarize(samples.verify.map((v, i) => v + samples.load[i]!)), `${file.length} bytes, ${content.relocations.length} relocations; baseline = SHA-384 of the file`),
          row('  of which verify', s.verify, `RSA-3072 checks alone: ${formatNs(s.rsa.median)} (${((100 * s.rsa.median) / s.verify.median).toFixed(0)}% of verify)`),
          row('  of which relocate + map + thread', s.load),
        ],
        json: { parameters: { codeBytes: CODE_BYTES, relocations: content.relocations.length, fileBytes: file.length, runs: RUNS }, samples, summary: s },
      };
    } finally {
      machine.dispose();
    }
  },
};
