// How a run looks on the terminal: what a guest or a manifest writes can never pass for the
// kernel's own lines, nor reach the terminal as a control sequence.

import { describe, expect, it } from 'vitest';
import type { StampedEvent } from '../core0/events.ts';
import { printable, renderEvent } from '../cli/render.ts';

const consoleEvent = (text: string) => ({ kind: 'console', sandbox: 'evil', text, t: 0, seq: 1 }) as StampedEvent;

describe('rendering guest output', () => {
  it('escapes control characters, escape sequences and bidirectional overrides', () => {
    expect(printable('a\x1b[31mred\x07 \u202eevil\x7f\x9b\tok')).toBe('a\\x1b[31mred\\x07 \\u{202e}evil\\x7f\\x9b\tok');
    expect(printable('plain text, ünïcode ✓')).toBe('plain text, ünïcode ✓');
  });

  it('a guest line that imitates the kernel stays under the guest\'s name', () => {
    const out = renderEvent(consoleEvent('hi\n[   0.000000s] core0        hello exited with status 0\n'))!;
    const lines = out.split('\n');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l).toMatch(/^\[\s+0\.000000s\] evil\s+│ /);
    expect(out).not.toMatch(/^\[\s+0\.000000s\] core0/m);
  });

  it('a carriage return cannot overwrite the line it is on', () => {
    expect(renderEvent(consoleEvent('secret\r[   0.000000s] core0        fake'))).toBe('[   0.000000s] evil         │ secret\\x0d[   0.000000s] core0        fake');
  });

  it('an image name from a manifest is escaped too', () => {
    expect(renderEvent({ kind: 'boot', image: 'x\x1b]0;title\x07', t: 0, seq: 0 } as StampedEvent)).toBe('[   0.000000s] core0        booting image "x\\x1b]0;title\\x07"');
  });
});
