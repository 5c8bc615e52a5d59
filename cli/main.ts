// The `hic` command line. Each command is a thin layer over the library: parse options, call
// into core0/ or the toolchain, render. User mistakes print one line (errors.ts).

import { Command, Option } from 'commander';
import semver from 'semver';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HEADER_PATH, generateHeader } from '../core0/abi/gen-header.ts';
import { DOCS_PATH, generateDocs } from '../core0/abi/gen-docs.ts';
import { parseCommandLine, runCommand, usageExitsTwo } from './errors.ts';
import { BuildError } from '../hicmod-toolchain/build.ts';
import { buildErrorLine, workspace } from '../hicmod-toolchain/workspace.ts';
import { junit, testImages } from './test-images.ts';
import { registerRepoCommands } from './repo.ts';
import { registerAuditCommands } from './audit.ts';
import { registerModCommands } from './mod.ts';
import { registerBootCommand } from './boot.ts';
import { registerCtlCommand } from './ctl.ts';
import { registerNetCommands } from './net.ts';
import { registerDebugCommand } from './debug.ts';
import { registerReportCommand } from './report.ts';
import { registerStateCommand } from './state.ts';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const program = usageExitsTwo(new Command('hic')).description('HIC: an x86-64 capability microkernel in an emulator, built to show zero-downtime rolling update of OS services');

registerBootCommand(program, REPO_ROOT, VERSION);
registerCtlCommand(program);
registerNetCommands(program.command('net').description('the Linux side of a TAP bridge: `hic net peer up|down`'));

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
      const ws = workspace(REPO_ROOT, opts.force ? { force: true } : {});
      const order = (a: { name: string; version: string }, b: { name: string; version: string }) => a.name.localeCompare(b.name) || semver.compare(a.version, b.version);
      for (const { name, version, rebuilt } of [...ws.modules].sort(order)) {
        process.stdout.write(`${rebuilt ? 'built  ' : 'fresh  '} ${name.padEnd(12)} ${version.padEnd(8)} ${relative(process.cwd(), ws.repository.targetPath(name, version))}\n`);
      }
      // A module whose service is gone from services/ is gone from the repository too; say so.
      for (const { name, version } of ws.withdrawn) process.stdout.write(`withdrawn ${name.padEnd(12)} ${version.padEnd(8)} no service under services/ makes it any more\n`);
      // A service that does not build keeps only itself out of the repository; say which and why.
      for (const f of ws.failures) {
        process.stdout.write(`FAILED   ${f.module.padEnd(12)} ${(f.version ?? '?').padEnd(8)} ${buildErrorLine(f)}\n`);
        process.stderr.write(`${f.message}\n`);
      }
      if (ws.failures.length > 0) {
        const names = ws.failures.map((f) => f.service).join(', ');
        throw new BuildError('BUILD_FAILED', `${ws.failures.length} of ${ws.failures.length + ws.modules.length} services did not build (${names}); the others are published, and only images that need these fail`);
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
registerReportCommand(program);
registerStateCommand(program);
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
