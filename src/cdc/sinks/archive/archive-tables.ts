import type { LogicalTableSchema } from '../../schema/logical-columns.js';
import type { ArchiveConnection } from '../../../net/archive-connection.js';
import {
  addArchivedColumnSql,
  addArchiveColumnSql,
  archiveSchemaProblem,
  createArchiveDatabaseSql,
  createArchiveTableSql,
  type ArchiveFlavour,
} from './archive-ddl.js';
import { ArchiveSinkError, classifyArchiveError, errnoOf } from './archive-errors.js';

/** Server errnos that mean the archive cannot hold a table definition (not worth retrying). */
const DEFINITION_ERRNO = new Set([1063, 1064, 1067, 1071, 1074, 1101, 1113, 1115, 1118, 1166, 1170, 1273, 1291]);
const DUPLICATE_COLUMN = 1060;

/**
 * The archive tables this sink has made sure of, with the logical schema each was made from.
 * `ensure` creates the table if missing and adds the source columns it lacks (new columns appear
 * in the source over time; columns dropped in the source stay in the archive with their history).
 */
export class ArchiveTables {
  private readonly schemas = new Map<string, LogicalTableSchema>();
  private databaseReady = false;

  constructor(
    private readonly database: string,
    private readonly flavour: ArchiveFlavour,
    private readonly schemaOf: (table: string, options?: { refresh: boolean }) => Promise<LogicalTableSchema>,
  ) {}

  /** The schema a table was last ensured with, if any. */
  cached(table: string): LogicalTableSchema | undefined {
    return this.schemas.get(table);
  }

  /** Forgets a table (and the database) so that the next `ensure` checks them on the server again. */
  invalidate(table: string): void {
    this.schemas.delete(table);
    this.databaseReady = false;
  }

  /**
   * Reads the logical schema (again when `refresh`), creates the archive table if it does not
   * exist and adds missing source columns. Throws a non-retriable `ARCHIVE_SCHEMA` error when the
   * table cannot be archived (no primary key, a definition the server refuses).
   */
  async ensure(conn: ArchiveConnection, table: string, refresh = false): Promise<LogicalTableSchema> {
    const known = this.schemas.get(table);
    if (known && !refresh) return known;
    const schema: LogicalTableSchema = { ...(await this.schemaOf(table, { refresh })), table };
    const problem = archiveSchemaProblem(schema);
    if (problem) throw new ArchiveSinkError('ARCHIVE_SCHEMA', problem, { details: { table } });
    if (!this.databaseReady) {
      // The database may exist already with the sink's user lacking CREATE on the server: go on.
      await conn.query(createArchiveDatabaseSql(this.database)).catch((err: unknown) => {
        if (classifyArchiveError(err) === 'transient') throw err;
      });
      this.databaseReady = true;
    }
    await this.definition(table, () => conn.query(createArchiveTableSql(this.database, schema, this.flavour)));
    const existing = await conn.query(
      'SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      [this.database, table],
    );
    const names = new Set(existing.rows.map((r) => String(r['name'] ?? r['NAME']).toLowerCase()));
    for (const c of schema.columns) {
      if (names.has(c.name.toLowerCase())) continue;
      await this.definition(table, () => conn.query(addArchiveColumnSql(this.database, table, c, this.flavour))).catch((err: unknown) => {
        if (errnoOf(err) !== DUPLICATE_COLUMN) throw err;
      });
    }
    if (!names.has('_archived'))
      await this.definition(table, () => conn.query(addArchivedColumnSql(this.database, table))).catch((err: unknown) => {
        if (errnoOf(err) !== DUPLICATE_COLUMN) throw err;
      });
    this.schemas.set(table, schema);
    return schema;
  }

  private async definition<T>(table: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      const errno = errnoOf(err);
      if (errno !== undefined && DEFINITION_ERRNO.has(errno)) {
        throw new ArchiveSinkError('ARCHIVE_SCHEMA', `the archive refuses the definition of table ${table} (errno ${errno})`, {
          cause: err,
          details: { table, errno },
        });
      }
      throw err;
    }
  }
}
