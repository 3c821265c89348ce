import { setImmediate as nextTurn } from 'node:timers/promises';
import { coalescedCommitOffsets, type OffsetCommitter } from '../../src/cdc/kafka/kafkajs-offset-commits.js';

/** A stand-in OffsetManager: resolved offsets, and commits that stay open until the test settles them. */
class FakeOffsets implements OffsetCommitter {
  resolved = new Map<number, number>();
  committed = new Map<number, number>();
  requests: { payload: [number, number][]; settle: (err?: Error) => void }[] = [];

  commitOffsets(offsets?: { topics?: unknown[] }): Promise<void> {
    const payload: [number, number][] = offsets?.topics
      ? (offsets.topics as [number, number][])
      : [...this.resolved].filter(([p, o]) => this.committed.get(p) !== o);
    if (payload.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) =>
      this.requests.push({
        payload,
        settle: (err) => {
          if (err) return reject(err);
          for (const [p, o] of payload) this.committed.set(p, o);
          resolve();
        },
      }),
    );
  }
}

function patched(): FakeOffsets {
  const m = new FakeOffsets();
  m.commitOffsets = coalescedCommitOffsets(FakeOffsets.prototype.commitOffsets) as FakeOffsets['commitOffsets'];
  return m;
}

describe('kafkajs OffsetManager#commitOffsets, concurrent commits coalesced', () => {
  it('the batches of a fetch finishing together: one commit, then one trailing commit for all the others', async () => {
    const m = patched();
    const calls: Promise<void>[] = [];
    for (let p = 0; p < 12; p++) {
      m.resolved.set(p, 100 + p);
      calls.push(m.commitOffsets());
    }
    expect(m.requests).toHaveLength(1);
    expect(m.requests[0]!.payload).toEqual([[0, 100]]);
    m.requests[0]!.settle();
    await calls[0];
    await nextTurn();
    expect(m.requests).toHaveLength(2);
    expect(m.requests[1]!.payload.map(([p]) => p)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    m.requests[1]!.settle();
    await Promise.all(calls);
    expect(m.committed.size).toBe(12);
  });

  it('a caller returns only after a commit that holds its offset', async () => {
    const m = patched();
    m.resolved.set(0, 1);
    const first = m.commitOffsets();
    m.resolved.set(1, 5);
    let secondDone = false;
    const second = m.commitOffsets().then(() => (secondDone = true));
    m.requests[0]!.settle();
    await first;
    expect(secondDone).toBe(false);
    await nextTurn();
    m.requests[1]!.settle();
    await second;
    expect(m.committed.get(1)).toBe(5);
  });

  it('a failed commit fails its caller; the callers waiting behind it get a commit of their own', async () => {
    const m = patched();
    m.resolved.set(0, 1);
    const first = m.commitOffsets();
    const second = m.commitOffsets();
    m.requests[0]!.settle(new Error('coordinator moved'));
    await expect(first).rejects.toThrow('coordinator moved');
    await nextTurn();
    expect(m.requests).toHaveLength(2);
    expect(m.requests[1]!.payload).toEqual([[0, 1]]);
    m.requests[1]!.settle();
    await second;
    expect(m.committed.get(0)).toBe(1);
  });

  it('explicit offsets are committed as given, never coalesced', async () => {
    const m = patched();
    m.resolved.set(0, 1);
    const auto = m.commitOffsets();
    const explicit = m.commitOffsets({ topics: [[7, 70]] });
    expect(m.requests.map((r) => r.payload)).toEqual([[[0, 1]], [[7, 70]]]);
    for (const r of m.requests) r.settle();
    await Promise.all([auto, explicit]);
  });
});
