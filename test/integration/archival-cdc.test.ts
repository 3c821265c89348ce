import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ALL_SECTIONS, loadClusterConfig, packageRoot, requireSections } from '../../src/config/index.js';
import { createRouter, type Router, type WriteResult } from '../../src/index.js';
import { openMysqlSession } from '../../src/net/index.js';
import { isShardlineError } from '../../src/errors/index.js';
import { retry } from '../../src/retry/index.js';
import { WorkerProcess, writeCdcTestConfig } from '../support/cdc.js';
import { shardline } from '../support/cluster.js';

// Issue 18 item 1 end to end: the archival job moves old rows out of the shards while a CDC worker
// streams every change, users write (and delete old rows) concurrently, and the job is killed -9
// twice. Afterwards the shards hold exactly the recent rows, the archive every row — the job's
// deletes marked `_archived = 1`, users' deletes `_deleted = 1` — and Elasticsearch follows each
// table's `archival.search` (users: drop, orders: keep). The oracle is what the test wrote.
const ROWS = Number(process.env['ARCHIVAL_ROWS'] ?? 1_000_000);
const NAME = `it_archival_${process.pid}`;
const file = writeCdcTestConfig(NAME, { batchMaxMs: 50 });
writeFileSync(
  file,
  readFileSync(file, 'utf8')
    .replace(
      'users: { shardKey: uid }',
      'users: { shardKey: uid, archival: { column: created_at, olderThan: 90d, batchRows: 500, maxRowsPerSecond: null, search: drop } }',
    )
    .replace(
      'orders: { shardKey: uid }',
      'orders: { shardKey: uid, archival: { column: created_at, olderThan: 90d, batchRows: 500, maxRowsPerSecond: null, search: keep } }',
    ),
);
const config = requireSections(loadClusterConfig(file), ALL_SECTIONS, 'the archival test');
const worker = new WorkerProcess(file, 19531);
const BASE = 9_800_000_000n + BigInt(process.pid % 1000) * 10_000_000n;
const archiveDb = config.archive.database;
let router: Router;

const OLD = '2020-01-01 00:00:00.000000';
const uidOf = (i: number) => BASE + BigInt(i);
/** 30 % of the rows are old: i % 10 < 3. */
const isOld = (i: number) => i % 10 < 3;

function archivalRun(): { child: ReturnType<typeof spawn>; done: Promise<{ code: number | null; out: string }> } {
  const child = spawn(process.execPath, [path.join(packageRoot, 'dist/cli/main.js'), 'archival', 'run', '--config', file, '--json'], {
    cwd: packageRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', () => undefined);
  return { child, done: new Promise((r) => child.once('exit', (code) => r({ code, out }))) };
}

/** Rows the archival job has marked on every instance (its marker rows). */
async function markedBatches(): Promise<number> {
  let n = 0;
  for (const i of config.instances) {
    const s = await openMysqlSession({ host: i.host, port: i.port, user: 'root', password: '' });
    try {
      const rows = await s
        .query<{ n: number | string }>(
          `SELECT COUNT(*) AS n FROM ${config.sharding.naming.metaDatabase}.archival_batches WHERE physical_table LIKE 'users%'`,
        )
        .catch(() => [{ n: 0 }]);
      n += Number(rows[0]!.n);
    } finally {
      await s.close();
    }
  }
  return n;
}

async function esCount(table: string, from: bigint, to: bigint): Promise<number> {
  const url = `${config.elasticsearch.node}/${config.cdc.elasticsearch.indexPrefix}${table}/_count`;
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: {
        bool: { filter: [{ range: { uid: { gte: String(from), lt: String(to) } } }], must_not: [{ term: { '_shardline.deleted': true } }] },
      },
    }),
  });
  const body = (await res.json()) as { count?: number };
  if (body.count === undefined) throw new Error(`ES count failed: ${JSON.stringify(body).slice(0, 300)}`);
  return body.count;
}

beforeAll(async () => {
  shardline('migrate');
  // `archival verify` sums every marker row of the shards: earlier runs' (other archives) are cleared
  for (const i of config.instances) {
    const s = await openMysqlSession({ host: i.host, port: i.port, user: 'root', password: '' });
    try {
      await s.query(`DELETE FROM ${config.sharding.naming.metaDatabase}.archival_batches`).catch(() => undefined);
    } finally {
      await s.close();
    }
  }
  worker.start();
  await worker.waitReading(config.instances.map((i) => i.name));
  router = await createRouter(config);
}, 180_000);

afterAll(async () => {
  await router?.query('DELETE FROM users WHERE uid >= ? AND uid < ?', [BASE, BASE + 10_000_000n], { scatter: true }).catch(() => undefined);
  await router
    ?.query('DELETE FROM orders WHERE uid >= ? AND uid < ?', [BASE, BASE + 10_000_000n], { scatter: true })
    .catch(() => undefined);
  await router?.close();
  await worker.stop();
});

