const ident = String.raw`(?:\`(?:[^\`]|\`\`)+\`|[A-Za-z0-9_$]+)`;
const qualified = String.raw`${ident}(?:\s*\.\s*${ident})?`;
const TABLE_DDL = new RegExp(
  String.raw`^\s*(?:/\*.*?\*/\s*)*(?:ALTER\s+(?:ONLINE\s+|IGNORE\s+)*TABLE|CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMPORARY\s+)?TABLE|DROP\s+(?:TEMPORARY\s+)?TABLE|TRUNCATE(?:\s+TABLE)?|RENAME\s+TABLE)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(${qualified}(?:\s*(?:,|\bTO\b)\s*${qualified})*)`,
  'is',
);
const NOT_SCHEMA =
  /^\s*(?:\/\*.*?\*\/\s*)*(?:BEGIN|COMMIT|ROLLBACK|XA\s|SAVEPOINT|RELEASE\s+SAVEPOINT|FLUSH|GRANT|REVOKE|CREATE\s+USER|ALTER\s+USER|DROP\s+USER|SET\s+PASSWORD|ANALYZE|OPTIMIZE|CREATE\s+(?:DEFINER\S*\s+)?(?:PROCEDURE|FUNCTION|TRIGGER|EVENT|VIEW)|DROP\s+(?:PROCEDURE|FUNCTION|TRIGGER|EVENT|VIEW)|INSERT|UPDATE|DELETE|REPLACE)\b/is;

function unquote(name: string): string {
  const t = name.trim();
  return t.startsWith('`') ? t.slice(1, -1).replace(/``/g, '`') : t;
}

/** What a statement in the binlog does to table schemas. */
export type DdlEffect =
  | { kind: 'none' }
  | { kind: 'tables'; tables: Array<{ database: string; table: string }> }
  | { kind: 'database'; database: string }
  | { kind: 'unknown' };

/**
 * Which tables a QUERY event's statement may have changed. Pure and conservative: a statement it
 * cannot read is `unknown` (the caller forgets every schema), never `none`.
 */
export function ddlEffect(sql: string, currentDatabase: string): DdlEffect {
  if (NOT_SCHEMA.test(sql)) return { kind: 'none' };
  const db =
    /^\s*(?:\/\*.*?\*\/\s*)*(?:CREATE|DROP|ALTER)\s+(?:DATABASE|SCHEMA)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(`(?:[^`]|``)+`|[A-Za-z0-9_$]+)/is.exec(
      sql,
    );
  if (db) return { kind: 'database', database: unquote(db[1]!) };
  const m = TABLE_DDL.exec(sql);
  if (!m) return { kind: 'unknown' };
  const names = m[1]!.split(/\s*(?:,|\bTO\b)\s*/i).filter(Boolean);
  const tables = names.map((n) => {
    const parts = n.match(new RegExp(ident, 'g')) ?? [];
    return parts.length === 2
      ? { database: unquote(parts[0]!), table: unquote(parts[1]!) }
      : { database: currentDatabase, table: unquote(parts[0] ?? n) };
  });
  return { kind: 'tables', tables };
}
