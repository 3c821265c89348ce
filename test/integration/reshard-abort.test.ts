import { setTimeout as sleep } from 'node:timers/promises';
import { createRouter } from '../../src/index.js';
import { openMysqlSession } from '../../src/net/index.js';
import { shardline, shardlineFailing, testConfig } from '../support/cluster.js';
import { moveHeldAtFailpoint, settleMoves } from '../support/reshard-settle.js';

// `reshard abort`: an unfinished move that has not published its map is undone — its fence
// triggers and row on the source (writes resume if it was fenced), its copies on the target — and
// recorded as aborted, so the next move is not refused. Refused while another process runs the
// move (the move's lock on the target) and once there is nothing to abort.
const config = testConfig();
const portOf = (name: string) => config.instances.find((i) => i.name === name)!.port;
const SHARDS = [900, 901];
const LIST = '900-901';
const TABLES = SHARDS.flatMap((s) =>
  ['users', 'orders'].map((t) => ({
    database: `app_${String(Math.floor((s * 16) / 1024)).padStart(2, '0')}`,
    table: `${t}_${String(s).padStart(4, '0')}`,
  })),
);
let router: Awaited<ReturnType<typeof createRouter>>;
const uids: bigint[] = [];

interface Status {
  moves: { id: string; shards: string; from: string; to: string; phase: string }[];
}
const status = () => JSON.parse(shardline('reshard', 'status', '--json')) as Status;

async function onNode<T>(
  name: string,
  fn: (q: (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>) => Promise<T>,
): Promise<T> {
  const s = await openMysqlSession({ host: '127.0.0.1', port: portOf(name), user: 'root', password: '' });
  try {
    return await fn((sql, params = []) => s.query<Record<string, unknown>>(sql, params));
  } finally {
    await s.close();
  }
}

const tablesOn = (name: string) =>
  onNode(
    name,
    async (q) =>
      (
        await q(
          `SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) AS t FROM information_schema.TABLES WHERE (TABLE_SCHEMA, TABLE_NAME) IN (${TABLES.map(() => '(?, ?)').join(', ')})`,
          TABLES.flatMap((t) => [t.database, t.table]),
        )
      ).length,
  );
const fenceTriggersOn = (name: string) =>
  onNode(
    name,
    async (q) => (await q("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_NAME LIKE '\\_sl\\_fence\\_%'")).length,
  );

beforeAll(async () => {
  shardline('migrate');
  settleMoves();
  router = await createRouter(config);
  for (let u = 9_380_000_000_000_000n; uids.length < 40; u++) if (SHARDS.includes(router.topology.shardOf(u))) uids.push(u);
  await router.query(
    `INSERT INTO users (uid, name, email, balance) VALUES ${uids.map(() => "(?, 'abort', 'a@example.com', '1.00')").join(', ')}`,
    uids,
  );
}, 300_000);

afterEach(() => settleMoves(), 600_000);

afterAll(async () => {
  await router.query(`DELETE FROM users WHERE uid IN (${uids.join(',')})`).catch(() => undefined);
  await router.close();
});

it('aborts a move stopped after verify: its copies on the target go, the next move may start, nothing is left to abort', async () => {
  const before = await fenceTriggersOn('shard-3');
  const stopped = JSON.parse(shardline('reshard', 'move', '--shards', LIST, '--to', 'shard-4', '--until', 'verify', '--json')) as {
    id: string;
    phase: string;
  };
  expect(stopped.phase).toBe('cutover');
  expect(await tablesOn('shard-4')).toBe(TABLES.length);

  const aborted = JSON.parse(shardline('reshard', 'abort', '--json')) as Record<string, unknown>;
  expect(aborted).toEqual({
    id: stopped.id,
    kind: 'move',
    shards: LIST,
    from: 'shard-3',
    to: 'shard-4',
    phase: 'cutover',
    triggers_dropped: 0,
    tables_dropped: TABLES.length,
  });
  expect(await tablesOn('shard-4')).toBe(0);
  expect(await tablesOn('shard-3')).toBe(TABLES.length);
  expect(await fenceTriggersOn('shard-3')).toBe(before);
  expect(status().moves.find((m) => m.id === stopped.id)!.phase).toBe('aborted');
  expect(shardlineFailing('reshard', 'abort')).toMatchObject({
    code: 'RESHARD_FAILED',
    message: expect.stringContaining('no unfinished shard move'),
  });
  // an aborted move refuses nothing: another move is planned (and this one is not resumed)
  expect(JSON.parse(shardline('reshard', 'move', '--shards', '902', '--to', 'shard-4', '--dry-run', '--json'))).toMatchObject({
    shards: '902',
  });
}, 300_000);

it('a fenced move is refused while its process holds it, then aborted: the fence goes and writes to its shards resume', async () => {
  const { child, exited } = await moveHeldAtFailpoint(LIST, 'reshard.fenced');
  try {
    // the move's process still runs (held at the failpoint): it holds the move's lock
    expect(shardlineFailing('reshard', 'abort')).toMatchObject({
      code: 'RESHARD_FAILED',
      message: expect.stringContaining('being run by another process'),
    });
    const write = router.query("UPDATE users SET name = 'fenced?' WHERE uid = ?", [uids[0]!]);
    const outcome = await Promise.race([
      write.then(
        () => 'written',
        (e: { code?: string }) => e.code ?? 'error',
      ),
      sleep(1500).then(() => 'waiting'),
    ]);
    expect(outcome).not.toBe('written');
    await write.catch(() => undefined);
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
  expect(await fenceTriggersOn('shard-3')).toBeGreaterThanOrEqual(TABLES.length * 3);
  const aborted = JSON.parse(shardline('reshard', 'abort', '--json')) as {
    triggers_dropped: number;
    tables_dropped: number;
    phase: string;
  };
  expect(aborted).toMatchObject({ phase: 'cutover', triggers_dropped: TABLES.length * 3, tables_dropped: TABLES.length });
  await router.query("UPDATE users SET name = 'after abort' WHERE uid = ?", [uids[0]!]);
  const [row] = await router.select<{ name: string }>('SELECT name FROM users WHERE uid = ?', [uids[0]!]);
  expect(row).toEqual({ name: 'after abort' });
  expect(await tablesOn('shard-4')).toBe(0);
  const counted = await router.select<{ n: bigint }>(`SELECT COUNT(*) AS n FROM users WHERE uid IN (${uids.join(',')})`);
  expect(counted).toEqual([{ n: BigInt(uids.length) }]);
}, 300_000);
