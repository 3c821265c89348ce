import { Client } from '@elastic/elasticsearch';
import { META_MAPPING, TOMBSTONE_FILTER, indexNamesFor } from '../../src/cdc/sinks/elasticsearch/index.js';
import { createRouter, loadClusterConfig, type Router } from '../../src/index.js';
import { ALL_SECTIONS, requireSections } from '../../src/config/index.js';
import { Topology } from '../../src/shard/index.js';
import { diff, sourceRows } from '../support/cdc-equality.js';
import { WorkerProcess, writeCdcTestConfig } from '../support/cdc.js';
import {
  PK,
  StartedByTestsMarkerGuard,
  archiveLive,
  SteadyWorkload,
  cleanupCdcTest,
  converge,
  devUp,
  esDocsOrNone,
  healCluster,
  metricSum,
  metricValue,
  pipelineDiff,
  readTopic,
  servicePid,
  waitGone,
  waitStartedReading,
  type ReadMessage,
} from '../support/cdc-faults.js';
import { randomWorkload, uidsCoveringShards } from '../support/cdc-workload.js';
import { shardline } from '../support/cluster.js';

/** Kafka restart and Elasticsearch pause share one worker; the poison test has its own (its index is pre-made). */
const NAME = `it_faults_${process.pid}`;
const POISON = `it_faultp_${process.pid}`;
const configPath = writeCdcTestConfig(NAME);
const poisonConfigPath = writeCdcTestConfig(POISON);
const config = requireSections(loadClusterConfig(configPath), ALL_SECTIONS, 'the CDC tests');
const poisonConfig = requireSections(loadClusterConfig(poisonConfigPath), ALL_SECTIONS, 'the CDC tests');
const topology = new Topology(
  config.sharding,
  config.instances.map((i) => i.name),
);
const INSTANCES = config.instances.map((i) => i.name);
const BASE = 8_300_000_000n + BigInt(process.pid % 1000) * 1_000_000n;
/** uid ranges: Kafka burst / steady, ES burst / steady, markers (all NAME's, up to `end`); the poison test's. */
const R = {
  kafkaBurst: BASE,
  kafkaSteady: BASE + 100_000n,
  esBurst: BASE + 200_000n,
  esSteady: BASE + 300_000n,
  marker: BASE + 500_000n,
  end: BASE + 599_999n,
  poison: BASE + 900_000n,
};
const worker = new WorkerProcess(configPath, 19470);
const poisonWorker = new WorkerProcess(poisonConfigPath, 19471);
let router: Router;
let esPid: number | null = null;
const timings: Record<string, number | string> = {};
const markerGuard = new StartedByTestsMarkerGuard();

/**
 * How long Elasticsearch stays stopped: the required minute, plus a few seconds so that the bulk
 * requests the sink sends at the start of the pause reach its 60 s request time-out before ES
 * resumes — the time-out → back-off → retry path runs, not only a request that hangs and then
 * completes.
 */
const ES_PAUSE_MS = 66_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const range = (from: bigint, n: number) => Array.from({ length: n }, (_, k) => from + BigInt(k));
const log = (msg: string) => process.stdout.write(`[cdc-faults] ${msg}\n`);

/** Resumes ES if this test stopped it, whatever happens (a stopped ES would break every later test). */
const resumeEs = () => {
  if (esPid !== null) {
    try {
      process.kill(esPid, 'SIGCONT');
    } catch {
      /* gone */
    }
  }
};
process.once('exit', resumeEs);

beforeAll(async () => {
  shardline('migrate');
  router = await createRouter(config);
}, 120_000);

afterAll(async () => {
  resumeEs();
  healCluster(esPid);
  esPid = null;
  markerGuard.stop();
  await worker.stop();
  await poisonWorker.stop();
  await router?.close();
  for (const name of [NAME, POISON]) await cleanupCdcTest(config, name);
  log(`timings: ${JSON.stringify(timings)}`);
}, 240_000);

