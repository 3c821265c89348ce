import { checkAbortable } from '../../src/reshard/move-abort.js';
import { isUnfinished, type MoveState } from '../../src/reshard/index.js';
import { ShardMap } from '../../src/shard/index.js';

const state = { id: 'move-1', shards: [768, 769], from: 'shard-3', to: 'shard-4', mapVersion: 3 } as MoveState;
const planned = new ShardMap(3, 1024, [
  { from: 0, to: 767, instance: 'shard-0' },
  { from: 768, to: 1023, instance: 'shard-3' },
]);

describe('checkAbortable', () => {
  it('lets a move be aborted while the map it was planned on is in force', () => {
    expect(() => checkAbortable(state, planned)).not.toThrow();
  });

  it('refuses once a later map gives the shards to the target (routers may write there)', () => {
    const published = planned.reassign([768, 769], 'shard-4');
    expect(published.version).toBeGreaterThan(3);
    expect(() => checkAbortable(state, published)).toThrow(
      expect.objectContaining({ code: 'RESHARD_FAILED', message: expect.stringMatching(/cannot be aborted.*reshard rollback/) }),
    );
  });

  it('a later map that does not give them to the target (another change) does not block the abort', () => {
    expect(() => checkAbortable(state, planned.reassign([0], 'shard-1'))).not.toThrow();
  });
});

describe('isUnfinished', () => {
  it.each([
    ['copy', true],
    ['cutover', true],
    ['done', false],
    ['aborted', false],
  ] as const)('%s → %s', (phase, unfinished) => {
    expect(isUnfinished({ phase })).toBe(unfinished);
  });
});
