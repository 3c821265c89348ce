import { TimedPull } from '../../src/cdc/pipeline/timed-pull.js';

/** A promise that counts the reactions attached to it (what a race against it adds each time). */
class CountingPromise<T> extends Promise<T> {
  static reactions = 0;
  override then<A = T, B = never>(
    onFulfilled?: ((v: T) => A | PromiseLike<A>) | null,
    onRejected?: ((r: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    CountingPromise.reactions++;
    return super.then(onFulfilled, onRejected);
  }
}

/** An iterator whose items the test hands over one by one. */
function manual<T>() {
  const resolvers: ((r: IteratorResult<T>) => void)[] = [];
  let rejecter: ((e: unknown) => void) | null = null;
  let calls = 0;
  const it: AsyncIterator<T> = {
    next: () => {
      calls++;
      return new CountingPromise<IteratorResult<T>>((resolve, reject) => {
        resolvers.push(resolve);
        rejecter = reject;
      });
    },
  };
  return {
    it,
    calls: () => calls,
    give: (value: T) => resolvers.shift()!({ value, done: false }),
    end: () => resolvers.shift()!({ value: undefined, done: true }),
    fail: (e: unknown) => rejecter!(e),
  };
}

beforeEach(() => {
  CountingPromise.reactions = 0;
});

describe('TimedPull', () => {
  it('attaches one reaction per pending item however often the wait times out', async () => {
    const src = manual<number>();
    const pull = new TimedPull(src.it);
    for (let i = 0; i < 200; i++) expect(await pull.next(0)).toBeNull();
    // Promise.race([next, sleep(0)]) 200 times would have attached 200 reactions here.
    expect(CountingPromise.reactions).toBe(1);
    src.give(7);
    expect(await pull.next(1000)).toEqual({ value: 7, done: false });
    expect(src.calls()).toBe(2);
    expect(CountingPromise.reactions).toBe(2);
  });

  it('hands over items in order, prefetching the next one, and stops at the end', async () => {
    const src = manual<string>();
    const pull = new TimedPull(src.it);
    src.give('a');
    expect(await pull.next()).toEqual({ value: 'a', done: false });
    const waiting = pull.next(5000);
    src.give('b');
    expect(await waiting).toEqual({ value: 'b', done: false });
    src.end();
    expect(await pull.next()).toEqual({ value: undefined, done: true });
    expect(src.calls()).toBe(3);
  });

  it('times out without losing the item that arrives later', async () => {
    const src = manual<number>();
    const pull = new TimedPull(src.it);
    const t0 = Date.now();
    expect(await pull.next(30)).toBeNull();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
    src.give(1);
    await new Promise((r) => setImmediate(r));
    expect(await pull.next(0)).toEqual({ value: 1, done: false });
  });

  it("rejects with the iterator's error, once", async () => {
    const src = manual<number>();
    const pull = new TimedPull(src.it);
    const waiting = pull.next();
    src.fail(new Error('lost'));
    await expect(waiting).rejects.toThrow('lost');
  });
});
