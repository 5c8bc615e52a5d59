// How the command line ends. A user's mistake (a broken manifest, a missing module, a malformed
// object, a bad option) prints one clear line and exits 2; a run whose outcome deviates from
// what its image expects exits 1; anything else is a bug in HIC itself and prints as one, with
// its stack, and exits 70 (EX_SOFTWARE). A user-facing error is any Error with a string `code` —
// the stable codes of the manifest reader, the ELF reader, the linker, the builder and the
// kernel's refusals — except the JavaScript engine's own TypeError and RangeError.

import { CommanderError, type Command } from 'commander';
import { AUDIT_CALLER_BUGS, AuditError } from '../core0/audit.ts';

export const EXIT = {
  ok: 0,
  /** The run finished, but its outcome differs from the image's expectation. */
  deviation: 1,
  /** The user's mistake: a bad command, option, argument, manifest, module or file. */
  usage: 2,
  /** A bug in HIC: an internal error, a broken invariant, an emulator failure. */
  internal: 70,
} as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0   success; for boot and test, the outcome is as the image expects
  1   the outcome deviates from the image's expectation
  2   a mistake in the command, its options, or its input (one line on stderr says which)
  70  an internal error: a bug in HIC (its stack is printed)`;

/** A bad option value or argument that commander itself cannot judge. */
export class UsageError extends Error {
  readonly code = 'HIC_USAGE';
}

export function isUserError(e: unknown): e is Error & { code: string } {
  if (!(e instanceof Error) || e instanceof TypeError || e instanceof RangeError) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  // The audit log's refusals of what only a bug in HIC would hand it.
  return !(e instanceof AuditError && AUDIT_CALLER_BUGS.has(e.code));
}

/** Prints an internal error as a bug and sets exit code 70. */
export function reportBug(e: unknown): void {
  const detail = e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e);
  process.stderr.write(`hic: internal error — a bug in HIC, not in your input:\n${detail}\n`);
  process.exitCode = EXIT.internal;
}

export async function runCommand(fn: () => Promise<number | void> | number | void): Promise<void> {
  try {
    const code = await fn();
    process.exitCode = typeof code === 'number' ? code : EXIT.ok;
  } catch (e) {
    if (isUserError(e)) {
      process.stderr.write(`hic: ${e.message} [${e.code}]\n`);
      process.exitCode = EXIT.usage;
      return;
    }
    reportBug(e);
  }
}

/** `hic boot … | head` closes the pipe early: that is the reader's choice, not an error. */
export function exitQuietlyOnClosedPipe(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

/**
 * Parses the command line and runs the chosen command. Commander's own refusals (an unknown
 * command or option, a missing argument) are user mistakes: exit 2, like any other; help and
 * version exit 0. Call before any subcommand is added, so they inherit the override.
 */
export function usageExitsTwo(program: Command): Command {
  return program.exitOverride().showHelpAfterError().addHelpText('after', EXIT_CODES_HELP);
}

export async function parseCommandLine(program: Command, argv: readonly string[]): Promise<void> {
  exitQuietlyOnClosedPipe();
  try {
    await program.parseAsync(argv as string[]);
  } catch (e) {
    if (!(e instanceof CommanderError)) return reportBug(e);
    const quiet = ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(e.code);
    process.exitCode = quiet ? EXIT.ok : EXIT.usage;
  }
}
