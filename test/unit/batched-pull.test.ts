import { BatchedPull, singleItems } from '../../src/cdc/pipeline/batched-pull.js';

/** An iterator of batches the test hands over one by one. */
function manual<T>() {
  const waiting: { resolve: (r: IteratorResult<T[]>) => void; reject: (e: unknown) => void }[] = [];
  let calls = 0;
  const it: AsyncIterator<T[]> = {
    next: () => {
      calls++;
      return new Promise<IteratorResult<T[]>>((resolve, reject) => waiting.push({ resolve, reject }));
    },
  };
  return {
    it,
    calls: () => calls,
    give: (value: T[]) => waiting.shift()!.resolve({ value, done: false }),
    end: () => waiting.shift()!.resolve({ value: undefined, done: true }),
    fail: (e: unknown) => waiting.shift()!.reject(e),
  };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('BatchedPull', () => {
  it('hands out every item of a batch in order, the first through next() and the rest through poll()', async () => {
    const m = manual<string>();
    const pull = new BatchedPull(m.it);
    expect(pull.poll()).toBeUndefined();
    m.give(['a', 'b', 'c']);
    await expect(pull.next()).resolves.toEqual({ value: 'a', done: false });
    expect(pull.poll()).toEqual({ value: 'b', done: false });
    expect(pull.poll()).toEqual({ value: 'c', done: false });
    expect(pull.poll()).toBeUndefined();
    m.give(['d']);
    await expect(pull.next(1000)).resolves.toEqual({ value: 'd', done: false });
    m.end();
    await expect(pull.next()).resolves.toEqual({ value: undefined, done: true });
  });

  it('next() takes what is left of the batch at hand before asking for another', async () => {
    const m = manual<number>();
    const pull = new BatchedPull(m.it);
    m.give([1, 2]);
    expect((await pull.next())?.value).toBe(1);
    // the next batch was requested when the first arrived; it has not come yet
    expect(m.calls()).toBe(2);
    await expect(pull.next(0)).resolves.toEqual({ value: 2, done: false });
    await expect(pull.next(0)).resolves.toBeNull();
    m.give([3]);
    await tick();
    await expect(pull.next(0)).resolves.toEqual({ value: 3, done: false });
  });

  it('skips empty batches and returns null on a timeout without losing the batch that comes later', async () => {
    const m = manual<string>();
    const pull = new BatchedPull(m.it);
    m.give([]);
    await expect(pull.next(5)).resolves.toBeNull();
    m.give(['x', 'y']);
    await expect(pull.next(1000)).resolves.toEqual({ value: 'x', done: false });
    expect(pull.poll()?.value).toBe('y');
  });

  it('rejects with the iterator error only after the items of the batches before it', async () => {
    const m = manual<string>();
    const pull = new BatchedPull(m.it);
    m.give(['a', 'b']);
    expect((await pull.next())?.value).toBe('a');
    m.fail(new Error('connection lost'));
    await tick();
    expect(pull.poll()?.value).toBe('b');
    await expect(pull.next()).rejects.toThrow('connection lost');
  });

  it('interrupt() ends a wait early with null', async () => {
    const m = manual<string>();
    const pull = new BatchedPull(m.it);
    const waiting = pull.next(60_000);
    pull.interrupt();
    await expect(waiting).resolves.toBeNull();
    m.give(['late']);
    await expect(pull.next(1000)).resolves.toEqual({ value: 'late', done: false });
  });

  it('singleItems() makes a batch of each item of a plain source', async () => {
    async function* three() {
      yield 1;
      yield 2;
      yield 3;
    }
    const pull = new BatchedPull(singleItems(three())[Symbol.asyncIterator]());
    const seen: number[] = [];
    for (;;) {
      const r = pull.poll() ?? (await pull.next());
      if (r.done) break;
      seen.push(r.value);
      expect(pull.poll()).toBeUndefined();
    }
    expect(seen).toEqual([1, 2, 3]);
  });
});
