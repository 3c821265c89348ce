import type { ClusterConfig, InstanceConfig } from '../config/index.js';
import { isShardlineError } from '../errors/index.js';
import type { DbConnection, InstanceEndpoint, NoFileLimit } from '../net/index.js';
import { checkFdBudget } from '../router/index.js';
import { cliMessage } from './cli-error.js';

/** One line of the doctor's report. */
export interface DoctorCheck {
  /** The instance checked, or `-` for the process itself. */
  instance: string;
  check: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  detail: string;
}

type Connect = (endpoint: InstanceEndpoint) => Promise<DbConnection>;
type Vars = Record<string, unknown>;

const LOOPBACK = /^(127\.|::1$|localhost$)/i;

function reason(err: unknown): string {
  if (isShardlineError(err)) return `${err.code}: ${cliMessage(err)}`;
  const e = err as { code?: unknown; message?: unknown };
  return typeof e.code === 'string' ? `${e.code}: ${String(e.message ?? '')}` : String(e.message ?? err);
}

async function firstRow(conn: DbConnection, sql: string): Promise<Vars> {
  const out = await conn.query(sql, []);
  return out.kind === 'rows' ? ((out.rows[0] as Vars | undefined) ?? {}) : {};
}

function endpoint(inst: InstanceConfig, account: { user: string; password: string }): InstanceEndpoint {
  return {
    name: inst.name,
    host: inst.host,
    port: inst.port,
    user: account.user,
    password: account.password,
    tls: inst.tls,
    serverPublicKey: inst.serverPublicKey,
    connectTimeoutMs: 5000,
  };
}

/** Which replication grants an account's SHOW GRANTS lines lack (MariaDB ≥ 10.5 names REPLICATION CLIENT `BINLOG MONITOR`). */
export function missingReplicationGrants(grants: readonly string[]): string[] {
  const text = grants.join('\n').toUpperCase();
  if (/GRANT ALL PRIVILEGES ON \*\.\* /.test(text)) return [];
  const missing: string[] = [];
  if (!/REPLICATION (SLAVE|REPLICA)/.test(text)) missing.push('REPLICATION SLAVE');
  if (!/REPLICATION CLIENT|BINLOG MONITOR|SUPER/.test(text)) missing.push('REPLICATION CLIENT (MariaDB: BINLOG MONITOR)');
  if (!/GRANT [^\n]*\bSELECT\b[^\n]* ON \*\.\*/.test(text)) missing.push("SELECT ON *.* (the CDC reads each shard table's columns)");
  return missing;
}

/**
 * Checks one instance the way the router and the CDC will use it: reachable with the
 * application account, the flavour and version, the binlog settings the CDC needs (log_bin, ROW
 * format, FULL row image, FULL row metadata, GTIDs), TLS of the session, and the replication
 * account's grants. Never throws: every problem is a `fail` or `warn` line.
 */
