import type { Checkpoint } from '../../src/cdc/checkpoint/checkpoint.js';
import type { OutboundMessage } from '../../src/cdc/kafka/event-log.js';
import { IDLE_AFTER_MS, KafkaBatcher, type BatchAction } from '../../src/cdc/pipeline/kafka-batcher.js';
import { isShardlineError } from '../../src/errors/index.js';
import { prng } from '../support/prng.js';

const cp = (pos: number): Checkpoint => ({
  instance: 'i1',
  flavour: 'mysql',
  serverUuid: null,
  serverId: 1,
  file: 'binlog.000001',
  pos,
  gtidSet: null,
});
const msg = (id: string): OutboundMessage => ({ topic: 't', key: id, value: id });
const msgs = (...ids: string[]) => ids.map(msg);
const limits = { maxEvents: 5, maxMs: 100, sendChunk: 4 };

function thrown(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
}

describe('KafkaBatcher', () => {
  it('inserts snapshot messages between source transactions: opens a batch, sends full chunks, commits with the batch (no checkpoint of its own)', () => {
    const b = new KafkaBatcher(limits);
    expect(b.insert(msgs('r1', 'r2'), 1000)).toEqual([{ type: 'begin' }]);
    expect(b.insert(msgs('r3', 'r4', 'r5'), 1001)).toEqual([{ type: 'send', messages: msgs('r1', 'r2', 'r3', 'r4', 'r5') }]);
    expect(b.wait(1050, false)).toEqual({ type: 'until-due', ms: 50 });
    expect(b.flush()).toEqual([{ type: 'commit', messages: [], checkpoint: null, events: 5 }]);
    expect(b.insert([], 1500)).toEqual([]);
    expect(b.batchOpen).toBe(false);
    expect(b.begin(2000)).toEqual([{ type: 'begin' }]);
    expect(isShardlineError(thrown(() => b.insert(msgs('x'), 2001)))).toBe(true);
  });

  it('opens one Kafka transaction for the source transactions of a batch', () => {
    const b = new KafkaBatcher(limits);
    expect(b.begin(0)).toEqual([{ type: 'begin' }]);
    expect(b.commit(cp(10))).toEqual([]);
    expect(b.begin(1)).toEqual([]);
    expect(b.batchOpen).toBe(true);
  });

  it('buffers rows and sends them once sendChunk wait, inside the source transaction', () => {
    const b = new KafkaBatcher({ ...limits, maxEvents: 100 });
    b.begin(0);
    expect(b.rows(msgs('a', 'b', 'c'))).toEqual([]);
    expect(b.rows(msgs('d', 'e'))).toEqual([{ type: 'send', messages: msgs('a', 'b', 'c', 'd', 'e') }]);
    expect(b.rows(msgs('f'))).toEqual([]);
  });

  it('commits at the first source commit that reaches maxEvents, with the rest of the messages, that commit’s checkpoint and the batch’s event count', () => {
    const b = new KafkaBatcher(limits);
    b.begin(0);
    b.rows(msgs('a', 'b'));
    expect(b.commit(cp(10))).toEqual([]);
    b.begin(1);
    expect(b.rows(msgs('c', 'd', 'e'))).toEqual([{ type: 'send', messages: msgs('a', 'b', 'c', 'd', 'e') }]);
    b.rows(msgs('f'));
    expect(b.commit(cp(20))).toEqual([{ type: 'commit', messages: msgs('f'), checkpoint: cp(20), events: 6 }]);
    expect(b.batchOpen).toBe(false);
    expect(b.begin(2)).toEqual([{ type: 'begin' }]);
  });

  it('commits at once on a forced commit (stopping)', () => {
    const b = new KafkaBatcher(limits);
    b.begin(0);
    b.rows(msgs('a'));
    expect(b.commit(cp(10), true)).toEqual([{ type: 'commit', messages: msgs('a'), checkpoint: cp(10), events: 1 }]);
  });

  it('commits a batch without rows too (the checkpoint moves past uncaptured transactions)', () => {
    const b = new KafkaBatcher(limits);
    b.begin(0);
    b.commit(cp(10));
    expect(b.flush()).toEqual([{ type: 'commit', messages: [], checkpoint: cp(10), events: 0 }]);
    expect(b.flush()).toEqual([]);
  });

  it('tells how to wait: idle without a batch, without limit inside a source transaction, until maxMs after the batch opened, now when due or stopping', () => {
    const b = new KafkaBatcher(limits);
    expect(b.wait(1000, false)).toEqual({ type: 'idle', ms: IDLE_AFTER_MS });
    b.begin(1000);
    expect(b.wait(1050, false)).toEqual({ type: 'in-transaction' });
    expect(b.wait(1050, true)).toEqual({ type: 'in-transaction' });
    b.commit(cp(10));
    expect(b.wait(1030, false)).toEqual({ type: 'until-due', ms: 70 });
    expect(b.wait(1099, false)).toEqual({ type: 'until-due', ms: 1 });
    expect(b.wait(1100, false)).toEqual({ type: 'flush' });
    expect(b.wait(1030, true)).toEqual({ type: 'flush' });
    b.begin(1200); // a later source transaction joins the batch; its age still counts from 1000
    b.commit(cp(20));
    expect(b.wait(1201, false)).toEqual({ type: 'flush' });
  });

  it('refuses to commit inside a source transaction (retriable: the batch is read again)', () => {
    const b = new KafkaBatcher(limits);
    b.begin(0);
    b.rows(msgs('a'));
    const err = thrown(() => b.flush());
    expect(isShardlineError(err) && err.code === 'BINLOG_CONNECTION' && err.retriable).toBe(true);
  });

  it('refuses items out of order (not retriable)', () => {
    for (const bad of [
      (b: KafkaBatcher) => b.rows(msgs('a')),
      (b: KafkaBatcher) => b.commit(cp(1)),
      (b: KafkaBatcher) => (b.begin(0), b.begin(1)),
    ]) {
      const err = thrown(() => bad(new KafkaBatcher(limits)));
      expect(isShardlineError(err) && err.code === 'BINLOG_DECODE' && !err.retriable).toBe(true);
    }
  });

  it('reset() forgets the batch: the next begin opens a new Kafka transaction and nothing of the old one is sent', () => {
    const b = new KafkaBatcher(limits);
    b.begin(0);
    b.rows(msgs('a', 'b'));
    b.reset();
    expect(b.inTransaction).toBe(false);
    expect(b.begin(5)).toEqual([{ type: 'begin' }]);
    b.rows(msgs('c'));
    expect(b.commit(cp(10), true)).toEqual([{ type: 'commit', messages: msgs('c'), checkpoint: cp(10), events: 1 }]);
  });

  it('random streams: every Kafka transaction holds whole source transactions in order and ends with the checkpoint of its last one', () => {
    const random = prng(12);
    for (let run = 0; run < 100; run++) {
      const lim = {
        maxEvents: 1 + Math.floor(random() * 20),
        maxMs: 1 + Math.floor(random() * 50),
        sendChunk: 1 + Math.floor(random() * 8),
      };
      const b = new KafkaBatcher(lim);
      const source: string[][] = Array.from({ length: 1 + Math.floor(random() * 30) }, (_, t) =>
        Array.from({ length: Math.floor(random() * 6) }, (_, r) => `${t}.${r}`),
      );
      // A model of Kafka: messages of the open transaction, and what committed, with its checkpoints.
      let open: string[] | null = null;
      const committed: { ids: string[]; checkpoint: Checkpoint | null; events: number }[] = [];
      const apply = (actions: BatchAction[]) => {
        for (const a of actions) {
          if (a.type === 'begin') {
            if (open) throw new Error('begin while a Kafka transaction is open');
            open = [];
          } else {
            if (!open) throw new Error(`${a.type} without an open Kafka transaction`);
            open!.push(...a.messages.map((m) => m.key!));
            if (a.type === 'commit') {
              committed.push({ ids: open!, checkpoint: a.checkpoint, events: a.events });
              open = null;
            }
          }
        }
      };
      let now = 0;
      source.forEach((rows, t) => {
        now += Math.floor(random() * 20);
        const w = b.wait(now, false);
        if (w.type === 'flush' || (w.type === 'until-due' && random() < 0.3)) apply(b.flush());
        apply(b.begin(now));
        for (let i = 0; i < rows.length;) {
          const n = 1 + Math.floor(random() * 3);
          apply(b.rows(rows.slice(i, i + n).map(msg)));
          i += n;
        }
        expect(b.wait(now, false)).toEqual({ type: 'in-transaction' });
        apply(b.commit(cp(t)));
      });
      apply(b.flush());
      expect(open).toBeNull();
      // Oracle: the batches, concatenated, are the source rows in order; each batch ends at a source
      // commit (the checkpoint of the source transaction holding its last row, or a later empty one).
      expect(committed.flatMap((c) => c.ids)).toEqual(source.flat());
      let t = -1;
      for (const c of committed) {
        const last = c.checkpoint!.pos;
        expect(last).toBeGreaterThan(t);
        const txns = c.ids.map((id) => Number(id.split('.')[0]));
        expect(txns.every((x) => x > t && x <= last)).toBe(true);
        expect(c.events).toBe(c.ids.length);
        t = last;
      }
      expect(t).toBe(source.length - 1);
      // No batch goes on past maxEvents: only its last source transaction may cross it.
      for (const c of committed) {
        const lastTxn = c.ids.length ? source[Number(c.ids[c.ids.length - 1]!.split('.')[0])]!.length : 0;
        expect(c.ids.length - lastTxn).toBeLessThan(lim.maxEvents);
      }
    }
  });
});
