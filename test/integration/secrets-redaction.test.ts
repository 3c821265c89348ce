import { inspect } from 'node:util';
import { createRouter, type Router } from '../../src/index.js';
import { isShardlineError } from '../../src/errors/index.js';
import { Topology } from '../../src/shard/index.js';
import { binlogEnd, rootSession } from '../support/binlog.js';
import { shardline, testConfig } from '../support/cluster.js';

const config = testConfig();
const topology = new Topology(
  config.sharding,
  config.instances.map((i) => i.name),
);
const CARD = '5500005555555559';
let router: Router;

/** Every way an error can be shown: message, stack, JSON, a deep inspect with hidden fields, the cause chain. */
function everyView(err: unknown): string[] {
  const views = [JSON.stringify(err), inspect(err, { depth: 10, showHidden: true })];
  for (let c: unknown = err; c instanceof Error; c = c.cause) {
    views.push(c.message, c.stack ?? '', JSON.stringify(c), inspect(c, { depth: 10, showHidden: true }));
    for (const key of Object.getOwnPropertyNames(c)) views.push(inspect((c as unknown as Record<string, unknown>)[key], { depth: 10 }));
  }
  return views;
}

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the statement to fail');
}

/** The instances that own shards (shard-4 owns none: it is the target of shard moves). */
const owners = config.instances.filter((i) => topology.map.shardsOf(i.name).length > 0);

/** One card-number-like uid per instance (uid 41111111111111xx). */
const uids = new Map<string, bigint>();
for (let k = 0n; uids.size < owners.length && k < 10_000n; k++) {
  const uid = 4111111111111111n + k * 7919n;
  const inst = topology.locate(uid).instance;
  if (!uids.has(inst)) uids.set(inst, uid);
}

beforeAll(async () => {
  shardline('migrate');
  router = await createRouter(config);
});

afterAll(async () => {
  if (router) for (const uid of uids.values()) await router.query('DELETE FROM users WHERE uid = ?', [uid]);
  await router?.close();
});

describe.each(owners.map((i) => [i.name, i.flavour] as const))('server errors from %s (%s) carry no value', (instance) => {
  const uid = uids.get(instance)!;

  beforeAll(async () => {
    await router.query('DELETE FROM users WHERE uid = ?', [uid]);
    await router.query('INSERT INTO users (uid, name, balance) VALUES (?, ?, ?)', [uid, `card ${CARD}`, '1.00']);
  });

  it('1062 duplicate key: errno, SQLSTATE and the SQL with placeholders; no value anywhere', async () => {
    const err = await failure(router.query('INSERT INTO users (uid, name, balance) VALUES (?, ?, ?)', [uid, `card ${CARD}`, '2.00']));
    expect(isShardlineError(err) && err.code).toBe('QUERY_FAILED');
    expect((err as unknown as { details: Record<string, unknown> }).details).toMatchObject({
      instance,
      errno: 1062,
      sqlState: '23000',
      sql: expect.stringMatching(/^INSERT INTO .*users_\d{4}.* VALUES \(\?, \?, \?\)$/),
    });
    expect(err.message).toMatch(/Duplicate entry '<redacted>' for key '(users_\d{4}\.)?PRIMARY'/);
    for (const view of everyView(err)) {
      expect(view).not.toContain(uid.toString());
      expect(view).not.toContain(CARD);
    }
  });

  it('1366 incorrect value and 1406 data too long: no value, no interpolated SQL', async () => {
    const wrong = await failure(router.query('UPDATE users SET balance = ? WHERE uid = ?', [`x${CARD}`, uid]));
    expect((wrong as unknown as { details: Record<string, unknown> }).details).toMatchObject({ errno: 1366 });
    const long = await failure(router.query('UPDATE users SET name = ? WHERE uid = ?', [`${CARD} ${'x'.repeat(200)}`, uid]));
    expect((long as unknown as { details: Record<string, unknown> }).details).toMatchObject({
      errno: 1406,
      sql: expect.stringMatching(/SET name = \? WHERE uid = \?$/),
    });
    for (const view of [...everyView(wrong), ...everyView(long)]) {
      expect(view).not.toContain(CARD);
      expect(view).not.toContain(uid.toString());
    }
  });

  it('inside a transaction too', async () => {
    const err = await failure(
      router
        .forUid(uid)
        .transaction((tx) => tx.query('INSERT INTO users (uid, name, balance) VALUES (?, ?, ?)', [uid, `card ${CARD}`, '3.00'])),
    );
    expect((err as unknown as { details: Record<string, unknown> }).details).toMatchObject({ errno: 1062 });
    for (const view of everyView(err)) expect(view).not.toContain(CARD);
  });
});

