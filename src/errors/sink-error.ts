import { ShardlineError, type ErrorCode, type ShardlineErrorOptions } from './shardline-error.js';

/**
 * The root of the CDC sinks' errors (`ArchiveSinkError`, `EsSinkError`): a sink closed while
 * records were pending (`SINK_CLOSED`, retriable — nothing was skipped, write them again), or a
 * sink that cannot apply records for a reason retrying does not fix. `sink` names the sink
 * (also in `details.sink`).
 *
 * @example
 * try { await sink.write(records); }
 * catch (err) { if (err instanceof SinkError && err.code === 'SINK_CLOSED') return; throw err; }
 */
export class SinkError extends ShardlineError {
  /** The sink that failed (`elasticsearch`, `archive`, or a custom sink's name). */
  readonly sink: string;

  constructor(sink: string, code: ErrorCode, message: string, options: ShardlineErrorOptions = {}) {
    super(code, message, { ...options, details: { sink, ...(options.details ?? {}) } });
    this.sink = sink;
  }
}
