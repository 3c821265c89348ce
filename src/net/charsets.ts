import mysql from 'mysql2';

/** mysql2's collation id → Node encoding table (`utf8`, `cesu8`, `latin1`, `binary`, …). */
const TABLE = (mysql as unknown as { CharsetToEncoding: string[] }).CharsetToEncoding;

/** The encoding of a MySQL collation id, or undefined when unknown. */
export function collationEncoding(collationId: number): string | undefined {
  return TABLE[collationId];
}
