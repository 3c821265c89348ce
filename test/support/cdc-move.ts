import { expect } from '@jest/globals';
import type { Router } from '../../src/index.js';
import { KafkajsEventLog, type ChangeEvent } from '../../src/cdc/index.js';
import type { Keyed } from './cdc-equality.js';
import { sinkDifferences, type FailoverCdc } from './cdc-failover.js';

const columns = (r: Record<string, unknown>) => ({ uid: String(r['uid']), name: r['name'], email: r['email'], balance: r['balance'] });

/** What the change stream of the moved rows looked like. */
export interface MovedStream {
  keys: number;
  events: number;
  /** Keys with events from more than one instance (their shard moved while they changed). */
  crossed: number;
}

/**
 * The CDC of `users` went through shard moves untouched: for the acknowledged uids, Elasticsearch
 * and the archive equal the source; in Kafka (read_committed) every key has exactly one insert
 * (the moves' copy and catch-up writes never appear), no source change twice, and versions that
 * rise strictly from each event of a key to the next — across the instances it moved between.
 */
export async function cdcUntouchedByMoves(cdc: FailoverCdc, router: Router, acked: readonly string[]): Promise<MovedStream> {
  const uids = acked.map((u) => BigInt(u));
  const from = uids.reduce((a, b) => (a < b ? a : b));
  const to = uids.reduce((a, b) => (a > b ? a : b));
  const source: Keyed = new Map();
  for (let i = 0; i < acked.length; i += 500) {
    const rows = (await router.query(
      `SELECT uid, name, email, balance FROM users WHERE uid IN (${acked.slice(i, i + 500).join(',')})`,
      [],
      {
        scatter: true,
      },
    )) as Record<string, unknown>[];
    for (const r of rows) source.set(String(r['uid']), columns(r));
  }
  expect(source.size).toBe(acked.length);
  const wanted = new Set(acked);
  const problems = await sinkDifferences(cdc, source, wanted, from, to);
  if (problems.length) process.stderr.write(`[reshard-cdc] worker log (tail):\n${cdc.worker.log().split('\n').slice(-60).join('\n')}\n`);
  expect(problems).toEqual([]);

  const log = new KafkajsEventLog({ brokers: cdc.config.kafka.brokers, clientId: `${cdc.name}-check` });
  try {
    const perKey = new Map<string, ChangeEvent[]>();
    for (const m of await log.readToEnd(`${cdc.name}.users`)) {
      const key = m.key!.toString('utf8');
      if (!wanted.has(key)) continue;
      const e = JSON.parse(m.value!.toString('utf8')) as ChangeEvent;
      perKey.set(key, [...(perKey.get(key) ?? []), e]);
    }
    const twice: string[] = [];
    const inserts: string[] = [];
    const backwards: string[] = [];
    let events = 0;
    let crossed = 0;
    for (const [key, list] of perKey) {
      events += list.length;
      const seen = new Set<string>();
      for (const e of list) {
        const at = `${e.source.instance}/${e.source.gtid ?? `${e.source.file}:${e.source.pos}`}/${e.source.row ?? 0}/${e.op}`;
        if (seen.has(at)) twice.push(`${key} ${at}`);
        seen.add(at);
      }
      const creates = list.filter((e) => e.op === 'c' || e.op === 'r').length;
      if (creates !== 1) inserts.push(`${key}: ${creates} inserts (${list.map((e) => `${e.op}@${e.source.instance}`).join(' ')})`);
      for (let i = 1; i < list.length; i++)
        if (BigInt(list[i]!.source.version!) <= BigInt(list[i - 1]!.source.version!))
          backwards.push(
            `${key}: ${list[i - 1]!.op}@${list[i - 1]!.source.instance} v${list[i - 1]!.source.version} then ${list[i]!.op}@${list[i]!.source.instance} v${list[i]!.source.version}`,
          );
      if (new Set(list.map((e) => e.source.instance)).size > 1) crossed++;
    }
    expect(twice.slice(0, 10)).toEqual([]);
    expect(inserts.slice(0, 10)).toEqual([]);
    expect(backwards.slice(0, 10)).toEqual([]);
    expect(perKey.size).toBe(acked.length);
    return { keys: perKey.size, events, crossed };
  } finally {
    await log.close();
  }
}
