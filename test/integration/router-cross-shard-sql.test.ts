import { openMysqlSession, type MysqlSession } from '../../src/net/index.js';
import { createRouter, type Router, type SqlParam } from '../../src/index.js';
import type { ShardlineError } from '../../src/errors/index.js';
import { shardline, testConfig } from '../support/cluster.js';
import { settledBorrowed } from '../support/pool-settle.js';
import { prng } from '../support/prng.js';

/**
 * Cross-shard GROUP BY / HAVING / AVG / DISTINCT / COUNT(DISTINCT) / ORDER BY on text / OFFSET
 * checked against an oracle nobody here wrote: the same rows in one unsharded table on the archive
 * server (MySQL 8.0), queried with the same SQL text. Text compares under utf8mb4_general_ci
 * across all 1024 shards (MySQL and MariaDB), and under utf8mb4_0900_ai_ci (MySQL's default,
 * which MariaDB 10.11 lacks) across the shards of the MySQL instances.
 */
const config = testConfig();
const BASE = 8_200_000_000n;
const N = 3000;
const ORACLE_DB = 'it_cross_shard_oracle';
const QUERIES = Number(process.env.XS_QUERIES ?? 2000);
const NAMES = [
  'apple',
  'APPLE',
  'Apple',
  'Banana',
  'banana',
  'cherry',
  'Émile',
  'emile',
  'eve',
  'Zoë',
  'zoe',
  'zebra',
  'Ångström',
  'oscar',
  'Ölaf',
  'ñu',
  'nora',
  'ça',
  'cab',
  'ÇAB',
];
const STATUS = ['new', 'paid', 'shipped', 'cancelled'];

let router: Router;
let oracle: MysqlSession;
let mysqlUids: bigint[] = [];

interface User {
  uid: bigint;
  name: string;
  email: string | null;
  balance: string;
}
interface Order {
  uid: bigint;
  order_id: number;
  amount: string | null;
  status: string | null;
}

function dataset(): { users: User[]; orders: Order[] } {
  const rand = prng(20261205);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const users: User[] = [];
  const orders: Order[] = [];
  for (let i = 0; i < N; i++) {
    const uid = BASE + BigInt(i);
    users.push({
      uid,
      name: pick(NAMES),
      email: rand() < 0.2 ? null : `${pick(['a', 'b', 'c', 'd', 'e'])}@example.com`,
      balance: `${Math.floor(rand() * 5000) - 500}.${String(Math.floor(rand() * 100)).padStart(2, '0')}`,
    });
    const k = Math.floor(rand() * 4);
    for (let j = 1; j <= k; j++)
      orders.push({
        uid,
        order_id: j,
        amount: rand() < 0.1 ? null : `${Math.floor(rand() * 900)}.${String(Math.floor(rand() * 100)).padStart(2, '0')}`,
        status: rand() < 0.05 ? null : pick(STATUS),
      });
  }
  return { users, orders };
}

async function inBatches<T>(rows: readonly T[], size: number, fn: (batch: T[]) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < rows.length; i += size) await fn(rows.slice(i, i + size));
}

beforeAll(async () => {
  shardline('migrate');
  router = await createRouter(config);
  const range = [BASE, BASE + BigInt(N)];
  await router.query('DELETE FROM orders WHERE uid BETWEEN ? AND ?', range, { scatter: true });
  await router.query('DELETE FROM users WHERE uid BETWEEN ? AND ?', range, { scatter: true });
  const a = config.archive!;
  oracle = await openMysqlSession({ host: a.host, port: a.port, user: a.user, password: a.password });
  await oracle.query(`DROP DATABASE IF EXISTS ${ORACLE_DB}`);
  await oracle.query(`CREATE DATABASE ${ORACLE_DB}`);
  await oracle.query(`USE ${ORACLE_DB}`);
  await oracle.query(`CREATE TABLE users (
    uid BIGINT UNSIGNED PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(255) NULL, balance DECIMAL(18,2) NOT NULL DEFAULT 0,
    created_at DATETIME(6) NULL, updated_at DATETIME(6) NULL) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci`);
  await oracle.query(`CREATE TABLE orders (uid BIGINT UNSIGNED, order_id BIGINT UNSIGNED, amount DECIMAL(18,2),
    status ENUM('new','paid','shipped','cancelled'), created_at DATETIME(6), PRIMARY KEY (uid, order_id)) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci`);
  const { users, orders } = dataset();
  await inBatches(users, 300, async (b) => {
    const values = b.map(() => '(?, ?, ?, ?)').join(', ');
    const params = b.flatMap((u) => [u.uid, u.name, u.email, u.balance]);
    await router.query(`INSERT INTO users (uid, name, email, balance) VALUES ${values}`, params);
    await oracle.query(`INSERT INTO users (uid, name, email, balance) VALUES ${values}`, params);
  });
  await inBatches(orders, 300, async (b) => {
    const values = b.map(() => '(?, ?, ?, ?)').join(', ');
    const params = b.flatMap((o) => [o.uid, o.order_id, o.amount, o.status]);
    await router.query(`INSERT INTO orders (uid, order_id, amount, status) VALUES ${values}`, params);
    await oracle.query(`INSERT INTO orders (uid, order_id, amount, status) VALUES ${values}`, params);
  });
  const mysqlInstances = new Set(config.instances.filter((i) => i.flavour === 'mysql').map((i) => i.name));
  mysqlUids = users
    .map((u) => u.uid)
    .filter((uid) => mysqlInstances.has(router.explain('SELECT 1 FROM users WHERE uid = ?', [uid]).targets[0]!.instance));
}, 300_000);