/** Source = ES = archive for the whole range of NAME. */
const wholeRange = () => pipelineDiff(router, config, NAME, BASE, R.end);

/** Waits until one users row is in ES and in the archive with the given name; ms it took. */
async function waitMarker(uid: bigint, name: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const es = await esDocsOrNone(config.elasticsearch.node, `${NAME}-users`, uid, uid).catch(
      () => new Map<string, Record<string, unknown>>(),
    );
    const archive = await archiveLive(config, NAME, 'users', uid, uid);
    if (es.get(String(uid))?.['name'] === name && archive.get(String(uid))?.['name'] === name) return Date.now() - started;
    await sleep(250);
  }
  throw new Error(`marker ${uid} not in ES and archive after ${timeoutMs} ms; worker log: ${worker.log().slice(-4000)}`);
}

/** The worker was never restarted, is alive, reads every instance and reports no failed reader. */
async function expectWorkerRecoveredByItself(w: WorkerProcess): Promise<void> {
  expect(w.starts).toBe(1);
  expect(w.child?.exitCode).toBeNull();
  const health = (await (await fetch(`http://127.0.0.1:${w.httpPort}/healthz`)).json()) as {
    ok: boolean;
    reading: string[];
    failed: Record<string, string>;
  };
  expect(health.failed).toEqual({});
  expect([...health.reading].sort()).toEqual([...INSTANCES].sort());
  expect(health.ok).toBe(true);
}

