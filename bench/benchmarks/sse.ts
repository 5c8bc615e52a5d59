// Benchmark `sse`: what letting a service use SSE (module.json "sse": true) costs. The same guest
// code (bench/guest/sse-work.c: records copied and cleared, a table summed) is built twice by the
// real toolchain, once the default way (-mgeneral-regs-only) and once with SSE2, and each module
// is run to its exit on a fresh sandbox, alternately, many times. Baseline: the default build, in
// the same run. The figures say whether the emulator's SSE (QEMU TCG helpers for vector
// instructions) makes ordinary code slower or faster than general registers do, and how many
// guest instructions each build executes. Saving the vector state costs nothing extra: a thread's
// context is a uc_context_save of the whole CPU state either way (docs/guest-sdk.md).

import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kernel } from '../../core0/kernel.ts';
import { UnicornMachine } from '../../emulator/machine.ts';
import { buildModule } from '../../hicmod-toolchain/hicmod/module-build.ts';
import { signModule } from '../../hicmod-toolchain/hicmod/sign.ts';
import { identity, rootCertificate } from '../../hicmod-toolchain/pki/pki.ts';
import { workspacePki } from '../../hicmod-toolchain/workspace.ts';
import type { Benchmark } from '../benchmark.ts';
import { formatNs, formatRatio, formatRow, summarize } from '../stats.ts';

const RUNS = 15;

export const sse: Benchmark = {
  name: 'sse',
  title: 'the same service code built with SSE against the default general-registers-only build',
  async run(ctx) {
    const scratch = mkdtempSync(join(tmpdir(), 'hic-bench-sse-'));
    const machine = await UnicornMachine.create({ memoryBytes: 64 << 20 });
    try {
      for (const d of ['include', 'runtime']) cpSync(join(ctx.repoRoot, 'services', d), join(scratch, 'services', d), { recursive: true });
      const source = readFileSync(join(ctx.repoRoot, 'bench', 'guest', 'sse-work.c'), 'utf8');
      const pki = workspacePki(ctx.repoRoot);
      const keys = { signer: identity(pki, 'signer'), timestamp: identity(pki, 'timestamp') };
      const files = Object.fromEntries(
        (['gpr', 'sse'] as const).map((kind, i) => {
          const name = `sse_bench_${kind}`;
          mkdirSync(join(scratch, 'services', name));
          writeFileSync(join(scratch, 'services', name, 'work.c'), source);
          writeFileSync(join(scratch, 'services', name, 'module.json'), JSON.stringify({ name, version: '1.0.0', uuid: `00000000-0000-4000-8000-0000000005e${i}`, kind: 'service', memory: 1 << 20, capabilities: ['debug_log'], sse: kind === 'sse' }));
          const built = buildModule(scratch, name, { outDir: join(scratch, 'out') });
          return [kind, { name, file: signModule(built.content, keys, Date.now()) }];
        }),
      ) as Record<'gpr' | 'sse', { name: string; file: Uint8Array }>;
      const k = new Kernel(machine, { trust: { roots: [rootCertificate(pki)] } });
      const once = async (kind: 'gpr' | 'sse') => {
        const { name, file } = files[kind];
        const v = k.modules.verify(file, name);
        const before = machine.clock.now;
        const t = process.hrtime.bigint();
        k.spawn({ name, quotaBytes: 1 << 20, stackBytes: 16384 }, v);
        await k.run();
        const wall = Number(process.hrtime.bigint() - t);
        const exit = k.events.of('exit').at(-1)!;
        return { wall, virtualNs: machine.clock.now - before, status: exit.status };
      };
      const samples = { gpr: [] as number[], sse: [] as number[] };
      const virtual = { gpr: 0, sse: 0 };
      const status = { gpr: 0, sse: 0 };
      for (let i = 0; i <= RUNS; i++) {
        for (const kind of ['gpr', 'sse'] as const) {
          const r = await once(kind);
          if (i === 0) continue; // warm-up: first translation of each build's code
          samples[kind].push(r.wall);
          virtual[kind] = r.virtualNs;
          status[kind] = Number(r.status);
        }
      }
      if (status.gpr !== status.sse) throw new Error(`sse benchmark: the two builds disagree (exit ${status.gpr} and ${status.sse})`);
      const g = summarize(samples.gpr);
      const s = summarize(samples.sse);
      return {
        lines: [
          formatRow({ label: 'service code, default (general registers)', hic: formatNs(g.median), range: `${formatNs(g.min)} – ${formatNs(g.max)}`, native: formatNs(g.median), ratio: formatRatio(1), note: `${virtual.gpr} ns virtual (guest instructions at 1 ns)` }),
          formatRow({ label: 'service code, SSE', hic: formatNs(s.median), range: `${formatNs(s.min)} – ${formatNs(s.max)}`, native: formatNs(g.median), ratio: formatRatio(s.median / g.median), note: `${virtual.sse} ns virtual; baseline = the default build` }),
        ],
        json: { parameters: { runs: RUNS }, samples, summary: { gpr: g, sse: s }, virtualNs: virtual, exitStatus: status.gpr },
      };
    } finally {
      machine.dispose();
      rmSync(scratch, { recursive: true, force: true });
    }
  },
};
