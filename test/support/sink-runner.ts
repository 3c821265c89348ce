import type { EventLog } from '../../src/cdc/kafka/event-log.js';
import { createCdcMetrics } from '../../src/cdc/metrics/cdc-metrics.js';
import { SinkRunner } from '../../src/cdc/sinks/sink-runner.js';
import type { Sink } from '../../src/cdc/sinks/sink-record.js';
import { createLogger } from '../../src/log/logger.js';

/** A SinkRunner over `cdc.users` (dead letters to `cdc.dead`), silent, with its own metrics. */
export function usersSinkRunner(name: string, sink: Sink, log: EventLog, groupId: string): SinkRunner {
  return new SinkRunner({
    name,
    sink,
    log,
    groupId,
    topics: ['cdc.users'],
    deadLetterTopic: 'cdc.dead',
    metrics: createCdcMetrics(),
    logger: createLogger({ level: 'silent' }),
  });
}
