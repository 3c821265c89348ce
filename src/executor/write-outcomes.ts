import { WriteTokens } from '../gtid/index.js';
import { MultiShardWriteError, isShardlineError, type InstanceWriteOutcome } from '../errors/index.js';
import type { WriteResult } from './merge-results.js';

/**
 * The result of a batched write from its instances' outcomes (pure): `{ affectedRows }` summed
 * when every instance committed. Otherwise a MultiShardWriteError naming each instance's status —
 * except a write on one instance that rolled back, which fails with that instance's own error
 * (QueryError, ShardUnavailableError): all-or-nothing, as a single statement.
 * @throws {MultiShardWriteError} some instance did not commit (several instances, or an unknown outcome).
 */
export function writeResult(outcomes: readonly InstanceWriteOutcome[], atomic: boolean): WriteResult {
  let affectedRows = 0;
  let failed: InstanceWriteOutcome | undefined;
  for (const o of outcomes) {
    if (o.status === 'committed') affectedRows += o.affectedRows;
    else if (!failed || (!failed.error && o.error)) failed = o;
  }
  if (!failed) {
    const token = tokenOf(outcomes.flatMap((o) => (o.gtid ? [[o.instance, o.gtid] as const] : [])));
    return token ? { affectedRows, insertId: 0, token } : { affectedRows, insertId: 0 };
  }
  const only = outcomes.length === 1 ? outcomes[0]! : undefined;
  if (only && only.status === 'rolled-back' && only.error) throw only.error;
  const nothingWritten = outcomes.every((o) => o.status === 'rolled-back');
  const retriable = nothingWritten && outcomes.every((o) => !o.error || (isShardlineError(o.error) && o.error.retriable));
  throw new MultiShardWriteError(describe(outcomes, atomic), outcomes, atomic, { retriable, cause: failed.error });
}

function names(outcomes: readonly InstanceWriteOutcome[], status: InstanceWriteOutcome['status']): string {
  const list = outcomes.filter((o) => o.status === status).map((o) => o.instance);
  return list.length ? list.join(', ') : 'none';
}

/** `a write on 3 instances failed (committed: a; rolled back: b (QUERY_FAILED: …); unknown: none)`. */
function describe(outcomes: readonly InstanceWriteOutcome[], atomic: boolean): string {
  const why = outcomes
    .filter((o) => o.error)
    .map((o) => `${o.instance}: ${o.error!.message}`)
    .join('; ');
  const kind = atomic ? 'an atomic (XA) write' : 'a multi-shard write';
  return `${kind} on ${outcomes.length} instance${outcomes.length === 1 ? '' : 's'} failed — committed: ${names(outcomes, 'committed')}; rolled back: ${names(outcomes, 'rolled-back')}; unknown: ${names(outcomes, 'unknown')}${why ? ` (${why})` : ''}`;
}

/** The read-your-writes token of commits `[instance, gtid]`; undefined when there are none (servers without GTIDs). */
export function tokenOf(commits: readonly (readonly [string, string])[]): string | undefined {
  if (commits.length === 0) return undefined;
  const tokens = new WriteTokens();
  for (const [instance, gtid] of commits) {
    try {
      tokens.add(instance, gtid);
    } catch {
      // a GTID the server reported in a form we do not know: the write stands, without a token for it
    }
  }
  return tokens.toString() || undefined;
}
