// How a module is built, from services/<name>/module.json: the directory its sources are in
// (`buildFrom`), macros (`defines`), extra compiler flags (`cflags`), include and source
// directories inside the service (`include`, `sources`), whether warnings are errors (`werror`,
// default true) and whether the code may use SSE (`sse`, default false). What departs from the
// defaults is also recorded, one setting per string, in the module's signed metadata (META tag
// 13, docs/hicmod-format.md), so a module says how it was made.
//
// Flags that would break what the loader and the kernel rely on are refused with the reason, and
// the field that does the same job is named instead: the module format needs -mcmodel=large and
// absolute relocations, the guest CPU is baseline x86-64, and there is no TLS for a stack canary.

import { NAME_PATTERN } from '../../core0/module/format.ts';

export interface BuildSpec {
  /** `buildFrom`: the service directory whose sources make this module, when not its own (a later
   * version of a module built from the earlier one's tree; module.json still gives its identity). */
  readonly from?: string;
  /** `defines`: NAME → integer, passed to every file as -DNAME=value, in the file's order. A
   * service built from several files needs its compile-time sizes the same in all of them. */
  readonly defines: readonly (readonly [string, number])[];
  /** `cflags`: extra gcc flags for the service's own files (never the runtime's), in order. */
  readonly cflags: readonly string[];
  /** `include`: directories inside the source directory, searched for #include (-I), in order. */
  readonly include: readonly string[];
  /** `sources`: files or directories inside the source directory whose .c files are compiled;
   * empty means the whole directory. */
  readonly sources: readonly string[];
  /** `werror`: warnings stop the build (the default; vendored code may need false). */
  readonly werror: boolean;
  /** `sse`: compiled without -mgeneral-regs-only, so floating point and vector code is allowed. */
  readonly sse: boolean;
}

type Bad = (field: string, detail: string) => never;

/** Flags a service may not set, each with why and what to use instead. First match wins. */
const REFUSED: readonly [RegExp, string][] = [
  [/^-(o|c|S|E|M.*|x|save-temps.*)$/, 'the build decides what gcc produces'],
  [/^-(fpic|fPIC|fpie|fPIE|mcmodel=.*|fplt|mno-red-zone|mred-zone)$/, 'modules need -mcmodel=large and absolute relocations (docs/guest-sdk.md)'],
  [/^-(I|isystem|iquote|idirafter|include|imacros|nostdinc).*/, 'use "include" for directories inside the service'],
  [/^-[DU].*/, 'use "defines"'],
  [/^-m(general-regs-only|no-general-regs-only|sse.*|no-sse.*|avx.*|fpmath=.*|80387|no-80387|arch=.*)$/, 'use "sse"; the guest CPU is baseline x86-64 (docs/guest-cpu.md)'],
  [/^-f(stack-protector.*|stack-clash-protection|sanitize.*|profile.*|instrument-functions|lto.*|split-stack)$|^-pg$/, 'it needs run-time support a sandbox does not have (TLS, a profiler, a sanitizer runtime)'],
  [/^-ftls-model=.*/, 'thread-local storage is not supported'],
  [/^-g.*/, 'debug information is the build\'s own (-g, always)'],
  [/^-(l|L|B|Wl,|Wa,|Xlinker|specs|shared|static|nostdlib|nostartfiles|T).*|^@/, 'the build links; a service names no libraries or scripts'],
  [/^-(Werror|Wno-error)$/, 'use "werror"'],
];

/** A path inside the service directory: relative, normalised, no "..", no hidden parts. */
const INSIDE = /^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[A-Za-z0-9_+\-][A-Za-z0-9_.+\-]*(\/[A-Za-z0-9_+\-][A-Za-z0-9_.+\-]*)*$/;

export function parseBuild(raw: Record<string, unknown>, bad: Bad): BuildSpec {
  const defs = raw.defines ?? {};
  if (typeof defs !== 'object' || defs === null || Array.isArray(defs)) bad('defines', 'expected an object of MACRO → integer');
  const defines = Object.entries(defs as Record<string, unknown>).map(([macro, value]) => {
    // HIC_ is the build's own prefix (HIC_MODULE_NAME, ...): what a module says about itself comes from module.json's fields.
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(macro) || macro.startsWith('HIC_')) bad(`defines.${macro}`, 'expected a C macro name not starting with HIC_');
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) bad(`defines.${macro}`, `expected an integer, got ${JSON.stringify(value)}`);
    return [macro, value as number] as const;
  });
  const from = raw.buildFrom;
  if (from !== undefined && (typeof from !== 'string' || !NAME_PATTERN.test(from))) bad('buildFrom', `expected the name of a directory under services/, got ${JSON.stringify(from)}`);

  const strings = (k: string): string[] => {
    const v = raw[k] ?? [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) bad(k, 'expected a list of strings');
    return v as string[];
  };
  const cflags = strings('cflags');
  cflags.forEach((flag, i) => {
    if (!/^-[A-Za-z][\x21-\x7e]*$/.test(flag)) bad(`cflags[${i}]`, `expected one gcc flag starting with '-', got ${JSON.stringify(flag)}`);
    const refused = REFUSED.find(([re]) => re.test(flag));
    if (refused) bad(`cflags[${i}]`, `${flag} is not allowed: ${refused[1]}`);
  });
  const paths = (k: string): string[] => {
    const list = strings(k);
    list.forEach((p, i) => {
      if (!INSIDE.test(p)) bad(`${k}[${i}]`, `expected a relative path inside the service directory (no "..", not absolute), got ${JSON.stringify(p)}`);
    });
    return list;
  };
  const flag = (k: string, dflt: boolean): boolean => {
    const v = raw[k] ?? dflt;
    if (typeof v !== 'boolean') bad(k, `expected true or false, got ${JSON.stringify(v)}`);
    return v as boolean;
  };
  return {
    ...(from === undefined ? {} : { from: from as string }),
    defines,
    cflags,
    include: paths('include'),
    sources: paths('sources'),
    werror: flag('werror', true),
    sse: flag('sse', false),
  };
}

/** The settings that depart from the defaults, as the strings META tag 13 holds, in a fixed order. */
export function buildSettings(b: BuildSpec): string[] {
  return [
    ...(b.from === undefined ? [] : [`buildFrom ${b.from}`]),
    ...b.defines.map(([m, v]) => `define ${m}=${v}`),
    ...b.cflags.map((f) => `cflag ${f}`),
    ...b.include.map((d) => `include ${d}`),
    ...b.sources.map((s) => `source ${s}`),
    ...(b.werror ? [] : ['werror false']),
    ...(b.sse ? ['sse true'] : []),
  ];
}
