import type { ClusterConfig, InstanceConfig } from '../config/index.js';
import { FailoverError, UsageError } from '../errors/index.js';
import type { MysqlSession } from '../net/index.js';
import { failoverInstance } from './failover-nodes.js';
import { failoverSql, repointStatement, type FailoverNode as Node } from './failover-plan.js';
import { unplannedFailover } from './failover-unplanned.js';

/** What `shardline failover` did. */
export interface FailoverReport {
  instance: string;
  /** The node that took writes before, and the one that takes them now. */
  from: string;
  to: string;
  planned: boolean;
  /**
   * From fencing the old primary to the new one taking writes (ms): writes wait or fail retriably
   * meanwhile. Null after an unplanned failover: the primary stopped taking writes when it died.
   */
  write_pause_ms: number | null;
  /** The transactions the new primary had to apply before it took writes (MySQL GTID set / MariaDB position). */
  caught_up_to: string;
  /**
   * Unplanned failovers: the global ID sequences (`<metaDatabase>.id_segments`) the new primary
   * moved forward by 2^40, past leases the dead primary may have granted and lost (0 when the
   * instance holds none). Null after a planned failover: nothing was lost.
   */
  id_sequences_moved: number | null;
  /** Nodes now replicating from the new primary. */
  repointed: string[];
  /** Nodes that could not be pointed at it (an unplanned failover's dead primary, replicas that did not answer). */
  not_repointed: string[];
  seconds: number;
}

function failed(message: string, cause?: unknown): FailoverError {
  return new FailoverError(message, { ...(cause ? { cause } : {}) });
}

/** Which node of `inst` takes writes now: the one whose `read_only` is off (the config's primary before any failover). */
async function writerOf(inst: InstanceConfig, nodes: readonly Node[], open: (n: Node) => Promise<MysqlSession>): Promise<Node> {
  const writable: Node[] = [];
  await Promise.all(
    nodes.map(async (n) => {
      const s = await open(n).catch(() => null);
      if (!s) return;
      try {
        const [row] = await s.query<{ ro: number | string }>('SELECT @@global.read_only AS ro');
        if (Number(row?.ro) === 0) writable.push(n);
      } finally {
        await s.close();
      }
    }),
  );
  if (writable.length !== 1)
    throw failed(
      `instance ${inst.name}: ${writable.length === 0 ? 'no node takes writes' : `${writable.map((n) => n.name).join(' and ')} all take writes`} — fix the roles by hand before a failover`,
    );
  return writable[0]!;
}

/**
 * A planned failover of one instance: fence writes on the node that takes them now
 * (`super_read_only` / `read_only`: the server refuses every write from then on, so none can be
 * lost on it), wait until the target replica has applied everything the old primary committed,
 * promote it (replication reset, writable), then point the old primary and the other replicas at
 * it. Routers see the old primary refuse writes and the new one take them on their next probe
 * (`router.replicaCheckMs`) and move their writes there; writes in between fail with a retriable
 * read-only error (1290). If the target does not catch up within `timeoutMs`, the old primary is
 * unfenced and nothing changes. Without `planned` the primary is dead: see {@link unplannedFailover}.
 * @throws {UsageError} unknown instance or replica, an instance without replicas
 * @throws {FailoverError} FAILOVER_FAILED
 */
export async function failover(
  config: ClusterConfig,
  o: { instance: string; to?: string; planned: boolean; timeoutMs?: number; onStep?: (step: string) => void },
): Promise<FailoverReport> {
  const t0 = performance.now();
  const target = failoverInstance(config, o.instance);
  if (!o.planned) return unplannedFailover(target, o);
  const { inst, nodes, open, replication } = target;
  const step = o.onStep ?? (() => undefined);
  const sql = failoverSql(inst.flavour);

  const from = await writerOf(inst, nodes, open);
  const to = o.to ? nodes.find((n) => n.name === o.to) : nodes.find((n) => n.name !== from.name);
  if (!to) throw new UsageError(`instance ${inst.name} has no node ${o.to} (nodes: ${nodes.map((n) => n.name).join(', ')})`);
  if (to.name === from.name) throw new UsageError(`${to.name} already takes ${inst.name}'s writes`);

  const old = await open(from);
  const next = await open(to);
  const repointed: string[] = [];
  try {
    step(`fencing ${from.name}`);
    for (const s of sql.fence) await old.query(s);
    const fencedAt = performance.now();
    const [row] = await old.query<{ g: string }>(sql.executed);
    const caughtUpTo = String(row?.g ?? '');
    step(`waiting for ${to.name} to apply ${caughtUpTo || 'nothing'}`);
    const seconds = Math.max(0.001, (o.timeoutMs ?? 30_000) / 1000);
    const [w] = caughtUpTo ? await next.query<{ w: number | string | null }>(sql.waitFor, [caughtUpTo, seconds]) : [{ w: 0 }];
    if (Number(w?.w) !== 0) {
      for (const s of sql.unfence) await old.query(s);
      throw failed(
        `${to.name} did not apply ${from.name}'s transactions within ${seconds} s; ${from.name} takes writes again, nothing changed`,
      );
    }
    step(`promoting ${to.name}`);
    for (const s of sql.promote) await next.query(s);
    const promotedAt = performance.now();
    step(`pointing ${from.name} at ${to.name}`);
    await old.query(sql.stopReplication).catch(() => undefined);
    const back = repointStatement(inst.flavour, to, replication, inst.tls, true);
    await old.query(back.sql, back.values);
    await old.query(sql.startReplication);
    repointed.push(from.name);
    for (const other of nodes.filter((n) => n.name !== from.name && n.name !== to.name)) {
      const s = await open(other);
      try {
        await s.query(sql.stopReplication);
        const st = repointStatement(inst.flavour, to, replication, inst.tls, false);
        await s.query(st.sql, st.values);
        await s.query(sql.startReplication);
        repointed.push(other.name);
      } finally {
        await s.close();
      }
    }
    return {
      instance: inst.name,
      from: from.name,
      to: to.name,
      planned: true,
      write_pause_ms: Math.round(promotedAt - fencedAt),
      caught_up_to: caughtUpTo,
      id_sequences_moved: null,
      repointed,
      not_repointed: [],
      seconds: Math.round((performance.now() - t0) / 10) / 100,
    };
  } finally {
    await old.close();
    await next.close();
  }
}
