// How `hic ctl` turns the words after a command into its arguments (cli/ctl.ts): in order, a
// list taking the rest, name=value anywhere, a boolean by its bare name; and its refusals.

import { describe, expect, it } from 'vitest';
import { parseArguments } from '../cli/ctl.ts';
import { describeCommands } from '../system/control/commands.ts';

const cmd = (name: string) => describeCommands().find((c) => c.name === name)!;

describe('hic ctl arguments', () => {
  it('fill the command table’s arguments', () => {
    expect(parseArguments(cmd('caps'), ['netstack'])).toEqual({ sandbox: 'netstack' });
    expect(parseArguments(cmd('caps'), ['sandbox=web'])).toEqual({ sandbox: 'web' });
    expect(parseArguments(cmd('events'), [])).toEqual({});
    expect(parseArguments(cmd('events'), ['console', 'fault,exit'])).toEqual({ kinds: ['console', 'fault', 'exit'] });
    expect(parseArguments(cmd('events'), ['console', 'sandbox=netstack'])).toEqual({ kinds: ['console'], sandbox: 'netstack' });
    expect(parseArguments(cmd('events'), ['off'])).toEqual({ off: true });
    expect(parseArguments(cmd('events'), ['off=false', 'console'])).toEqual({ off: false, kinds: ['console'] });
    expect(parseArguments(cmd('events'), ['records=monitor.alert'])).toEqual({ records: ['monitor.alert'] });
    expect(parseArguments(cmd('confirm'), ['3'])).toEqual({ id: 3 });
    expect(parseArguments(cmd('veto'), ['id=3'])).toEqual({ id: 3 });
    expect(parseArguments(cmd('silence'), ['30min'])).toEqual({ duration: '30min' });
    expect(parseArguments(cmd('silence'), ['off'])).toEqual({ duration: 'off' });
  });

  it('refuse what does not fit, naming it', () => {
    expect(() => parseArguments(cmd('caps'), [])).toThrow('caps: missing <sandbox> (the sandbox, by name)');
    expect(() => parseArguments(cmd('status'), ['now'])).toThrow('status: unexpected "now" (it takes no arguments)');
    expect(() => parseArguments(cmd('caps'), ['a', 'b'])).toThrow('caps: unexpected "b" (it takes sandbox)');
    expect(() => parseArguments(cmd('events'), ['off=maybe'])).toThrow('events: off must be true or false, not "maybe"');
    expect(() => parseArguments(cmd('confirm'), ['first'])).toThrow('confirm: id must be an integer, not "first"');
    expect(() => parseArguments(cmd('silence'), [])).toThrow('silence: missing <duration>');
  });
});
