// User mistakes end in one clear line and exit code 2; anything else is a bug and keeps its stack.
// A user-facing error is any Error with a string `code` — the stable codes of the manifest
// reader, the ELF reader, the linker, the builder and the kernel's refusals.

export function isUserError(e: unknown): e is Error & { code: string } {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string' && !(e instanceof TypeError) && !(e instanceof RangeError);
}

export async function runCommand(fn: () => Promise<number | void> | number | void): Promise<void> {
  try {
    const code = await fn();
    process.exitCode = typeof code === 'number' ? code : 0;
  } catch (e) {
    if (isUserError(e)) {
      process.stderr.write(`hic: ${e.message} [${e.code}]\n`);
      process.exitCode = 2;
      return;
    }
    throw e;
  }
}

/** `hic boot … | head` closes the pipe early: that is the reader's choice, not an error. */
export function exitQuietlyOnClosedPipe(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}
