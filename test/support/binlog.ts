import { openMysqlSession, type MysqlSession } from '../../src/net/index.js';
import { TransactionStream, type TransactionItem, type TransactionStreamOptions } from '../../src/cdc/binlog/index.js';
import type { CdcClusterConfig } from '../../src/config/index.js';

type Instance = CdcClusterConfig['instances'][number];

/** A root session on an instance of the test cluster. */
export function rootSession(inst: Pick<Instance, 'host' | 'port'>, database?: string): Promise<MysqlSession> {
  return openMysqlSession({ host: inst.host, port: inst.port, user: 'root', password: '', database });
}

/** Where the server's binlog ends now (SHOW MASTER STATUS; SHOW BINARY LOG STATUS on 8.4+). */
export async function binlogEnd(s: MysqlSession): Promise<{ file: string; pos: number }> {
  let rows: Array<Record<string, unknown>>;
  try {
    rows = await s.query('SHOW BINARY LOG STATUS');
  } catch {
    rows = await s.query('SHOW MASTER STATUS');
  }
  const r = rows[0]!;
  return { file: String(r['File']), pos: Number(r['Position']) };
}

/** A transaction stream on `inst` with the replication account. */
export function streamOf(
  inst: Instance,
  replicaServerId: number,
  options: Partial<TransactionStreamOptions> & Pick<TransactionStreamOptions, 'from'>,
): TransactionStream {
  return new TransactionStream({
    instance: inst.name,
    endpoint: {
      host: inst.host,
      port: inst.port,
      tls: inst.tls,
      serverPublicKey: inst.serverPublicKey,
      user: inst.replication.user,
      password: inst.replication.password,
    },
    replicaServerId,
    retry: { initialMs: 50, maxMs: 500, maxAttempts: 20 },
    ...options,
  });
}

/** A committed transaction as the consumer of a stream sees it. */
export interface SeenTransaction {
  gtid: string | null;
  items: TransactionItem[];
  checkpoint: Extract<TransactionItem, { type: 'commit' }>['checkpoint'];
}

/** Drains a stream into committed transactions, honouring `abort` like a consumer must. */
export async function collectTransactions(
  stream: TransactionStream,
  onItem?: (item: TransactionItem) => Promise<void> | void,
): Promise<{ transactions: SeenTransaction[]; aborts: number }> {
  const transactions: SeenTransaction[] = [];
  let open: TransactionItem[] = [];
  let aborts = 0;
  for await (const item of stream.items()) {
    await onItem?.(item);
    if (item.type === 'begin') open = [item];
    else if (item.type === 'abort') {
      aborts++;
      open = [];
    } else if (item.type === 'commit') {
      transactions.push({ gtid: item.gtid, items: [...open, item], checkpoint: item.checkpoint });
      open = [];
    } else open.push(item);
  }
  return { transactions, aborts };
}

/** The rows events of the transactions that touch `db`. */
export function rowsOf(transactions: SeenTransaction[], db: string) {
  return transactions.flatMap((t) => t.items.flatMap((i) => (i.type === 'rows' && i.event.table.database === db ? [i.event] : [])));
}
