import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { parse, stringify } from 'yaml';
import { bundledClusterConfig, loadClusterConfig, packageRoot } from '../../src/config/index.js';
import { openMysqlSession } from '../../src/net/index.js';

const MAIN = path.join(packageRoot, 'dist', 'cli', 'main.js');
const META = 'shardline_meta_clisafe';
const PREFIX = 'clisafe_';
const SHARDS = 64;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI with no SHARDLINE_CONFIG unless `env` sets one. */
function cli(args: string[], options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Run {
  const env: NodeJS.ProcessEnv = { ...process.env, SHARDLINE_LOG_LEVEL: 'error', ...options.env };
  if (!options.env || !('SHARDLINE_CONFIG' in options.env)) delete env['SHARDLINE_CONFIG'];
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    cwd: options.cwd ?? packageRoot,
    env,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function jsonError(run: Run): { code: string; message: string; details: Record<string, unknown> } {
  return (JSON.parse(run.stdout) as { error: { code: string; message: string; details: Record<string, unknown> } }).error;
}

const outside = mkdtempSync(path.join(os.tmpdir(), 'shardline-cli-'));

/** The bundled config with its dev-cluster paths made absolute, edited by `edit`, written into `dir/name`. */
function writeConfig(dir: string, name: string, edit: (doc: Record<string, any>) => void = () => undefined): string {
  const doc = parse(readFileSync(bundledClusterConfig, 'utf8').replaceAll('../.shardline', path.join(packageRoot, '.shardline'))) as Record<
    string,
    any
  >;
  edit(doc);
  const file = path.join(dir, name);
  writeFileSync(file, stringify(doc));
  return file;
}

/** A layout of its own: 64 shards, own databases and ledger, one sharded table `probe`. */
const isolated = (doc: Record<string, any>) => {
  doc.sharding.shards = SHARDS;
  doc.sharding.databases = 8;
  doc.sharding.naming = {
    database: `${PREFIX}{db:02}`,
    table: '{table}_{shard:04}',
    broadcastDatabase: `${PREFIX}global`,
    metaDatabase: META,
  };
  doc.sharding.tables = { probe: { shardKey: 'uid' } };
  doc.sharding.broadcast = [];
  delete doc.sharding.map;
};

async function schemas(): Promise<string[]> {
  const config = loadClusterConfig(bundledClusterConfig);
  const found: string[] = [];
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
      const rows = await s.query<{ d: string }>(
        'SELECT SCHEMA_NAME AS d FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ? OR SCHEMA_NAME = ?',
        [`${PREFIX}%`, META],
      );
      found.push(...rows.map((r) => `${inst.name}:${r.d}`));
    } finally {
      await s.close();
    }
  }
  return found;
}

async function dropAll(): Promise<void> {
  const config = loadClusterConfig(bundledClusterConfig);
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
      const rows = await s.query<{ d: string }>(
        'SELECT SCHEMA_NAME AS d FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ? OR SCHEMA_NAME = ?',
        [`${PREFIX}%`, META],
      );
      for (const { d } of rows) await s.query(`DROP DATABASE \`${d}\``);
    } finally {
      await s.close();
    }
  }
}

afterAll(() => rmSync(outside, { recursive: true, force: true }));

