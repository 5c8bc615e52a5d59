// Where the host's time went during one span of a benchmarked run: reads a `node --cpu-prof`
// profile of `hic bench --only update` and that run's bench/results/update.json, keeps the samples
// that fall inside the connection phase of one size, and prints the share of each source file
// (the emulator's `start` apart: that is uc_emu_start, the guest code itself). A tool for reading
// a profile, not a benchmark: docs/benchmarks.md ("Where the wall time ... goes") says how to run it.
//
//   node --cpu-prof --cpu-prof-dir build/prof bin/hic.mjs bench --only update
//   npx tsx bench/profile-phase.ts build/prof/CPU.*.cpuprofile [--size "10k idle"] [--span phase]

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Profile {
  readonly nodes: readonly { id: number; callFrame: { functionName: string; url: string } }[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

class ProfilePhaseError extends Error {
  readonly code = 'HIC_PROFILE_PHASE';
}

function place(frame: { functionName: string; url: string }, root: string): string {
  if (frame.functionName === 'start' && frame.url.endsWith('emulator/unicorn/engine.ts')) return 'uc_emu_start (guest code)';
  if (frame.url.startsWith('file://')) return frame.url.slice('file://'.length).replace(`${root}/`, '');
  return frame.url || frame.functionName;
}

/** Microseconds of samples per place within [from, to]. */
function sharesWithin(p: Profile, from: number, to: number, root: string): Map<string, number> {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]!;
    if (t < from || t > to) continue;
    // A sample stands for the time until the next one.
    const dt = p.timeDeltas[i + 1] ?? 0;
    const key = place(byId.get(p.samples[i]!)!.callFrame, root);
    out.set(key, (out.get(key) ?? 0) + dt);
  }
  return out;
}

function main(argv: readonly string[]): void {
  const root = join(import.meta.dirname, '..');
  const option = (name: string, fallback: string) => {
    const i = argv.indexOf(name);
    return i >= 0 && argv[i + 1] ? argv[i + 1]! : fallback;
  };
  const files = argv.filter((a, i) => a.endsWith('.cpuprofile') && !argv[i - 1]?.startsWith('--'));
  if (files.length === 0) throw new ProfilePhaseError('usage: profile-phase.ts PROFILE.cpuprofile... [--size LABEL] [--span phase|switch|update|stability]');
  const label = option('--size', '10k idle');
  const spanName = option('--span', 'phase');
  const results = JSON.parse(readFileSync(join(root, 'bench', 'results', 'update.json'), 'utf8')) as { results: { label: string; update: Record<string, { monotonicUs?: [number, number] }> }[] };
  const span = results.results.find((r) => r.label === label)?.update[spanName]?.monotonicUs;
  if (!span) throw new ProfilePhaseError(`bench/results/update.json has no ${spanName} span for '${label}' (run the update benchmark first)`);
  // A run profiles each thread apart; the one whose time covers the span is the main thread's.
  const profile = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Profile).find((p) => p.startTime <= span[0] && p.endTime >= span[1]);
  if (!profile) throw new ProfilePhaseError(`no profile given covers the span (${span[0]}–${span[1]} µs): profile the same run that wrote update.json`);
  const shares = sharesWithin(profile, span[0], span[1], root);
  const total = [...shares.values()].reduce((a, b) => a + b, 0);
  process.stdout.write(`${label}, ${spanName}: ${(total / 1e6).toFixed(2)} s of samples\n`);
  for (const [where, us] of [...shares].sort((a, b) => b[1] - a[1]).slice(0, 20)) {
    process.stdout.write(`${(us / 1000).toFixed(0).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)} %  ${where}\n`);
  }
}

try {
  main(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof ProfilePhaseError)) throw e;
  process.stderr.write(`profile-phase: ${e.message}\n`);
  process.exitCode = 2;
}
