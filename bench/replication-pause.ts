// The read replicas of the local cluster during a benchmark. They are not on the paths bench:e2e
// and bench:router measure (the CDC worker reads the primaries; writes go to the primaries), but on
// this co-located host every row a bench writes is applied a second time by a replica mysqld on the
// same two cores. BENCH_REPLICAS=stopped pauses their replication (STOP REPLICA: both threads,
// nothing fetched or applied) for the run and starts it again afterwards — the cluster issue 14's
// figures were taken on had no replicas yet. bench:e2e stops them by default (applying, its writer
// missed the rates it asks for: replicas took 0.30–0.38 cores); bench:router keeps them applying.
import mysql from 'mysql2/promise';

type Log = (msg: string) => void;

/** The replicas whose replication a run stopped, and how to start it again. */
export interface PausedReplication {
  stopped: string[];
  resume(): Promise<void>;
}

interface ReplicaTarget {
  name: string;
  host: string;
  port: number;
  user: string;
  password: string;
}

/** What the helper reads of a cluster config (its instances' replicas and admin accounts). */
interface ReplicatedConfig {
  instances: readonly {
    user: string;
    password: string;
    admin?: { user: string; password: string } | undefined;
    replicas?: readonly { name: string; host: string; port: number }[] | undefined;
  }[];
}

function replicaTargets(config: ReplicatedConfig): ReplicaTarget[] {
  return config.instances.flatMap((inst) =>
    (inst.replicas ?? []).map((r) => ({
      name: r.name,
      host: r.host,
      port: r.port,
      user: inst.admin?.user ?? inst.user,
      password: inst.admin?.password ?? inst.password,
    })),
  );
}

async function onReplica(t: ReplicaTarget, sql: string): Promise<void> {
  const conn = await mysql.createConnection({ host: t.host, port: t.port, user: t.user, password: t.password, connectTimeout: 5000 });
  try {
    await conn.query(sql);
  } finally {
    await conn.end();
  }
}

/**
 * Stops replication on every replica of the config (in parallel). A replica that refuses is
 * logged and left applying; `stopped` names the ones that stopped, and `resume()` starts exactly
 * those again (it never throws: a replica it cannot reach is logged with the statement to run).
 * Until then a SIGINT or SIGTERM resumes them before the process exits of that signal; a
 * SIGKILLed run leaves them stopped until `shardline dev up` (or START REPLICA) heals them.
 */
export async function pauseReplication(config: ReplicatedConfig, log: Log): Promise<PausedReplication> {
  const targets = replicaTargets(config);
  const outcomes = await Promise.allSettled(targets.map((t) => onReplica(t, 'STOP REPLICA')));
  const stopped: ReplicaTarget[] = [];
  outcomes.forEach((o, i) => {
    if (o.status === 'fulfilled') stopped.push(targets[i]!);
    else log(`replicas: could not stop replication on ${targets[i]!.name}: ${(o.reason as Error).message} (it keeps applying)`);
  });
  log(`replicas: replication stopped on ${stopped.map((t) => t.name).join(', ') || 'none'} for the run`);
  let resumed = false;
  const handle: PausedReplication = {
    stopped: stopped.map((t) => t.name),
    async resume() {
      if (resumed) return;
      resumed = true;
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      const again = await Promise.allSettled(stopped.map((t) => onReplica(t, 'START REPLICA')));
      again.forEach((o, i) => {
        if (o.status === 'rejected')
          log(`replicas: could not start replication on ${stopped[i]!.name}: ${(o.reason as Error).message} — run START REPLICA there`);
      });
      log(`replicas: replication started again on ${stopped.map((t) => t.name).join(', ') || 'none'}`);
    },
  };
  // an interrupted run (Ctrl-C, kill) starts replication again, then dies of the same signal
  function onSignal(signal: NodeJS.Signals): void {
    log(`replicas: ${signal} — starting replication again before exiting`);
    void handle.resume().finally(() => process.kill(process.pid, signal));
  }
  if (stopped.length > 0) process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  return handle;
}
