export { canonicalUid } from './uid.js';
export type { Uid } from './uid.js';
export { crc32Hasher, HASHERS } from './hash.js';
export type { UidHasher } from './hash.js';
export { ShardMap } from './shard-map.js';
export type { ShardRange } from './shard-map.js';
export { PhysicalNames, expandTemplate, quoteIdent } from './physical-names.js';
export { Topology } from './topology.js';
export type { ShardLocation, TableKind } from './topology.js';
export { shardMapTable, createShardMapTableSql, latestShardMapSql, MOVE_FENCE_SQLSTATE } from './shard-map-table.js';
export {
  SINK_NAMES,
  sinkProgressTable,
  sinkProgressKey,
  sinkProgressDatabaseSql,
  sinkProgressTableSql,
  readSinkProgressSql,
  type SinkName,
  type SinkProgressRow,
} from './sink-progress-table.js';
export {
  ARCHIVAL_MARKER_TABLE,
  archivalMarkerTable,
  archivalMarkerTableSql,
  archivalMarkerInsert,
  archivalMarkerDeletedUpdate,
  archivalRemovedSql,
  type ArchivalMarker,
  type ArchivalStatement,
} from './archival-marker-table.js';
