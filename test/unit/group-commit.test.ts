import { setImmediate as nextTurn } from 'node:timers/promises';
import { GroupCommit } from '../../src/cdc/sinks/group-commit.js';

/** An `apply` whose calls stay open until the test settles them. */
function gate() {
  const calls: { items: number[]; settle: (err?: Error) => void }[] = [];
  const apply = (items: number[]) =>
    new Promise<void>((resolve, reject) => calls.push({ items, settle: (err) => (err ? reject(err) : resolve()) }));
  return { calls, apply };
}

describe('GroupCommit', () => {
  it('items submitted in one turn go to one call, in submission order', async () => {
    const { calls, apply } = gate();
    const g = new GroupCommit(apply);
    const done = [1, 2, 3, 4].map((i) => g.submit(i));
    expect(calls).toHaveLength(0); // not before the turn ends
    await nextTurn();
    expect(calls.map((c) => c.items)).toEqual([[1, 2, 3, 4]]);
    calls[0]!.settle();
    await Promise.all(done);
  });

  it('items submitted while a call runs wait for it and then go together to the next call', async () => {
    const { calls, apply } = gate();
    const g = new GroupCommit(apply);
    const first = g.submit(1);
    await nextTurn();
    const later = [g.submit(2), g.submit(3)];
    await nextTurn();
    const late = g.submit(4);
    await nextTurn();
    expect(calls.map((c) => c.items)).toEqual([[1]]);
    expect(g.waiting).toBe(3);
    let laterSettled = false;
    void Promise.all(later).then(() => (laterSettled = true));
    calls[0]!.settle();
    await first;
    await nextTurn();
    expect(calls.map((c) => c.items)).toEqual([[1], [2, 3, 4]]);
    expect(laterSettled).toBe(false); // settled with its own call, not the one before
    calls[1]!.settle();
    await Promise.all([...later, late]);
  });

  it('a failed call rejects every item it held with its error, and the next group still runs', async () => {
    const { calls, apply } = gate();
    const g = new GroupCommit(apply);
    const held = [g.submit(1), g.submit(2)];
    await nextTurn();
    const next = g.submit(3);
    const boom = new Error('write refused');
    calls[0]!.settle(boom);
    for (const p of held) await expect(p).rejects.toBe(boom);
    await nextTurn();
    expect(calls[1]!.items).toEqual([3]);
    calls[1]!.settle();
    await next;
  });

  it('an apply that throws synchronously rejects its group', async () => {
    const g = new GroupCommit<number>(() => {
      throw new Error('sync');
    });
    await expect(g.submit(1)).rejects.toThrow('sync');
  });

  it('maxInFlight calls run at once; beyond it, items wait and then form one group', async () => {
    const { calls, apply } = gate();
    const g = new GroupCommit(apply, 2);
    const a = g.submit(1);
    await nextTurn();
    const b = g.submit(2);
    await nextTurn();
    const c = [g.submit(3), g.submit(4)];
    await nextTurn();
    expect(calls.map((x) => x.items)).toEqual([[1], [2]]);
    calls[1]!.settle();
    await b;
    await nextTurn();
    expect(calls.map((x) => x.items)).toEqual([[1], [2], [3, 4]]);
    calls[0]!.settle();
    calls[2]!.settle();
    await Promise.all([a, ...c]);
  });

  it('200 items from 200 submitters in one turn: one call, each submitter settled once', async () => {
    let calls = 0;
    const g = new GroupCommit<number>(async (items) => {
      calls++;
      expect(items).toEqual(Array.from({ length: 200 }, (_, i) => i));
    });
    await Promise.all(Array.from({ length: 200 }, (_, i) => g.submit(i)));
    expect(calls).toBe(1);
  });

  it('refuses a maxInFlight that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => new GroupCommit(async () => undefined, bad)).toThrow(RangeError);
  });
});
