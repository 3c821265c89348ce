import { streamMerge, type OpenedStream } from '../../src/executor/index.js';
import type { FieldInfo, Row } from '../../src/net/index.js';
import type { MergeSpec } from '../../src/sql/index.js';

/** A fake round trip: its rows, whether it was opened and closed, how many rows were read. */
function fake(rows: Row[], fields: FieldInfo[] = []) {
  const state = { opened: false, closed: false, read: 0 };
  const open = async (): Promise<OpenedStream> => {
    state.opened = true;
    return {
      rows: {
        fields,
        async *[Symbol.asyncIterator]() {
          for (const r of rows) {
            state.read++;
            yield r;
          }
        },
      },
      close: async () => {
        state.closed = true;
      },
    };
  };
  return { open, state };
}

const collect = async (it: AsyncIterable<Row>, stopAfter = Infinity) => {
  const out: Row[] = [];
  for await (const r of it) {
    out.push(r);
    if (out.length >= stopAfter) break;
  }
  return out;
};

describe('streamMerge', () => {
  it('concatenates one round trip at a time and stops at LIMIT, closing what it opened', async () => {
    const a = fake([{ k: 1 }, { k: 2 }]);
    const b = fake([{ k: 3 }, { k: 4 }]);
    const c = fake([{ k: 5 }]);
    const merge: MergeSpec = { kind: 'concat', limit: 3 };
    expect(await collect(streamMerge(merge, [a.open, b.open, c.open]))).toEqual([{ k: 1 }, { k: 2 }, { k: 3 }]);
    expect([a.state.closed, b.state.closed, c.state.opened]).toEqual([true, true, false]);
  });

  it('merges sorted round trips by collation weight with OFFSET, without the hidden columns, and closes all on an early stop', async () => {
    const text: FieldInfo[] = [{ name: 't', type: 253 }];
    const row = (t: string, w: string) => ({ t, w0: Buffer.from(w), c0: 'utf8mb4_general_ci' });
    const a = fake([row('apple', 'A'), row('Cherry', 'C'), row('egg', 'E')], text);
    const b = fake([row('Banana', 'B'), row('dog', 'D')], text);
    const merge: MergeSpec = {
      kind: 'sorted',
      orderBy: [{ column: 't', desc: false, weight: 'w0', collation: 'c0' }],
      limit: null,
      offset: 1,
    };
    expect(await collect(streamMerge(merge, [a.open, b.open]))).toEqual([{ t: 'Banana' }, { t: 'Cherry' }, { t: 'dog' }, { t: 'egg' }]);
    const a2 = fake([row('apple', 'A'), row('Cherry', 'C'), row('egg', 'E')], text);
    const b2 = fake([row('Banana', 'B'), row('dog', 'D')], text);
    expect(await collect(streamMerge({ ...merge, offset: 0 }, [a2.open, b2.open]), 2)).toEqual([{ t: 'apple' }, { t: 'Banana' }]);
    expect([a2.state.closed, b2.state.closed, a2.state.read < 3]).toEqual([true, true, true]);
  });

  it('closes the round trips it opened when another fails to open', async () => {
    const a = fake([{ k: 1 }]);
    const failing = async (): Promise<OpenedStream> => {
      throw new Error('pool exhausted');
    };
    const merge: MergeSpec = {
      kind: 'sorted',
      orderBy: [{ column: 'k', desc: false, weight: 'w', collation: 'c' }],
      limit: null,
      offset: 0,
    };
    await expect(collect(streamMerge(merge, [a.open, failing]))).rejects.toThrow('pool exhausted');
    expect(a.state.closed).toBe(true);
  });
});
