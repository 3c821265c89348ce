import type { ClusterConfig } from '../config/index.js';
import { XaRecoveryError } from '../errors/index.js';
import {
  parseGtrid,
  recoveryAction,
  xaDecisionSql,
  xidOfRecoverRow,
  xidSql,
  type PreparedBranch,
  type RecoveryAction,
  type XaRecoverRow,
} from '../executor/index.js';
import { openMysqlSession, type MysqlSession } from '../net/index.js';

/** One prepared branch and what `xa recover` did with it. */
export interface XaBranchReport {
  instance: string;
  gtrid: string;
  bqual: string;
  formatId: number;
  /** `<host>-<pid>` of the coordinator (null for a foreign branch). */
  coordinator: string | null;
  begunAt: string | null;
  /** The recorded decision for its gtrid (null: none). */
  decision: 'commit' | 'abort' | null;
  action: RecoveryAction;
  /** `done` when the XA COMMIT/ROLLBACK ran; `planned` with --dry-run; `failed` with `error`. */
  result: 'done' | 'planned' | 'skipped' | 'failed';
  error?: string;
}

/** How `recoverXa` runs. */
export interface XaRecoverOptions {
  /** Branches begun less than this long ago are left alone (their coordinator may be alive). */
  olderThanMs: number;
  /** List and plan only: no decision recorded, no branch finished. */
  dryRun: boolean;
  now?: () => number;
}

async function open(config: ClusterConfig, name: string): Promise<MysqlSession> {
  const i = config.instances.find((x) => x.name === name)!;
  return openMysqlSession({
    host: i.host,
    port: i.port,
    user: i.user,
    password: i.password,
    tls: i.tls,
    serverPublicKey: i.serverPublicKey,
  });
}

/**
 * Lists the prepared XA branches of every instance (plain `XA RECOVER`, which MySQL 8.0/9.x and
 * MariaDB both answer with formatID, gtrid_length, bqual_length, data; MySQL 8 needs
 * XA_RECOVER_ADMIN) and finishes shardline's by the decision records in
 * `<metaDatabase>.xa_decisions` on the first instance: XA COMMIT when a commit is recorded, else
 * an abort is recorded (INSERT IGNORE: a coordinator's commit recorded meanwhile wins) and the
 * branch is rolled back. Commit records are deleted once their branches are committed; abort
 * records stay, so a late coordinator reads the abort.
 * @throws {XaRecoveryError} an instance cannot be reached or listed.
 */
export async function recoverXa(config: ClusterConfig, options: XaRecoverOptions): Promise<XaBranchReport[]> {
  const now = (options.now ?? Date.now)();
  const sql = xaDecisionSql(config.sharding.naming.metaDatabase);
  const sessions = new Map<string, MysqlSession>();
  try {
    const branches: PreparedBranch[] = [];
    for (const inst of config.instances) {
      try {
        const s = await open(config, inst.name);
        sessions.set(inst.name, s);
        const rows = await s.query<XaRecoverRow>('XA RECOVER');
        for (const r of rows) branches.push({ instance: inst.name, xid: xidOfRecoverRow(r) });
      } catch (err) {
        throw new XaRecoveryError(`cannot list the prepared XA branches of instance ${inst.name}: ${(err as Error).message}`, {
          cause: err,
          details: { instance: inst.name },
        });
      }
    }
    const coordinator = sessions.get(config.instances[0]!.name)!;
    const decisions = new Map<string, 'commit' | 'abort' | undefined>();
    const readDecision = async (gtrid: string) => {
      const rows = await coordinator.query<{ decision: string }>(sql.read, [gtrid]).catch(() => []);
      const d = rows[0]?.decision;
      return d === 'commit' || d === 'abort' ? d : undefined;
    };
    const reports: XaBranchReport[] = [];
    for (const b of branches) {
      const g = parseGtrid(b.xid.gtrid);
      if (g && !decisions.has(b.xid.gtrid)) decisions.set(b.xid.gtrid, await readDecision(b.xid.gtrid));
      let decision = decisions.get(b.xid.gtrid);
      let action = recoveryAction(b, decision, now, options.olderThanMs);
      const report: XaBranchReport = {
        instance: b.instance,
        gtrid: b.xid.gtrid,
        bqual: b.xid.bqual,
        formatId: b.xid.formatId,
        coordinator: g?.coordinator ?? null,
        begunAt: g ? new Date(g.begunAtMs).toISOString() : null,
        decision: decision ?? null,
        action,
        result: action === 'wait' || action === 'foreign' ? 'skipped' : options.dryRun ? 'planned' : 'done',
      };
      reports.push(report);
      if (report.result !== 'done') continue;
      try {
        if (action === 'rollback' && decision === undefined) {
          await coordinator.query(sql.createDatabase);
          await coordinator.query(sql.createTable);
          await coordinator.query(sql.recordAbort, [b.xid.gtrid]);
          decision = await readDecision(b.xid.gtrid);
          decisions.set(b.xid.gtrid, decision);
          report.decision = decision ?? null;
          action = report.action = decision === 'commit' ? 'commit' : 'rollback';
          if (decision === undefined) throw new Error('the abort decision could not be recorded');
        }
        await sessions.get(b.instance)!.query(`XA ${action === 'commit' ? 'COMMIT' : 'ROLLBACK'} ${xidSql(b.xid)}`);
      } catch (err) {
        report.result = 'failed';
        report.error = (err as Error).message;
      }
    }
    for (const [gtrid, d] of decisions) {
      const all = reports.filter((r) => r.gtrid === gtrid);
      if (d === 'commit' && all.every((r) => r.result === 'done')) await coordinator.query(sql.forget, [gtrid]).catch(() => undefined);
    }
    return reports;
  } finally {
    for (const s of sessions.values()) await s.close();
  }
}