export async function checkInstance(inst: InstanceConfig, connect: Connect): Promise<DoctorCheck[]> {
  const out: DoctorCheck[] = [];
  const add = (check: string, status: DoctorCheck['status'], detail: string) => out.push({ instance: inst.name, check, status, detail });
  let conn: DbConnection;
  try {
    conn = await connect(endpoint(inst, inst));
  } catch (err) {
    add('reachable', 'fail', `${inst.host}:${inst.port} as ${inst.user}: ${reason(err)}`);
    return out;
  }
  try {
    add('reachable', 'ok', `${inst.host}:${inst.port} as ${inst.user}`);
    const v = await firstRow(
      conn,
      'SELECT VERSION() AS version, @@log_bin AS log_bin, @@binlog_format AS format, @@binlog_row_image AS image, @@binlog_row_metadata AS metadata, @@server_id AS server_id',
    );
    const version = String(v['version'] ?? '');
    const flavour = /mariadb/i.test(version) ? 'mariadb' : 'mysql';
    add(
      'version',
      flavour === inst.flavour ? 'ok' : 'fail',
      flavour === inst.flavour ? version : `${version}: the config says flavour ${inst.flavour}`,
    );
    if (inst.serverId !== undefined) {
      const id = Number(v['server_id']);
      add(
        'server_id',
        id === inst.serverId ? 'ok' : 'fail',
        id === inst.serverId ? String(id) : `the server's server_id is ${id}, the config says ${inst.serverId}`,
      );
    }
    add(
      'log_bin',
      Number(v['log_bin']) === 1 ? 'ok' : 'fail',
      Number(v['log_bin']) === 1 ? 'ON' : 'OFF: the CDC needs the binary log (--log-bin)',
    );
    for (const [check, key] of [
      ['binlog_format', 'format'],
      ['binlog_row_image', 'image'],
      ['binlog_row_metadata', 'metadata'],
    ] as const) {
      const want = check === 'binlog_format' ? 'ROW' : 'FULL';
      const got = String(v[key] ?? '');
      add(check, got === want ? 'ok' : 'fail', got === want ? got : `${got || '(unknown)'}: the CDC needs ${want}`);
    }
    if (flavour === 'mysql') {
      const g = await firstRow(conn, 'SELECT @@gtid_mode AS mode, @@enforce_gtid_consistency AS enforce');
      const on = String(g['mode']) === 'ON';
      add(
        'gtid_mode',
        on ? 'ok' : 'warn',
        on
          ? `ON (enforce_gtid_consistency ${String(g['enforce'])})`
          : `${String(g['mode'])}: the CDC resumes by file and position, which does not survive a failover; set gtid_mode=ON`,
      );
    } else {
      const g = await firstRow(conn, 'SELECT @@gtid_binlog_pos AS pos, @@gtid_strict_mode AS strict');
      add(
        'gtid_mode',
        'ok',
        `MariaDB GTIDs (gtid_binlog_pos ${String(g['pos']) || 'empty'}, strict ${Number(g['strict']) === 1 ? 'ON' : 'OFF'})`,
      );
    }
    const tls = await conn.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'", []);
    const cipher = tls.kind === 'rows' ? String(tls.rows[0]?.['Value'] ?? '') : '';
    const mode = inst.tls?.mode ?? 'disabled';
    if (cipher) add('tls', 'ok', `${cipher} (tls.mode ${mode})`);
    else
      add(
        'tls',
        LOOPBACK.test(inst.host) ? 'ok' : 'warn',
        LOOPBACK.test(inst.host) ? 'plain TCP on loopback' : `plain TCP to ${inst.host}: set tls.mode verify-full`,
      );
  } catch (err) {
    add('server variables', 'fail', reason(err));
  } finally {
    await conn.close().catch(() => undefined);
  }
  const repl = inst.replication ?? { user: inst.user, password: inst.password };
  let rconn: DbConnection;
  try {
    rconn = await connect(endpoint(inst, repl));
  } catch (err) {
    add('replication account', 'fail', `${repl.user}: ${reason(err)}`);
    return out;
  }
  try {
    const grants = await rconn.query('SHOW GRANTS', []);
    const lines = grants.kind === 'rows' ? grants.rows.map((r) => String(Object.values(r)[0] ?? '')) : [];
    const missing = missingReplicationGrants(lines);
    add(
      'replication grants',
      missing.length ? 'fail' : 'ok',
      missing.length ? `${repl.user} lacks ${missing.join(', ')}` : `${repl.user}: REPLICATION SLAVE, REPLICATION CLIENT, SELECT`,
    );
  } catch (err) {
    add('replication grants', 'fail', `${repl.user}: ${reason(err)}`);
  } finally {
    await rconn.close().catch(() => undefined);
  }
  return out;
}

/** The pools' file-descriptor need against RLIMIT_NOFILE (after raising the soft limit). */
export function checkFds(config: ClusterConfig, limit: NoFileLimit): DoctorCheck {
  try {
    const { need } = checkFdBudget(config, limit);
    return {
      instance: '-',
      check: 'fd budget',
      status: 'ok',
      detail: `${need} needed (pools ${config.instances.length} × ${config.pool.max} + margin), RLIMIT_NOFILE ${limit.soft}`,
    };
  } catch (err) {
    return { instance: '-', check: 'fd budget', status: 'fail', detail: reason(err) };
  }
}

/** A plain-text table of the checks. */
export function formatChecks(checks: readonly DoctorCheck[]): string {
  const head = ['instance', 'check', 'status', 'detail'];
  const rows = checks.map((c) => [c.instance, c.check, c.status.toUpperCase(), c.detail]);
  const widths = [0, 1, 2].map((i) => Math.max(head[i]!.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    `${r
      .slice(0, 3)
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')}  ${r[3]}`;
  return [line(head), ...rows.map(line)].join('\n');
}
