import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundledClusterConfig, interpolateEnv, packageRoot } from '../../src/config/index.js';
import { ConfigError, RoutingError, UsageError, type ShardlineError } from '../../src/errors/index.js';
import { describeFailure } from '../../src/cli/cli-error.js';
import { intFlag } from '../../src/cli/cli-flags.js';
import { chooseConfig, inOwnCheckout } from '../../src/cli/config-choice.js';
import { missingReplicationGrants } from '../../src/cli/doctor-checks.js';
import { migrationsDir } from '../../src/cli/migrate-command.js';

function thrown(fn: () => unknown): ShardlineError {
  try {
    fn();
  } catch (err) {
    return err as ShardlineError;
  }
  throw new Error('expected a throw');
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'shardline-cli-pure-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('chooseConfig', () => {
  it('prefers --config, then SHARDLINE_CONFIG, then ./shardline.yaml; the demo only in the checkout or for dev/demo', () => {
    const project = path.join(tmp, 'project');
    mkdirSync(project);
    expect(chooseConfig('c.yaml', { env: { SHARDLINE_CONFIG: '/etc/x.yaml' }, cwd: project })).toEqual({
      path: path.join(project, 'c.yaml'),
      source: '--config',
    });
    expect(chooseConfig(undefined, { env: { SHARDLINE_CONFIG: '/etc/x.yaml' }, cwd: project })).toEqual({
      path: '/etc/x.yaml',
      source: 'SHARDLINE_CONFIG',
    });
    const none = thrown(() => chooseConfig(undefined, { env: {}, cwd: project }));
    expect(none).toBeInstanceOf(ConfigError);
    expect(none.code).toBe('CONFIG_NOT_FOUND');
    expect(chooseConfig(undefined, { env: {}, cwd: project, localCluster: true })).toEqual({
      path: bundledClusterConfig,
      source: 'bundled demo config',
    });
    writeFileSync(path.join(project, 'shardline.yaml'), 'instances: []\n');
    expect(chooseConfig(undefined, { env: {}, cwd: project })).toEqual({
      path: path.join(project, 'shardline.yaml'),
      source: 'project file',
    });
    expect(chooseConfig(undefined, { env: {}, cwd: path.join(packageRoot, 'src') }).source).toBe('bundled demo config');
  });

  it('an empty SHARDLINE_CONFIG or --config is an error, never "unset"', () => {
    const env = thrown(() => chooseConfig(undefined, { env: { SHARDLINE_CONFIG: '' }, cwd: packageRoot }));
    expect(env.code).toBe('CONFIG_ENV_MISSING');
    expect(thrown(() => chooseConfig(' ', { env: {}, cwd: packageRoot })).code).toBe('USAGE');
  });

  it('the checkout is the package root with .git, never a copy under node_modules', () => {
    const fake = path.join(tmp, 'node_modules', 'shardline');
    mkdirSync(path.join(fake, '.git'), { recursive: true });
    expect(inOwnCheckout(fake, fake)).toBe(false);
    const plain = path.join(tmp, 'copy');
    mkdirSync(plain);
    expect(inOwnCheckout(plain, plain)).toBe(false);
    mkdirSync(path.join(plain, '.git'));
    expect(inOwnCheckout(path.join(plain, 'sub'), plain)).toBe(true);
    expect(inOwnCheckout(tmp, plain)).toBe(false);
  });

  it('migrations: --dir, or the demo migrations only with the demo config in the checkout', () => {
    expect(migrationsDir('m', false, tmp)).toBe(path.join(tmp, 'm'));
    expect(migrationsDir(undefined, true, packageRoot)).toBe(path.join(packageRoot, 'migrations'));
    expect(thrown(() => migrationsDir(undefined, false, packageRoot)).code).toBe('USAGE');
    expect(thrown(() => migrationsDir(undefined, true, tmp)).code).toBe('USAGE');
  });
});

