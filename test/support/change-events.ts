/** A change event's `source` block as the reader writes it (shard-0, `users_0001` of `users`). */
export const changeSource = {
  instance: 'shard-0',
  flavour: 'mysql',
  server_uuid: null,
  server_id: 1,
  db: 'app_00',
  table: 'users_0001',
  logical_table: 'users',
  shard: 1,
  gtid: null,
  file: 'binlog.000002',
  pos: 400,
  row: 1,
  ts_us: 1_700_000_000_000_000,
  snapshot: 'false',
  version: '42',
};

/** An insert of row `id` (`{ id, name }`) with `source` overridden by `source`. */
export function changeEvent(id: string, source: Partial<typeof changeSource> = {}) {
  return { op: 'c', before: null, after: { id, name: `user ${id}` }, source: { ...changeSource, ...source }, ts_ms: 1 };
}

/** {@link changeSource} without `version`: a sink derives the version from the binlog coordinates. */
export const unversionedSource: Omit<typeof changeSource, 'version'> = Object.fromEntries(
  Object.entries(changeSource).filter(([k]) => k !== 'version'),
) as Omit<typeof changeSource, 'version'>;
