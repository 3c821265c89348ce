import { failoverInstance } from '../../src/cli/failover-nodes.js';
import type { MysqlSession } from '../../src/net/index.js';
import { ID_FAILOVER_SKIP, leaseSql, skipLostIdLeases } from '../../src/router/id-segments.js';
import { testConfig } from '../support/cluster.js';

// What an unplanned failover does to the global ID sequences on the promoted node, against real
// servers (MySQL 8.0 and MariaDB 10.11): a lease the dead primary granted that never replicated is
// not granted again. The replica's state is made by hand — the row one lease behind the primary's.
const config = testConfig();
const MAX = 2n ** 64n - 1n;

describe.each([['shard-0'], ['shard-2']])('ID leases lost in an unplanned failover, on %s', (instance) => {
  const meta = `it_idskip_${process.pid}_${instance.replace('-', '_')}`;
  let s: MysqlSession;
  const sql = leaseSql(meta);
  /** One lease as the router takes it: the end (exclusive) of a block of `size`. */
  const lease = async (name: string, size: number): Promise<bigint> => {
    await s.query(sql.bump, [name, size, size]);
    const [row] = await s.query<{ v: string | number | bigint }>(sql.read);
    return BigInt(String(row!.v));
  };
  const nextOf = async (name: string): Promise<bigint> => {
    const [row] = await s.query<{ n: string | number | bigint }>(`SELECT next_id AS n FROM \`${meta}\`.id_segments WHERE name = ?`, [name]);
    return BigInt(String(row!.n));
  };

  beforeAll(async () => {
    // the session `shardline failover` promotes with: the instance's admin account on its primary
    const target = failoverInstance(config, instance);
    s = await target.open(target.nodes[0]!);
  });

  afterAll(async () => {
    await s.query(`DROP DATABASE IF EXISTS \`${meta}\``);
    await s.close();
  });

  it('without the table: nothing moved, no error', async () => {
    expect(await skipLostIdLeases((text, values) => s.query(text, values), meta)).toBe(0);
  });

  it('the lease after the failover starts past every block the dead primary granted', async () => {
    for (const q of sql.create) await s.query(q);
    await lease('orders', 1000);
    const lost = await lease('orders', 1000); // granted by the primary, never replicated
    await lease('users#', 4000);
    // the promoted replica's state: one lease behind on `orders`
    await s.query(`UPDATE \`${meta}\`.id_segments SET next_id = next_id - 1000 WHERE name = 'orders'`);
    // the control: without the move the lost block is leased again
    expect(await lease('orders', 1000)).toBe(lost);
    await s.query(`UPDATE \`${meta}\`.id_segments SET next_id = next_id - 1000 WHERE name = 'orders'`);

    const before = await nextOf('users#');
    expect(await skipLostIdLeases((text, values) => s.query(text, values), meta)).toBe(2);
    expect(await nextOf('users#')).toBe(before + ID_FAILOVER_SKIP);
    const after = await lease('orders', 1000);
    expect(after - 1000n).toBeGreaterThanOrEqual(lost);
    expect(after).toBe(lost - 1000n + ID_FAILOVER_SKIP + 1000n);
  });

  it('moves large counters exactly (no double rounding) and leaves one that would overflow where it is', async () => {
    const big = 2n ** 60n + 1n;
    const nearMax = MAX - 5n;
    await s.query(
      `INSERT INTO \`${meta}\`.id_segments (name, next_id, leased_at) VALUES ('big', CAST(? AS UNSIGNED), NOW(6)), ('top', CAST(? AS UNSIGNED), NOW(6))`,
      [big.toString(), nearMax.toString()],
    );
    expect(await skipLostIdLeases((text, values) => s.query(text, values), meta)).toBe(3);
    expect(await nextOf('big')).toBe(big + ID_FAILOVER_SKIP);
    expect(await nextOf('top')).toBe(nearMax);
  });
});