afterAll(async () => {
  await oracle?.query(`DROP DATABASE IF EXISTS ${ORACLE_DB}`).catch(() => undefined);
  await oracle?.close();
  await router?.close();
});

/** Values as text; text folded to what both collations compare (case and accents), since a group shows any of its spellings. */
function canon(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (Buffer.isBuffer(v)) return `0x${v.toString('hex')}`;
  return String(v).normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}
const rowText = (r: Record<string, unknown>) => JSON.stringify(Object.entries(r).map(([k, v]) => [k, canon(v)]));

interface Generated {
  sql: string;
  params: SqlParam[];
  /** The ORDER BY fixes the order of every row (compare in order, else as multisets). */
  ordered: boolean;
}

/** Random cross-shard SELECTs over users and orders (a co-located join included), every column aliased. */
function generator(seed: number): () => Generated {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const chance = (p: number) => rand() < p;
  return () => {
    const mysqlOnly = chance(0.3);
    const text = (col: string) => (mysqlOnly ? col : `${col} COLLATE utf8mb4_general_ci`);
    const params: SqlParam[] = [];
    let where: string;
    if (mysqlOnly) {
      const subset = Array.from({ length: 20 + Math.floor(rand() * 100) }, () => pick(mysqlUids));
      where = `u.uid IN (${subset.map(() => '?').join(', ')})`;
      params.push(...subset);
    } else {
      where = 'u.uid BETWEEN ? AND ?';
      params.push(BASE, BASE + BigInt(N));
    }
    if (chance(0.3)) {
      where += ' AND u.balance > ?';
      params.push(`${Math.floor(rand() * 3000) - 500}.50`);
    }
    if (chance(0.15)) where += " AND u.email IS NOT NULL AND u.name <> 'eve'";
    const join = chance(0.25);
    const from = join ? 'users u JOIN orders o ON o.uid = u.uid' : 'users u';
    const shape = pick(['grouped', 'grouped', 'grouped', 'distinct', 'sorted', 'aggregate'] as const);
    if (shape === 'sorted') {
      const byText = chance(0.5);
      const order = byText ? `${text('u.name')}${chance(0.5) ? ' DESC' : ''}, u.uid` : `u.balance${chance(0.5) ? ' DESC' : ''}, u.uid`;
      const offset = chance(0.5) ? Math.floor(rand() * 200) : 0;
      const limit = 1 + Math.floor(rand() * 60);
      params.push(limit, offset);
      return {
        sql: `SELECT u.uid AS c_uid, u.name AS c_name, u.balance AS c_balance FROM ${from} WHERE ${where} ORDER BY ${order} LIMIT ? OFFSET ?`,
        params,
        ordered: true,
      };
    }
    const keyPool = [
      { expr: text('u.name'), text: true },
      { expr: 'u.uid % 7', text: false },
      { expr: 'FLOOR(u.balance / 1000)', text: false },
      { expr: text('u.email'), text: true },
      ...(join ? [{ expr: 'o.order_id', text: false }] : []),
    ];
    const keys = [...keyPool].sort(() => rand() - 0.5).slice(0, 1 + Math.floor(rand() * 2));
    if (shape === 'distinct') {
      const cols = keys.map((k, i) => `${k.expr} AS k${i}`).join(', ');
      const order = keys.map((_, i) => `k${i}${chance(0.3) ? ' DESC' : ''}`).join(', ');
      const limited = chance(0.5);
      if (limited) params.push(1 + Math.floor(rand() * 20), Math.floor(rand() * 10));
      return {
        sql: `SELECT DISTINCT ${cols} FROM ${from} WHERE ${where}${limited || chance(0.5) ? ` ORDER BY ${order}` : ''}${limited ? ' LIMIT ? OFFSET ?' : ''}`,
        params,
        ordered: limited,
      };
    }
    const aggPool = [
      'COUNT(*)',
      'COUNT(u.email)',
      'SUM(u.balance)',
      'AVG(u.balance)',
      'MIN(u.balance)',
      'MAX(u.balance)',
      `MIN(${text('u.name')})`,
      `MAX(${text('u.name')})`,
      'COUNT(DISTINCT u.uid % 13)',
      `COUNT(DISTINCT ${text('u.name')})`,
      ...(join ? ['SUM(o.amount)', 'AVG(o.amount)', 'COUNT(o.amount)', `MAX(${text('o.status')})`] : []),
    ];
    const aggs = [...aggPool].sort(() => rand() - 0.5).slice(0, 1 + Math.floor(rand() * 4));
    const aggCols = aggs.map((a, i) => `${a} AS a${i}`);
    if (shape === 'aggregate') return { sql: `SELECT ${aggCols.join(', ')} FROM ${from} WHERE ${where}`, params, ordered: true };
    const cols = [...keys.map((k, i) => `${k.expr} AS k${i}`), ...aggCols].join(', ');
    const groupBy = keys.map((_, i) => (chance(0.5) ? `k${i}` : String(i + 1))).join(', ');
    let having = '';
    if (chance(0.5)) {
      const conds = [
        () => {
          params.push(Math.floor(rand() * 30));
          return 'COUNT(*) > ?';
        },
        () => {
          params.push(`${Math.floor(rand() * 20000) - 2000}.25`);
          return 'SUM(u.balance) >= ?';
        },
        () => {
          params.push(Math.floor(rand() * 1500), 1500 + Math.floor(rand() * 3000));
          return 'AVG(u.balance) BETWEEN ? AND ?';
        },
        () => 'MAX(u.balance) - MIN(u.balance) > 1000',
        () => 'COUNT(u.email) IN (1, 2, 3, 5, 8, 13)',
      ];
      const n = 1 + Math.floor(rand() * 2);
      const parts = Array.from({ length: n }, () => pick(conds)());
      having = ` HAVING ${parts.join(chance(0.5) ? ' AND ' : ' OR ')}`;
    }
    const ordered = chance(0.6);
    let tail = '';
    if (ordered) {
      const byAgg = aggs.length > 0 && chance(0.5) ? [`a${Math.floor(rand() * aggs.length)}${chance(0.5) ? ' DESC' : ''}`] : [];
      const order = [...byAgg, ...keys.map((_, i) => `k${i}${chance(0.3) ? ' DESC' : ''}`)].join(', ');
      tail = ` ORDER BY ${order}`;
      if (chance(0.6)) {
        params.push(1 + Math.floor(rand() * 15), Math.floor(rand() * 8));
        tail += ' LIMIT ? OFFSET ?';
      }
    }
    return { sql: `SELECT ${cols} FROM ${from} WHERE ${where} GROUP BY ${groupBy}${having}${tail}`, params, ordered };
  };
}