describe('which config: never the demo by accident', () => {
  it('outside the checkout, without --config / SHARDLINE_CONFIG / ./shardline.yaml, a command refuses (CONFIG_NOT_FOUND), text and JSON', () => {
    const text = cli(['shard-of', '42'], { cwd: outside });
    expect(text.code).toBe(1);
    expect(text.stdout).toBe('');
    expect(text.stderr).toMatch(/^error CONFIG_NOT_FOUND: no cluster config: pass --config FILE/);
    const json = cli(['shard-of', '42', '--json'], { cwd: outside });
    expect(json.code).toBe(1);
    expect(jsonError(json).code).toBe('CONFIG_NOT_FOUND');
  });

  it('migrate outside the checkout needs --dir even with a config, and touches nothing', async () => {
    const dir = mkdtempSync(path.join(outside, 'nodir-'));
    const config = writeConfig(dir, 'cluster.yaml', isolated);
    const run = cli(['migrate', '--config', config, '--json'], { cwd: dir });
    expect(run.code).toBe(2);
    expect(jsonError(run)).toMatchObject({ code: 'USAGE', message: expect.stringContaining('--dir FOLDER is required') });
    expect(await schemas()).toEqual([]);
  });

  it('an empty SHARDLINE_CONFIG is an error, not "unset"', () => {
    const run = cli(['shard-of', '42'], { cwd: packageRoot, env: { SHARDLINE_CONFIG: '' } });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('error CONFIG_ENV_MISSING: SHARDLINE_CONFIG is set but empty');
  });

  it('./shardline.yaml in the working directory is used and named on stderr', () => {
    const dir = mkdtempSync(path.join(outside, 'project-'));
    writeConfig(dir, 'shardline.yaml', isolated);
    const run = cli(['shard-of', '42', '--json'], { cwd: dir });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe(`shardline: config ${path.join(dir, 'shardline.yaml')} (project file)\n`);
    expect((JSON.parse(run.stdout) as { shard: number }[])[0]!.shard).toBe(crc32('42') % SHARDS);
  });

  it('inside the checkout the bundled demo config is the default, and says so', () => {
    const run = cli(['shard-of', '42'], { cwd: packageRoot });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe(`shardline: config ${bundledClusterConfig} (bundled demo config)\n`);
    expect(run.stdout).toContain(`shard ${crc32('42') % 1024} `);
  });
});

describe('errors are typed, with usage exit codes and JSON', () => {
  it.each([
    [['cdc', '--http-port', 'abc'], '--http-port expects an integer 0 … 65535'],
    [['cdc', '--http-port', '70000'], '--http-port expects an integer 0 … 65535'],
    [['migrate', '--concurrency', 'x'], '--concurrency expects an integer 1 … 64'],
    [['binlog', 'dump', '--instance', 'shard-0', '--server-id', '-3'], '--server-id expects an integer'],
    [['binlog', 'dump', '--instance', 'shard-0', '--from', 'binlog.000001:99999999999'], '--from (position) expects an integer'],
    [['binlog', 'dump', '--instance', 'shard-0', '--from-gtid', 'garbage'], '--from-gtid expects a MySQL GTID set'],
    [
      ['reshard', 'move', '--shards', '7', '--to', 'shard-1', '--metrics-port', '70000', '--dry-run'],
      '--metrics-port expects an integer 0 … 65535',
    ],
  ])('%j is a USAGE error (exit 2), no stack', (args, message) => {
    const text = cli(args);
    expect(text.code).toBe(2);
    expect(text.stderr).toContain(`error USAGE: ${message}`);
    expect(text.stderr).not.toMatch(/\n\s+at /);
    const json = cli([...args, '--json']);
    expect(json.code).toBe(2);
    expect(jsonError(json)).toMatchObject({ code: 'USAGE', message: expect.stringContaining(message) });
  });

  it('a refused reshard dry run ends with its error (it printed it, then hung with the sessions it had opened)', () => {
    // shard 7 is on shard-0 in the bundled map (no test moves it)
    const run = cli(['reshard', 'move', '--shards', '7', '--to', 'shard-0', '--dry-run', '--json'], { timeoutMs: 30_000 });
    expect(run.code).toBe(1);
    expect(jsonError(run)).toMatchObject({ code: 'RESHARD_FAILED', message: 'shards 7 are on shard-0 already' });
  });

  it("commander's own errors are JSON with --json", () => {
    const run = cli(['shard-of', '--bogus', '1', '--json']);
    expect(run.code).toBe(2);
    expect(jsonError(run)).toMatchObject({ code: 'USAGE', message: "unknown option '--bogus'" });
  });

  it('a bad naming template is CONFIG_INVALID naming sharding.naming.table', () => {
    const dir = mkdtempSync(path.join(outside, 'naming-'));
    const config = writeConfig(dir, 'cluster.yaml', (doc) => (doc.sharding.naming = { ...doc.sharding.naming, table: '{shardd:04}' }));
    const run = cli(['shard-of', '42', '--config', config, '--json']);
    expect(run.code).toBe(1);
    const err = jsonError(run);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.details['field']).toBe('sharding.naming.table');
    expect(err.message).toContain('unknown placeholder {shardd:04}');
    const oneTable = writeConfig(dir, 'one-table.yaml', (doc) => (doc.sharding.naming = { ...doc.sharding.naming, table: '{table}' }));
    const text = cli(['explain', 'SELECT * FROM users WHERE uid = 1', '--config', oneTable]);
    expect(text.code).toBe(1);
    expect(text.stderr).toMatch(/error CONFIG_INVALID: sharding.naming.table "\{table\}": puts shards \d+ and \d+ in the same table/);
  });

  it('advice is phrased for the CLI: --scatter, not { scatter: true }', () => {
    const run = cli(['explain', 'SELECT COUNT(*) FROM users', '--json']);
    expect(run.code).toBe(1);
    const err = jsonError(run);
    expect(err.code).toBe('SHARD_KEY_MISSING');
    expect(err.message).toContain('pass --scatter');
    expect(err.message).not.toContain('{ scatter: true }');
    expect(cli(['explain', 'SELECT COUNT(*) FROM users', '--scatter']).code).toBe(0);
  });
});