describe('poison document', () => {
  const poisonIds = new Set<string>();
  /** The poison: a balance beyond the `integer` the pre-made index maps it as. */
  const POISON_BALANCE = '9999999999.00';
  const isPoison = (row: Record<string, unknown> | null | undefined) =>
    String(row?.['balance']) === POISON_BALANCE || String(row?.['balance']) === '8888888888.00';

  it('is dead-lettered with its reason and counted; the pipeline continues', async () => {
    // The index the sink writes through, made beforehand with `balance` as an integer: users rows
    // whose balance is beyond 2^31 are refused by Elasticsearch (a 400 for the item, not the
    // request). Other tests' users rows (the worker captures every write to the cluster) have
    // small balances and pass, so only ours become dead letters.
    const names = indexNamesFor(poisonConfig.cdc.elasticsearch.indexPrefix, 'users');
    const es = new Client({ node: config.elasticsearch.node });
    try {
      await es.indices.create({
        index: names.index,
        settings: { number_of_shards: 1, number_of_replicas: 0, refresh_interval: '1s' },
        mappings: {
          dynamic: false,
          properties: {
            uid: { type: 'keyword', fields: { num: { type: 'double' } } },
            balance: { type: 'integer' },
            _shardline: META_MAPPING as never,
          },
        },
        aliases: { [names.alias]: { is_write_index: true, filter: TOMBSTONE_FILTER as never } },
      });
    } finally {
      await es.close();
    }
    poisonWorker.start();
    try {
      await poisonIsDeadLettered();
    } finally {
      await poisonWorker.stop();
    }
  }, 180_000);

  async function poisonIsDeadLettered(): Promise<void> {
    await poisonWorker.waitReading(INSTANCES);
    await waitStartedReading(() => poisonWorker.metrics(), INSTANCES);

    const first = range(R.poison, 40);
    const later = range(R.poison + 1000n, 20);
    const balanceOf = (k: number) => (k % 4 === 0 ? POISON_BALANCE : `${k}.25`);
    for (const [k, u] of first.entries()) if (k % 4 === 0) poisonIds.add(String(u));
    await router.query(
      `INSERT INTO users (uid, name, email, balance) VALUES ${first.map(() => '(?, ?, NULL, ?)').join(', ')}`,
      first.flatMap((u, k) => [u, `poison test ${u}`, balanceOf(k)]),
    );
    await router.query(
      `INSERT INTO orders (uid, order_id, amount, status, created_at) VALUES ${first.map(() => "(?, 1, 2.50, 'new', NOW(6))").join(', ')}`,
      first,
    );
    // Later changes: more good rows, one poison row fixed (a small balance now: it arrives), one poisoned again.
    const fixed = first[0]!;
    const again = first[4]!;
    await router.query(
      `INSERT INTO users (uid, name, email, balance) VALUES ${later.map(() => '(?, ?, NULL, 3.00)').join(', ')}`,
      later.flatMap((u) => [u, `later ${u}`]),
    );
    await router.query('UPDATE users SET balance = ?, name = ? WHERE uid = ?', ['7.77', 'fixed', fixed]);
    await router.query('UPDATE users SET balance = ?, name = ? WHERE uid = ?', ['8888888888.00', 'poisoned again', again]);
    const expectedDead = poisonIds.size + 1;

    const to = R.poison + 9999n;
    const check = async () => {
      const users = await sourceRows(router, 'users', PK.users, R.poison, to);
      const orders = await sourceRows(router, 'orders', PK.orders, R.poison, to);
      const goodUsers = new Map([...users].filter(([, r]) => !isPoison(r)));
      return [
        ...diff(goodUsers, await esDocsOrNone(config.elasticsearch.node, `${POISON}-users`, R.poison, to), 'es users'),
        ...diff(orders, await esDocsOrNone(config.elasticsearch.node, `${POISON}-orders`, R.poison, to), 'es orders'),
        ...diff(users, await archiveLive(config, POISON, 'users', R.poison, to), 'archive users'),
        ...diff(orders, await archiveLive(config, POISON, 'orders', R.poison, to), 'archive orders'),
      ];
    };
    const result = await converge(check, 90_000);
    expect(result.problems).toEqual([]);
    const users = await sourceRows(router, 'users', PK.users, R.poison, to);
    expect(users.size).toBe(60);
    expect(users.get(String(fixed))?.['balance']).toBe('7.77');
    expect([...users.values()].filter(isPoison)).toHaveLength(poisonIds.size - 1);

    // The dead-letter topic: every poison change, with the sink, ES's reason and the record.
    // The dead-letter topic. Ours are the ones in our uid range (should another test write a
    // huge balance meanwhile, it is a dead letter too).
    type Letter = {
      m: ReadMessage;
      v: {
        sink: string;
        reason: string;
        table: string;
        id: string;
        version: string;
        origin: { topic: string };
        event: { op: string; after: Record<string, unknown> | null };
      };
    };
    const ours = (ms: ReadMessage[]): Letter[] =>
      ms
        .map((m) => ({ m, v: JSON.parse(m.value ?? 'null') as Letter['v'] }))
        .filter((l) => /^\d+$/.test(l.v.id) && BigInt(l.v.id) >= R.poison && BigInt(l.v.id) <= to);
    let seen = 0;
    let found = 0;
    const enough = (ms: ReadMessage[]) => {
      for (; seen < ms.length; seen++) found += ours([ms[seen]!]).length;
      return found >= expectedDead;
    };
    const messages = await readTopic(config.kafka.brokers, poisonConfig.cdc.deadLetterTopic, enough, 60_000);
    const letters = ours(messages);
    expect(letters).toHaveLength(expectedDead);
    for (const { m, v } of letters) {
      expect(v.sink).toBe('elasticsearch');
      expect(v.table).toBe('users');
      expect(poisonIds.has(v.id)).toBe(true);
      expect(m.key).toBe(v.id);
      expect(v.reason).toMatch(
        /^(document_parsing_exception|mapper_parsing_exception): .*failed to parse field \[balance\] of type \[integer\]/,
      );
      expect(m.headers['sink']).toBe('elasticsearch');
      expect(m.headers['reason']).toBe(v.reason.slice(0, 1000));
      expect(v.origin.topic).toBe(`${POISON}.users`);
      expect(isPoison(v.event.after)).toBe(true);
      expect(String(v.event.after?.['uid'])).toBe(v.id);
    }
    expect(new Set(letters.map((l) => l.v.id))).toEqual(poisonIds);
    expect(
      letters
        .filter((l) => l.v.id === String(again))
        .map((l) => l.v.event.op)
        .sort(),
    ).toEqual(['c', 'u']);
    log(`poison: ${expectedDead} dead letters, e.g. reason ${letters[0]!.v.reason.slice(0, 200)}`);

    // Counted (both counters; should another test's row be refused too, it counts as well).
    const metrics = await poisonWorker.metrics();
    const esDead = metricValue(metrics, 'shardline_es_dead_letters_total', { table: 'users' });
    const sinkDead = metricValue(metrics, 'shardline_sink_dead_letters_total', { sink: 'elasticsearch', table: 'users' });
    log(
      `poison: shardline_es_dead_letters_total{table="users"} ${esDead}, shardline_sink_dead_letters_total{sink="elasticsearch",table="users"} ${sinkDead}, ours ${expectedDead}, on the topic ${messages.length}`,
    );
    expect(esDead).toBeGreaterThanOrEqual(expectedDead);
    expect(sinkDead).toBeGreaterThanOrEqual(expectedDead);
    expect(metricValue(metrics, 'shardline_es_dead_letters_total', { table: 'orders' })).toBe(0);
    expect(metricSum(metrics, 'shardline_sink_dead_letters_total') - sinkDead).toBe(0);
    await expectWorkerRecoveredByItself(poisonWorker);
    const { code } = await poisonWorker.stop();
    expect(code).toBe(0);
  }
});

