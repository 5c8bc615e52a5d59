// The service registry: versioned endpoint names and default aliases.
//
//   cap://netstack/v1.2.0/tcp   one instance's endpoint (registered by that instance)
//   cap://netstack/tcp          the alias clients hold; points at one versioned name
//
// The first version registered for an alias becomes its default. switch() repoints an alias in
// one step; the versioned names stay, so switching back (rollback) is the same operation.
//
// A name is parsed (pattern and semver) once, when it is registered; what the registry keeps is
// valid by construction, so a switch or lookup of names it holds compares strings, and only a
// name it does not hold is parsed again, to say which error it is.

import semver from 'semver';
import type { KernelObject } from './capability.ts';
import { Alias, type Endpoint } from './endpoint.ts';

const VERSIONED = /^cap:\/\/([a-z][a-z0-9_]{0,31})\/v(\d+\.\d+\.\d+(?:-[0-9a-z.-]+)?)\/([a-z][a-z0-9_]{0,31})$/;
const ALIAS = /^cap:\/\/([a-z][a-z0-9_]{0,31})\/([a-z][a-z0-9_]{0,31})$/;

export type RegistryError = 'INVALID_ARGUMENT' | 'NAME_TAKEN' | 'NOT_FOUND';

/** A registered versioned name, parsed: the alias it belongs to is `cap://<service>/<endpoint>`. */
interface Versioned {
  readonly version: string;
  readonly alias: string;
}

export interface SwitchRecord {
  readonly alias: string;
  readonly from: string;
  readonly to: string;
}

export class ServiceRegistry implements KernelObject {
  readonly capType = 'REGISTRY' as const;
  private readonly endpoints = new Map<string, Endpoint>();
  /** Who registered each versioned name (a sandbox id), for the per-sandbox bound. */
  private readonly holders = new Map<string, number>();
  /** Each name in `endpoints`, parsed when registered (the same keys, in the same order). */
  private readonly versions = new Map<string, Versioned>();
  private readonly targets = new Map<string, string>();
  private readonly aliases = new Map<string, Alias>();

  static parse(name: string): { service: string; version?: string; endpoint: string } | undefined {
    const v = VERSIONED.exec(name);
    if (v && semver.valid(v[2]!)) return { service: v[1]!, version: v[2]!, endpoint: v[3]! };
    const a = ALIAS.exec(name);
    return a ? { service: a[1]!, endpoint: a[2]! } : undefined;
  }

  register(name: string, ep: Endpoint, holder: number): RegistryError | { alias: string; defaulted: boolean } {
    const p = ServiceRegistry.parse(name);
    if (!p?.version) return 'INVALID_ARGUMENT';
    if (this.endpoints.get(name)?.resolve()) return 'NAME_TAKEN';
    const alias = `cap://${p.service}/${p.endpoint}`;
    this.endpoints.set(name, ep);
    this.holders.set(name, holder);
    this.versions.set(name, { version: p.version, alias });
    // The first version of an alias becomes its default, and so does a version registered while
    // the default's holder is gone: an alias never stays pointed at nobody when someone answers.
    const current = this.targets.get(alias);
    const defaulted = current === undefined || !this.live(current);
    if (defaulted) this.targets.set(alias, name);
    return { alias, defaulted };
  }

  /**
   * After a sandbox ended: every alias whose target no longer answers is pointed at the newest
   * live version of the same service and endpoint, if there is one. Returns the switches made.
   */
  fallBack(): SwitchRecord[] {
    const made: SwitchRecord[] = [];
    for (const [alias, target] of this.targets) {
      if (this.live(target)) continue;
      let best: { name: string; version: string } | undefined;
      for (const [name, v] of this.versions) {
        if (v.alias !== alias || !this.live(name)) continue;
        if (!best || semver.gt(v.version, best.version)) best = { name, version: v.version };
      }
      if (!best) continue;
      this.targets.set(alias, best.name);
      made.push({ alias, from: target, to: best.name });
    }
    return made;
  }

  /** Live versioned names a sandbox holds now. */
  heldBy(holder: number): number {
    let n = 0;
    for (const [name, h] of this.holders) if (h === holder && this.live(name)) n++;
    return n;
  }

  /**
   * Forgets versioned names whose endpoint is gone and that no alias points at, so names that
   * come and go do not pile up. Returns the names forgotten.
   */
  prune(): string[] {
    const targeted = new Set(this.targets.values());
    const gone = [...this.endpoints.keys()].filter((n) => !this.live(n) && !targeted.has(n));
    for (const n of gone) {
      this.endpoints.delete(n);
      this.holders.delete(n);
      this.versions.delete(n);
    }
    return gone;
  }

  private live(name: string): boolean {
    return this.endpoints.get(name)?.resolve() !== undefined;
  }

  /** A versioned name's endpoint, or the alias object for an alias name. */
  lookup(name: string): Endpoint | Alias | RegistryError {
    const ep = this.endpoints.get(name);
    if (ep) return ep.resolve() ?? 'NOT_FOUND';
    if (!this.targets.has(name)) return ServiceRegistry.parse(name) ? 'NOT_FOUND' : 'INVALID_ARGUMENT';
    let a = this.aliases.get(name);
    if (!a) {
      a = new Alias(name, (n) => this.endpoints.get(this.targets.get(n) ?? ''));
      this.aliases.set(name, a);
    }
    return a;
  }

  /** Every versioned name with its endpoint, and every alias with its target (the debugger's view). */
  listing(): { endpoints: [string, Endpoint][]; aliases: [string, string][] } {
    return { endpoints: [...this.endpoints], aliases: [...this.targets] };
  }

  /** What an alias points at now. */
  target(alias: string): string | undefined {
    return this.targets.get(alias);
  }

  /** Repoints `alias` at `to`, a registered versioned name of the same service and endpoint. */
  switch(alias: string, to: string): RegistryError | SwitchRecord {
    const from = this.targets.get(alias);
    // An alias in use and a version registered under it: both parsed already.
    if (from === undefined || this.versions.get(to)?.alias !== alias) return ServiceRegistry.switchRefusal(alias, to);
    if (!this.endpoints.get(to)!.resolve()) return 'NOT_FOUND';
    this.targets.set(alias, to);
    return { alias, from, to };
  }

  /** Why switch() refuses names it does not hold as alias and version of it: their form, or that they are not there. */
  private static switchRefusal(alias: string, to: string): RegistryError {
    const a = ServiceRegistry.parse(alias);
    const t = ServiceRegistry.parse(to);
    if (!a || a.version || !t?.version || a.service !== t.service || a.endpoint !== t.endpoint) return 'INVALID_ARGUMENT';
    return 'NOT_FOUND';
  }
}