describe('migrate status, --dry-run, removed migrations and doctor (local cluster)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shardline-cli-migrate-'));
  const config = writeConfig(dir, 'cluster.yaml', isolated);
  const migrations = path.join(dir, 'migrations');
  mkdirSync(migrations);
  writeFileSync(path.join(migrations, '0001_probe.sql'), 'CREATE TABLE probe (uid BIGINT UNSIGNED PRIMARY KEY, a INT);\n');
  writeFileSync(path.join(migrations, '0002_probe_b.sql'), 'ALTER TABLE probe ADD COLUMN b VARCHAR(10);\n');
  const instances = loadClusterConfig(config).instances;

  beforeAll(dropAll);
  afterAll(async () => {
    await dropAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('status and --dry-run before a run: pending (exit 3), and the dry run creates nothing', async () => {
    const status = cli(['migrate', 'status', '--config', config, '--dir', migrations, '--json']);
    expect(status.code).toBe(3);
    const s = JSON.parse(status.stdout) as {
      migrations: { id: string; state: string; targets: number }[];
      pending: number;
      upToDate: boolean;
    };
    expect(s.migrations.map((m) => [m.id, m.state, m.targets])).toEqual([
      ['0001_probe', 'pending', SHARDS],
      ['0002_probe_b', 'pending', SHARDS],
    ]);
    expect(s.pending).toBe(2 * SHARDS);
    const dry = cli(['migrate', '--dry-run', '--config', config, '--dir', migrations, '--json']);
    expect(dry.code).toBe(3);
    const d = JSON.parse(dry.stdout) as { statements: { migration: string; targets: number; example: string }[] };
    expect(d.statements.map((x) => [x.migration, x.targets])).toEqual([
      ['0001_probe', SHARDS],
      ['0002_probe_b', SHARDS],
    ]);
    expect(d.statements[0]!.example).toMatch(new RegExp(`^CREATE TABLE \`${PREFIX}0\\d\`\\.\`probe_00\\d\\d\``));
    expect(await schemas()).toEqual([]);
    const text = cli(['migrate', '--dry-run', '--config', config, '--dir', migrations]);
    expect(text.stdout).toContain(`would apply 0001_probe statement 1 (probe, sharded) on ${SHARDS} target(s)`);
  });

  it('after a run: up to date (exit 0); removing an applied file is reported by status, migrate and doctor (exit 4 / 3)', () => {
    expect(cli(['migrate', '--config', config, '--dir', migrations]).code).toBe(0);
    const up = cli(['migrate', 'status', '--config', config, '--dir', migrations]);
    expect(up.code).toBe(0);
    expect(up.stdout).toContain('up to date');
    rmSync(path.join(migrations, '0002_probe_b.sql'));
    const status = cli(['migrate', 'status', '--config', config, '--dir', migrations, '--json']);
    expect(status.code).toBe(4);
    expect((JSON.parse(status.stdout) as { missing: { id: string; targets: number }[] }).missing).toEqual([
      expect.objectContaining({ id: '0002_probe_b', targets: SHARDS }),
    ]);
    const run = cli(['migrate', '--config', config, '--dir', migrations, '--json']);
    expect(run.code).toBe(4);
    expect((JSON.parse(run.stdout) as { missing: string[] }).missing).toEqual(['0002_probe_b']);
    const doctor = cli(['doctor', '--config', config, '--dir', migrations, '--json']);
    expect(doctor.code).toBe(3);
    const checks = (JSON.parse(doctor.stdout) as { checks: { check: string; status: string; detail: string }[] }).checks;
    expect(checks.filter((c) => c.check === 'migrations')).toEqual([
      expect.objectContaining({ status: 'fail', detail: expect.stringContaining('0002_probe_b was applied but its file is gone') }),
    ]);
  });

  it('doctor --config checks every instance against the servers themselves', async () => {
    const run = cli(['doctor', '--config', config, '--json']);
    const report = JSON.parse(run.stdout) as {
      ok: boolean;
      config: string;
      checks: { instance: string; check: string; status: string; detail: string }[];
    };
    expect(report.config).toBe(config);
    for (const inst of instances) {
      const s = await openMysqlSession({
        host: inst.host,
        port: inst.port,
        tls: inst.tls,
        serverPublicKey: inst.serverPublicKey,
        user: inst.user,
        password: inst.password,
      });
      try {
        const [v] = await s.query<{ version: string; format: string; image: string }>(
          'SELECT VERSION() AS version, @@binlog_format AS format, @@binlog_row_image AS image',
        );
        const mine = report.checks.filter((c) => c.instance === inst.name);
        expect(mine.find((c) => c.check === 'reachable')?.status).toBe('ok');
        expect(mine.find((c) => c.check === 'version')?.detail).toBe(v!.version);
        expect(mine.find((c) => c.check === 'binlog_format')).toMatchObject({
          status: v!.format === 'ROW' ? 'ok' : 'fail',
          detail: expect.stringContaining(v!.format),
        });
        expect(mine.find((c) => c.check === 'binlog_row_image')?.status).toBe(v!.image === 'FULL' ? 'ok' : 'fail');
        for (const check of ['log_bin', 'binlog_row_metadata', 'gtid_mode', 'tls', 'replication grants'])
          expect(mine.find((c) => c.check === check)).toBeDefined();
      } finally {
        await s.close();
      }
    }
    expect(report.checks.find((c) => c.check === 'fd budget')?.status).toBe('ok');
    expect(run.code).toBe(report.checks.some((c) => c.status === 'fail') ? 3 : 0);
  });

  it('doctor: a closed port and a wrong replication password fail, exit 3, table on stdout', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const bad = writeConfig(dir, 'bad.yaml', (doc) => {
      isolated(doc);
      doc.instances[0].port = port;
      doc.instances[1].replication = { user: doc.instances[1].replication?.user ?? 'shardline_repl', password: 'certainly-wrong' };
    });
    const run = cli(['doctor', '--config', bad]);
    expect(run.code).toBe(3);
    const lines = run.stdout.split('\n');
    expect(lines.find((l) => l.startsWith(`${instances[0]!.name} `) && l.includes('reachable'))).toMatch(
      /FAIL\s+127\.0\.0\.1:\d+ as \S+: .*ECONNREFUSED/,
    );
    expect(lines.find((l) => l.startsWith(`${instances[1]!.name} `) && l.includes('replication account'))).toContain('FAIL');
    expect(run.stdout).not.toContain('certainly-wrong');
    expect(run.stdout).toMatch(/\d+ check\(s\) failed/);
  });
});
