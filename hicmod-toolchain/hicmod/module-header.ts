// The C side of a module's declarations: from the `config` and `records` of its module.json the
// builder generates hic/module.h, which the service includes — its configuration as a struct it
// reads from the page Core-0 filled (hic_config()), each record type as a struct with an emit
// helper over the record syscall, and every enum value as a constant. Generated at every build
// from the same declaration that is signed into the module, so the guest's view of the layout
// and Core-0's cannot disagree (docs/configuration.md).

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConfigField, FieldHead, RecordType } from '../../core0/module/config-records.ts';
import { describeWord } from '../../core0/module/values.ts';
import { readSpec, specPath, type ModuleSpec } from './spec.ts';

/** The struct member for a field: durations carry their unit (`start` → `start_ns`), sizes too. */
export function cMember(f: Pick<FieldHead, 'name' | 'type'>): string {
  return f.type === 'duration' ? `${f.name}_ns` : f.type === 'size' ? `${f.name}_bytes` : f.name;
}

/** C11's keywords: a field may not be named like one (it becomes a struct member). */
export const C_KEYWORDS: ReadonlySet<string> = new Set(
  ('auto break case char const continue default do double else enum extern float for goto if inline int long register restrict return ' +
    'short signed sizeof static struct switch typedef union unsigned void volatile while bool true false').split(' '),
);

const upper = (s: string) => s.toUpperCase();
/** A doc string inside a C comment: it must not end the comment early. */
const cComment = (s: string) => s.replaceAll('*/', '* /');

function cType(f: FieldHead): string {
  return f.type === 'i64' ? 'int64_t' : 'uint64_t';
}

/** One line saying what a member holds: its unit or values, and its doc. */
function memberComment(f: FieldHead, enumPrefix: string, extra = ''): string {
  const kind =
    f.type === 'enum' ? `${enumPrefix}_*` : f.type === 'duration' ? 'ns' : f.type === 'size' ? 'bytes' : f.type === 'bool' ? '0 or 1' : f.type;
  return `/* ${cComment([kind, f.doc, extra].filter((s) => s !== '').join('; '))} */`;
}

function enumConstants(f: FieldHead, prefix: string): string[] {
  return f.values.map((v, i) => `#define ${prefix}_${upper(v)} ${i}`);
}

function config(module: string, fields: readonly ConfigField[]): string[] {
  if (fields.length === 0) return ['/* No configuration: module.json declares none, and _start receives 0. */', ''];
  const M = upper(module);
  return [
    '/* --- configuration: one read-only page, filled by Core-0 from the image manifest ---------- */',
    '',
    ...fields.flatMap((f) => (f.type === 'enum' ? [...enumConstants(f, `${M}_${upper(f.name)}`), ''] : [])),
    `struct ${module}_config {`,
    ...fields.map((f) => `  ${cType(f)} ${cMember(f)}; ${memberComment(f, `${M}_${upper(f.name)}`, `default ${describeWord(f, f.default)}`)}`),
    '};',
    `_Static_assert(sizeof(struct ${module}_config) == ${fields.length * 8}, "one 64-bit word per field");`,
    '',
    '/* The configuration page (read-only: a store faults); _start received its address. */',
    `static inline const struct ${module}_config *hic_config(void) {`,
    `  return (const struct ${module}_config *)hic_config_page;`,
    '}',
    '',
  ];
}

function record(module: string, r: RecordType, id: number): string[] {
  const M = upper(module);
  const R = `${M}_${upper(r.name)}`;
  const struct = `struct ${module}_record_${r.name}`;
  return [
    `/* ${r.name}${r.doc ? `: ${cComment(r.doc)}` : ''} */`,
    `#define ${M}_RECORD_${upper(r.name)} ${id}`,
    ...r.fields.flatMap((f) => enumConstants(f, `${R}_${upper(f.name)}`)),
    `${struct} {`,
    ...r.fields.map((f) => `  ${cType(f)} ${cMember(f)}; ${memberComment(f, `${R}_${upper(f.name)}`)}`),
    '};',
    `static inline int64_t ${module}_emit_${r.name}(const ${struct} *r) {`,
    `  return hic_record(${M}_RECORD_${upper(r.name)}, r, sizeof *r);`,
    '}',
    '',
  ];
}

export function generateModuleHeader(spec: ModuleSpec, source: string): string {
  const { name, config: fields, records } = spec.meta;
  return [
    `/* GENERATED from ${source} by hicmod-toolchain/hicmod/module-header.ts -- edit module.json, not this file. */`,
    '#ifndef HIC_MODULE_H',
    '#define HIC_MODULE_H',
    '',
    '#include <stdint.h>',
    '',
    '#include "hic/abi.h"',
    '',
    '/* Where _start put the configuration page\'s address (services/runtime/start.c). */',
    'extern const void *hic_config_page;',
    '',
    ...config(name, fields),
    ...(records.length ? ['/* --- records: typed results, decoded by Core-0 into `record` events ------------------ */', ''] : []),
    ...records.flatMap((r, i) => record(name, r, i + 1)),
    '#endif /* HIC_MODULE_H */',
    '',
  ].join('\n');
}

/**
 * Writes <outDir>/<service>.include/hic/module.h for a service that has a module.json (rewritten
 * only when its text changes) and returns the directory to add to the include path and the file,
 * which the build's stamp covers.
 */
export function writeModuleHeader(repoRoot: string, service: string, outDir: string): { dir: string; file: string } | undefined {
  if (!existsSync(specPath(repoRoot, service))) return undefined;
  const text = generateModuleHeader(readSpec(repoRoot, service), `services/${service}/module.json`);
  const dir = join(outDir, `${service}.include`);
  const file = join(dir, 'hic', 'module.h');
  if (!existsSync(file) || readFileSync(file, 'utf8') !== text) {
    mkdirSync(join(dir, 'hic'), { recursive: true });
    writeFileSync(file, text);
  }
  return { dir, file };
}
