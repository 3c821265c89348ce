import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { bundledClusterConfig, packageRoot } from '../../src/config/index.js';
import { openMysqlSession } from '../../src/net/index.js';
import { shardline, testConfig } from '../support/cluster.js';

const config = testConfig();
const META = 'shardline_meta_resume';
const DB_PREFIX = 'mres_';

/** A cluster file whose only sharded table is `probe`, in its own databases and ledger. */
function isolatedSetup(): { configFile: string; dir: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shardline-resume-'));
  const text = readFileSync(bundledClusterConfig, 'utf8').replaceAll('../.shardline', path.join(packageRoot, '.shardline'));
  const doc = parse(text) as Record<string, any>;
  doc.sharding.naming = {
    database: `${DB_PREFIX}{db:02}`,
    table: '{table}_{shard:04}',
    broadcastDatabase: `${DB_PREFIX}global`,
    metaDatabase: META,
  };
  doc.sharding.tables = { probe: { shardKey: 'uid' } };
  doc.sharding.broadcast = [];
  const configFile = path.join(dir, 'cluster.yaml');
  writeFileSync(configFile, stringify(doc));
  const migrations = path.join(dir, 'migrations');
  mkdirSync(migrations, { recursive: true });
  writeFileSync(path.join(migrations, '0001_probe.sql'), 'CREATE TABLE probe (uid BIGINT UNSIGNED PRIMARY KEY, a INT);\n');
  writeFileSync(
    path.join(migrations, '0002_probe_b.sql'),
    'ALTER TABLE probe ADD COLUMN b VARCHAR(10);\nALTER TABLE probe ADD INDEX by_b (b);\n',
  );
  return { configFile, dir: migrations };
}

async function ledgerDone(): Promise<number> {
  let total = 0;
  for (const inst of config.instances) {
    const s = await openMysqlSession({
      host: inst.host,
      port: inst.port,
      tls: inst.tls,
      serverPublicKey: inst.serverPublicKey,
      user: inst.user,
      password: inst.password,
    });
    try {
      const rows = await s
        .query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${META}.schema_migrations WHERE state = 'done'`)
        .catch(() => [{ n: '0' }]);
      total += Number(rows[0]!.n);
    } finally {
      await s.close();
    }
  }
  return total;
}

async function dropAll(): Promise<void> {
  await Promise.all(
    config.instances.map(async (inst) => {
      const s = await openMysqlSession({
        host: inst.host,
        port: inst.port,
        tls: inst.tls,
        serverPublicKey: inst.serverPublicKey,
        user: inst.user,
        password: inst.password,
      });
      try {
        const dbs = await s.query<{ d: string }>(
          'SELECT SCHEMA_NAME AS d FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ? OR SCHEMA_NAME = ?',
          [`${DB_PREFIX}%`, META],
        );
        for (const { d } of dbs) await s.query(`DROP DATABASE \`${d}\``);
      } finally {
        await s.close();
      }
    }),
  );
}

describe('migrate: a run killed midway resumes where it stopped', () => {
  beforeAll(dropAll);
  afterAll(dropAll);

  it('kill -9 during the run, rerun applies only the rest, and every shard ends identical', async () => {
    const { configFile, dir } = isolatedSetup();
    const total = 1024 * 3;
    const child = spawn(process.execPath, [path.join(packageRoot, 'dist/cli/main.js'), 'migrate', '--config', configFile, '--dir', dir], {
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    for (let i = 0; i < 600; i++) {
      if ((await ledgerDone()) >= 400) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    child.kill('SIGKILL');
    await exited;
    // Statements the server had already received still finish after the client died.
    await new Promise((r) => setTimeout(r, 1000));
    const afterKill = await ledgerDone();
    expect(afterKill).toBeGreaterThanOrEqual(400);
    expect(afterKill).toBeLessThan(total);

    const report = JSON.parse(shardline('migrate', '--config', configFile, '--dir', dir, '--json')) as {
      applied: number;
      alreadyApplied: number;
    };
    expect(report.alreadyApplied).toBe(afterKill);
    expect(report.applied).toBe(total - report.alreadyApplied);
    expect(await ledgerDone()).toBe(total);

    const verify = JSON.parse(shardline('migrate', '--config', configFile, '--verify', '--json')) as {
      drift: boolean;
      tables: { table: string; found: number; reference: string }[];
    };
    expect(verify.drift).toBe(false);
    expect(verify.tables).toEqual([
      expect.objectContaining({ table: 'probe', found: 1024, reference: 'uid bigint unsigned not null, a int, b varchar(10)' }),
    ]);

    const again = JSON.parse(shardline('migrate', '--config', configFile, '--dir', dir, '--json')) as { applied: number };
    expect(again.applied).toBe(0);
  });
});
