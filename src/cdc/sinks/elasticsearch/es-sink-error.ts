import { SinkError, type ShardlineErrorOptions } from '../../../errors/index.js';

/**
 * The Elasticsearch sink cannot go on: closed while a write was pending (`SINK_CLOSED`,
 * retriable — nothing was skipped, the records are to be written again), or Elasticsearch
 * refused a request for a reason retrying cannot fix (`ES_SINK_FAILED`: credentials, a template
 * it rejects, a concrete index where the alias belongs). Details carry the status and ES's reason.
 */
export class EsSinkError extends SinkError {
  constructor(code: 'SINK_CLOSED' | 'ES_SINK_FAILED' | 'TLS_FAILED', message: string, options: ShardlineErrorOptions = {}) {
    super('elasticsearch', code, message, options);
  }
}
