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
