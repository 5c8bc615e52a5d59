// The `hic` command line. Each command is a thin layer over the library: parse options, call
// into core0/ or the toolchain, render. User mistakes print one line (errors.ts).

import { Command, Option } from 'commander';
import semver from 'semver';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readManifest } from '../system/manifest.ts';
import { runImage, type System } from '../system/run-image.ts';
import { HEADER_PATH, generateHeader } from '../core0/abi/gen-header.ts';
import { DOCS_PATH, generateDocs } from '../core0/abi/gen-docs.ts';
import { formatTime } from '../emulator/clock.ts';
import { buildAll } from '../hicmod-toolchain/build.ts';
import { parseCommandLine, runCommand, UsageError, usageExitsTwo } from './errors.ts';
import { workspace } from '../hicmod-toolchain/workspace.ts';
import { junit, testImages } from './test-images.ts';
import { registerRepoCommands } from './repo.ts';
import { registerAuditCommands } from './audit.ts';
import { AuditLog } from '../core0/audit.ts';
import { PcapWriter } from '../emulator/net/pcap.ts';
import { printable, renderEvent } from './render.ts';
import { registerModCommands } from './mod.ts';
import { registerDebugCommand } from './debug.ts';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The data directory as given, checked: persistent state belongs in an ordinary directory, not
 * in the current one by accident (an empty path) nor in a kernel file system.
 */
function dataDirectory(dir: string): string {
  if (dir.trim() === '') throw new UsageError('--data-dir: an empty path; name a directory (default build/data)');
  const abs = resolve(dir);
  if (/^\/(proc|sys|dev)(\/|$)/.test(abs)) throw new UsageError(`--data-dir: ${abs} is inside /${abs.split('/')[1]}, not a place for persistent state`);
  if (existsSync(abs) && !statSync(abs).isDirectory()) throw new UsageError(`--data-dir: ${abs} exists and is not a directory`);
  return dir;
}

const program = usageExitsTwo(new Command('hic')).description('HIC: an x86-64 capability microkernel in an emulator, built to show zero-downtime rolling update of OS services');

program
  .command('boot')
  .description('boot a system image: create its sandboxes, run them in virtual time, report the outcome')
  .argument('<image>', 'image manifest (.himg)')
  .option('-q, --quiet', 'show only guest console lines, faults and exits')
  .option('--events <file>', 'write the event log as JSON lines to <file> (its sha256 is the hash printed at the end)')
  .option('--data-dir <dir>', 'where persistent state goes: the hash-chained audit log (audit.jsonl)', 'build/data')
  .option('--pcap <file>', 'write every frame crossing the emulated wire (NIC) as a pcap capture')
  .action((image: string, opts: { quiet?: boolean; events?: string; dataDir: string; pcap?: string }) =>
    runCommand(async () => {
      const manifest = readManifest(image);
      const ws = workspace(REPO_ROOT);
      const wall = process.hrtime.bigint();
      const audit = AuditLog.open(join(dataDirectory(opts.dataDir), 'audit.jsonl'));
      const pcap = opts.pcap ? PcapWriter.open(opts.pcap) : undefined;
      let system: System | undefined;
      try {
        const ran = await runImage(manifest, {
          modules: ws.repository,
          trust: ws.trust,
          audit,
          ...(pcap ? { pcap } : {}),
          onEvent: (e) => {
            const line = renderEvent(e, { quiet: opts.quiet });
            if (line !== undefined) process.stdout.write(line + '\n');
          },
        });
        system = ran.system;
        const { result } = ran;
        const { machine, kernel, traffic } = system;
        const ms = Number(process.hrtime.bigint() - wall) / 1e6;
        const frames = machine.frames.accounting();
        // The log as hashed: sha256sum of the file is the hash printed below.
        if (opts.events) writeFileSync(opts.events, kernel.events.toJsonLines({ provenance: false }));
        process.stdout.write(
          `\n${printable(manifest.name)}: ${formatTime(machine.clock.now)} virtual in ${ms.toFixed(0)} ms wall; ` +
            `${frames.allocated} frames still allocated; event log sha256 ${result.logHash.slice(0, 16)}\n` +
            `audit: ${audit.records.length} records appended to ${join(opts.dataDir, 'audit.jsonl')}, head ${audit.head.slice(0, 16)}\n`,
        );
        if (traffic) process.stdout.write(`${traffic.generator.summaryLine()}; rx ring drops ${traffic.dropped()}\n`);
        if (manifest.expect || traffic) {
          if (result.deviations.length === 0) process.stdout.write('outcome: as expected\n');
          for (const d of result.deviations) process.stdout.write(`outcome DEVIATES: ${d}\n`);
        }
        return result.deviations.length === 0 ? 0 : 1;
      } finally {
        pcap?.close();
        audit.close();
        system?.dispose();
      }
    }),
  );

