import { isTlsFailure } from './es-client-options.js';

/** What became of one bulk item. */
export type ItemOutcome =
  /** Written (created or updated). */
  | { kind: 'applied' }
  /** 409: ES holds a newer version of the document; the write is superseded, success in effect. */
  | { kind: 'stale' }
  /** Worth trying again: 429, 5xx, a cluster block, a lost item. */
  | { kind: 'retry'; reason: string }
  /** The alias is gone (index deleted under the sink, maybe replaced by one named like it): set the table up again, then retry. */
  | { kind: 'alias-missing' }
  /** Refused for good (400: mapping/parsing errors); `reason` is Elasticsearch's. */
  | { kind: 'rejected'; reason: string };

/** An ES error object as bulk items and error responses carry it. */
interface EsErrorCause {
  type?: unknown;
  reason?: unknown;
  caused_by?: unknown;
}

/** `type: reason (caused by type: reason)` of an ES error object. */
export function errorReason(error: unknown): string {
  const parts: string[] = [];
  let e = error as EsErrorCause | undefined;
  for (let depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const type = typeof e.type === 'string' ? e.type : 'error';
    parts.push(typeof e.reason === 'string' ? `${type}: ${e.reason}` : type);
    e = e.caused_by as EsErrorCause | undefined;
  }
  if (parts.length === 0) return String(error);
  return parts.length === 1 ? parts[0]! : `${parts[0]} (caused by ${parts.slice(1).join('; ')})`;
}

function errorType(error: unknown): string {
  const t = (error as EsErrorCause | undefined)?.type;
  return typeof t === 'string' ? t : 'unknown';
}

/**
 * Classifies one item of a bulk response (`{ index: { _index, status, error? } }`), or a missing
 * one. `target` is the alias the action was sent to: an item that ES resolved to a concrete index
 * of that very name went to an index that took the alias's place (ES creates one when an
 * externally versioned delete goes through a missing alias — deletes ignore `require_alias`), so
 * it is `alias-missing` whatever its status.
 */
export function itemOutcome(item: unknown, target?: string): ItemOutcome {
  const body =
    item && typeof item === 'object'
      ? (Object.values(item)[0] as { _index?: unknown; status?: unknown; error?: unknown } | undefined)
      : undefined;
  if (target !== undefined && body?._index === target) return { kind: 'alias-missing' };
  const status = typeof body?.status === 'number' ? body.status : 0;
  if (status >= 200 && status < 300) return { kind: 'applied' };
  if (status === 0) return { kind: 'retry', reason: 'missing_item' };
  if (status === 409) return { kind: 'stale' };
  if (status === 429 || status >= 500) return { kind: 'retry', reason: `item_${status}` };
  if (status === 404 && errorType(body?.error) === 'index_not_found_exception') return { kind: 'alias-missing' };
  // A delete of an id the index does not hold (`result: not_found`, no error): ES still records
  // the delete's version, and nothing is left to remove.
  if (status === 404 && body?.error === undefined) return { kind: 'applied' };
  if (status === 400) return { kind: 'rejected', reason: errorReason(body?.error) };
  // 401/403 (credentials, cluster blocks such as a read-only index): systemic, never the
  // document's fault — wait for the cluster rather than dead-letter good data.
  return { kind: 'retry', reason: `item_${status}` };
}

/** What to do after a whole request failed. */
export type RequestFailure =
  | { kind: 'retry'; reason: string }
  /** 413: the request is too large; split it (a single action that is too large is rejected). */
  | { kind: 'split' }
  /** The sink is closing and aborted the request. */
  | { kind: 'aborted' }
  /** `code`: the error code to raise instead of ES_SINK_FAILED (a certificate that does not verify). */
  | { kind: 'fatal'; status: number | null; reason: string; code?: 'TLS_FAILED' };

/**
 * Classifies an error thrown by the ES client (matched by its `name` and `statusCode`, as the
 * transport's error classes define them): 429 and 5xx, lost connections, time-outs and garbled
 * responses are retried; 413 splits; anything else is fatal.
 */
export function requestFailure(err: unknown): RequestFailure {
  const e = err as { name?: unknown; statusCode?: unknown; meta?: { statusCode?: unknown }; body?: unknown; message?: unknown };
  const name = typeof e?.name === 'string' ? e.name : '';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (name === 'RequestAbortedError' || name === 'AbortError') return { kind: 'aborted' };
  if (isTlsFailure(err))
    return { kind: 'fatal', status: null, reason: `TLS to Elasticsearch failed: ${message} (check elasticsearch.tls)`, code: 'TLS_FAILED' };
  if (name === 'ConnectionError' || name === 'NoLivingConnectionsError') return { kind: 'retry', reason: 'connection' };
  if (name === 'TimeoutError') return { kind: 'retry', reason: 'timeout' };
  if (name === 'DeserializationError') return { kind: 'retry', reason: 'bad_response' };
  const status = typeof e?.statusCode === 'number' ? e.statusCode : typeof e?.meta?.statusCode === 'number' ? e.meta.statusCode : null;
  if (status === 429 || (status !== null && status >= 500)) return { kind: 'retry', reason: `http_${status}` };
  if (status === 413) return { kind: 'split' };
  const body = e?.body as { error?: unknown } | undefined;
  return {
    kind: 'fatal',
    status,
    reason: body && typeof body === 'object' && body.error !== undefined ? errorReason(body.error) : message,
  };
}
