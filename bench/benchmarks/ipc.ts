// Benchmark `ipc`: guest↔guest IPC through Core-0, beside the null syscall measured in the same
// run. Two C guests (services/ipc_bench_server, ipc_bench_client) make call/reply round trips:
// plain (four message words), passing a copied endpoint capability, and moving a 64 KiB memory
// object to the server and back. Plus the endpoint switch: a registry alias repointed by the
// TypeScript host client, beside the host client's null call (cap_info).
//
// Every capability transfer is also an audit record (hash-chained): that cost is part of the figure.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HostClient } from '../../core0/host-client.ts';
import { Kernel } from '../../core0/kernel.ts';
import { Right } from '../../core0/abi/abi.ts';
import { UnicornMachine } from '../../emulator/machine.ts';
import { workspace } from '../../hicmod-toolchain/workspace.ts';
import type { Benchmark } from '../benchmark.ts';
import { guestProgram } from '../guest.ts';
import { runOnKernel } from '../kernel-run.ts';
import { formatNs, formatRatio, formatRow, summarize } from '../stats.ts';

const RUNS = 5;
const MODES = [
  { mode: 'plain', calls: 20_000, label: 'IPC round trip (call/reply)' },
  { mode: 'endpoint_copy', calls: 10_000, label: '  with a capability copied' },
  { mode: 'memory_move', calls: 5_000, label: '  with 64 KiB memory moved there and back' },
] as const;

async function roundTrips(repoRoot: string, mode: (typeof MODES)[number]['mode'], calls: number): Promise<number> {
  const ws = workspace(repoRoot);
  const machine = await UnicornMachine.create({ memoryBytes: 32 << 20 });
  try {
    const k = new Kernel(machine, { trust: ws.trust });
    const module = (name: string) => k.modules.verify(new Uint8Array(readFileSync(join(ws.repoDir, 'targets', `${name}-1.0.0.hicmod`))), name);
    k.spawn({ name: 'server', quotaBytes: 256 << 10, stackBytes: 65536, budget: 10_000_000 }, module('ipc_bench_server'));
    k.spawn({ name: 'client', quotaBytes: 512 << 10, stackBytes: 65536, config: { mode, calls }, budget: 10_000_000 }, module('ipc_bench_client'));
    const t0 = process.hrtime.bigint();
    await k.run(60e9);
    const wall = Number(process.hrtime.bigint() - t0);
    if (k.events.of('exit').find((e) => e.sandbox === 'client')?.status !== 0) throw new Error(`ipc bench client failed in mode ${mode}`);
    return wall / calls;
  } finally {
    machine.dispose();
  }
}

async function switches(repoRoot: string): Promise<{ switchNs: number; nullNs: number }> {
  const machine = await UnicornMachine.create({ memoryBytes: 16 << 20 });
  try {
    const k = new Kernel(machine, { trust: workspace(repoRoot).trust });
    const h = HostClient.attach(k, 'manager', { registry: Right.R | Right.W | Right.G });
    h.register('cap://svc/v1.0.0/rpc', h.syscall('endpoint_create'));
    h.register('cap://svc/v2.0.0/rpc', h.syscall('endpoint_create'));
    const N = 5000;
    let t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) h.switchAlias('cap://svc/rpc', i % 2 ? 'cap://svc/v1.0.0/rpc' : 'cap://svc/v2.0.0/rpc');
    const switchNs = Number(process.hrtime.bigint() - t) / N;
    t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) h.capInfo(0);
    return { switchNs, nullNs: Number(process.hrtime.bigint() - t) / N };
  } finally {
    machine.dispose();
  }
}

export const ipc: Benchmark = {
  name: 'ipc',
  title: 'guest↔guest IPC round trips, capability and 64 KiB memory transfer, endpoint switch — beside the null syscall',
  async run(ctx) {
    const nullProgram = guestProgram(ctx.repoRoot, 'syscall', 200_000);
    const samples: Record<string, number[]> = { null: [], switch: [], hostNull: [] };
    for (const m of MODES) samples[m.mode] = [];
    for (let i = 0; i <= RUNS; i++) {
      const n = await runOnKernel(ctx.repoRoot, { programs: [nullProgram], budget: 10_000_000, syscalls: 200_001 });
      const perMode: number[] = [];
      for (const m of MODES) perMode.push(await roundTrips(ctx.repoRoot, m.mode, m.calls));
      const sw = await switches(ctx.repoRoot);
      if (i === 0) continue; // warm-up
      samples.null!.push(n.wallNs / 200_000);
      MODES.forEach((m, j) => samples[m.mode]!.push(perMode[j]!));
      samples.switch!.push(sw.switchNs);
      samples.hostNull!.push(sw.nullNs);
    }
    const s = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summarize(v)]));
    const base = s.null!.median;
    const row = (label: string, key: string, baseline = base, note?: string) =>
      formatRow({ label, hic: formatNs(s[key]!.median), range: `${formatNs(s[key]!.min)} – ${formatNs(s[key]!.max)}`, native: formatNs(baseline), ratio: formatRatio(s[key]!.median / baseline), ...(note ? { note } : {}) });
    return {
      lines: [
        ...MODES.map((m, i) => row(m.label, m.mode, base, i === 0 ? 'baseline = null syscall, same run' : undefined)),
        row('endpoint switch (registry alias)', 'switch', s.hostNull!.median, 'baseline = null host call (cap_info), same run'),
      ],
      json: { parameters: { runs: RUNS, modes: MODES }, samples, summary: s },
    };
  },
};
