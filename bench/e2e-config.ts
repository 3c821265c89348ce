// The e2e bench's own CDC config (like test/support/cdc.ts's writeCdcTestConfig, which the bench
// build cannot import): the shared local cluster, its own topics, consumer groups, ES index prefix
// and archive database, so a run never touches another worker's state. Plus the clean-up of all of it.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import kafkajs from 'kafkajs';
import mysql from 'mysql2/promise';
import { bundledClusterConfig, type CdcClusterConfig } from 'shardline/config';

/** Settings of the bench worker a run may tune (each one names its config key). */
export interface E2eTuning {
  /** cdc.partitions of the change topics. */
  partitions: number;
  /** cdc.batch.maxMs: a Kafka transaction closes after this long. */
  batchMaxMs: number;
  /** cdc.batch.maxEvents. */
  batchMaxEvents: number;
  /** cdc.elasticsearch.bulkMaxDocs. */
  bulkMaxDocs: number;
  /** cdc.compression (null: the default). */
  compression?: string | null;
}

export interface E2eNames {
  name: string;
  topicPrefix: string;
  groupPrefix: string;
  indexPrefix: string;
  archiveDatabase: string;
}

export const e2eNames = (name: string): E2eNames => ({
  name,
  topicPrefix: `${name}.`,
  groupPrefix: name,
  indexPrefix: `${name.toLowerCase()}-`,
  archiveDatabase: `${name}_archive`,
});

/** Writes `<tmp>/cluster.yaml`: the bundled cluster config with the bench's own `cdc` section. */
export function writeE2eConfig(names: E2eNames, tuning: E2eTuning): string {
  const base = readFileSync(bundledClusterConfig, 'utf8')
    .replaceAll('../.shardline', path.join(path.dirname(bundledClusterConfig), '..', '.shardline'))
    .replace(/database: shardline_archive/, `database: ${names.archiveDatabase}`);
  const cdc = `
cdc:
  topicPrefix: "${names.topicPrefix}"
  checkpointTopic: "${names.name}._checkpoints"
  deadLetterTopic: "${names.name}._dead_letters"
  assignmentTopic: "${names.name}._instances"
  groupPrefix: "${names.groupPrefix}"
  partitions: ${tuning.partitions}
  batch: { maxEvents: ${tuning.batchMaxEvents}, maxMs: ${tuning.batchMaxMs} }
  shutdownTimeoutS: 20${tuning.compression ? `\n  compression: ${tuning.compression}` : ''}
  elasticsearch: { indexPrefix: "${names.indexPrefix}", bulkMaxDocs: ${tuning.bulkMaxDocs} }
`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shardline-bench-e2e-'));
  const file = path.join(dir, 'cluster.yaml');
  writeFileSync(file, `${base}\n${cdc}`);
  return file;
}

type Log = (msg: string) => void;

/** Deletes the bench's Kafka topics and consumer groups. */
export async function dropKafkaState(config: CdcClusterConfig, names: E2eNames, log: Log): Promise<void> {
  const kafka = new kafkajs.Kafka({ clientId: `${names.name}-cleanup`, brokers: config.kafka.brokers, logLevel: kafkajs.logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${names.name}.`));
    if (topics.length) await admin.deleteTopics({ topics, timeout: 30_000 });
    const groups = ['workers', 'elasticsearch', 'archive'].map((g) => `${names.groupPrefix}-${g}`);
    await admin.deleteGroups(groups).catch(() => undefined);
    log(`kafka: deleted topics [${topics.join(', ')}] and groups [${groups.join(', ')}]`);
  } finally {
    await admin.disconnect();
  }
}

/** Deletes the bench's Elasticsearch indices (their aliases go with them) and index templates, by exact name. */
export async function dropEsState(node: string, names: E2eNames, log: Log): Promise<void> {
  const pattern = encodeURIComponent(`${names.indexPrefix}*`);
  const indicesRes = await fetch(`${node}/_cat/indices/${pattern}?format=json&h=index&expand_wildcards=all`);
  const indices = indicesRes.ok ? ((await indicesRes.json()) as { index: string }[]).map((i) => i.index) : [];
  for (const i of indices) await fetch(`${node}/${encodeURIComponent(i)}`, { method: 'DELETE' });
  const templatesRes = await fetch(`${node}/_index_template/${pattern}`);
  const templates = templatesRes.ok
    ? ((await templatesRes.json()) as { index_templates: { name: string }[] }).index_templates.map((t) => t.name)
    : [];
  for (const t of templates) await fetch(`${node}/_index_template/${encodeURIComponent(t)}`, { method: 'DELETE' });
  log(`elasticsearch: deleted indices [${indices.join(', ')}] and templates [${templates.join(', ')}]`);
}

/** Drops the bench's archive database (the archive user first, then BENCH_ADMIN_USER / root). */
export async function dropArchiveDatabase(config: CdcClusterConfig, names: E2eNames, log: Log): Promise<void> {
  const a = config.archive;
  const attempts = [
    { user: a.user, password: a.password },
    { user: process.env['BENCH_ADMIN_USER'] ?? 'root', password: process.env['BENCH_ADMIN_PASSWORD'] ?? '' },
  ];
  let last: unknown;
  for (const creds of attempts) {
    try {
      const conn = await mysql.createConnection({ host: a.host, port: a.port, ...creds });
      try {
        await conn.query(`DROP DATABASE IF EXISTS \`${names.archiveDatabase}\``);
      } finally {
        await conn.end();
      }
      log(`archive: dropped database ${names.archiveDatabase} (as ${creds.user})`);
      return;
    } catch (err) {
      last = err;
    }
  }
  throw last;
}
