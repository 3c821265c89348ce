/**
 * The SQL of the XA decision records (pure). The coordinator of an atomic write inserts
 * `(gtrid, 'commit')` into `<metaDatabase>.xa_decisions` on the first instance of the config
 * once every branch is prepared, before any XA COMMIT; `xa recover` inserts `(gtrid, 'abort')`
 * with INSERT IGNORE before rolling back a branch that has no record. The primary key makes the
 * first of the two win, so a coordinator that is slow (not dead) and a recovery cannot decide
 * differently: the coordinator reads back an abort and rolls back. Presumed abort: no record,
 * no commit.
 */
export function xaDecisionSql(metaDatabase: string) {
  const table = `\`${metaDatabase.replace(/`/g, '``')}\`.\`xa_decisions\``;
  return {
    createDatabase: `CREATE DATABASE IF NOT EXISTS \`${metaDatabase.replace(/`/g, '``')}\``,
    createTable: `CREATE TABLE IF NOT EXISTS ${table} (gtrid VARBINARY(64) NOT NULL PRIMARY KEY, decision ENUM('commit','abort') NOT NULL, decided_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB`,
    recordCommit: `INSERT INTO ${table} (gtrid, decision) VALUES (?, 'commit')`,
    recordAbort: `INSERT IGNORE INTO ${table} (gtrid, decision) VALUES (?, 'abort')`,
    read: `SELECT decision FROM ${table} WHERE gtrid = ?`,
    forget: `DELETE FROM ${table} WHERE gtrid = ?`,
  };
}
