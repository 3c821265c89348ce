import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import { Registry } from 'prom-client';
import type { CdcClusterConfig } from '../config/index.js';
import { KafkajsEventLog } from '../cdc/kafka/kafkajs-event-log.js';
import { buildSinks } from '../cdc/sinks/build-sinks.js';
import { indexNamesFor } from '../cdc/sinks/elasticsearch/index-names.js';
import { CdcWorker } from '../cdc/worker.js';
import { stateDir } from '../devcluster/index.js';
import { createLogger } from '../log/logger.js';
import { openMysqlSession } from '../net/index.js';
import type { Router } from '../router/index.js';

type Row = Record<string, unknown>;

/** The demo's in-process worker: `logFile` holds its JSON log (appended); `warnings()` counts this run's WARN and ERROR-or-worse lines so far. */
export interface DemoWorker {
  logFile: string;
  warnings(): { warnings: number; errors: number };
  stop(): Promise<void>;
}

/** The WARN lines and the ERROR-or-worse lines of a JSON log file (pino levels 40 and ≥ 50), from byte `from` on. */
export function countWarnings(file: string, from = 0): { warnings: number; errors: number } {
  let text: string;
  try {
    text = readFileSync(file).subarray(from).toString('utf8');
  } catch {
    return { warnings: 0, errors: 0 };
  }
  const out = { warnings: 0, errors: 0 };
  for (const line of text.split('\n')) {
    const m = /^\{"level":(\d+)\b/.exec(line);
    const level = m ? Number(m[1]) : 0;
    if (level >= 50) out.errors++;
    else if (level >= 40) out.warnings++;
  }
  return out;
}

/**
 * The demo's CDC worker, in process (readers and both sinks). Its log (kafkajs retries on a
 * fresh broker, sink warnings) goes to a JSON file, not between the demo's steps on the terminal.
 */
export async function startDemoWorker(config: CdcClusterConfig): Promise<DemoWorker> {
  const logFile = path.join(stateDir().logs, 'demo-worker.log');
  const from = existsSync(logFile) ? statSync(logFile).size : 0;
  const quiet = createLogger({ file: logFile });
  const registry = new Registry();
  const eventLog = new KafkajsEventLog({
    brokers: config.kafka.brokers,
    clientId: `${config.kafka.clientId}-demo`,
    logger: quiet,
    security: config.kafka,
    compression: config.cdc.compression,
    maxEventBytes: config.cdc.maxEventBytes,
  });
  const sinks = buildSinks(config, { registry, logger: quiet });
  const worker = new CdcWorker({
    config,
    log: eventLog,
    logger: quiet,
    registry,
    roles: new Set(['reader', 'elasticsearch', 'archive']),
    sinks: sinks.factories,
    httpPort: 0,
  });
  await worker.start();
  const started = Date.now();
  let shown = started;
  while (!worker.caughtUp && Date.now() - started < 600_000) {
    await new Promise((r) => setTimeout(r, 200));
    if (Date.now() - shown > 5000) {
      shown = Date.now();
      process.stdout.write(
        `   catching up with the binlog written since the worker last ran (${Math.round((shown - started) / 1000)} s)…\n`,
      );
    }
  }
  return {
    logFile,
    warnings: () => countWarnings(logFile, from),
    stop: async () => {
      await worker.stop();
      await eventLog.close();
      await sinks.close();
    },
  };
}

/** Searches the logical table's alias (tombstones hidden) for one uid. */
export async function esFind(es: Client, config: CdcClusterConfig, table: string, uid: bigint): Promise<Row[]> {
  const { alias } = indexNamesFor(config.cdc.elasticsearch.indexPrefix, table);
  const res = await es.search<Row>({ index: alias, query: { term: { uid: uid.toString() } } }).catch(() => null);
  return (res?.hits.hits ?? []).map((h) => h._source ?? {});
}

/** Whether `GET <alias>/_doc/<uid>` finds the document (a deleted row: false). */
export async function esFoundById(es: Client, config: CdcClusterConfig, table: string, uid: bigint): Promise<boolean> {
  const { alias } = indexNamesFor(config.cdc.elasticsearch.indexPrefix, table);
  return (await es.get({ index: alias, id: uid.toString() }, { ignore: [404] })).found;
}

/** Waits until `check` holds; resolves with the milliseconds it took (or null after `timeoutMs`). */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<number | null> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (await check()) return performance.now() - started;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return null;
}

/** Commit → searchable latency of single-row updates: update, then poll a search for the new value. */
export async function measureSearchLatency(
  router: Router,
  es: Client,
  config: CdcClusterConfig,
  uids: readonly bigint[],
): Promise<number[]> {
  const out: number[] = [];
  for (const [i, uid] of uids.entries()) {
    const balance = `${7000 + i}.${String(Date.now() % 100).padStart(2, '0')}`;
    await router.query('UPDATE users SET balance = ?, updated_at = NOW(6) WHERE uid = ?', [balance, uid]);
    const ms = await waitFor(async () => (await esFind(es, config, 'users', uid))[0]?.['balance'] === balance, 30_000);
    if (ms !== null) out.push(ms);
  }
  return out.sort((a, b) => a - b);
}

/** The archive's row of a key (all columns, including _version and _deleted). */
export async function archiveRow(config: CdcClusterConfig, table: string, uid: bigint): Promise<Row | null> {
  const a = config.archive;
  const s = await openMysqlSession({
    name: a.name,
    host: a.host,
    port: a.port,
    user: a.user,
    password: a.password,
    database: a.database,
    tls: a.tls,
    serverPublicKey: a.serverPublicKey,
  });
  try {
    const [row] = await s
      .query<Row>(`SELECT * FROM \`${table}\` WHERE uid = ? ORDER BY _version DESC LIMIT 1`, [uid.toString()])
      .catch(() => [] as Row[]);
    return row ?? null;
  } finally {
    await s.close();
  }
}

/** Counts of a uid range: source rows (router), live ES documents, live archive rows. */
export async function counts(
  router: Router,
  es: Client,
  config: CdcClusterConfig,
  table: string,
  from: bigint,
  to: bigint,
): Promise<{ source: number; es: number; archive: number }> {
  const [src] = await router.select<{ n: bigint | string }>(`SELECT COUNT(*) AS n FROM ${table} WHERE uid BETWEEN ? AND ?`, [from, to], {
    scatter: true,
  });
  const { alias } = indexNamesFor(config.cdc.elasticsearch.indexPrefix, table);
  await es.indices.refresh({ index: alias }).catch(() => undefined);
  const uids: string[] = [];
  for (let u = from; u <= to; u++) uids.push(u.toString());
  const esCount = (await es.count({ index: alias, query: { terms: { uid: uids } } }).catch(() => ({ count: -1 }))).count;
  const a = config.archive;
  const s = await openMysqlSession({
    name: a.name,
    host: a.host,
    port: a.port,
    user: a.user,
    password: a.password,
    database: a.database,
    tls: a.tls,
    serverPublicKey: a.serverPublicKey,
  });
  try {
    const [row] = await s
      .query<{ n: string | number }>(`SELECT COUNT(*) AS n FROM \`${table}\` WHERE _deleted = 0 AND uid BETWEEN ? AND ?`, [
        from.toString(),
        to.toString(),
      ])
      .catch(() => [{ n: -1 }]);
    return { source: Number(src?.n ?? 0), es: esCount, archive: Number(row?.n ?? -1) };
  } finally {
    await s.close();
  }
}
