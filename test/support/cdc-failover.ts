import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from '@jest/globals';
import type { Router } from '../../src/index.js';
import { KafkajsEventLog, type ChangeEvent } from '../../src/cdc/index.js';
import type { CdcClusterConfig } from '../../src/config/index.js';
import { archiveRows, diff, esAllDocs, type Keyed } from './cdc-equality.js';
import type { WorkerProcess } from './cdc.js';

/** The CDC worker of a failover test: its config, its topics' and index's name prefix, its process. */
export interface FailoverCdc {
  name: string;
  config: CdcClusterConfig;
  worker: WorkerProcess;
}

const columns = (r: Record<string, unknown>) => ({ uid: String(r['uid']), name: r['name'], email: r['email'], balance: r['balance'] });

/** The worker's log lines (JSON, pino levels) that are warnings or errors or name `instance`: the last 80. */
function workerLines(cdc: FailoverCdc, instance: string): string {
  const lines = cdc.worker.log().split('\n');
  const kept = lines.filter((l) => {
    try {
      const o = JSON.parse(l) as { level?: number; instance?: string };
      return (o.level ?? 0) >= 40 || o.instance === instance;
    } catch {
      return l.trim() !== '';
    }
  });
  return kept.slice(-80).join('\n');
}

/**
 * Differences between `source` and the test's users in Elasticsearch and the archive (only keys in
 * `wanted`, the failover columns), read again every second for up to 120 s until there are none.
 */
export async function sinkDifferences(
  cdc: FailoverCdc,
  source: Keyed,
  wanted: ReadonlySet<string>,
  from: bigint,
  to: bigint,
  label = '',
): Promise<string[]> {
  const only = (docs: Keyed): Keyed => new Map([...docs].filter(([k]) => wanted.has(k)).map(([k, d]) => [k, columns(d)]));
  const deadline = Date.now() + 120_000;
  let problems: string[] = [];
  do {
    if (problems.length) await sleep(1000);
    problems = [
      ...diff(source, only(await esAllDocs(cdc.config.elasticsearch.node, `${cdc.name}-users`, from, to)), `es${label}`),
      ...diff(source, only((await archiveRows(cdc.config, `${cdc.name}_archive`, 'users', ['uid'], from, to)).live), `archive${label}`),
    ];
  } while (problems.length && Date.now() < deadline);
  return problems;
}

/**
 * The CDC followed the instance through its failovers: the test's users in Elasticsearch and the
 * archive equal the source (rows changed on the promoted replica and after failing back
 * included: their versions, of later epochs, must beat the inserts'), no source transaction was
 * published twice, events were read from more than one server, and the worker's log says why it
 * moved (`moved`, when given). With `lostAllowed` (an unplanned failover), acknowledged writes the source no
 * longer has are left out: the sinks may hold them (the reader can be ahead of the replica).
 */
export async function cdcFollowed(
  cdc: FailoverCdc,
  router: Router,
  instance: string,
  acked: readonly string[],
  o: { moved?: RegExp; minEvents?: number; lostAllowed?: boolean },
): Promise<void> {
  const uids = acked.map((u) => BigInt(u));
  const from = uids.reduce((a, b) => (a < b ? a : b));
  const to = uids.reduce((a, b) => (a > b ? a : b));
  const source: Keyed = new Map();
  for (let i = 0; i < acked.length; i += 500) {
    const list = acked.slice(i, i + 500).join(',');
    const rows = (await router.query(`SELECT uid, name, email, balance FROM users WHERE uid IN (${list})`, [], {
      scatter: true,
    })) as Record<string, unknown>[];
    for (const r of rows) source.set(String(r['uid']), columns(r));
  }
  if (!o.lostAllowed) expect(source.size).toBe(acked.length);
  const wanted = new Set(o.lostAllowed ? source.keys() : acked);
  const problems = await sinkDifferences(cdc, source, wanted, from, to, ` (${instance})`);
  if (problems.length)
    process.stderr.write(`[cdc-failover] ${instance}: the worker's log, warnings and this instance:\n${workerLines(cdc, instance)}\n`);
  expect(problems).toEqual([]);
  const log = new KafkajsEventLog({ brokers: cdc.config.kafka.brokers, clientId: `${cdc.name}-check` });
  try {
    const seen = new Map<string, number>();
    const servers = new Set<string>();
    for (const m of await log.readToEnd(`${cdc.name}.users`)) {
      const e = JSON.parse(m.value!.toString('utf8')) as ChangeEvent;
      if (e.source.instance !== instance || !wanted.has(m.key!.toString('utf8'))) continue;
      const at = `${e.source.gtid ?? `${e.source.file}:${e.source.pos}`}/${e.source.table}/${m.key!.toString('utf8')}/${e.op}`;
      seen.set(at, (seen.get(at) ?? 0) + 1);
      servers.add(`${e.source.server_uuid ?? e.source.server_id}`);
    }
    expect([...seen].filter(([, n]) => n > 1)).toEqual([]);
    expect(seen.size).toBeGreaterThanOrEqual(o.minEvents ?? wanted.size);
    expect(servers.size).toBeGreaterThanOrEqual(2);
    if (o.moved) expect(cdc.worker.log()).toMatch(o.moved);
  } finally {
    await log.close();
  }
}
