import { RoutingError, SqlParseError } from '../errors/index.js';
import { lex, lineColumn } from '../sql/index.js';

/** The statements `router.analytics.query` runs: reads. */
const READS = new Set(['select', 'with', 'table', 'values', 'explain', 'describe', 'desc', 'show']);

/**
 * Refuses what is not one read before it reaches the archive server: the first keyword (after
 * comments and opening parentheses) must be SELECT, WITH, TABLE, VALUES, EXPLAIN, DESCRIBE or
 * SHOW; executable comments (`/*! … *\/`, which the server runs and this check cannot see) and a
 * second statement are refused. With the read-only session this keeps analytics from writing: a
 * `SET SESSION TRANSACTION READ WRITE` or `START TRANSACTION` never gets through. Pure.
 * @throws {RoutingError} SQL_UNSUPPORTED, SQL_EXECUTABLE_COMMENT
 * @throws {SqlParseError} SQL_MULTIPLE_STATEMENTS
 */
export function checkAnalyticsStatement(sql: string): void {
  const lexed = lex(sql);
  const executable = lexed.comments.find((c) => c.kind === 'executable');
  if (executable)
    throw new RoutingError(
      'SQL_EXECUTABLE_COMMENT',
      `an executable comment (/*! … */ or /*M! … */) at offset ${executable.start}: the server runs its content; write it as plain SQL`,
      { details: { offset: executable.start } },
    );
  const first = lexed.tokens.find((t) => !(t.type === 'punct' && t.value === '('));
  if (!first) throw new RoutingError('SQL_UNSUPPORTED', 'router.analytics.query needs a statement');
  if (first.type !== 'ident' || !READS.has(first.value.toLowerCase()))
    throw new RoutingError(
      'SQL_UNSUPPORTED',
      `router.analytics.query runs reads only (SELECT, WITH, TABLE, VALUES, EXPLAIN, DESCRIBE, SHOW); the statement starts with ${first.type === 'ident' ? first.value.slice(0, 32).toUpperCase() : 'something else'}`,
      { details: { offset: first.start } },
    );
  for (const pos of lexed.semicolons) {
    const after = lexed.tokens.find((t) => t.start > pos);
    if (after)
      throw new SqlParseError(
        'SQL_MULTIPLE_STATEMENTS',
        `several statements in one string: a second statement starts at offset ${after.start}`,
        {
          offset: after.start,
          ...lineColumn(sql, after.start),
        },
      );
  }
}
