// Planning an install: which modules to install, upgrade or keep so that a target module and
// everything it depends on is satisfied — dependencies before dependents, each module once.
//
// The algorithm is greedy and simple on purpose: walk the target's dependencies depth first; for
// each name keep the installed version if it satisfies every constraint known so far, otherwise
// take the newest version in the repository that does. When a constraint arrives too late — a
// later dependent rules out a version already chosen, or a change breaks an installed module the
// plan does not touch — it is remembered and the walk starts over with it known from the start.
// Every restart adds a constraint and there are finitely many, so this ends. A full solver could
// sometimes avoid a conflict by choosing an older dependent; this one reports the conflict,
// naming every constraint involved, and lets a person decide.

import semver from 'semver';
import { fail } from '../../core0/module/errors.ts';
import type { Dependency } from '../../core0/module/format.ts';

/** What planning needs of a repository; Repository provides it. */
export interface ModuleIndex {
  /** Published versions of `name`; empty when there is no such module. */
  versions(name: string): readonly string[];
  metadata(name: string, version: string): { readonly dependencies: readonly Dependency[] } | undefined;
}

export type PlanAction = 'install' | 'upgrade' | 'keep';

export interface PlanStep {
  readonly action: PlanAction;
  readonly name: string;
  /** The installed version an upgrade replaces. */
  readonly from?: string;
  readonly to: string;
}

export interface PlanTarget {
  readonly name: string;
  readonly version: string;
}

interface Constraint {
  readonly range: string;
  /** Who asks, for messages: "netstack 1.3.0" or "installed app 1.0.0". */
  readonly by: string;
}

/** A constraint learnt too late in a pass; the next pass knows it from the start. */
class Relearn {
  constructor(readonly name: string, readonly constraint: Constraint) {}
}

const MAX_PASSES = 1000;

/**
 * The ordered steps that bring `target` and its dependencies in, given what is installed
 * (name → version). Unchanged modules the target relies on appear first as 'keep' steps; the
 * changes follow, each after everything it depends on.
 */
export function planInstall(index: ModuleIndex, target: PlanTarget, installed: ReadonlyMap<string, string>): PlanStep[] {
  const learnt = new Map<string, Constraint[]>();
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    try {
      return new Pass(index, target, installed, learnt).run();
    } catch (e) {
      if (!(e instanceof Relearn)) throw e;
      const known = learnt.get(e.name) ?? [];
      // Cannot happen (a known constraint is met when the choice is made); guards the loop.
      if (known.some((c) => c.range === e.constraint.range && c.by === e.constraint.by)) break;
      learnt.set(e.name, [...known, e.constraint]);
    }
  }
  return fail('DEPENDENCY_CONFLICT', `planning ${target.name} ${target.version} did not settle; the dependency constraints keep contradicting each other`);
}

/** One depth-first walk from the target. */
class Pass {
  private readonly constraints: Map<string, Constraint[]>;
  /** name → the version it will have after the plan, for every name the walk reached. */
  private readonly chosen = new Map<string, string>();
  /** The walk's current path, for cycles. */
  private readonly path: string[] = [];
  private readonly keeps: PlanStep[] = [];
  private readonly changes: PlanStep[] = [];

  constructor(
    private readonly index: ModuleIndex,
    private readonly target: PlanTarget,
    private readonly installed: ReadonlyMap<string, string>,
    learnt: ReadonlyMap<string, Constraint[]>,
  ) {
    this.constraints = new Map([...learnt].map(([n, cs]) => [n, [...cs]]));
  }

  run(): PlanStep[] {
    const { name, version } = this.target;
    if (!this.index.metadata(name, version)) {
      const have = this.index.versions(name);
      fail('MODULE_NOT_FOUND', have.length ? `the repository has no ${name} ${version}; it has ${have.join(', ')}` : `the repository has no module ${name}`);
    }
    const installed = this.installed.get(name);
    if (installed !== undefined && semver.gt(installed, version)) fail('DOWNGRADE', `${name} ${installed} is installed; ${version} would be a downgrade`);
    this.chosen.set(name, version);
    this.visit(name, version);
    this.checkInstalled();
    return [...this.keeps, ...this.changes];
  }