describe('cross-shard SQL against an unsharded oracle', () => {
  it(`${QUERIES} random GROUP BY / HAVING / AVG / DISTINCT / COUNT(DISTINCT) / text ORDER BY / OFFSET queries agree with one table`, async () => {
    const next = generator(42);
    const mismatches: string[] = [];
    let rows = 0;
    let i = 0;
    const worker = async () => {
      while (i < QUERIES) {
        i++;
        const q = next();
        const [got, want] = await Promise.all([
          router.query(q.sql, q.params, { scatter: true }) as Promise<Record<string, unknown>[]>,
          oracle.query(q.sql, q.params),
        ]);
        rows += want.length;
        const g = got.map(rowText);
        const w = want.map(rowText);
        if (!q.ordered) {
          g.sort();
          w.sort();
        }
        if (JSON.stringify(g) !== JSON.stringify(w) && mismatches.length < 5)
          mismatches.push(`${q.sql.slice(0, 400)}\n  router: ${g.slice(0, 5).join(' ')}\n  oracle: ${w.slice(0, 5).join(' ')}`);
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    expect(mismatches).toEqual([]);
    expect(rows).toBeGreaterThan(QUERIES);
  }, 1_200_000);

  it('groups collation-equal spellings into one group and orders by the collation, not by bytes', async () => {
    const rows = (await router.query(
      'SELECT name COLLATE utf8mb4_general_ci AS n, COUNT(*) AS c FROM users WHERE uid BETWEEN ? AND ? GROUP BY n ORDER BY n',
      [BASE, BASE + BigInt(N)],
      { scatter: true },
    )) as { n: string; c: bigint }[];
    const folded = rows.map((r) => canon(r.n));
    expect(new Set(folded).size).toBe(folded.length);
    expect(folded.indexOf('zoe')).toBeGreaterThan(folded.indexOf('emile'));
    expect(folded.indexOf('angstrom')).toBe(0);
    const total = rows.reduce((s, r) => s + r.c, 0n);
    expect(total).toBe(BigInt(N));
  });

  it('refuses to merge text of two collations (MySQL utf8mb4_0900_ai_ci and MariaDB utf8mb4_general_ci) with a typed error', async () => {
    for (const sql of [
      'SELECT name, COUNT(*) FROM users WHERE uid BETWEEN ? AND ? GROUP BY name',
      'SELECT uid, name FROM users WHERE uid BETWEEN ? AND ? ORDER BY name, uid LIMIT 5',
      'SELECT COUNT(DISTINCT name) FROM users WHERE uid BETWEEN ? AND ?',
    ]) {
      const err = (await router.query(sql, [BASE, BASE + BigInt(N)], { scatter: true }).catch((e: unknown) => e)) as ShardlineError;
      expect([err.code, err.message]).toEqual([
        'SQL_UNSUPPORTED',
        expect.stringMatching(/utf8mb4_0900_ai_ci .* utf8mb4_general_ci|utf8mb4_general_ci .* utf8mb4_0900_ai_ci/),
      ]);
    }
  });

  it('bounds the groups a merge holds (SCATTER_TOO_LARGE) and the OFFSET it accepts', async () => {
    const small = await createRouter({ ...config, router: { ...config.router, scatter: { maxGroups: 100, maxOffset: 50 } } });
    try {
      const err = (await small
        .query('SELECT uid AS k, COUNT(*) AS c FROM users WHERE uid BETWEEN ? AND ? GROUP BY uid', [BASE, BASE + BigInt(N)], {
          scatter: true,
        })
        .catch((e: unknown) => e)) as ShardlineError;
      expect(err.code).toBe('SCATTER_TOO_LARGE');
      const off = (await small
        .query('SELECT uid FROM users WHERE uid BETWEEN ? AND ? ORDER BY uid LIMIT 5 OFFSET 51', [BASE, BASE + BigInt(N)], {
          scatter: true,
        })
        .catch((e: unknown) => e)) as ShardlineError;
      expect([off.code, off.message]).toEqual(['SQL_UNSUPPORTED', expect.stringContaining('maxOffset (50)')]);
      const ok = (await small.query(
        'SELECT uid FROM users WHERE uid BETWEEN ? AND ? ORDER BY uid LIMIT 2 OFFSET 50',
        [BASE, BASE + BigInt(N)],
        {
          scatter: true,
        },
      )) as { uid: bigint }[];
      expect(ok.map((r) => r.uid)).toEqual([BASE + 50n, BASE + 51n]);
    } finally {
      await small.close();
    }
  });
});

describe('router.paginate (keyset pages across shards)', () => {
  it.each([
    ['SELECT uid, name COLLATE utf8mb4_general_ci AS n FROM users WHERE uid BETWEEN ? AND ? ORDER BY n, uid', 97],
    ['SELECT uid, balance FROM users WHERE uid BETWEEN ? AND ? ORDER BY balance DESC, uid', 250],
    [
      'SELECT o.uid, o.order_id, o.amount FROM orders o WHERE o.uid BETWEEN ? AND ? AND o.amount IS NOT NULL ORDER BY o.amount, o.uid, o.order_id',
      400,
    ],
  ])('pages of %s equal the ordered result of one table', async (sql, pageSize) => {
    const params = [BASE, BASE + BigInt(N)];
    const got: string[] = [];
    let pages = 0;
    for await (const page of router.paginate(sql, params, { pageSize, scatter: true })) {
      pages++;
      expect(page.length).toBeLessThanOrEqual(pageSize);
      got.push(...page.map(rowText));
    }
    const want = ((await oracle.query(sql, params)) as Record<string, unknown>[]).map(rowText);
    expect(got).toEqual(want);
    expect(pages).toBe(Math.ceil(want.length / pageSize));
    expect(want.length).toBeGreaterThan(2 * pageSize);
  });

  it('refuses shapes keyset pages cannot follow, with typed errors', async () => {
    for (const [sql, message] of [
      ['SELECT uid FROM users WHERE uid BETWEEN ? AND ?', /needs an ORDER BY/],
      ['SELECT uid FROM users WHERE uid BETWEEN ? AND ? ORDER BY uid LIMIT 5', /must not have a LIMIT/],
      ['SELECT COUNT(*) FROM users WHERE uid BETWEEN ? AND ? ORDER BY 1', /aggregates are not paged/],
      ['SELECT uid FROM users WHERE uid BETWEEN ? AND ? ORDER BY LENGTH(name), uid', /column of the select list/],
    ] as const) {
      const pages = router.paginate(sql, [BASE, BASE + 10n], { pageSize: 10, scatter: true });
      const err = (await pages.next().catch((e: unknown) => e)) as ShardlineError;
      expect([err.code, err.message]).toEqual(['SQL_UNSUPPORTED', expect.stringMatching(message)]);
    }
    const bad = router.paginate('SELECT uid FROM users WHERE uid = ? ORDER BY uid', [BASE], { pageSize: 0 });
    expect(((await bad.next().catch((e: unknown) => e)) as ShardlineError).code).toBe('SQL_UNSUPPORTED');
  });
});

describe('router.stream (rows as they arrive, bounded memory)', () => {
  const params = () => [BASE, BASE + BigInt(N)];
  const borrowed = async () => (await settledBorrowed(router)).reduce((n, c) => n + c, 0);

  it('streams a scatter in any order and a sorted scatter in collation order, equal to one table', async () => {
    const all = 'SELECT u.uid AS c_uid, u.name AS c_name, u.balance AS c_balance FROM users u WHERE u.uid BETWEEN ? AND ?';
    const got: string[] = [];
    for await (const row of router.stream(all, params(), { scatter: true })) got.push(rowText(row));
    const want = ((await oracle.query(all, params())) as Record<string, unknown>[]).map(rowText);
    expect(got.sort()).toEqual(want.sort());
    const sorted = `${all} ORDER BY c_balance DESC, c_uid LIMIT 700 OFFSET 50`;
    const inOrder: string[] = [];
    for await (const row of router.stream(sorted, params(), { scatter: true })) inOrder.push(rowText(row));
    expect(inOrder).toEqual(((await oracle.query(sorted, params())) as Record<string, unknown>[]).map(rowText));
    const byText = `SELECT u.uid AS c_uid, u.name COLLATE utf8mb4_general_ci AS n FROM users u WHERE u.uid BETWEEN ? AND ? ORDER BY n, c_uid`;
    const texts: string[] = [];
    for await (const row of router.stream(byText, params(), { scatter: true })) texts.push(rowText(row));
    expect(texts).toEqual(((await oracle.query(byText, params())) as Record<string, unknown>[]).map(rowText));
    expect(await borrowed()).toBe(0);
  });

  it('gives every connection back when the loop stops early, and the router keeps working', async () => {
    for (const sql of [
      'SELECT uid, name FROM users WHERE uid BETWEEN ? AND ?',
      'SELECT uid, name FROM users WHERE uid BETWEEN ? AND ? ORDER BY uid DESC',
    ]) {
      const seen: unknown[] = [];
      for await (const row of router.stream(sql, params(), { scatter: true })) if (seen.push(row) === 10) break;
      expect(seen).toHaveLength(10);
      expect(await borrowed()).toBe(0);
    }
    const counted = await router.select('SELECT COUNT(*) AS c FROM users WHERE uid BETWEEN ? AND ?', params(), { scatter: true });
    expect(counted).toEqual([{ c: BigInt(N) }]);
  });

  it('yields a grouped result and refuses writes', async () => {
    const rows: unknown[] = [];
    for await (const row of router.stream('SELECT COUNT(*) AS c FROM users WHERE uid BETWEEN ? AND ?', params(), { scatter: true }))
      rows.push(row);
    expect(rows).toEqual([{ c: BigInt(N) }]);
    const w = router.stream('DELETE FROM users WHERE uid = ?', [BASE]);
    expect(((await w.next().catch((e: unknown) => e)) as ShardlineError).code).toBe('SQL_UNSUPPORTED');
  });
});
