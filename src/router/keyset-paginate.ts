import { RoutingError } from '../errors/index.js';
import type { Row } from '../net/index.js';
import { keysetValues, type KeysetPages, type SqlParam } from '../sql/index.js';

/** The largest page `router.paginate` fetches at once. */
export const MAX_PAGE_SIZE = 100_000;

/**
 * Pages of a SELECT by keyset: the first page, then each page after the last row of the one
 * before, until a page comes back short. Memory holds one page.
 * @throws {RoutingError} `SQL_UNSUPPORTED` for a page size outside 1…{@link MAX_PAGE_SIZE} or a NULL key.
 */
export async function* keysetPaginate(
  pages: KeysetPages,
  params: readonly SqlParam[],
  pageSize: number,
  run: (sql: string, params: SqlParam[]) => Promise<Row[]>,
): AsyncGenerator<Row[], void, undefined> {
  if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE)
    throw new RoutingError('SQL_UNSUPPORTED', `router.paginate: pageSize must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  const base = pages.params.map((i) => params[i]!);
  let last: Row | undefined;
  for (;;) {
    const rows = last
      ? await run(pages.next, [...base, ...(keysetValues(pages.keys, last) as SqlParam[]), pageSize])
      : await run(pages.first, [...base, pageSize]);
    if (rows.length > 0) yield rows;
    if (rows.length < pageSize) return;
    last = rows[rows.length - 1];
  }
}