  /** Plans the dependencies of name@version, then name itself. */
  private visit(name: string, version: string): void {
    this.path.push(name);
    for (const d of this.index.metadata(name, version)!.dependencies) this.require(d.name, { range: d.range, by: `${name} ${version}` });
    this.path.pop();
    const installed = this.installed.get(name);
    if (installed === version) this.keeps.push({ action: 'keep', name, to: version });
    else if (installed === undefined) this.changes.push({ action: 'install', name, to: version });
    else this.changes.push({ action: 'upgrade', name, from: installed, to: version });
  }

  private require(name: string, c: Constraint): void {
    const at = this.path.indexOf(name);
    if (at >= 0) fail('DEPENDENCY_CYCLE', `dependency cycle: ${[...this.path.slice(at), name].join(' → ')}`);
    this.constraints.set(name, [...(this.constraints.get(name) ?? []), c]);
    const chosen = this.chosen.get(name);
    if (chosen === undefined) return this.choose(name);
    if (!semver.satisfies(chosen, c.range)) this.tooLate(name, c);
  }

  private tooLate(name: string, c: Constraint): never {
    if (name === this.target.name) fail('DEPENDENCY_CONFLICT', `${name} ${this.target.version} is asked for, but ${c.by} needs ${name} ${c.range}`);
    throw new Relearn(name, c);
  }

  private choose(name: string): void {
    const cs = this.constraints.get(name)!;
    const fits = (v: string) => cs.every((c) => semver.satisfies(v, c.range));
    const installed = this.installed.get(name);
    if (installed !== undefined && fits(installed)) {
      this.chosen.set(name, installed);
      this.keeps.push({ action: 'keep', name, to: installed });
      return;
    }
    const all = [...this.index.versions(name)].sort(semver.compare);
    const best = all.filter(fits).pop() ?? explain(name, cs, all);
    if (installed !== undefined && semver.lt(best, installed)) {
      fail('DOWNGRADE', `${name} ${installed} is installed; ${cs.map(show).join(', ')} would need a downgrade to ${best}`);
    }
    this.chosen.set(name, best);
    this.visit(name, best);
  }

  /** Installed modules the plan leaves alone must still have their dependencies met. */
  private checkInstalled(): void {
    for (const [name, version] of this.installed) {
      if ((this.chosen.get(name) ?? version) !== version) continue; // replaced: its old needs go with it
      for (const d of this.index.metadata(name, version)?.dependencies ?? []) {
        const after = this.chosen.get(d.name);
        if (after === undefined || after === this.installed.get(d.name)) continue; // not changed by the plan
        if (!semver.satisfies(after, d.range)) this.tooLate(d.name, { range: d.range, by: `installed ${name} ${version}` });
      }
    }
  }
}

const show = (c: Constraint) => `${c.range} (${c.by})`;

/** Why no version of `name` fits: none at all, one constraint nothing meets, or constraints that exclude each other. */
function explain(name: string, cs: readonly Constraint[], all: readonly string[]): never {
  const needed = cs.map((c) => c.by).join(', ');
  if (all.length === 0) fail('MODULE_NOT_FOUND', `the repository has no module ${name} (needed by ${needed})`);
  const unmet = cs.find((c) => !all.some((v) => semver.satisfies(v, c.range)));
  if (unmet) fail('MODULE_NOT_FOUND', `no version of ${name} satisfies ${unmet.range} (needed by ${unmet.by}); the repository has ${all.join(', ')}`);
  return fail('DEPENDENCY_CONFLICT', `no version of ${name} satisfies all of: ${cs.map(show).join(', ')}; the repository has ${all.join(', ')}`);
}
