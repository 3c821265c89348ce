/**
 * Removes NO_BACKSLASH_ESCAPES from the session's sql_mode and keeps every other mode the server
 * set. mysql2 binds `?` values by escaping them on the client with backslashes (`'` → `\'`); with
 * NO_BACKSLASH_ESCAPES the server reads a backslash as a plain character, so a value
 * `\' OR 1=1 -- ` would end the string literal and become SQL. Every connection shardline opens
 * runs this right after login (chosen over server-side prepared statements, which ran at 0.78×
 * the throughput of `query()` for a point SELECT). The router refuses SET statements, so nothing
 * sent through it can turn the mode back on.
 */
export const PIN_BACKSLASH_ESCAPES_ASSIGNMENT =
  "sql_mode = TRIM(BOTH ',' FROM REPLACE(CONCAT(',', @@SESSION.sql_mode, ','), ',NO_BACKSLASH_ESCAPES,', ','))";

/** {@link PIN_BACKSLASH_ESCAPES_ASSIGNMENT} as a statement of its own. */
export const PIN_BACKSLASH_ESCAPES = `SET SESSION ${PIN_BACKSLASH_ESCAPES_ASSIGNMENT}`;
