// `hic repo …`: create a trusted module repository, publish signed modules to it, list what it
// holds, and plan an install from it. Trust is the root certificate of the PKI named by --pki
// (default: the workspace's build/pki); the library is hicmod-toolchain/repository/.

import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { ModuleError } from '../core0/module/errors.ts';
import { NAME_PATTERN } from '../core0/module/format.ts';
import type { TrustStore } from '../core0/module/verify.ts';
import { rootCertificate } from '../hicmod-toolchain/pki/pki.ts';
import { Repository, initRepository, planInstall, publish, type PlanStep, type RepositoryState } from '../hicmod-toolchain/repository/index.ts';
import { runCommand } from './errors.ts';

/** A command-line argument that does not parse. */
export class RepoArgumentError extends Error {
  readonly code = 'BAD_ARGUMENT';
}

interface PkiOption {
  pki?: string;
}
interface NowOption extends PkiOption {
  now?: string;
}

const out = (line: string) => process.stdout.write(line + '\n');

function parseModuleRef(text: string, what: string): { name: string; version: string } {
  const at = text.lastIndexOf('@');
  const name = text.slice(0, at);
  const version = text.slice(at + 1);
  if (at < 0 || !NAME_PATTERN.test(name) || semver.valid(version) !== version) {
    throw new RepoArgumentError(`${what}: "${text}" is not name@version, e.g. netstack@1.3.0`);
  }
  return { name, version };
}

/** --now, or the host clock: expiry is judged at the current time, never the repository's own. */
function parseNow(text: string | undefined): number {
  if (text === undefined) return Date.now();
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new RepoArgumentError(`--now: "${text}" is not a time like 2025-01-31T12:00:00Z`);
  return ms;
}

function summary(state: RepositoryState): string {
  return `targets v${state.targets}, snapshot v${state.snapshot}, timestamp v${state.timestamp}; signed ${state.signedAt}, fresh until ${state.expires.timestamp}`;
}

export function renderPlan(steps: readonly PlanStep[]): string[] {
  const width = Math.max(0, ...steps.map((s) => s.name.length));
  return steps.map((s) => `${s.action.padEnd(8)} ${s.name.padEnd(width)}  ${s.from ? `${s.from} → ${s.to}` : s.to}`);
}

/** A module file read and checked against the index: its refusal, or nothing when it is intact. */
function checkTarget(r: Repository, name: string, version: string): ModuleError | undefined {
  try {
    r.read(name, version);
    return undefined;
  } catch (e) {
    if (e instanceof ModuleError) return e;
    throw e;
  }
}

export function registerRepoCommands(program: Command, repoRoot: string): void {
  const pkiDir = (o: PkiOption) => o.pki ?? join(repoRoot, 'build', 'pki');
  const trust = (o: PkiOption): TrustStore => ({ roots: [rootCertificate(pkiDir(o))] });
  const pkiHelp = 'PKI directory whose root is trusted and whose repo-* keys sign (default: build/pki)';
  const nowHelp = 'judge metadata expiry at this time (default: now)';

  const repo = program.command('repo').description('a trusted module repository: signed index of signed modules (TUF-style roles)');

  repo
    .command('init')
    .description('create an empty signed repository in <dir>')
    .argument('<dir>', 'repository directory')
    .option('--pki <dir>', pkiHelp)
    .action((dir: string, o: PkiOption) =>
      runCommand(() => {
        out(`initialised ${dir}: ${summary(initRepository(dir, pkiDir(o), Date.now()))}`);
      }),
    );

  repo
    .command('publish')
    .description('verify signed .hicmod files and add them to the repository in <dir>')
    .argument('<dir>', 'repository directory')
    .argument('<files...>', 'signed .hicmod files')
    .option('--pki <dir>', pkiHelp)
    .action((dir: string, files: string[], o: PkiOption) =>
      runCommand(() => {
        const bytes = files.map((f) => new Uint8Array(readFileSync(f)));
        const r = publish(dir, pkiDir(o), bytes, Date.now(), { labels: files });
        for (const m of r.published) out(`published  ${m.name} ${m.version}`);
        for (const m of r.unchanged) out(`unchanged  ${m.name} ${m.version} (already published, same bytes)`);
        out(`${dir}: ${summary(r.state)}`);
      }),
    );

  repo
    .command('list')
    .description('list the modules of the repository in <dir>: versions, signer, dependencies; every module file is checked against the index, and a missing or changed one fails the command')
    .argument('<dir>', 'repository directory')
    .option('--pki <dir>', pkiHelp)
    .option('--now <time>', nowHelp)
    .action((dir: string, o: NowOption) =>
      runCommand(() => {
        const r = Repository.open(dir, trust(o), { now: parseNow(o.now) });
        out(`${dir}: ${summary(r.state)}`);
        const width = Math.max(0, ...r.names().map((n) => n.length));
        const bad: ModuleError[] = [];
        for (const name of r.names()) {
          r.versions(name).forEach((version, i) => {
            const e = r.metadata(name, version)!;
            const deps = e.dependencies.length ? `  needs ${e.dependencies.map((d) => `${d.name} ${d.range}`).join(', ')}` : '';
            const problem = checkTarget(r, name, version);
            if (problem) bad.push(problem);
            out(`${(i === 0 ? name : '').padEnd(width)}  ${version.padEnd(8)} ${e.kind.padEnd(7)}  signer ${e.signer.slice(0, 11)}${deps}${problem ? `  ${problem.code}` : ''}`);
          });
        }
        if (bad.length > 0) {
          const total = r.names().reduce((sum, n) => sum + r.versions(n).length, 0);
          throw new ModuleError(bad[0]!.code, `${bad.length} of ${total} module files do not match the index; the first: ${bad[0]!.message}`);
        }
      }),
    );

  repo
    .command('plan')
    .description('show the ordered steps that install <name@version> and its dependencies')
    .argument('<dir>', 'repository directory')
    .argument('<module>', 'what to install, as name@version')
    .option('--installed <list>', 'what is installed now, as name@version,name@version')
    .option('--pki <dir>', pkiHelp)
    .option('--now <time>', nowHelp)
    .action((dir: string, module: string, o: NowOption & { installed?: string }) =>
      runCommand(() => {
        const target = parseModuleRef(module, '<module>');
        const installed = new Map<string, string>();
        for (const item of (o.installed ?? '').split(',').filter((s) => s.trim() !== '')) {
          const m = parseModuleRef(item.trim(), '--installed');
          if (installed.has(m.name)) throw new RepoArgumentError(`--installed: ${m.name} is listed twice`);
          installed.set(m.name, m.version);
        }
        const r = Repository.open(dir, trust(o), { now: parseNow(o.now) });
        for (const line of renderPlan(planInstall(r, target, installed))) out(line);
      }),
    );
}
