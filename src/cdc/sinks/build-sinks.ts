import type { Registry } from 'prom-client';
import type { ClusterConfig } from '../../config/index.js';
import type { Logger } from '../../log/logger.js';
import { Topology } from '../../shard/index.js';
import { SourceSchemas } from '../schema/source-schema.js';
import { ArchiveSink } from './archive/index.js';
import { EsSink } from './elasticsearch/index.js';
import { esClientOptions } from './elasticsearch/es-client-options.js';
import type { Sink } from './sink-record.js';

/** The sinks of a cluster config, built lazily, and what they share (source schemas). */
export function buildSinks(config: ClusterConfig, deps: { registry: Registry; logger: Logger }): { factories: Partial<Record<'elasticsearch' | 'archive', () => Sink>>; close(): Promise<void> } {
  const topology = new Topology(config.sharding, config.instances.map((i) => i.name));
  const passThrough = new Map((config.cdc.tables.include ?? []).filter((t) => t.includes('.')).map((t) => [t.split('.')[1]!, t.split('.')[0]!] as [string, string]));
  const schemas = new SourceSchemas(config, topology, passThrough);
  return {
    factories: {
      elasticsearch: () =>
        new EsSink({
          node: config.elasticsearch.node,
          clientOptions: esClientOptions(config.elasticsearch),
          indexPrefix: config.cdc.elasticsearch.indexPrefix,
          bulkMaxDocs: config.cdc.elasticsearch.bulkMaxDocs,
          maxConcurrentWrites: config.cdc.elasticsearch.concurrency,
          template: { refreshInterval: config.cdc.elasticsearch.refreshInterval },
          schemaOf: (table) => schemas.schemaOf(table, { refresh: true }),
          registry: deps.registry,
          logger: deps.logger,
        }),
      archive: () =>
        new ArchiveSink({
          archive: config.archive,
          database: config.archive.database,
          maxBatchRows: config.cdc.archive.maxBatchRows,
          maxBatchBytes: config.cdc.archive.maxBatchBytes,
          schemaOf: (table, options) => schemas.schemaOf(table, options),
          registry: deps.registry,
          logger: deps.logger,
        }),
    },
    close: () => schemas.close(),
  };
}
