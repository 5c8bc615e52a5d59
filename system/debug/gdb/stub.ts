// placeholder
import type { DebugSession } from '../session.ts';
export async function startGdbStub(_s: DebugSession, _port: number): Promise<{ close(): Promise<void>; port: number }> {
  throw new Error('not yet');
}
