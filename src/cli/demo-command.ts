import path from 'node:path';
import type { Command } from 'commander';
import { ALL_SECTIONS, packageRoot, requireSections } from '../config/index.js';
import { devStatus, devUp, formatStatusTable } from '../devcluster/index.js';
import { DevClusterError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { createRouter, type Explain, type WriteResult } from '../router/index.js';
import { Topology } from '../shard/index.js';
import { applyMigrations } from './router-commands.js';
import { loadCommandConfig } from './config-choice.js';
import { runCommand } from './run-command.js';
import { archiveRow, counts, esFind, esFoundById, measureSearchLatency, startDemoWorker } from './demo-cdc.js';
import { Client } from '@elastic/elasticsearch';
import { esClientOptions } from '../cdc/sinks/elasticsearch/index.js';

const USERS = 2000;
const out = (line = '') => process.stdout.write(`${line}\n`);

function showPlan(title: string, plan: Explain): void {
  out(`  ${title}: route ${plan.kind}, ${plan.shards.length} shard(s), ${plan.targets.length} round trip(s)`);
  for (const t of plan.targets.slice(0, 2))
    out(`    [${t.instance}] ${t.sql.length > 160 ? `${t.sql.slice(0, 160)}… (${t.sql.length} chars)` : t.sql}`);
}

/** `shardline demo`: the README's quick start. */
export function registerDemoCommand(program: Command, log: Logger): void {
  program
    .command('demo')
    .description(
      'bring the local cluster up, migrate, start the CDC worker, write users and orders through the router, find them in Elasticsearch and the archive',
    )
    .option('--config <file>', 'cluster config')
    .option('--json', 'a failure is printed as JSON on stdout')
    .action((flags: { config?: string; json?: boolean }) =>
      runCommand(
        log,
        async () => {
          const config = requireSections(loadCommandConfig(flags.config, { localCluster: true }).config, ALL_SECTIONS, 'shardline demo');
          out('shardline demo — 1. the local cluster (the first run downloads about 500 MB once)');
          await devUp(config, { log });
          const rows = await devStatus(config);
          out(`\n${formatStatusTable(rows)}\n`);
          const sick = rows.filter((r) => !r.healthy).map((r) => r.name);
          if (sick.length) throw new DevClusterError('DEV_UNHEALTHY', `not healthy: ${sick.join(', ')}`);

          const topology = new Topology(
            config.sharding,
            config.instances.map((i) => i.name),
          );
          out(
            `2. migrations on every physical table (${topology.shardCount} shards × ${topology.allTables().filter(([, k]) => k.kind === 'sharded').length} sharded tables)`,
          );
          const report = await applyMigrations(config, topology, path.join(packageRoot, 'migrations'), 4, log);
          out(`   applied ${report.applied} statement(s), ${report.alreadyApplied} already applied, in ${report.seconds.toFixed(1)} s\n`);

          out('3. the CDC worker: a binlog reader per instance → Kafka (transactional) → Elasticsearch and the archive');
          const cdc = await startDemoWorker(config);
          out(
            `   reading ${config.instances.map((i) => i.name).join(', ')}; topics ${config.cdc.topicPrefix}<table>, indices ${config.cdc.elasticsearch.indexPrefix}<table>, archive database ${config.archive.database}`,
          );
          out(`   the worker logs to ${cdc.logFile}\n`);
          const router = await createRouter(config);
          const es = new Client({ node: config.elasticsearch.node, ...esClientOptions(config.elasticsearch) });
          try {
            out(`4. writing ${USERS} users and ${USERS * 2} orders through the router (multi-row INSERTs split per shard)`);
            const t0 = performance.now();
            let written = 0;
            for (let b = 0; b < USERS; b += 100) {
              const ids = Array.from({ length: 100 }, (_, k) => BigInt(b + k + 1));
              const u = (await router.query(
                `INSERT INTO users (uid, name, email, balance) VALUES ${ids.map(() => '(?, ?, ?, ?)').join(', ')} ON DUPLICATE KEY UPDATE name = VALUES(name), email = VALUES(email), balance = VALUES(balance)`,
                ids.flatMap((id) => [
                  id,
                  `User ${id}`,
                  `user${id}@example.com`,
                  `${Number(id % 1000n)}.${String(Number(id % 100n)).padStart(2, '0')}`,
                ]),
              )) as WriteResult;
              const o = (await router.query(
                `INSERT INTO orders (uid, order_id, amount, status, created_at) VALUES ${ids.map(() => "(?, 1, ?, 'paid', NOW(6)), (?, 2, ?, 'new', NOW(6))").join(', ')} ON DUPLICATE KEY UPDATE amount = VALUES(amount)`,
                ids.flatMap((id) => [id, '19.99', id, '5.00']),
              )) as WriteResult;
              written += u.affectedRows + o.affectedRows;
            }
            out(`   ${written} row changes in ${((performance.now() - t0) / 1000).toFixed(2)} s\n`);

            out('5. point reads (each goes to exactly one physical table)');
            for (const uid of [1n, 42n, 1999n]) {
              const loc = router.topology.locate(uid);
              const [user] = await router.select<{ name: string; balance: string }>('SELECT name, balance FROM users WHERE uid = ?', [uid]);
              const orders = await router.select('SELECT order_id, amount, status FROM orders WHERE uid = ? ORDER BY order_id', [uid]);
              out(
                `   uid ${uid} → shard ${loc.shard} on ${loc.instance} (${loc.database}.${router.topology.names.table('users', loc.shard)}): ${user?.name}, balance ${user?.balance}, ${orders.length} orders`,
              );
            }

            out('\n6. scatter-gather across all shards (one UNION ALL round trip per instance, merged)');
            const t1 = performance.now();
            const [count] = await router.select<{ n: bigint; total: string }>(
              'SELECT COUNT(*) AS n, SUM(balance) AS total FROM users',
              [],
              { scatter: true },
            );
            out(`   COUNT(*) = ${count?.n}, SUM(balance) = ${count?.total} in ${(performance.now() - t1).toFixed(1)} ms`);
            const top = await router.select<{ uid: bigint; balance: string }>(
              'SELECT uid, balance FROM users ORDER BY balance DESC, uid LIMIT 3',
              [],
              { scatter: true },
            );
            out(`   top balances: ${top.map((r) => `${r.uid}=${r.balance}`).join(', ')}`);

            out('\n7. explain');
            showPlan('SELECT name FROM users WHERE uid = ?  [42]', router.explain('SELECT name FROM users WHERE uid = ?', [42n]));
            showPlan('SELECT COUNT(*) FROM orders  {scatter}', router.explain('SELECT COUNT(*) FROM orders', [], { scatter: true }));

            out('\n8. updates and deletes, then the same rows in Elasticsearch and in the archive');
            for (let uid = 1n; uid <= 50n; uid++)
              await router.query('UPDATE users SET balance = balance + 100, updated_at = NOW(6) WHERE uid = ?', [uid]);
            const gone = [1991n, 1992n, 1993n, 1994n, 1995n];
            for (const uid of gone) {
              await router.forUid(uid).transaction(async (tx) => {
                await tx.query('DELETE FROM orders WHERE uid = ?', [uid]);
                await tx.query('DELETE FROM users WHERE uid = ?', [uid]);
              });
            }
            const t2 = performance.now();
            let c = await counts(router, es, config, 'users', 1n, BigInt(USERS));
            while ((c.es !== c.source || c.archive !== c.source) && performance.now() - t2 < 120_000) {
              await new Promise((r) => setTimeout(r, 250));
              c = await counts(router, es, config, 'users', 1n, BigInt(USERS));
            }
            out(
              `   users 1…${USERS}: ${c.source} rows in the shards, ${c.es} documents in Elasticsearch, ${c.archive} live rows in the archive (caught up in ${((performance.now() - t2) / 1000).toFixed(1)} s)`,
            );
            const [src] = await router.select<Record<string, unknown>>('SELECT uid, name, balance, updated_at FROM users WHERE uid = ?', [
              42n,
            ]);
            const same = (row: Record<string, unknown> | null | undefined) =>
              row?.['updated_at'] === src?.['updated_at'] && row?.['balance'] === src?.['balance'];
            const t3 = performance.now();
            while (
              !(same((await esFind(es, config, 'users', 42n))[0]) && same(await archiveRow(config, 'users', 42n))) &&
              performance.now() - t3 < 30_000
            )
              await new Promise((r) => setTimeout(r, 100));
            const text = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
            const [doc] = await esFind(es, config, 'users', 42n);
            const arc = await archiveRow(config, 'users', 42n);
            out(`   uid 42  shard:   ${text(src)}`);
            out(
              `   uid 42  search:  ${text(doc ? { uid: doc['uid'], name: doc['name'], balance: doc['balance'], updated_at: doc['updated_at'] } : null)}`,
            );
            out(
              `   uid 42  archive: ${text(arc ? { uid: arc['uid'], name: arc['name'], balance: arc['balance'], updated_at: arc['updated_at'], _version: arc['_version'], _deleted: arc['_deleted'] } : null)}`,
            );
            const gArc = await archiveRow(config, 'users', 1995n);
            out(
              `   uid 1995 (deleted): search finds ${(await esFind(es, config, 'users', 1995n)).length} document(s), GET by id found: ${await esFoundById(es, config, 'users', 1995n)}; archive keeps it with _deleted = ${gArc?.['_deleted'] ?? '?'}`,
            );

            out(
              `\n9. commit → searchable latency (update one row, poll a search until it shows the new value; ES refreshes every ${config.cdc.elasticsearch.refreshInterval})`,
            );
            const lat = await measureSearchLatency(
              router,
              es,
              config,
              Array.from({ length: 20 }, (_, i) => BigInt(100 + i)),
            );
            const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
            out(`   ${lat.length} updates: p50 ${q(0.5).toFixed(0)} ms, p90 ${q(0.9).toFixed(0)} ms, max ${q(1).toFixed(0)} ms`);
            const logged = cdc.warnings();
            if (logged.errors > 0)
              out(`\n   the worker logged ${logged.errors} error(s) and ${logged.warnings} warning(s): ${cdc.logFile}`);
            else if (logged.warnings > 0)
              out(
                `\n   the worker logged ${logged.warnings} warning(s), no error (expected while a new Kafka broker elects its group coordinators): ${cdc.logFile}`,
              );
            out(`\ndone. The cluster keeps running; stop it with: npm run dev:down. Run the worker yourself with: npx shardline cdc`);
          } finally {
            await es.close();
            await router.close();
            await cdc.stop();
          }
        },
        { json: flags.json },
      ),
    );
}
