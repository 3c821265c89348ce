import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundledClusterConfig, loadClusterConfig, packageRoot } from '../../src/config/index.js';
import { MigrationError } from '../../src/errors/index.js';
import { classifyStatement, loadMigrations, splitStatements } from '../../src/migrate/index.js';
import { Topology } from '../../src/shard/index.js';

const config = loadClusterConfig(bundledClusterConfig, {});
const topology = new Topology(
  config.sharding,
  config.instances.map((i) => i.name),
);

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shardline-mig-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

describe('migration files', () => {
  it('loads the shipped schema: users and orders sharded, countries broadcast', () => {
    const [first] = loadMigrations(path.join(packageRoot, 'migrations'), topology);
    expect(first!.id).toBe('0001_initial');
    expect(first!.statements.map((s) => [s.table, s.kind])).toEqual([
      ['users', 'sharded'],
      ['orders', 'sharded'],
      ['countries', 'broadcast'],
    ]);
    expect(first!.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it('splits statements at top-level semicolons only', () => {
    expect(splitStatements("CREATE TABLE a (x VARCHAR(3) DEFAULT ';');\n-- c;\nALTER TABLE a ADD y INT;\n")).toEqual([
      "CREATE TABLE a (x VARCHAR(3) DEFAULT ';')",
      '-- c;\nALTER TABLE a ADD y INT',
    ]);
  });

  it.each([
    ['ALTER TABLE users ADD COLUMN nick VARCHAR(20)', 'users', 'ALTER TABLE '],
    ['CREATE UNIQUE INDEX by_email ON users (email)', 'users', 'CREATE UNIQUE INDEX by_email ON '],
    ['DROP TABLE IF EXISTS orders', 'orders', 'DROP TABLE IF EXISTS '],
    ["INSERT INTO countries (code, name) VALUES ('DE', 'Germany')", 'countries', 'INSERT INTO '],
    ['ALTER TABLE users RENAME COLUMN email TO mail, RENAME INDEX a TO b, RENAME KEY c TO d', 'users', 'ALTER TABLE '],
    [
      "CREATE TABLE users (uid BIGINT PRIMARY KEY, name VARCHAR(9) CHECK (name LIKE 'a%'), note VARCHAR(9) DEFAULT 'select')",
      'users',
      'CREATE TABLE ',
    ],
    ["ALTER TABLE users ADD COLUMN c INT COMMENT 'RENAME TO x, SELECT', ALGORITHM=INPLACE, LOCK=NONE", 'users', 'ALTER TABLE '],
    ['ALTER TABLE users ADD COLUMN d INT /* RENAME TO x */', 'users', 'ALTER TABLE '],
  ])('finds the table of %s', (sql, table, prefix) => {
    const s = classifyStatement('f.sql', 0, sql, topology);
    expect(s.table).toBe(table);
    expect(sql.slice(0, s.nameStart)).toBe(prefix);
  });

  it.each([
    ['0001_x.sql', 'CREATE TABLE nope (a INT)', /neither a sharded nor a broadcast table/],
    ['0001_x.sql', 'INSERT INTO users (uid) VALUES (1)', /go through the router/],
    ['0001_x.sql', 'CREATE TABLE app.users (a INT)', /logical table names/],
    ['0001_x.sql', 'ALTER TABLE orders ADD FOREIGN KEY (uid) REFERENCES users (uid)', /foreign keys/],
    ['0001_x.sql', 'GRANT ALL ON *.* TO x', /not a supported migration statement/],
    ['1_bad-name.sql', 'ALTER TABLE users ADD z INT', /named NNNN_name\.sql/],
    ['0001_empty.sql', '-- nothing', /contains no statement/],
    ['0001_x.sql', 'ALTER TABLE users ADD COLUMN nick VARCHAR(10) /*!, RENAME TO hacked */', /executable comment/],
    ['0001_x.sql', 'ALTER TABLE countries ADD COLUMN x INT /*M!100000 , RENAME TO z */', /executable comment/],
    ['0001_x.sql', 'CREATE TABLE users (uid BIGINT PRIMARY KEY) /*!50100 PARTITION BY HASH (uid) */', /executable comment/],
    ['0001_x.sql', 'ALTER TABLE users RENAME TO users_old', /renames the table/],
    ['0001_x.sql', 'ALTER TABLE users RENAME AS other', /renames the table/],
    ['0001_x.sql', 'alter table users rename other', /renames the table/],
    ['0001_x.sql', 'ALTER TABLE users RENAME COLUMN nick TO nick2, RENAME TO other', /renames the table/],
    ['0001_x.sql', 'ALTER TABLE users EXCHANGE PARTITION p0 WITH TABLE orders', /exchanges a partition/],
    ['0001_x.sql', 'DROP TABLE users, orders', /drop one table per statement/],
    ['0001_x.sql', 'DROP TABLE IF EXISTS countries, users', /drop one table per statement/],
    ['0001_x.sql', 'CREATE TABLE users LIKE orders', /copies another table/],
    ['0001_x.sql', 'CREATE TABLE users (LIKE orders)', /copies another table/],
    ['0001_x.sql', 'CREATE TABLE users AS SELECT * FROM orders', /copies another table/],
    ['0001_x.sql', 'CREATE TABLE IF NOT EXISTS users SELECT 1 AS uid', /copies another table/],
    ['0001_x.sql', 'INSERT INTO countries (code, name) SELECT code, name FROM users', /reads another table/],
    ['0001_x.sql', "UPDATE countries SET name = (SELECT name FROM users LIMIT 1) WHERE code = 'DE'", /reads another table/],
  ])('refuses %s: %s', (file, text, message) => {
    let error: unknown;
    try {
      loadMigrations(folder({ [file]: text }), topology);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as MigrationError).code).toBe('MIGRATION_INVALID');
    expect((error as Error).message).toMatch(message);
  });

  it('refuses two migrations with the same number', () => {
    expect(() =>
      loadMigrations(folder({ '0001_a.sql': 'ALTER TABLE users ADD a INT', '0001_b.sql': 'ALTER TABLE users ADD b INT' }), topology),
    ).toThrow(/already uses number 0001/);
  });
});
