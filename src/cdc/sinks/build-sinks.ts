import type { Registry } from 'prom-client';
import type { ClusterConfig } from '../../config/index.js';
import type { Logger } from '../../log/logger.js';
import { Topology } from '../../shard/index.js';
import { SourceSchemas } from '../schema/source-schema.js';
import type { Sink } from './sink-record.js';

/** The sinks of a cluster config, built lazily, and what they share (source schemas). */
export function buildSinks(config: ClusterConfig, deps: { registry: Registry; logger: Logger }): { factories: Partial<Record<'elasticsearch' | 'archive', () => Sink>>; close(): Promise<void> } {
  const topology = new Topology(config.sharding, config.instances.map((i) => i.name));
  const passThrough = new Map((config.cdc.tables.include ?? []).filter((t) => t.includes('.')).map((t) => [t.split('.')[1]!, t.split('.')[0]!] as [string, string]));
  const schemas = new SourceSchemas(config, topology, passThrough);
  void deps;
  return {
    factories: {},
    close: () => schemas.close(),
  };
}