describe('binlog dump never prints a password of an account statement', () => {
  const tag = `h2s${process.pid}`;
  /** Statements per flavour; every `PwN…` is a password that must not reach the output. */
  const statements = {
    mysql: [
      `CREATE USER '${tag}_a'@'%' IDENTIFIED BY '${tag}Pw1'`,
      `ALTER USER '${tag}_a'@'%' IDENTIFIED BY 'it\\'s-${tag}Pw2'`,
      `SET PASSWORD FOR '${tag}_a'@'%' = 'o''${tag}Pw3'`,
      `CREATE /* c */ USER '${tag}_b'@'%' IDENTIFIED /* x */ WITH caching_sha2_password /* y */ BY '${tag}Pw4'`,
      `ALTER USER '${tag}_b'@'%' IDENTIFIED WITH caching_sha2_password BY '${tag}Pw5'`,
      `CREATE SERVER ${tag}_srv FOREIGN DATA WRAPPER mysql OPTIONS (HOST '127.0.0.1', DATABASE 'db', USER 'remote', PASSWORD '${tag}Pw6')`,
      `ALTER SERVER ${tag}_srv OPTIONS (PASSWORD '${tag}Pw7')`,
    ],
    mariadb: [
      `CREATE USER '${tag}_a'@'%' IDENTIFIED BY '${tag}Pw1'`,
      `SET PASSWORD FOR '${tag}_a'@'%' = PASSWORD('it\\'s-${tag}Pw2')`,
      `ALTER USER ${tag}_a@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('o''${tag}Pw3')`,
      `CREATE /* c */ USER ${tag}_b@'%' IDENTIFIED /* x */ BY /* y */ '${tag}Pw4'`,
      `GRANT SELECT ON *.* TO ${tag}_b@'%' IDENTIFIED BY '${tag}Pw5'`,
      `CREATE SERVER ${tag}_srv FOREIGN DATA WRAPPER mysql OPTIONS (HOST '127.0.0.1', DATABASE 'db', USER 'remote', PASSWORD '${tag}Pw6')`,
      `ALTER SERVER ${tag}_srv OPTIONS (PASSWORD '${tag}Pw7')`,
      `SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')`,
      `CREATE USER ${tag}_c@'%' IDENTIFIED BY '${tag}Pw8\\'`,
    ],
  };
  const cleanup = [`DROP USER IF EXISTS '${tag}_a'@'%', '${tag}_b'@'%', '${tag}_c'@'%'`, `DROP SERVER IF EXISTS ${tag}_srv`];
  /** One instance of each server: MySQL 8.0, MySQL 9.7 and MariaDB 10.11. */
  const targets = ['shard-0', 'shard-1', 'shard-2'].map((name) => config.instances.find((i) => i.name === name)!);

  it.each(targets.map((t) => [t.name, t.flavour, t] as const))(
    '%s (%s): the statements reach the binlog and their passwords do not reach the output',
    async (_name, flavour, inst) => {
      const s = await rootSession(inst);
      let out: string;
      try {
        const start = await binlogEnd(s);
        try {
          for (const sql of statements[flavour]) await s.query(sql);
        } finally {
          await s.query("SET SESSION sql_mode = REPLACE(@@sql_mode, 'NO_BACKSLASH_ESCAPES', '')");
          for (const sql of cleanup) await s.query(sql);
        }
        out = shardline('binlog', 'dump', '--instance', inst.name, '--from', `${start.file}:${start.pos}`, '--until-now');
      } finally {
        await s.close();
      }
      const accountLines = out.split('\n').filter((l) => / query /.test(l) && new RegExp(`${tag}_[abc]`).test(l));
      // every account statement is in the binlog (as written, or rewritten by MySQL), plus the drop
      const accountStatements = statements[flavour].filter((q) => !q.startsWith('SET SESSION') && !q.includes('SERVER'));
      expect(accountLines.length).toBeGreaterThanOrEqual(accountStatements.length + 1);
      expect(out).toContain('<redacted>');
      expect(out).not.toMatch(new RegExp(`${tag}Pw\\d`));
    },
  );
});
