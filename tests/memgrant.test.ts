// Granting memory by moving a capability (images/memgrant.himg): mem_giver fills 64 KiB, moves the
// memory capability to mem_taker, and faults on its next read of the old mapping; mem_taker maps
// the same frames at the same address and finds the pattern. Nothing was copied. A giver that
// moves only a derived copy and keeps the original must not keep the frames either.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootImage, type Booted } from './support/boot.ts';
import { consoleOf } from './support/kernel.ts';
import { stage } from './support/boot.ts';

let run: Booted;
const lines = (sandbox: string) => consoleOf(run.kernel, sandbox).map((l) => l.text);
const hex = (text: string, re: RegExp) => Number.parseInt(re.exec(text)?.[1] ?? 'NaN', 16);

beforeAll(async () => {
  run = await bootImage('memgrant');
});
afterAll(() => run.machine.dispose());

describe('memgrant image', () => {
  it('matches the outcome its manifest expects: the taker exits 0, the giver faults readUnmapped', () => {
    expect(run.deviations).toEqual([]);
    expect(run.outcome).toEqual({ exits: { mem_taker: 0 }, faults: { mem_giver: 'readUnmapped' } });
  });

  it('the capability moved, with its rights, from the giver to the taker', () => {
    expect(run.kernel.events.of('capTransferred')).toEqual([
      expect.objectContaining({ from: 'mem_giver', to: 'mem_taker', type: 'MEMORY', rights: 7, moved: true }),
    ]);
  });

  it('the giver faulted reading the address it had mapped, after it sent', () => {
    const giver = lines('mem_giver');
    expect(giver).toContain('mem_giver: sent');
    const mapped = hex(giver[0]!, /^mem_giver: wrote 65536 bytes at 0x([0-9a-f]+)$/);
    const fault = run.kernel.events.of('fault').find((e) => e.sandbox === 'mem_giver')!;
    expect(fault.fault).toMatchObject({ kind: 'readUnmapped', address: mapped });
    expect(fault.owner).toBe('mem_taker'); // the frames are charged to the taker now
  });

  it('the taker mapped the same frames (same address): the 64 KiB were not copied', () => {
    const taker = lines('mem_taker').at(-1)!;
    expect(taker).toMatch(/^mem_taker: got 65536 bytes at 0x[0-9a-f]+, pattern ok$/);
    const at = hex(taker, /at 0x([0-9a-f]+),/);
    const mapped = hex(lines('mem_giver')[0]!, /at 0x([0-9a-f]+)$/);
    expect(at).toBe(mapped);
  });

  it('every frame is back in the pool', () => {
    expect(run.machine.frames.accounting().allocated).toBe(0);
  });
});

describe('moving a derived copy of a memory capability', () => {
  it('is refused (NOT_SOLE): the mover could otherwise still reach the frames', async () => {
    const staged = await stage({
      label: 'tests/memgrant.test.ts',
      image: {
        'hic-image': 1,
        name: 'memgrant-copy',
        machine: { memory: '64MiB' },
        sandboxes: [
          { name: 'mem_taker', module: 'mem_taker', quota: '256KiB', stack: '16KiB' },
          { name: 'mem_giver', module: 'mem_giver', quota: '256KiB', stack: '16KiB', config: { cheat: true } },
        ],
        run: { until: '1s' },
      },
    });
    try {
      const { outcome } = await staged.run();
      const giver = consoleOf(staged.kernel, 'mem_giver').map((l) => l.text);
      // Exit 1 with "still read ... (isolation broken)": the giver kept reading frames that are
      // now charged to, and mapped by, the taker.
      expect(giver.filter((l) => l.includes('isolation broken'))).toEqual([]);
      // Only a memory object's sole capability moves: the copy's move is refused with NOT_SOLE.
      expect(outcome.exits.mem_giver).toBe(2);
      expect(giver).toContain('mem_giver: move of a derived copy refused: -16');
      expect(staged.machine.frames.accounting().allocated).toBe(0);
    } finally {
      staged.machine.dispose();
    }
  });
});

describe('the frames a sandbox owned when it ends', () => {
  it('are all counted in its sandboxDestroyed event, memory it received included', async () => {
    const staged = await stage('memgrant');
    try {
      const { kernel, machine } = staged;
      const id = kernel.sandbox('mem_taker')!.id;
      const owned = () => machine.frames.runsOf(id).reduce((n, [, count]) => n + count, 0);
      let atExit = -1;
      let afterDestroy = -1;
      kernel.events.subscribe((e) => {
        if (e.kind === 'exit' && e.sandbox === 'mem_taker') atExit = owned(); // the teardown follows at once
        if (e.kind === 'sandboxDestroyed' && e.sandbox === 'mem_taker') afterDestroy = owned();
      });
      await staged.run();
      const gone = kernel.events.of('sandboxDestroyed').find((e) => e.sandbox === 'mem_taker')!;
      expect(atExit).toBeGreaterThan(16); // its image and stack, and the 16 pages it was given
      expect(afterDestroy).toBe(0);
      expect(gone.framesReturned).toBe(atExit);
    } finally {
      staged.machine.dispose();
    }
  });
});
