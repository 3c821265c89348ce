import { FailoverError, UsageError } from '../errors/index.js';
import type { MysqlSession } from '../net/index.js';
import { ID_FAILOVER_SKIP, skipLostIdLeases } from '../router/id-segments.js';
import type { FailoverReport } from './failover.js';
import { probeNode, type FailoverInstance } from './failover-nodes.js';
import { chooseFailoverTarget, deadPrimary, failoverSql, repointStatement, type ReplicaProgress } from './failover-plan.js';

/** What a replica applied and what it received (the server's text). */
async function progressOf(flavour: 'mysql' | 'mariadb', name: string, s: MysqlSession): Promise<ReplicaProgress> {
  const [status] = await s.query('SHOW REPLICA STATUS');
  if (flavour === 'mysql') {
    const [row] = await s.query<{ g: string }>('SELECT @@global.gtid_executed AS g');
    return { name, applied: String(row?.g ?? ''), received: String(status?.['Retrieved_Gtid_Set'] ?? '') };
  }
  const [row] = await s.query<{ b: string | null; s: string | null }>('SELECT @@global.gtid_binlog_pos AS b, @@global.gtid_slave_pos AS s');
  return { name, applied: [row?.b, row?.s].filter(Boolean).join(','), received: String(status?.['Gtid_IO_Pos'] ?? '') };
}

/** The replica's last applier error, for a failover that timed out waiting for it. */
async function applierError(s: MysqlSession): Promise<string> {
  const [status] = await s.query('SHOW REPLICA STATUS').catch(() => []);
  const running = String(status?.['Replica_SQL_Running'] ?? status?.['Slave_SQL_Running'] ?? 'unknown');
  const error = String(status?.['Last_SQL_Error'] ?? '');
  return `SQL thread running: ${running}${error ? `, Last_SQL_Error: ${error}` : ''}`;
}

/**
 * The last step of a promotion: `writable` (read_only off) with the global ID sequences moved past
 * the dead primary's unreplicated leases ({@link skipLostIdLeases}) first — while only the admin
 * account can write — or, where it cannot write under read_only (1290), right after. The failover
 * does not stop on the ID table: when it cannot be moved, the node is made writable all the same
 * and `warn` says so (the IDs leased by the dead primary could then be leased again); null then.
 */
export async function openForWrites(
  session: MysqlSession,
  writable: string,
  meta: string,
  warn: (message: string) => void,
): Promise<number | null> {
  const skip = (): Promise<number> => skipLostIdLeases((text, values) => session.query(text, values), meta);
  let moved: number | null = null;
  let failure: unknown = null;
  try {
    moved = await skip();
  } catch (err) {
    failure = err;
  }
  await session.query(writable);
  if (moved === null) {
    try {
      moved = await skip();
    } catch (err) {
      if ((failure as { errno?: unknown } | null)?.errno === 1290) failure = err;
      warn(
        `the global ID sequences in ${meta}.id_segments could not be moved past the dead primary's unreplicated leases (${(failure as Error).message}): ` +
          `blocks it leased may be leased again — move every sequence forward by hand (UPDATE ${meta}.id_segments SET next_id = next_id + ${ID_FAILOVER_SKIP})`,
      );
    }
  }
  return moved;
}

/**
 * An unplanned failover: the primary is dead. Refuses while any node takes writes or the primary
 * answers (use a planned failover then: a second writer must never be made). Picks the reachable
 * replica holding the most (received or applied; `to` if it holds as much as any other), waits
 * until it applied everything it received (`timeoutMs`), promotes it (replication reset,
 * writable) and points every other reachable replica at it by GTID. The dead primary is not
 * repointed: `shardline dev up` fences it and makes it a replica when it comes back (the dev
 * cluster); elsewhere, rebuild it as a replica before it starts taking connections. Transactions
 * the primary committed that no replica received are lost (asynchronous replication).
 * @throws {UsageError} a node answers as the writer, `to` is not a reachable replica or holds less than another
 * @throws {FailoverError} FAILOVER_FAILED
 */
export async function unplannedFailover(
  target: FailoverInstance,
  o: { to?: string; timeoutMs?: number; onStep?: (step: string) => void },
): Promise<FailoverReport> {
  const t0 = performance.now();
  const { inst, nodes, open, replication, metaDatabase } = target;
  const step = o.onStep ?? (() => undefined);
  const sql = failoverSql(inst.flavour);
  if (o.to && !nodes.some((n) => n.name === o.to))
    throw new UsageError(`instance ${inst.name} has no node ${o.to} (nodes: ${nodes.map((n) => n.name).join(', ')})`);

  step(`probing ${nodes.map((n) => n.name).join(', ')}`);
  const probes = await Promise.all(nodes.map((n) => probeNode(n, open)));
  const from = deadPrimary(inst.name, nodes, probes);
  if (o.to === from.name) throw new UsageError(`--to ${o.to}: that is the primary that died`);
  const answering = new Set(probes.filter((p) => p.answers).map((p) => p.name));
  const reachable = nodes.filter((n) => n.name !== from.name && answering.has(n.name));
  const notRepointed = nodes.filter((n) => !answering.has(n.name)).map((n) => n.name);

  const sessions = new Map<string, MysqlSession>();
  try {
    for (const n of reachable) sessions.set(n.name, await open(n));
    const progress = await Promise.all(reachable.map((n) => progressOf(inst.flavour, n.name, sessions.get(n.name)!)));
    const choice = chooseFailoverTarget(inst.name, inst.flavour, progress, o.to);
    const to = reachable.find((n) => n.name === choice.name)!;
    const next = sessions.get(to.name)!;

    const seconds = Math.max(0.001, (o.timeoutMs ?? 30_000) / 1000);
    step(`waiting for ${to.name} to apply what it received from ${from.name}: ${choice.waitFor || 'nothing'}`);
    if (choice.waitFor) {
      const [w] = await next.query<{ w: number | string | null }>(sql.waitFor, [choice.waitFor, seconds]);
      if (w?.w === null || w?.w === undefined || Number(w.w) !== 0)
        throw new FailoverError(
          `${to.name} did not apply what it received from ${from.name} within ${seconds} s (${await applierError(next)}); nothing changed`,
        );
    }
    step(`promoting ${to.name}`);
    for (const s of sql.promote.slice(0, -1)) await next.query(s);
    step(`moving ${metaDatabase}.id_segments on ${to.name} past leases lost with ${from.name}`);
    const idSequencesMoved = await openForWrites(next, sql.promote.at(-1)!, metaDatabase, (warning) =>
      step(`WARNING: ${to.name}: ${warning}`),
    );

    const repointed: string[] = [];
    for (const other of reachable.filter((n) => n.name !== to.name)) {
      const s = sessions.get(other.name)!;
      try {
        step(`pointing ${other.name} at ${to.name}`);
        await s.query(sql.stopReplication);
        const st = repointStatement(inst.flavour, to, replication, inst.tls, false);
        await s.query(st.sql, st.values);
        await s.query(sql.startReplication);
        repointed.push(other.name);
      } catch (err) {
        step(`could not point ${other.name} at ${to.name}: ${(err as Error).message}`);
        notRepointed.push(other.name);
      }
    }
    return {
      instance: inst.name,
      from: from.name,
      to: to.name,
      planned: false,
      write_pause_ms: null,
      caught_up_to: choice.holds,
      id_sequences_moved: idSequencesMoved,
      repointed,
      not_repointed: notRepointed,
      seconds: Math.round((performance.now() - t0) / 10) / 100,
    };
  } finally {
    await Promise.all([...sessions.values()].map((s) => s.close()));
  }
}