describe('faults of the infrastructure', () => {
  beforeAll(async () => {
    worker.start();
    await worker.waitReading(INSTANCES);
    await waitStartedReading(() => worker.metrics(), INSTANCES);
  }, 90_000);

  it('Kafka killed and restarted mid-stream: the worker recovers by itself; source = ES = archive', async () => {
    const steady = new SteadyWorkload(router, range(R.kafkaSteady, 50_000), 21);
    steady.start();
    const burst = randomWorkload(router, uidsCoveringShards(topology, R.kafkaBurst, 1), 13, 4);
    await sleep(2500);
    const before = await worker.metrics();

    const pid = servicePid('kafka');
    markerGuard.start();
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitGone(pid);
    log(`kafka ${pid} killed (${steady.stats.ops} steady ops so far)`);
    await sleep(5000);
    const upStarted = Date.now();
    await devUp();
    const upAt = Date.now();
    timings['kafkaDownMs'] = upAt - killedAt;
    timings['kafkaDevUpMs'] = upAt - upStarted;
    log(`kafka back after ${upAt - killedAt} ms (dev up took ${upAt - upStarted} ms, new pid ${servicePid('kafka')})`);

    // Recovery: a row written now reaches both sinks once the readers and sinks are back.
    const marker = R.marker;
    await router.query('INSERT INTO users (uid, name, email, balance) VALUES (?, ?, NULL, 0)', [marker, 'after kafka restart']);
    timings['kafkaRecoveryMs'] = await waitMarker(marker, 'after kafka restart', 180_000);
    log(`kafka: a row written after the restart reached ES and the archive in ${timings['kafkaRecoveryMs']} ms`);

    await sleep(2000);
    const stats = await steady.stop();
    const work = await burst;
    log(`kafka: workload ${JSON.stringify(stats)} + burst ${JSON.stringify(work)}`);
    expect(stats.ops).toBeGreaterThan(100);

    const result = await converge(wholeRange, 120_000);
    timings['kafkaEqualityAfterWorkloadMs'] = result.ms;
    expect(result.problems).toEqual([]);

    await expectWorkerRecoveredByItself(worker);
    const after = await worker.metrics();
    timings['kafkaReaderReconnects'] =
      metricSum(after, 'shardline_cdc_reconnects_total') - metricSum(before, 'shardline_cdc_reconnects_total');
    expect(metricSum(after, 'shardline_es_dead_letters_total')).toBe(0);
    expect(metricSum(after, 'shardline_sink_dead_letters_total')).toBe(0);
  }, 420_000);

  it('Elasticsearch stopped for 60+ s mid-stream: the ES sink waits and retries, skips nothing; the archive keeps going', async () => {
    const steady = new SteadyWorkload(router, range(R.esSteady, 50_000), 42);
    steady.start();
    const burst = randomWorkload(router, uidsCoveringShards(topology, R.esBurst, 1), 17, 4);
    await sleep(2000);

    esPid = servicePid('elasticsearch');
    markerGuard.start();
    const stoppedAt = Date.now();
    process.kill(esPid, 'SIGSTOP');
    log(`elasticsearch ${esPid} stopped (SIGSTOP)`);
    try {
      await sleep(3000);
      const m0 = await worker.metrics();
      // Keep writing during the pause, then let the archive catch up while ES is still stopped.
      await sleep(25_000);
      const stats = await steady.stop();
      const work = await burst;
      log(`es: workload ${JSON.stringify(stats)} + burst ${JSON.stringify(work)}`);
      const archiveOnly = await converge(
        () => pipelineDiff(router, config, NAME, BASE, R.end, { archive: true }),
        Math.max(5000, ES_PAUSE_MS - 5000 - (Date.now() - stoppedAt)),
      );
      expect(archiveOnly.problems).toEqual([]);
      timings['archiveEqualWhileEsStoppedAtMs'] = Date.now() - stoppedAt;
      const m1 = await worker.metrics();
      const archiveDuring =
        metricValue(m1, 'shardline_sink_records_total', { sink: 'archive', table: 'users' }) -
        metricValue(m0, 'shardline_sink_records_total', { sink: 'archive', table: 'users' });
      const esDuring =
        metricValue(m1, 'shardline_sink_records_total', { sink: 'elasticsearch', table: 'users' }) -
        metricValue(m0, 'shardline_sink_records_total', { sink: 'elasticsearch', table: 'users' });
      timings['archiveRecordsDuringPause'] = archiveDuring;
      timings['esRecordsDuringPause'] = esDuring;
      expect(archiveDuring).toBeGreaterThan(100);
      expect(esDuring).toBe(0);
      const wait = ES_PAUSE_MS - (Date.now() - stoppedAt);
      if (wait > 0) await sleep(wait);
    } finally {
      process.kill(esPid, 'SIGCONT');
    }
    const resumedAt = Date.now();
    timings['esPausedMs'] = resumedAt - stoppedAt;
    log(`elasticsearch resumed after ${resumedAt - stoppedAt} ms`);

    const result = await converge(wholeRange, 180_000, 500);
    timings['esCatchUpMs'] = result.ms;
    log(`es: caught up ${result.ms} ms after SIGCONT`);
    expect(result.problems).toEqual([]);

    const metrics = await worker.metrics();
    timings['esRetries'] = JSON.stringify(
      Object.fromEntries(
        metrics
          .split('\n')
          .filter((l) => l.startsWith('shardline_es_retries_total{'))
          .map((l) => [/reason="([^"]*)"/.exec(l)?.[1] ?? '?', Number(l.split(' ').pop())]),
      ),
    );
    timings['esFailedBulks'] = metricValue(metrics, 'shardline_es_bulk_duration_seconds_count', { outcome: 'failed' });
    // Backed off and retried (the requests sent at the start of the pause timed out), skipped nothing.
    expect(metricValue(metrics, 'shardline_es_retries_total', { reason: 'timeout' })).toBeGreaterThanOrEqual(1);
    expect(metricSum(metrics, 'shardline_es_dead_letters_total')).toBe(0);
    expect(metricSum(metrics, 'shardline_sink_dead_letters_total')).toBe(0);
    await expectWorkerRecoveredByItself(worker);
    esPid = null;

    const { code } = await worker.stop();
    expect(code).toBe(0);
  }, 420_000);
});
