import { failoverSkipSql, ID_FAILOVER_SKIP, leaseSql, skipLostIdLeases } from '../../src/router/id-segments.js';
import { openForWrites } from '../../src/cli/failover-unplanned.js';

describe('moving ID sequences past leases lost in an unplanned failover', () => {
  it('moves by 2^40 with exact unsigned arithmetic, the amounts bound, never spliced', () => {
    const sql = failoverSkipSql('meta`x');
    expect(ID_FAILOVER_SKIP).toBe(1099511627776n);
    expect(sql.skip.sql).toBe(
      'UPDATE `meta``x`.`id_segments` SET next_id = next_id + CAST(? AS UNSIGNED), leased_at = NOW(6) WHERE next_id <= CAST(? AS UNSIGNED)',
    );
    // 2^64 − 1 − 2^40: a sequence above it stays where it is (moving it would overflow)
    expect(sql.skip.values).toEqual(['1099511627776', '18446742974197923839']);
    expect(sql.exists.values).toEqual(['meta`x']);
    expect(sql.exists.sql).not.toContain('meta');
  });

  it('takes another distance, and the lease statement it pairs with stays one atomic bump', () => {
    expect(failoverSkipSql('m', 10n).skip.values).toEqual(['10', (2n ** 64n - 1n - 10n).toString()]);
    expect(leaseSql('m').bump).toContain('ON DUPLICATE KEY UPDATE next_id = LAST_INSERT_ID(next_id + ?)');
  });

  it('checks for the table first and returns the rows the update moved', async () => {
    const seen: string[] = [];
    const moved = await skipLostIdLeases(async (sql) => {
      seen.push(sql.slice(0, 6));
      return sql.startsWith('SELECT') ? [{ n: 1 }] : [{ affectedRows: 4 }];
    }, 'meta');
    expect(seen).toEqual(['SELECT', 'UPDATE']);
    expect(moved).toBe(4);
  });

  it('does nothing where the instance holds no id_segments table', async () => {
    const seen: string[] = [];
    const moved = await skipLostIdLeases(async (sql) => {
      seen.push(sql.slice(0, 6));
      return [{ n: 0 }];
    }, 'meta');
    expect(seen).toEqual(['SELECT']);
    expect(moved).toBe(0);
  });
});

describe('the promotion step that opens a node for writes', () => {
  /** A session whose UPDATE of id_segments fails with `errno` while read_only is on (or always, with `always`). */
  function session(o: { errno?: number; always?: boolean } = {}) {
    const seen: string[] = [];
    let writable = false;
    return {
      seen,
      s: {
        async query<T>(sql: string): Promise<T[]> {
          seen.push(sql.startsWith('SET') ? sql : sql.slice(0, 6));
          if (sql === 'SET GLOBAL read_only = OFF') writable = true;
          if (sql.startsWith('SELECT')) return [{ n: 1 }] as T[];
          if (sql.startsWith('UPDATE') && o.errno !== undefined && (o.always || !writable))
            throw Object.assign(new Error(`server error ${o.errno}`), { errno: o.errno });
          return [{ affectedRows: 2 }] as T[];
        },
        close: async () => undefined,
      },
    };
  }

  it('moves the sequences while read_only still keeps the application out, then opens', async () => {
    const { s, seen } = session();
    const warnings: string[] = [];
    expect(await openForWrites(s, 'SET GLOBAL read_only = OFF', 'meta', (w) => warnings.push(w))).toBe(2);
    expect(seen).toEqual(['SELECT', 'UPDATE', 'SET GLOBAL read_only = OFF']);
    expect(warnings).toEqual([]);
  });

  it('moves them right after opening when the admin account cannot write under read_only (1290)', async () => {
    const { s, seen } = session({ errno: 1290 });
    const warnings: string[] = [];
    expect(await openForWrites(s, 'SET GLOBAL read_only = OFF', 'meta', (w) => warnings.push(w))).toBe(2);
    expect(seen).toEqual(['SELECT', 'UPDATE', 'SET GLOBAL read_only = OFF', 'SELECT', 'UPDATE']);
    expect(warnings).toEqual([]);
  });

  it('opens the node all the same when the table cannot be moved, and says so', async () => {
    const { s, seen } = session({ errno: 1142, always: true });
    const warnings: string[] = [];
    expect(await openForWrites(s, 'SET GLOBAL read_only = OFF', 'meta', (w) => warnings.push(w))).toBeNull();
    expect(seen).toContain('SET GLOBAL read_only = OFF');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/server error 1142.*may be leased again.*next_id = next_id \+ 1099511627776/);
  });
});
