// The host tools the guest build runs (gcc, ld, ar), how it runs them, and the one error type
// of the build: a service that does not build is a BuildError with a stable code and the tool's
// own diagnostics, never a stack trace.

import { execFileSync } from 'node:child_process';

export type BuildErrorCode = 'BUILD_FAILED' | 'BUILD_UNKNOWN_SERVICE' | 'BUILD_TOOL_MISSING' | 'BUILD_MEMORY_EXCEEDED';

export class BuildError extends Error {
  override readonly name = 'BuildError';
  constructor(
    readonly code: BuildErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** LC_ALL=C keeps diagnostics in plain ASCII and the version text (part of the stamp) stable. */
export function run(tool: string, args: readonly string[], cwd?: string): string {
  try {
    const env = { ...process.env, LC_ALL: 'C' };
    return execFileSync(tool, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new BuildError('BUILD_TOOL_MISSING', `${tool} not found on PATH; install gcc and binutils`);
    throw e;
  }
}

let toolIdentity: { includeDir: string; libgcc: string; versions: string } | undefined;

/** gcc's include directory, its libgcc.a and the tool versions, asked once per process. */
export function tools(): { includeDir: string; libgcc: string; versions: string } {
  toolIdentity ??= {
    includeDir: run('gcc', ['-print-file-name=include']).trim(),
    libgcc: run('gcc', ['-print-libgcc-file-name']).trim(),
    versions: run('gcc', ['--version']) + run('ld', ['--version']),
  };
  return toolIdentity;
}

export function gccIncludeDir(): string {
  return tools().includeDir;
}
