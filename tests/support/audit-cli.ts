// Runs `hic audit …` in-process, its output captured: the audit tests read what a user would see
// and the exit code the command sets, without a child process per call.

import { Command } from 'commander';
import { vi } from 'vitest';
import { registerAuditCommands } from '../../cli/audit.ts';

export async function hicAudit(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
  const program = new Command('hic').exitOverride();
  registerAuditCommands(program);
  try {
    await program.parseAsync(['node', 'hic', ...args]);
  } finally {
    vi.restoreAllMocks();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { code, stdout, stderr };
}
