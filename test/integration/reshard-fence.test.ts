import { endpointOf } from '../../src/migrate/index.js';
import { openRawRowSession, type RawRowSession } from '../../src/net/index.js';
import { flipFence, installFence, isFenced } from '../../src/reshard/fence-steps.js';
import type { MovedTable } from '../../src/reshard/moved-tables.js';
import { MOVE_FENCE_SQLSTATE } from '../../src/shard/index.js';
import { testConfig } from '../support/cluster.js';

const config = testConfig();
const DB = 'shardline_fence_test';
const META = 'shardline_fence_test_meta';
const MOVE = 'move-fence-test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a statement ended with: 'ok', the fence, or another error. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    const e = err as { sqlState?: string; errno?: number; message: string };
    return e.sqlState === MOVE_FENCE_SQLSTATE ? 'fenced' : `error ${e.errno}: ${e.message}`;
  }
}

/**
 * A shard move's write fence on each server flavour, with the move's own account: triggers on a
 * table of a private database, the fence row flipped while a transaction that already wrote is
 * in flight. That transaction commits (the flip waits for it); every write after the flip fails
 * with the fence's SQLSTATE — including one of a transaction whose snapshot predates the flip.
 */
describe.each(['shard-0', 'shard-1', 'shard-2'])('write fence on %s', (name) => {
  const inst = config.instances.find((i) => i.name === name)!;
  const table: MovedTable = { logical: 't', shard: 0, database: DB, table: 't', key: `${DB}.t` };
  const sessions: RawRowSession[] = [];
  const open = async () => {
    const s = await openRawRowSession(endpointOf(inst));
    sessions.push(s);
    return s;
  };

  beforeAll(async () => {
    const s = await open();
    await s.query(`DROP DATABASE IF EXISTS ${DB}`);
    await s.query(`DROP DATABASE IF EXISTS ${META}`);
    await s.query(`CREATE DATABASE ${DB}`);
    await s.query(`CREATE TABLE ${DB}.t (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB`);
    await s.query(`INSERT INTO ${DB}.t VALUES (1, 1), (2, 2)`);
  });

  afterAll(async () => {
    const s = sessions[0];
    await s?.query(`DROP DATABASE IF EXISTS ${DB}`);
    await s?.query(`DROP DATABASE IF EXISTS ${META}`);
    await Promise.all(sessions.map((x) => x.close().catch(() => undefined)));
  });

  it('lets writers through until the flip, waits for those in flight, then fences every write', async () => {
    const [admin, a, b] = [sessions[0]!, await open(), await open()];
    const two = [admin, a];
    await installFence(two, inst.flavour, META, MOVE, [table], 5);
    await installFence(two, inst.flavour, META, MOVE, [table], 5); // idempotent: a resumed move runs it again
    expect(await isFenced(admin, META, MOVE)).toBe(false);
    expect(await outcome(a.query(`INSERT INTO ${DB}.t VALUES (3, 3)`))).toBe('ok');

    const inFlight = await open();
    await inFlight.query('START TRANSACTION');
    await inFlight.query(`UPDATE ${DB}.t SET v = 10 WHERE id = 1`);
    const oldSnapshot = await open();
    await oldSnapshot.query('START TRANSACTION WITH CONSISTENT SNAPSHOT');
    await oldSnapshot.query(`SELECT COUNT(*) FROM ${DB}.t`);

    let flipped = false;
    const flip = flipFence(await open(), META, MOVE, 10).then(() => (flipped = true));
    await sleep(400);
    expect(flipped).toBe(false); // a writer holds the fence row: the flip waits for its commit
    const during = outcome(b.query(`INSERT INTO ${DB}.t VALUES (4, 4)`));
    await sleep(100);
    expect(await outcome(inFlight.query(`UPDATE ${DB}.t SET v = 20 WHERE id = 2`))).toBe('ok');
    await inFlight.query('COMMIT');
    await flip;
    expect(flipped).toBe(true);
    expect(await during).toBe('fenced');
    expect(await isFenced(admin, META, MOVE)).toBe(true);

    expect(await outcome(a.query(`INSERT INTO ${DB}.t VALUES (5, 5)`))).toBe('fenced');
    expect(await outcome(a.query(`UPDATE ${DB}.t SET v = 0`))).toBe('fenced');
    expect(await outcome(a.query(`DELETE FROM ${DB}.t WHERE id = 3`))).toBe('fenced');
    expect(await outcome(a.query(`REPLACE INTO ${DB}.t VALUES (1, 99)`))).toBe('fenced');
    // its snapshot still shows the fence row unfenced; the locking read does not
    expect(await outcome(oldSnapshot.query(`UPDATE ${DB}.t SET v = 30 WHERE id = 3`))).toBe('fenced');
    await oldSnapshot.query('ROLLBACK');

    const rows = await admin.query<{ id: number; v: number }>(`SELECT id, v FROM ${DB}.t ORDER BY id`);
    expect(rows.map((r) => [Number(r.id), Number(r.v)])).toEqual([
      [1, 10],
      [2, 20],
      [3, 3],
    ]);
    // the flip again (a resumed move) returns at once
    await flipFence(admin, META, MOVE, 1);
  }, 60_000);

  it('fails closed when the fence row is gone', async () => {
    const admin = sessions[0]!;
    await admin.query(`DELETE FROM ${META}.reshard_fence WHERE move = ?`, [MOVE]);
    expect(await outcome(admin.query(`INSERT INTO ${DB}.t VALUES (6, 6)`))).toBe('fenced');
  });

  it('gives up installing behind a transaction that holds a moving table open, within lockWaitS, and leaves writes alone', async () => {
    const admin = sessions[0]!;
    const t2: MovedTable = { logical: 't', shard: 0, database: DB, table: 't2', key: `${DB}.t2` };
    await admin.query(`CREATE TABLE ${DB}.t2 (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB`);
    const holder = await open();
    await holder.query('START TRANSACTION');
    await holder.query(`SELECT COUNT(*) FROM ${DB}.t2`);
    const t0 = Date.now();
    await expect(installFence([await open()], inst.flavour, META, 'move-other', [t2], 1)).rejects.toMatchObject({ errno: 1205 });
    expect(Date.now() - t0).toBeLessThan(5000);
    await holder.query('ROLLBACK');
    expect(await outcome(admin.query(`INSERT INTO ${DB}.t2 VALUES (1, 1)`))).toBe('ok');
  }, 30_000);
});
