import { spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRouter } from '../../src/index.js';
import { packageRoot } from '../../src/config/index.js';
import { openMysqlSession } from '../../src/net/index.js';
import { shardline, shardlineFailing, testConfig } from '../support/cluster.js';
import { moveHeldAtFailpoint, settleMoves } from '../support/reshard-settle.js';

// Issue 17: a move killed -9 in each phase — its copy (polled), after a catch-up round, inside
// verify, right after the write fence, after publishing the new map on the target only (the
// last four at SHARDLINE_FAILPOINT points) — resumes where it stopped and ends equal to the source
// (compared row by row here, not by the move's own checksums); a row changed on the target behind
// the move's back is reported by verify and blocks the cut-over until it is undone.
const config = testConfig();
const runBase = 9_370_000_000_000_000n + BigInt(Date.now() % 1_000_000) * 1_000_000n;
const portOf = (name: string) => config.instances.find((i) => i.name === name)!.port;

interface Status {
  moves: {
    id: string;
    shards: string;
    from: string;
    to: string;
    phase: string;
    rows_copied: number;
    differences: number;
    error: string | null;
  }[];
}
const status = () => JSON.parse(shardline('reshard', 'status', '--json')) as Status;

/** Every row of a physical table on a node, in key order, as text. */
async function rowsOn(port: number, database: string, table: string): Promise<string[]> {
  const s = await openMysqlSession({ host: '127.0.0.1', port, user: 'root', password: '' });
  try {
    const rows = await s.query<Record<string, unknown>>(
      `SELECT uid, name, email, balance, created_at, updated_at FROM \`${database}\`.\`${table}\` ORDER BY uid`,
    );
    return rows.map((r) => JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
  } finally {
    await s.close();
  }
}

let router: Awaited<ReturnType<typeof createRouter>>;
const seeded = new Map<number, bigint[]>();

/** Inserts `perShard` users into each of `shards`. */
async function seed(shards: number[], perShard: number): Promise<void> {
  const want = new Set(shards);
  const batch: bigint[] = [];
  for (let u = runBase + BigInt(seeded.size) * 10_000_000n; [...want].some((s) => (seeded.get(s)?.length ?? 0) < perShard); u++) {
    const s = router.topology.shardOf(u);
    if (!want.has(s) || (seeded.get(s)?.length ?? 0) >= perShard) continue;
    seeded.set(s, [...(seeded.get(s) ?? []), u]);
    batch.push(u);
  }
  for (let i = 0; i < batch.length; i += 500) {
    const part = batch.slice(i, i + 500);
    await router.query(
      `INSERT INTO users (uid, name, email, balance) VALUES ${part.map(() => '(?, ?, ?, ?)').join(', ')}`,
      part.flatMap((u) => [u, `seed ${u}`, 'x@example.com', '3.25']),
    );
  }
}

beforeAll(async () => {
  shardline('migrate');
  settleMoves();
  router = await createRouter(config);
}, 300_000);

// a test that failed half-way must not leave its move unfinished (every later move would be refused)
afterEach(() => settleMoves(), 600_000);

afterAll(async () => {
  for (const [, uids] of seeded)
    for (let i = 0; i < uids.length; i += 500)
      await router.query(`DELETE FROM users WHERE uid IN (${uids.slice(i, i + 500).join(',')})`).catch(() => undefined);
  await router.close();
});

it('a move killed -9 during its copy resumes and ends equal to the source, row by row', async () => {
  await seed([832, 833, 834, 835], 3000);
  // progress rows of earlier moves of these shards stay on the target: wait for this move's own
  const earlier = status().moves.map((m) => m.id);
  const child = spawn(
    process.execPath,
    [
      path.join(packageRoot, 'dist/cli/main.js'),
      'reshard',
      'move',
      '--shards',
      '832-835',
      '--to',
      'shard-4',
      '--chunk-rows',
      '10',
      '--metrics-port',
      '19495',
      '--json',
    ],
    {
      cwd: packageRoot,
      stdio: 'ignore',
    },
  );
  const exited = new Promise((r) => child.once('exit', r));
  // the copy's progress rows on the target, read directly: kill once a few hundred rows are in
  const target = await openMysqlSession({ host: '127.0.0.1', port: portOf('shard-4'), user: 'root', password: '' });
  try {
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(10)) {
      const [row] = await target
        .query<{ n: string | null }>(
          `SELECT SUM(done_rows) AS n FROM shardline_meta.reshard_progress WHERE tbl LIKE 'app_13.users_083%' AND move LIKE 'move-%-832-835'${earlier.length ? ` AND move NOT IN (${earlier.map(() => '?').join(', ')})` : ''}`,
          earlier,
        )
        .catch(() => [{ n: null }]);
      if (Number(row?.n ?? 0) >= 300) break;
    }
  } finally {
    await target.close();
  }
  // the move's gauges while it copies
  const metrics = await fetch('http://127.0.0.1:19495/metrics')
    .then((r) => r.text())
    .catch((err: unknown) => {
      child.kill('SIGKILL');
      throw err;
    });
  const gauge = (name: string, extra = '') =>
    Number(new RegExp(`^${name}\\{[^}]*shards="832-835"[^}]*${extra}[^}]*\\} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
  expect(gauge('shardline_reshard_rows_copied')).toBeGreaterThan(0);
  expect(gauge('shardline_reshard_phase', 'phase="copy"')).toBe(1);
  expect(gauge('shardline_reshard_phase', 'phase="verify"')).toBe(0);
  child.kill('SIGKILL');
  await exited;
  const killed = status().moves.find((x) => x.shards === '832-835')!;
  expect(killed.phase).toBe('copy');
  expect(killed.rows_copied).toBeGreaterThan(0);
  expect(killed.rows_copied).toBeLessThan(12_000);
  // the source changes while the move is down: the catch-up must bring these over
  const uids = seeded.get(833)!;
  await router.query(`UPDATE users SET balance = balance + 1, updated_at = NOW(6) WHERE uid IN (${uids.slice(0, 300).join(',')})`);
  await router.query(`DELETE FROM users WHERE uid IN (${uids.slice(300, 400).join(',')})`);
  const resumed = JSON.parse(shardline('reshard', 'move', '--shards', '832-835', '--to', 'shard-4', '--json')) as {
    phase: string;
    id: string;
    differences: number;
  };
  expect(resumed).toMatchObject({ phase: 'done', id: killed.id, differences: 0 });
  for (const shard of [832, 833, 834, 835]) {
    const table = `users_${String(shard).padStart(4, '0')}`;
    const source = await rowsOn(portOf('shard-3'), 'app_13', `_moved_${table}`);
    expect(await rowsOn(portOf('shard-4'), 'app_13', table)).toEqual(source);
    expect(source.length).toBeGreaterThanOrEqual(shard === 833 ? 2900 : 3000);
  }
  const back = JSON.parse(shardline('reshard', 'move', '--shards', '832-835', '--to', 'shard-3', '--json')) as { phase: string };
  expect(back.phase).toBe('done');
  const cleaned = JSON.parse(shardline('reshard', 'cleanup', '--json')) as { cleaned: { instance: string }[] };
  expect(cleaned.cleaned.map((c) => c.instance).sort()).toEqual(['shard-3', 'shard-4']);
}, 600_000);

/** The highest shard-map version an instance holds. */
async function mapVersionOn(port: number): Promise<number> {
  const s = await openMysqlSession({ host: '127.0.0.1', port, user: 'root', password: '' });
  try {
    const [row] = await s.query<{ v: number | null }>('SELECT MAX(version) AS v FROM shardline_meta.shard_map');
    return Number(row?.v ?? 0);
  } finally {
    await s.close();
  }
}

describe.each([
  ['reshard.catchup', 'catchup', [840, 841]],
  ['reshard.verify', 'verify', [842, 843]],
  ['reshard.fenced', 'cutover', [844, 845]],
  ['reshard.published-on-target', 'cutover', [846, 847]],
] as const)('kill -9 at %s', (failpoint, phase, shards) => {
  it(`resumes from the ${phase} phase and ends equal to the source, row by row`, async () => {
    await seed([...shards], 400);
    const list = `${shards[0]}-${shards[1]}`;
    const { child, exited } = await moveHeldAtFailpoint(list, failpoint);
    const mapBefore = await mapVersionOn(portOf('shard-3'));
    child.kill('SIGKILL');
    await exited;
    const killed = status().moves.find((x) => x.shards === list)!;
    expect(killed.phase).toBe(phase);
    const uids = seeded.get(shards[0])!;
    if (failpoint === 'reshard.published-on-target') {
      // the target has the new version, the source not yet: the resume must publish it there too
      expect(await mapVersionOn(portOf('shard-4'))).toBeGreaterThan(mapBefore);
    } else if (failpoint !== 'reshard.fenced') {
      // the source still takes writes: the resumed catch-up must bring them over
      await router.query(`UPDATE users SET balance = balance + 1, updated_at = NOW(6) WHERE uid IN (${uids.slice(0, 50).join(',')})`);
      await router.query(`DELETE FROM users WHERE uid IN (${uids.slice(50, 60).join(',')})`);
    }
    const resumed = JSON.parse(shardline('reshard', 'move', '--shards', list, '--to', 'shard-4', '--json')) as {
      phase: string;
      id: string;
      differences: number;
      map_version: number;
    };
    expect(resumed).toMatchObject({ phase: 'done', id: killed.id, differences: 0 });
    expect(await mapVersionOn(portOf('shard-3'))).toBe(resumed.map_version);
    expect(await mapVersionOn(portOf('shard-4'))).toBe(resumed.map_version);
    for (const shard of shards) {
      const table = `users_${String(shard).padStart(4, '0')}`;
      const db = `app_${String(Math.floor(shard / 64)).padStart(2, '0')}`;
      const source = await rowsOn(portOf('shard-3'), db, `_moved_${table}`);
      expect(await rowsOn(portOf('shard-4'), db, table)).toEqual(source);
      expect(source.length).toBeGreaterThanOrEqual(390);
    }
    expect((await createRouterMap()).instanceOf(shards[0])).toBe('shard-4');
    const back = JSON.parse(shardline('reshard', 'move', '--shards', list, '--to', 'shard-3', '--json')) as { phase: string };
    expect(back.phase).toBe('done');
    const cleaned = JSON.parse(shardline('reshard', 'cleanup', '--json')) as { cleaned: { instance: string }[] };
    expect(cleaned.cleaned.map((c) => c.instance).sort()).toEqual(['shard-3', 'shard-4']);
  }, 600_000);
});

it('a row changed on the target during the catch-up is reported by verify and blocks the cut-over until it is undone', async () => {
  await seed([0, 1, 2, 3], 200);
  const copied = JSON.parse(shardline('reshard', 'move', '--shards', '0-3', '--to', 'shard-4', '--until', 'catchup', '--json')) as {
    phase: string;
  };
  expect(copied.phase).toBe('verify');
  const victim = seeded.get(2)![17]!;
  const s = await openMysqlSession({ host: '127.0.0.1', port: portOf('shard-4'), user: 'root', password: '' });
  try {
    await s.query('UPDATE `app_00`.`users_0002` SET name = ? WHERE uid = ?', ['planted', victim]);
    const err = shardlineFailing('reshard', 'move', '--shards', '0-3', '--to', 'shard-4');
    expect(err.code).toBe('RESHARD_DIFFERENCE');
    expect(err.message).toMatch(/app_00\.users_0002/);
    const m = status().moves.find((x) => x.shards === '0-3')!;
    expect(m).toMatchObject({ phase: 'verify', differences: 1 });
    // no cut-over: the source keeps its tables and the shard map still names it
    const ours = new Set(seeded.get(2)!.map(String));
    expect((await rowsOn(portOf('shard-0'), 'app_00', 'users_0002')).filter((r) => ours.has(String(JSON.parse(r).uid))).length).toBe(200);
    await sleep(1200);
    expect((await createRouterMap()).instanceOf(2)).toBe('shard-0');
    await s.query('UPDATE `app_00`.`users_0002` SET name = ? WHERE uid = ?', [`seed ${victim}`, victim]);
  } finally {
    await s.close();
  }
  const done = JSON.parse(shardline('reshard', 'move', '--shards', '0-3', '--to', 'shard-4', '--json')) as {
    phase: string;
    differences: number;
  };
  expect(done).toMatchObject({ phase: 'done', differences: 0 });
  const back = JSON.parse(shardline('reshard', 'move', '--shards', '0-3', '--to', 'shard-0', '--json')) as { phase: string };
  expect(back.phase).toBe('done');
  const cleaned = JSON.parse(shardline('reshard', 'cleanup', '--json')) as { cleaned: { instance: string }[] };
  expect(cleaned.cleaned.map((c) => c.instance).sort()).toEqual(['shard-0', 'shard-4']);
}, 600_000);

/** The shard map a fresh router sees. */
async function createRouterMap() {
  const r = await createRouter(config);
  try {
    return r.topology.map;
  } finally {
    await r.close();
  }
}

it('--max-rows-per-second bounds the copy, and a bad value is refused before anything starts', async () => {
  const bad = shardlineFailing('reshard', 'move', '--shards', '848-851', '--to', 'shard-4', '--max-rows-per-second', '5;DROP');
  expect(bad.message).toMatch(/--max-rows-per-second/);
  expect(status().moves.some((m) => m.shards === '848-851' && m.phase !== 'done')).toBe(false);
  await seed([848, 849, 850, 851], 600);
  const report = JSON.parse(
    shardline('reshard', 'move', '--shards', '848-851', '--to', 'shard-4', '--max-rows-per-second', '1000', '--json'),
  ) as { phase: string; rows_copied: number; phase_ms: Record<string, number> };
  expect(report.phase).toBe('done');
  expect(report.rows_copied).toBeGreaterThanOrEqual(2400);
  // 2,400 rows at 1,000 a second: the first chunk (100 rows) at once, the rest paced
  expect(report.phase_ms['copy']).toBeGreaterThanOrEqual(2000);
  expect(report.rows_copied / (report.phase_ms['copy']! / 1000)).toBeLessThanOrEqual(1200);
  const back = JSON.parse(
    shardline('reshard', 'move', '--shards', '848-851', '--to', 'shard-3', '--max-rows-per-second', '0', '--json'),
  ) as {
    phase: string;
  };
  expect(back.phase).toBe('done');
  const cleaned = JSON.parse(shardline('reshard', 'cleanup', '--json')) as { cleaned: { instance: string }[] };
  expect(cleaned.cleaned.map((c) => c.instance).sort()).toEqual(['shard-3', 'shard-4']);
}, 600_000);
