import { filterAbortedMessages } from '../../src/cdc/kafka/kafkajs-loader.js';

const rec = (offset: number, producerId: number, marker?: 'abort' | 'commit') => ({
  offset: String(offset),
  key: marker ? Buffer.from([0, 0, 0, marker === 'abort' ? 0 : 1]) : Buffer.from('k'),
  batchContext: { producerId: String(producerId), inTransaction: true },
});

describe('read_committed filter for kafkajs', () => {
  it('drops records of every aborted transaction, whatever order the broker lists them in', () => {
    // p1 aborts a transaction that started first; p2 aborts one that started later but ended first.
    const messages = [
      rec(10, 1),
      rec(11, 2),
      rec(12, 3),
      rec(13, 2),
      rec(14, 2, 'abort'),
      rec(15, 3),
      rec(16, 3, 'commit'),
      rec(17, 1),
      rec(18, 1, 'abort'),
      rec(19, 1),
    ];
    const kept = filterAbortedMessages({
      messages,
      abortedTransactions: [
        { producerId: '2', firstOffset: '11' },
        { producerId: '1', firstOffset: '10' },
      ],
    });
    expect(kept.filter((m) => m.key?.toString() === 'k').map((m) => Number(m.offset))).toEqual([12, 15, 19]);
  });

  it('keeps everything when nothing was aborted', () => {
    const messages = [rec(1, 1), rec(2, 1, 'commit')];
    expect(filterAbortedMessages({ messages, abortedTransactions: [] })).toEqual(messages);
  });
});
