import { createRouter, type Router } from '../../src/index.js';
import { Topology } from '../../src/shard/index.js';
import { binlogEnd, rootSession } from '../support/binlog.js';
import { shardline, testConfig } from '../support/cluster.js';

const config = testConfig();
const topology = new Topology(
  config.sharding,
  config.instances.map((i) => i.name),
);
let router: Router;

beforeAll(async () => {
  shardline('migrate');
  router = await createRouter(config);
});

afterAll(async () => {
  await router?.close();
});

it('binlog dump --from FILE:POS --until-now --json prints one change event per row and exits', async () => {
  const uid = 8_500_000_000n + BigInt(process.pid % 1000);
  const loc = topology.locate(uid);
  const inst = config.instances.find((i) => i.name === loc.instance)!;
  const s = await rootSession(inst);
  const start = await binlogEnd(s);
  await s.close();
  await router.query("INSERT INTO users (uid, name, email, balance) VALUES (?, 'dump ✓', NULL, '-1.50')", [uid]);
  await router.query("UPDATE users SET balance = '2.25' WHERE uid = ?", [uid]);
  await router.query('DELETE FROM users WHERE uid = ?', [uid]);

  const lines = shardline('binlog', 'dump', '--instance', inst.name, '--from', `${start.file}:${start.pos}`, '--until-now', '--json')
    .trim()
    .split('\n');
  const events = lines.map(
    (l) =>
      JSON.parse(l) as {
        op: string;
        before: Record<string, unknown> | null;
        after: Record<string, unknown> | null;
        source: Record<string, unknown>;
        ts_ms: number;
      },
  );
  const mine = events.filter((e) => (e.after ?? e.before)?.['uid'] === uid.toString());
  expect(mine.map((e) => e.op)).toEqual(['c', 'u', 'd']);
  expect(mine[0]!.after).toMatchObject({ uid: uid.toString(), name: 'dump ✓', email: null, balance: '-1.50' });
  expect(mine[1]!.before).toMatchObject({ balance: '-1.50' });
  expect(mine[1]!.after).toMatchObject({ balance: '2.25' });
  expect(mine[2]!.after).toBeNull();
  for (const e of mine) {
    expect(e.source).toMatchObject({
      instance: inst.name,
      flavour: inst.flavour,
      db: loc.database,
      table: topology.names.table('users', loc.shard),
      logical_table: 'users',
      shard: loc.shard,
      file: expect.any(String),
      pos: expect.any(Number),
      row: 0,
    });
    expect(typeof e.source['gtid']).toBe('string');
    expect(e.source['ts_us']).toBeGreaterThan(1_600_000_000_000_000);
    expect(e.ts_ms).toBeGreaterThan(1_600_000_000_000);
  }
});

it('binlog dump refuses conflicting start options with a usage error', () => {
  expect(() => shardline('binlog', 'dump', '--instance', 'shard-0', '--from-start', '--from', 'binlog.000001:4')).toThrow(
    /--from, --from-gtid and --from-start exclude each other/,
  );
});

it('binlog dump refuses a path as the --from file before connecting', () => {
  for (const from of ['../../etc/passwd:4', '/var/lib/mysql/binlog.000001:4', `${'b'.repeat(300)}:4`]) {
    expect(() => shardline('binlog', 'dump', '--instance', 'shard-0', '--from', from)).toThrow(
      /--from expects a binlog file name as SHOW BINARY LOGS lists it \(no path\)/,
    );
  }
});
