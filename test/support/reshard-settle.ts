import { shardline } from './cluster.js';

interface MoveRow {
  id: string;
  shards: string;
  from: string;
  to: string;
  phase: string;
}

/**
 * Brings the local cluster back to its shard map after a reshard test that stopped half-way: an
 * unfinished move is resumed to its end, shards a test moved to `shard-4` go home, fenced tables
 * are dropped. Without it one failed test leaves a move that refuses every later one.
 */
export function settleMoves(log: (m: string) => void = (m) => console.error(m)): void {
  const moves = (JSON.parse(shardline('reshard', 'status', '--json')) as { moves: MoveRow[] }).moves;
  for (const m of moves.filter((x) => x.phase !== 'done' && x.phase !== 'aborted')) {
    for (const to of m.to === 'shard-4' ? [m.to, m.from] : [m.to]) {
      try {
        shardline('reshard', 'move', '--shards', m.shards, '--to', to, '--json');
        log(`[reshard] settled ${m.id}: shards ${m.shards} on ${to}`);
      } catch (err) {
        log(`[reshard] settling ${m.id} to ${to} failed: ${String((err as { stdout?: string }).stdout || err)}`);
      }
    }
  }
  shardline('reshard', 'cleanup', '--json');
}
