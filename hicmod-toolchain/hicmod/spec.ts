// services/<name>/module.json: what a module says about itself — name, version, identity, kind,
// dependencies, the protocols and state schema it speaks, the resources and capabilities it asks
// for, its configuration and the records it emits (spec-config-records.ts), and what it exports,
// and how it is built (spec-build.ts: the directory its sources are in, macros, extra compiler
// flags, include and source directories, warnings as errors, SSE). The toolchain reads it to
// build the module's metadata and its object; every mistake is reported with the file and the field.

import { FAMILIES } from '../../core0/abi/abi.ts';
import { isKnownCapability } from '../../core0/module/declared.ts';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { NAME_PATTERN, type ModuleMetadata } from '../../core0/module/format.ts';
import { parseConfig, parseRecords } from './spec-config-records.ts';
import { buildSettings, parseBuild, type BuildSpec } from './spec-build.ts';

export type { BuildSpec } from './spec-build.ts';

export interface ModuleSpec {
  readonly meta: ModuleMetadata;
  readonly exports: readonly string[];
  /** How the object is compiled; what departs from the defaults is also in meta.build (META tag 13). */
  readonly build: BuildSpec;
}

export class SpecError extends Error {
  readonly code = 'HICMOD_BAD_SPEC';
}

const FIELDS = [
  'name', 'version', 'uuid', 'kind', 'dependencies', 'protocols', 'stateSchema', 'memory', 'cpuPermille', 'capabilities', 'config', 'records', 'exports',
  'buildFrom', 'defines', 'cflags', 'include', 'sources', 'werror', 'sse',
];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function specPath(repoRoot: string, service: string): string {
  return join(repoRoot, 'services', service, 'module.json');
}

export function parseSpec(file: string, text: string): ModuleSpec {
  const bad = (field: string, detail: string): never => {
    throw new SpecError(`${file}: ${field}: ${detail}`);
  };
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    return bad('(file)', `not valid JSON (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad('(file)', 'expected an object');
  for (const k of Object.keys(raw)) if (!FIELDS.includes(k)) bad(k, `unknown field (allowed: ${FIELDS.join(', ')})`);
  const str = (k: string, ok: (s: string) => boolean, what: string): string => {
    const v = raw[k];
    if (typeof v !== 'string' || !ok(v)) bad(k, `expected ${what}, got ${JSON.stringify(v)}`);
    return v as string;
  };
  const int = (k: string, min: number, max: number, dflt: number): number => {
    const v = raw[k] ?? dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(k, `expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
    return v as number;
  };
  const list = (k: string, ok: (s: string) => boolean, what: string): string[] => {
    const v = raw[k] ?? [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && ok(x))) bad(k, `expected a list of ${what}`);
    return v as string[];
  };
  const deps = raw.dependencies ?? {};
  if (typeof deps !== 'object' || deps === null || Array.isArray(deps)) bad('dependencies', 'expected an object of name → semver range');
  const dependencies = Object.entries(deps as Record<string, unknown>).map(([name, range]) => {
    if (!NAME_PATTERN.test(name) || typeof range !== 'string' || semver.validRange(range) === null) bad(`dependencies.${name}`, `expected a module name and a semver range, got ${JSON.stringify(range)}`);
    return { name, range: range as string };
  });
  const build = parseBuild(raw, bad);
  const kind = str('kind', (s) => s === 'service' || s === 'library', '"service" or "library"') as ModuleMetadata['kind'];
  if (kind === 'library') for (const k of ['config', 'records']) if (raw[k] !== undefined) bad(k, 'a library has no configuration and emits no records');
  const settings = buildSettings(build);
  return {
    meta: {
      name: str('name', (s) => NAME_PATTERN.test(s), 'a module name'),
      version: str('version', (s) => semver.valid(s) === s, 'a semantic version like "1.2.0"'),
      uuid: str('uuid', (s) => UUID.test(s), 'a lower-case UUID'),
      kind,
      dependencies,
      protocols: list('protocols', (s) => /^\d{1,5}\.\d{1,5}$/.test(s), 'protocol versions like "1.3"'),
      stateSchema: int('stateSchema', 0, 0xffff_ffff, 0),
      memory: int('memory', 0, 1 << 30, 1 << 20),
      cpuPermille: int('cpuPermille', 1, 1000, 100),
      capabilities: list('capabilities', isKnownCapability, `capability names (${FAMILIES.map((f) => f.name).join(', ')}, or registry:<service>)`),
      config: parseConfig(raw.config, bad),
      records: parseRecords(raw.records, bad),
      // Only a module built other than by default says how (so existing modules keep their bytes).
      ...(settings.length > 0 ? { build: settings } : {}),
    },
    exports: list('exports', (s) => s.length > 0, 'symbol names'),
    build,
  };
}

export function readSpec(repoRoot: string, service: string): ModuleSpec {
  const file = specPath(repoRoot, service);
  if (!existsSync(file)) throw new SpecError(`services/${service}/module.json: missing (every service and library describes itself there)`);
  return parseSpec(`services/${service}/module.json`, readFileSync(file, 'utf8'));
}
