import { ReplicationError } from '../../../errors/index.js';
import { openReplicationConnection, type ReplicationConnection, type ReplicationEndpoint } from '../../../net/index.js';

/** One server of an instance (its primary or a replica) with the account its binlog is read with. */
export type InstanceNode = ReplicationEndpoint & { name: string };

/** Whether `node` takes writes (`@@global.read_only` off), or null when it does not answer. */
export async function takesWrites(node: InstanceNode, timeoutMs = 2000): Promise<boolean | null> {
  let conn;
  try {
    conn = await openReplicationConnection({ ...node, connectTimeoutMs: timeoutMs });
  } catch {
    return null;
  }
  try {
    const [row] = await conn.query<{ ro: unknown }>('SELECT @@global.read_only AS ro');
    return Number(row?.ro) === 0;
  } catch {
    return null;
  } finally {
    conn.destroy();
  }
}

/**
 * Asks one node again and again whether it takes writes, on one connection kept open (opened
 * again after a failure): the watch of the node a reader reads costs a query, not a login.
 */
export class WritesProbe {
  private conn: ReplicationConnection | null = null;
  private closed = false;

  constructor(
    private readonly node: InstanceNode,
    private readonly timeoutMs = 2000,
  ) {}

  /** Whether the node takes writes now, or null when it does not answer. */
  async takesWrites(): Promise<boolean | null> {
    try {
      if (this.closed) return null;
      if (!this.conn) {
        const conn = await openReplicationConnection({ ...this.node, connectTimeoutMs: this.timeoutMs });
        if (this.closed) {
          conn.destroy();
          return null;
        }
        this.conn = conn;
      }
      const [row] = await this.conn.query<{ ro: unknown }>('SELECT @@global.read_only AS ro');
      return Number(row?.ro) === 0;
    } catch {
      this.conn?.destroy();
      this.conn = null;
      return null;
    }
  }

  /** Closes the connection; a probe still opening one closes it as it arrives. */
  close(): void {
    this.closed = true;
    this.conn?.destroy();
    this.conn = null;
  }
}

/**
 * The node of an instance that takes writes — where its binlog is read from, so that the reader
 * follows a failover. With one node, that node (nothing to choose). None or several writable
 * (a failover in progress, or two writers): a retriable error, the caller tries again later.
 * @throws {ReplicationError} `BINLOG_CONNECTION` (retriable)
 */
export async function writableNode(instance: string, nodes: readonly InstanceNode[]): Promise<InstanceNode> {
  if (nodes.length === 1) return nodes[0]!;
  const states = await Promise.all(nodes.map((n) => takesWrites(n)));
  const writable = nodes.filter((_, i) => states[i] === true);
  if (writable.length === 1) return writable[0]!;
  const seen = nodes.map((n, i) => `${n.name}: ${states[i] === null ? 'no answer' : states[i] ? 'writable' : 'read-only'}`).join(', ');
  throw new ReplicationError(
    'BINLOG_CONNECTION',
    writable.length === 0
      ? `instance ${instance}: no node takes writes (${seen}); waiting for a primary (a failover in progress?)`
      : `instance ${instance}: ${writable.length} nodes take writes (${seen}); refusing to choose between two writers`,
    { retriable: true },
  );
}