program
  .command('test')
  .description('boot every image in <dir> that states an expected outcome; exit 1 if any deviates')
  .argument('[dir]', 'directory of .himg manifests', 'images')
  .option('--junit <file>', 'also write a JUnit XML report')
  .action((dir: string, opts: { junit?: string }) =>
    runCommand(async () => {
      const results = await testImages(REPO_ROOT, dir);
      for (const r of results) {
        process.stdout.write(`${r.ok ? 'pass' : 'FAIL'}  ${r.image.padEnd(20)} ${r.wallMs.toFixed(0).padStart(6)} ms${r.logSha256 ? `  log ${r.logSha256.slice(0, 16)}` : ''}\n`);
        for (const p of r.problems) process.stdout.write(`      ${p}\n`);
      }
      if (opts.junit) writeFileSync(opts.junit, junit(results));
      const failed = results.filter((r) => !r.ok).length;
      process.stdout.write(`${results.length - failed} passed, ${failed} failed\n`);
      return failed === 0 ? 0 : 1;
    }),
  );

program
  .command('build')
  .description('build every service and library under services/, sign them with the workspace PKI (build/pki) and publish them to the workspace repository (build/repo); incremental')
  .option('-f, --force', 'recompile even when nothing changed')
  .action((opts: { force?: boolean }) =>
    runCommand(() => {
      if (opts.force) buildAll(REPO_ROOT, { force: true, quiet: true });
      const ws = workspace(REPO_ROOT);
      const order = (a: { name: string; version: string }, b: { name: string; version: string }) => a.name.localeCompare(b.name) || semver.compare(a.version, b.version);
      for (const { name, version, rebuilt } of [...ws.modules].sort(order)) {
        process.stdout.write(`${rebuilt ? 'built  ' : 'fresh  '} ${name.padEnd(12)} ${version.padEnd(8)} ${relative(process.cwd(), ws.repository.targetPath(name, version))}\n`);
      }
    }),
  );

program
  .command('abi')
  .description(`show, write or check what is generated from core0/abi/abi.ts: ${HEADER_PATH} and ${DOCS_PATH}`)
  .addOption(new Option('--write', 'rewrite the header from core0/abi/abi.ts').conflicts('check'))
  .option('--check', 'exit 1 if the checked-in header differs from the generated one')
  .action((opts: { write?: boolean; check?: boolean }) =>
    runCommand(() => {
      const outputs: [string, string][] = [[HEADER_PATH, generateHeader()], [DOCS_PATH, generateDocs()]];
      for (const [rel, text] of outputs) {
        const path = join(REPO_ROOT, rel);
        if (opts.write) writeFileSync(path, text);
        else if (opts.check) {
          if (readFileSync(path, 'utf8') !== text) {
            process.stderr.write(`hic: ${rel} differs from core0/abi/abi.ts; run \`hic abi --write\`\n`);
            return 1;
          }
        } else if (rel === HEADER_PATH) process.stdout.write(text);
      }
    }),
  );

registerRepoCommands(program, REPO_ROOT);
registerAuditCommands(program);
registerDebugCommand(program, REPO_ROOT);
registerModCommands(program.command('mod').description('the module toolchain: build, pki, sign, verify, inspect (also the `hicmod` command)'), REPO_ROOT);

program
  .command('bench')
  .description('run the benchmarks; print ratios against baselines measured in the same run and write bench/results/*.json')
  .option('--only <name>', 'run one benchmark')
  .action((opts: { only?: string }) =>
    runCommand(async () => {
      const { runBenchmarks } = await import('../bench/run.ts');
      return runBenchmarks(REPO_ROOT, opts.only);
    }),
  );

await parseCommandLine(program, process.argv);