/**
 * A verification read over every shard, tried again (up to 10 times, 3 s apart) after a
 * retriable failure: right after the load a busy instance on this 2-core host once took longer
 * than connectTimeoutMs to accept (ETIMEDOUT, breaker open). The test checks the data, not
 * availability under load; a non-retriable error or a wrong answer still fails it.
 */
const settled = <T>(read: () => Promise<T>): Promise<T> =>
  retry(read, {
    policy: { initialMs: 3000, maxMs: 3000, jitter: 'none' },
    maxAttempts: 10,
    onRetry: ({ error }) => {
      process.stderr.write(`[archival] verification read failed (${isShardlineError(error) ? error.code : 'error'}), again in 3 s\n`);
    },
  });

it(`archives ${ROWS} users (30 % old) and their orders under a concurrent write load and two kill -9s: shards, archive and Elasticsearch agree with the oracle`, async () => {
  const t0 = performance.now();
  // the rows: users 0..ROWS-1, an order for every tenth user (old with its user)
  for (let i = 0; i < ROWS; i += 2000) {
    const n = Math.min(2000, ROWS - i);
    const users: unknown[] = [];
    for (let k = i; k < i + n; k++) users.push(uidOf(k), `u${k}`, isOld(k) ? OLD : new Date().toISOString().slice(0, 23).replace('T', ' '));
    await router.query(
      `INSERT INTO users (uid, name, created_at) VALUES ${Array.from({ length: n }, () => '(?, ?, ?)').join(', ')}`,
      users as never,
    );
    const orders: unknown[] = [];
    for (let k = i; k < i + n; k += 10)
      orders.push(uidOf(k), 1, '9.99', 'paid', isOld(k) ? OLD : new Date().toISOString().slice(0, 23).replace('T', ' '));
    await router.query(
      `INSERT INTO orders (uid, order_id, amount, status, created_at) VALUES ${Array.from({ length: orders.length / 5 }, () => '(?, ?, ?, ?, ?)').join(', ')}`,
      orders as never,
    );
  }
  const loaded = performance.now();
  // users delete some old rows before the job (they stay user deletes)
  const userDeleted = new Set<number>();
  for (let k = 0; k < ROWS; k += 1000) {
    if (!isOld(k)) continue;
    await router.forUid(uidOf(k)).query('DELETE FROM users WHERE uid = ?', [uidOf(k)]);
    userDeleted.add(k);
  }
  // the dry run counts exactly and changes nothing
  const dry = JSON.parse(shardline('archival', 'run', '--config', file, '--dry-run', '--json')) as {
    tables: { table: string; rows_to_delete: number }[];
  };
  const oldUsers = Array.from({ length: ROWS }, (_, k) => k).filter((k) => isOld(k) && !userDeleted.has(k)).length;
  const oldOrders = Array.from({ length: Math.ceil(ROWS / 10) }, (_, j) => j * 10).filter(isOld).length;
  expect(Object.fromEntries(dry.tables.map((t) => [t.table, t.rows_to_delete]))).toMatchObject({ users: oldUsers, orders: oldOrders });

  // the concurrent load: new recent users, updates of recent ones, user deletes of old ones
  let stop = false;
  const raced = new Map<number, boolean>(); // old row a user deleted during the job → did the delete hit?
  let inserted = 0;
  const load = (async () => {
    let k = ROWS;
    let step = 0;
    while (!stop) {
      await router.forUid(uidOf(k)).query('INSERT INTO users (uid, name) VALUES (?, ?)', [uidOf(k), `new${k}`]);
      inserted++;
      k++;
      const recent = 10 * (step % Math.floor(ROWS / 10)) + 5;
      await router.forUid(uidOf(recent)).query('UPDATE users SET name = ? WHERE uid = ?', [`upd${step}`, uidOf(recent)]);
      const old = 10 * ((step * 7919) % Math.floor(ROWS / 10)) + 1;
      if (!raced.has(old) && !userDeleted.has(old)) {
        const r = (await router.forUid(uidOf(old)).query('DELETE FROM users WHERE uid = ?', [uidOf(old)])) as WriteResult;
        raced.set(old, r.affectedRows === 1);
      }
      step++;
    }
  })();

  // the job, killed -9 twice after it made progress, then run to the end
  for (let kill = 0; kill < 2; kill++) {
    const before = await markedBatches();
    const run = archivalRun();
    while ((await markedBatches()) < before + 20 && run.child.exitCode === null) await sleep(100);
    run.child.kill('SIGKILL');
    await run.done;
  }
  const last = archivalRun();
  const result = await last.done;
  stop = true;
  await load;
  expect(result.code).toBe(0);
  const summary = JSON.parse(result.out.trim().split('\n').pop()!) as { rows_deleted: number; rows_per_s: number };
  process.stderr.write(
    `[archival] ${ROWS} users loaded in ${((loaded - t0) / 1000).toFixed(1)} s; the last run deleted ${summary.rows_deleted} rows at ${summary.rows_per_s} rows/s; load: ${inserted} inserts, ${raced.size} racing user deletes (${[...raced.values()].filter(Boolean).length} hit)\n`,
  );

  // the shards: exactly the recent rows (and the load's), nothing old left
  const onShards = await settled(async () => {
    const found = new Set<bigint>();
    for await (const r of router.stream<{ uid: bigint }>('SELECT uid FROM users WHERE uid >= ? AND uid < ?', [BASE, BASE + 10_000_000n], {
      scatter: true,
    }))
      found.add(BigInt(r.uid));
    return found;
  });
  const expectedOnShards = new Set<bigint>();
  for (let k = 0; k < ROWS + inserted; k++) if (k >= ROWS || !isOld(k)) expectedOnShards.add(uidOf(k));
  expect(onShards.size).toBe(expectedOnShards.size);
  expect([...expectedOnShards].filter((u) => !onShards.has(u))).toEqual([]);
  const ordersLeft = await settled(() =>
    router.select<{ n: bigint | number }>('SELECT COUNT(*) AS n FROM orders WHERE uid >= ? AND uid < ?', [BASE, BASE + 10_000_000n], {
      scatter: true,
    }),
  );
  expect(Number(ordersLeft[0]!.n)).toBe(Math.ceil(ROWS / 10) - oldOrders);

  // the archive, once the sink caught up with every instance: every row, marked right
  const flags = new Map<bigint, [number, number]>();
  const rows = await router.analytics.query<{ uid: bigint | string; d: number | string; a: number | string }>(
    `SELECT uid, _deleted AS d, _archived AS a FROM ${archiveDb}.users WHERE uid >= ? AND uid < ?`,
    [BASE, BASE + 10_000_000n],
    { maxStalenessMs: 1_000, maxWaitMs: 600_000 },
  );
  for (const r of rows) flags.set(BigInt(r.uid), [Number(r.d), Number(r.a)]);
  expect(flags.size).toBe(ROWS + inserted);
  const wrong: string[] = [];
  for (let k = 0; k < ROWS + inserted; k++) {
    const f = flags.get(uidOf(k));
    const hitByUser = userDeleted.has(k) || raced.get(k) === true;
    const want: [number, number] = k < ROWS && isOld(k) ? (hitByUser ? [1, 0] : [0, 1]) : [0, 0];
    if (!f || f[0] !== want[0] || f[1] !== want[1]) wrong.push(`${k}: ${JSON.stringify(f)} != ${JSON.stringify(want)}`);
  }
  expect(wrong.slice(0, 20)).toEqual([]);
  const archivedOrders = await router.analytics.query<{ n: number | string }>(
    `SELECT COUNT(*) AS n FROM ${archiveDb}.orders WHERE uid >= ? AND uid < ? AND _archived = 1 AND _deleted = 0`,
    [BASE, BASE + 10_000_000n],
  );
  expect(Number(archivedOrders[0]!.n)).toBe(oldOrders);
  // the analytics views still show archived rows (history) but not deleted ones
  const visible = await router.analytics.query<{ n: number | string }>('SELECT COUNT(*) AS n FROM users WHERE uid >= ? AND uid < ?', [
    BASE,
    BASE + 10_000_000n,
  ]);
  expect(Number(visible[0]!.n)).toBe([...flags.values()].filter((f) => f[0] === 0).length);
  // includeArchived: false — the current views: exactly the rows the shards still hold
  const current = await router.analytics.query<{ uid: bigint | string }>(
    'SELECT uid FROM users WHERE uid >= ? AND uid < ?',
    [BASE, BASE + 10_000_000n],
    { includeArchived: false },
  );
  expect(current.length).toBe(onShards.size);
  expect(current.filter((r) => !onShards.has(BigInt(r.uid)))).toEqual([]);
  await expect(router.analytics.query('SELECT 1', [], { includeArchived: 'no' as unknown as boolean })).rejects.toMatchObject({
    code: 'SQL_UNSUPPORTED',
  });

  // Elasticsearch, once it applied everything up to a write made after the job on every instance
  const tokens: string[] = [];
  for (const i of config.instances) {
    const uid = [...Array(200).keys()]
      .map((j) => BASE + 9_000_000n + BigInt(j))
      .find((u) => router.topology.map.instanceOf(router.topology.shardOf(u)) === i.name);
    if (uid === undefined) continue;
    tokens.push(((await router.forUid(uid).query('INSERT INTO users (uid, name) VALUES (?, ?)', [uid, 'fence'])) as WriteResult).token!);
  }
  await router.indexed(tokens, { sink: 'elasticsearch', maxWaitMs: 600_000 });
  // users: drop — only the rows still on the shards are searchable (plus the fences)
  expect(await esCount('users', BASE, BASE + 9_000_000n)).toBe(expectedOnShards.size);
  // orders: keep — every order stays searchable
  expect(await esCount('orders', BASE, BASE + 10_000_000n)).toBe(Math.ceil(ROWS / 10));

  // verify: rows removed from the shards = rows marked archived
  const verify = JSON.parse(shardline('archival', 'verify', '--config', file, '--json')) as {
    tables: { table: string; removed_from_shards: number; marked_archived: number; difference: number }[];
  };
  for (const t of verify.tables) expect(t.difference).toBe(0);
}, 3_600_000);
