// The bodies of the three metadata roles and the checks that turn an authenticated but untyped
// `signed` object into them. Names and versions become file names under targets/, so they are held
// to the module format's own rules (NAME_PATTERN, canonical semver): nothing here can name a path
// outside the repository.

import semver from 'semver';
import { fail } from '../../core0/module/errors.ts';
import { NAME_PATTERN, type Dependency, type ModuleKind } from '../../core0/module/format.ts';
import { isRecord, type OpenedEnvelope, type SignedCommon } from './metadata.ts';

/** What the targets index records about one published module file. */
export interface TargetEntry {
  /** Bytes of the whole .hicmod file. */
  readonly length: number;
  /** SHA-384 of the whole file, hex. */
  readonly sha384: string;
  /** SHA-256 fingerprint of the signer certificate, colon hex (X509Certificate#fingerprint256). */
  readonly signer: string;
  readonly uuid: string;
  readonly kind: ModuleKind;
  readonly dependencies: readonly Dependency[];
}

/** Another metadata file as the role above it pins it. */
export interface FileRef {
  readonly version: number;
  readonly length: number;
  readonly sha384: string;
}

export interface TargetsSigned extends SignedCommon {
  readonly _type: 'targets';
  /** name → version → entry */
  readonly modules: Readonly<Record<string, Readonly<Record<string, TargetEntry>>>>;
}

export interface SnapshotSigned extends SignedCommon {
  readonly _type: 'snapshot';
  readonly targets: FileRef;
}

export interface TimestampSigned extends SignedCommon {
  readonly _type: 'timestamp';
  readonly snapshot: FileRef;
}

const SHA384_HEX = /^[0-9a-f]{96}$/;
const FINGERPRINT = /^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const bad = (file: string, field: string, what: string): never => fail('BAD_REPOSITORY', `${file}: ${field} ${what}`);

function record(v: unknown, file: string, field: string): Record<string, unknown> {
  return isRecord(v) ? v : bad(file, field, 'is not an object');
}

function count(v: unknown, file: string, field: string, min: number): number {
  return Number.isSafeInteger(v) && (v as number) >= min ? (v as number) : bad(file, field, `is not an integer ≥ ${min}`);
}

function text(v: unknown, pattern: RegExp, file: string, field: string, what: string): string {
  return typeof v === 'string' && pattern.test(v) ? v : bad(file, field, `is not ${what}`);
}

function fileRef(v: unknown, file: string, field: string): FileRef {
  const r = record(v, file, field);
  return {
    version: count(r.version, file, `${field}.version`, 1),
    length: count(r.length, file, `${field}.length`, 1),
    sha384: text(r.sha384, SHA384_HEX, file, `${field}.sha384`, 'a SHA-384 in lowercase hex'),
  };
}

function dependency(v: unknown, file: string, field: string): Dependency {
  const r = record(v, file, field);
  const name = text(r.name, NAME_PATTERN, file, `${field}.name`, 'a module name');
  if (typeof r.range !== 'string' || semver.validRange(r.range) === null) bad(file, `${field}.range`, 'is not a semver range');
  return { name, range: r.range as string };
}

function targetEntry(v: unknown, file: string, field: string): TargetEntry {
  const r = record(v, file, field);
  if (r.kind !== 'service' && r.kind !== 'library') bad(file, `${field}.kind`, 'is neither "service" nor "library"');
  if (!Array.isArray(r.dependencies)) bad(file, `${field}.dependencies`, 'is not a list');
  return {
    length: count(r.length, file, `${field}.length`, 1),
    sha384: text(r.sha384, SHA384_HEX, file, `${field}.sha384`, 'a SHA-384 in lowercase hex'),
    signer: text(r.signer, FINGERPRINT, file, `${field}.signer`, 'a SHA-256 certificate fingerprint (AB:CD:…)'),
    uuid: text(r.uuid, UUID, file, `${field}.uuid`, 'a lowercase UUID'),
    kind: r.kind as ModuleKind,
    dependencies: (r.dependencies as unknown[]).map((d, i) => dependency(d, file, `${field}.dependencies[${i}]`)),
  };
}

export function targetsBody(env: OpenedEnvelope, file: string): TargetsSigned {
  const modules: Record<string, Record<string, TargetEntry>> = {};
  for (const [name, versions] of Object.entries(record(env.signed.modules, file, 'modules'))) {
    if (!NAME_PATTERN.test(name)) bad(file, `modules["${name}"]`, 'is not a module name');
    const byVersion: Record<string, TargetEntry> = (modules[name] = {});
    for (const [version, entry] of Object.entries(record(versions, file, `modules.${name}`))) {
      if (semver.valid(version) !== version) bad(file, `modules.${name}["${version}"]`, 'is not a semantic version');
      byVersion[version] = targetEntry(entry, file, `modules.${name}["${version}"]`);
    }
  }
  return { ...env.signed, _type: 'targets', modules };
}

export function snapshotBody(env: OpenedEnvelope, file: string): SnapshotSigned {
  return { ...env.signed, _type: 'snapshot', targets: fileRef(env.signed.targets, file, 'targets') };
}

export function timestampBody(env: OpenedEnvelope, file: string): TimestampSigned {
  return { ...env.signed, _type: 'timestamp', snapshot: fileRef(env.signed.snapshot, file, 'snapshot') };
}
