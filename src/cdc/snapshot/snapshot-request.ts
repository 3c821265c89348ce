import { randomUUID } from 'node:crypto';
import type { OutboundMessage } from '../kafka/event-log.js';

/**
 * A request to re-read physical tables (`shardline cdc snapshot`), published on the signal topic
 * every worker reads from its beginning: workers that start later, or that take an instance over,
 * still see it; each instance's reader records the requests it finished in its checkpoint
 * partition, so a request is carried out once per instance.
 */
export interface SnapshotRequest {
  id: string;
  /** The logical table. */
  table: string;
  /** Inclusive shard range; null: every shard (or the table is not sharded). */
  shards: [number, number] | null;
  /** Only this instance; null: every instance that owns a shard of the range. */
  instance: string | null;
  requestedAtMs: number;
}

const REQUEST_KEY = 'snapshot-request:';

/** A new request with a fresh id. */
export function newSnapshotRequest(
  table: string,
  shards: [number, number] | null,
  instance: string | null,
  now = Date.now(),
): SnapshotRequest {
  return { id: randomUUID(), table, shards, instance, requestedAtMs: now };
}

/** The signal-topic message of a request. */
export function requestMessage(topic: string, request: SnapshotRequest): OutboundMessage {
  return { topic, partition: 0, key: `${REQUEST_KEY}${request.id}`, value: JSON.stringify(request) };
}

/**
 * Reads a request from a signal-topic record; null for anything else or anything malformed (a
 * record on that topic is input: it is checked field by field, never trusted).
 */
export function parseSnapshotRequest(key: Buffer | null, value: Buffer | null): SnapshotRequest | null {
  if (!key || !value || !key.toString('utf8').startsWith(REQUEST_KEY) || value.length > 4096) return null;
  let v: unknown;
  try {
    v = JSON.parse(value.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const r = v as Record<string, unknown>;
  const shards = r['shards'];
  const okShards =
    shards === null ||
    (Array.isArray(shards) &&
      shards.length === 2 &&
      shards.every((s) => Number.isSafeInteger(s) && (s as number) >= 0) &&
      (shards[0] as number) <= (shards[1] as number));
  if (
    typeof r['id'] !== 'string' ||
    !/^[0-9a-f-]{36}$/.test(r['id']) ||
    typeof r['table'] !== 'string' ||
    r['table'].length === 0 ||
    r['table'].length > 200 ||
    !okShards ||
    !(r['instance'] === null || (typeof r['instance'] === 'string' && r['instance'].length <= 200)) ||
    typeof r['requestedAtMs'] !== 'number'
  )
    return null;
  return {
    id: r['id'],
    table: r['table'],
    shards: shards as [number, number] | null,
    instance: r['instance'] as string | null,
    requestedAtMs: r['requestedAtMs'],
  };
}
