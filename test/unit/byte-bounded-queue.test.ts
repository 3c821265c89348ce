import { ByteBoundedQueue, type FlowControl } from '../../src/cdc/binlog/syncer/byte-bounded-queue.js';

/** A source that records when the queue pauses and resumes it. */
function source() {
  const calls: string[] = [];
  const flow: FlowControl = { pause: () => calls.push('pause'), resume: () => calls.push('resume') };
  return { flow, calls };
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

describe('ByteBoundedQueue', () => {
  it('hands items over in order, waiting for the ones not yet pushed, and ends after the last', async () => {
    const { flow } = source();
    const q = new ByteBoundedQueue<string>({ highWaterBytes: 100, source: flow });
    q.push('a', 1);
    q.push('b', 1);
    expect(await q.next()).toEqual({ value: 'a', done: false });
    expect(await q.next()).toEqual({ value: 'b', done: false });
    let got: IteratorResult<string> | undefined;
    void q.next().then((r) => (got = r));
    await flush();
    expect(got).toBeUndefined();
    q.push('c', 1);
    await flush();
    expect(got).toEqual({ value: 'c', done: false });
    q.push('d', 1);
    q.end();
    const rest: string[] = [];
    for await (const item of q) rest.push(item);
    expect(rest).toEqual(['d']);
    expect(await q.next()).toEqual({ value: undefined, done: true });
  });

  it('is bounded by bytes, not by the number of items', () => {
    const many = source();
    const q1 = new ByteBoundedQueue<number>({ highWaterBytes: 2000, source: many.flow });
    for (let i = 0; i < 2000; i++) q1.push(i, 1);
    expect(q1.length).toBe(2000);
    expect(q1.bytes).toBe(2000);
    expect(many.calls).toEqual([]);
    expect(q1.paused).toBe(false);

    const one = source();
    const q2 = new ByteBoundedQueue<number>({ highWaterBytes: 2000, source: one.flow });
    q2.push(0, 2001);
    expect(q2.length).toBe(1);
    expect(one.calls).toEqual(['pause']);
    expect(q2.paused).toBe(true);
  });

  it('pauses once above the high-water mark and resumes once below the low-water mark', async () => {
    const { flow, calls } = source();
    const q = new ByteBoundedQueue<number>({ highWaterBytes: 100, lowWaterBytes: 30, source: flow });
    q.push(1, 60);
    q.push(2, 40);
    expect(calls).toEqual([]); // exactly at the mark is not above it
    q.push(3, 10);
    q.push(4, 10);
    expect(calls).toEqual(['pause']);
    expect(q.bytes).toBe(120);
    await q.next(); // 60 left
    await q.next(); // 20 left: below 30
    expect(calls).toEqual(['pause', 'resume']);
    expect(q.paused).toBe(false);
    await q.next();
    await q.next();
    expect(calls).toEqual(['pause', 'resume']);
    expect(q.bytes).toBe(0);
  });

  it('does not resume at exactly the low-water mark; the default low-water mark is half the high one', async () => {
    const { flow, calls } = source();
    const q = new ByteBoundedQueue<number>({ highWaterBytes: 100, source: flow });
    q.push(1, 51);
    q.push(2, 50);
    expect(calls).toEqual(['pause']);
    await q.next(); // 50 left: not below 50
    expect(calls).toEqual(['pause']);
    q.push(3, 1); // 51: still paused, no second pause
    expect(calls).toEqual(['pause']);
    await q.next(); // 1 left
    expect(calls).toEqual(['pause', 'resume']);
  });

  it('poll takes a buffered item without waiting, with the same accounting, and nothing when empty', () => {
    const { flow, calls } = source();
    const q = new ByteBoundedQueue<string>({ highWaterBytes: 10, source: flow });
    expect(q.poll()).toBeUndefined();
    q.push('a', 8);
    q.push('b', 8);
    expect(calls).toEqual(['pause']);
    expect(q.poll()).toBe('a');
    expect(calls).toEqual(['pause']); // 8 left: not below 5
    expect(q.poll()).toBe('b');
    expect(calls).toEqual(['pause', 'resume']);
    expect(q.poll()).toBeUndefined();
    expect(q.bytes).toBe(0);
  });

  it('delivers every item pushed before an error, then rejects with it (again on every call)', async () => {
    const { flow } = source();
    const q = new ByteBoundedQueue<string>({ highWaterBytes: 100, source: flow });
    const boom = new Error('socket reset');
    q.push('a', 1);
    q.push('b', 1);
    q.end(boom);
    q.end(new Error('later')); // the first end wins
    q.push('c', 1); // ignored once ended
    expect(q.error).toBe(boom);
    expect(await q.next()).toEqual({ value: 'a', done: false });
    expect(await q.next()).toEqual({ value: 'b', done: false });
    await expect(q.next()).rejects.toBe(boom);
    await expect(q.next()).rejects.toBe(boom);
  });

  it('wakes a waiting consumer with the error when it ends empty', async () => {
    const { flow } = source();
    const q = new ByteBoundedQueue<string>({ highWaterBytes: 100, source: flow });
    const waiting = q.next();
    await flush();
    const boom = new Error('gone');
    q.end(boom);
    await expect(waiting).rejects.toBe(boom);
  });

  it('abort drops what is buffered and ends a waiting or later consumer', async () => {
    const { flow } = source();
    const q = new ByteBoundedQueue<string>({ highWaterBytes: 100, source: flow });
    q.push('a', 1);
    q.push('b', 1);
    q.abort();
    expect(q.length).toBe(0);
    expect(q.bytes).toBe(0);
    expect(await q.next()).toEqual({ value: undefined, done: true });

    const q2 = new ByteBoundedQueue<string>({ highWaterBytes: 100, source: flow });
    const waiting = q2.next();
    await flush();
    q2.abort();
    expect(await waiting).toEqual({ value: undefined, done: true });
  });

  it('abort keeps an error the queue already ended with', async () => {
    const { flow } = source();
    const q = new ByteBoundedQueue<string>({ highWaterBytes: 100, source: flow });
    const boom = new Error('boom');
    q.push('a', 1);
    q.end(boom);
    q.abort();
    await expect(q.next()).rejects.toBe(boom);
  });

  it('leaving a for-await loop aborts the queue', async () => {
    const { flow } = source();
    const q = new ByteBoundedQueue<number>({ highWaterBytes: 100, source: flow });
    q.push(1, 1);
    q.push(2, 1);
    for await (const item of q) {
      expect(item).toBe(1);
      break;
    }
    expect(q.ended).toBe(true);
    expect(q.length).toBe(0);
  });

  it('keeps order and byte count across the internal compaction of long runs', async () => {
    const { flow, calls } = source();
    const q = new ByteBoundedQueue<number>({ highWaterBytes: 1_000_000, source: flow });
    const size = (i: number) => (i % 7) + 1;
    const sum = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => size(from + k)).reduce((a, b) => a + b, 0);
    const out: number[] = [];
    for (let i = 0; i < 6000; i++) q.push(i, size(i));
    for (let i = 0; i < 5000; i++) {
      out.push((await q.next()).value as number);
      if (i === 4500) expect(q.bytes).toBe(sum(4501, 6000));
    }
    for (let i = 6000; i < 15000; i++) q.push(i, size(i));
    expect(q.bytes).toBe(sum(5000, 15000));
    expect(q.length).toBe(10000);
    q.end();
    for await (const item of q) {
      out.push(item);
      if (item === 12000) expect(q.bytes).toBe(sum(12001, 15000));
    }
    expect(out).toEqual(Array.from({ length: 15000 }, (_, i) => i));
    expect(q.bytes).toBe(0);
    expect(calls).toEqual([]);
  });

  it('refuses a low-water mark above the high-water mark', () => {
    expect(() => new ByteBoundedQueue({ highWaterBytes: 10, lowWaterBytes: 11, source: source().flow })).toThrow(RangeError);
  });
});
