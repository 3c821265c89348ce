import type { CanonicalValue } from '../binlog/decoder/canonical-json.js';

/**
 * The key of a row: the Kafka message key the pipeline writes, the Elasticsearch document id and
 * the archive key the sinks use. The value's text for one primary-key column, a JSON array for
 * several.
 */
export function documentId(key: readonly CanonicalValue[]): string {
  if (key.length === 1) {
    const v = key[0];
    return typeof v === 'string' ? v : JSON.stringify(v);
  }
  return JSON.stringify(key);
}