describe('${VAR} in the config', () => {
  it('an empty variable without default is CONFIG_ENV_MISSING saying it is empty; with :- the default applies (as in sh)', () => {
    const err = thrown(() => interpolateEnv({ instances: [{ password: '${PW}' }] }, { PW: '' }));
    expect(err.code).toBe('CONFIG_ENV_MISSING');
    expect(err.message).toBe(
      'config field instances.0.password needs environment variable PW, which is set but empty (give it a value, or write ${PW:-default})',
    );
    expect(err.details).toMatchObject({ variable: 'PW', empty: true });
    expect(thrown(() => interpolateEnv('${PW}', {})).message).toContain('which is not set');
    expect(interpolateEnv('${PW:-d}', { PW: '' })).toBe('d');
  });
});

describe('CLI failures', () => {
  it('usage errors exit 2, other ShardlineErrors 1, anything else 70; JSON carries code, message, details', () => {
    expect(describeFailure(new UsageError('--x expects y')).exitCode).toBe(2);
    const routing = describeFailure(
      new RoutingError(
        'SHARD_KEY_MISSING',
        'no shard-key predicate on sharded table users: … or pass { scatter: true } to run on all 1024 shards',
        { details: { table: 'users' } },
      ),
    );
    expect(routing.exitCode).toBe(1);
    expect(routing.json).toEqual({
      error: {
        code: 'SHARD_KEY_MISSING',
        message: 'no shard-key predicate on sharded table users: … or pass --scatter to run on all 1024 shards',
        details: { table: 'users' },
      },
    });
    const bug = describeFailure(new TypeError("Cannot read properties of undefined (reading 'x')"));
    expect(bug.exitCode).toBe(70);
    expect(bug.json.error.code).toBe('INTERNAL');
    expect(bug.text).toMatch(/^unexpected error: TypeError: Cannot read/);
  });

  it.each([
    ['80', 0, 65535, 80],
    ['0', 0, 65535, 0],
  ])('intFlag(%s)', (value, min, max, want) => expect(intFlag('--p', value, min, max)).toBe(want));

  it.each(['abc', '', '-1', '1.5', '1e3', '65536', '0x10', '9'.repeat(30)])('intFlag rejects %j as USAGE', (value) => {
    const err = thrown(() => intFlag('--http-port', value, 0, 65535));
    expect(err.code).toBe('USAGE');
    expect(err.message).toMatch(/^--http-port expects an integer 0 … 65535, got/);
  });
});

describe('replication grants (SHOW GRANTS as MySQL 8 and MariaDB print them)', () => {
  it.each([
    [['GRANT SELECT, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `shardline_repl`@`%`'], []],
    [["GRANT SELECT, RELOAD, BINLOG MONITOR, REPLICATION SLAVE ON *.* TO `shardline_repl`@`%` IDENTIFIED BY PASSWORD '*X'"], []],
    [['GRANT ALL PRIVILEGES ON *.* TO `root`@`%` WITH GRANT OPTION'], []],
    [
      ['GRANT USAGE ON *.* TO `app`@`%`', 'GRANT SELECT, INSERT ON `app_00`.* TO `app`@`%`'],
      ['REPLICATION SLAVE', 'REPLICATION CLIENT (MariaDB: BINLOG MONITOR)', "SELECT ON *.* (the CDC reads each shard table's columns)"],
    ],
    [
      ['GRANT REPLICATION SLAVE ON *.* TO `r`@`%`'],
      ['REPLICATION CLIENT (MariaDB: BINLOG MONITOR)', "SELECT ON *.* (the CDC reads each shard table's columns)"],
    ],
    [
      ['GRANT ALL PRIVILEGES ON `app_00`.* TO `a`@`%`'],
      ['REPLICATION SLAVE', 'REPLICATION CLIENT (MariaDB: BINLOG MONITOR)', "SELECT ON *.* (the CDC reads each shard table's columns)"],
    ],
  ])('%j lacks %j', (grants, missing) => expect(missingReplicationGrants(grants)).toEqual(missing));
});
