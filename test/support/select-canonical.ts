/**
 * The SELECT-side oracle of the binlog value tests: reads rows with mysql2 over the text protocol
 * and converts every column to the canonical JSON encoding (schemas/canonical-values.md) from the
 * raw bytes the server sent and the column's result-set metadata, independently of the binlog
 * decoder.
 */
import mysql, { type Connection, type FieldPacket } from 'mysql2/promise';

/** A value in the canonical encoding (the same shape as the decoder's `CanonicalValue`). */
export type OracleValue = null | number | string | { srid: number; wkb: string };
export type OracleRow = Record<string, OracleValue>;

/** Column types of the client protocol (result-set metadata). */
const T = {
  DECIMAL: 0,
  TINY: 1,
  SHORT: 2,
  LONG: 3,
  FLOAT: 4,
  DOUBLE: 5,
  TIMESTAMP: 7,
  LONGLONG: 8,
  INT24: 9,
  DATE: 10,
  TIME: 11,
  DATETIME: 12,
  YEAR: 13,
  NEWDATE: 14,
  VARCHAR: 15,
  BIT: 16,
  VECTOR: 242,
  JSON: 245,
  NEWDECIMAL: 246,
  ENUM: 247,
  SET: 248,
  TINY_BLOB: 249,
  MEDIUM_BLOB: 250,
  LONG_BLOB: 251,
  BLOB: 252,
  VAR_STRING: 253,
  STRING: 254,
  GEOMETRY: 255,
} as const;

const BINARY_CHARSET = 63;
const STRINGS = new Set<number>([T.VARCHAR, T.VAR_STRING, T.STRING, T.ENUM, T.SET, T.TINY_BLOB, T.MEDIUM_BLOB, T.LONG_BLOB, T.BLOB]);

/** Shortest decimal that reads back as the same float32: how SELECT prints a FLOAT. */
function shortestFloat32(v: number): number {
  const f = Math.fround(v);
  if (!Number.isFinite(f) || f === 0) return f;
  for (let p = 1; p <= 9; p++) {
    const candidate = Number(f.toPrecision(p));
    if (Math.fround(candidate) === f) return candidate;
  }
  return f;
}

/**
 * One column's raw text-protocol bytes in the canonical encoding. `float32` marks a FLOAT column
 * that was selected as a DOUBLE (see {@link selectTableCanonical}).
 */
export function oracleValue(raw: Buffer | null, field: FieldPacket, float32 = false): OracleValue {
  if (raw === null) return null;
  const type = field.columnType ?? field.type ?? -1;
  const charset = field.characterSet ?? field.charsetNr ?? 0;
  const text = () => raw.toString('utf8');
  switch (type) {
    case T.TINY:
    case T.SHORT:
    case T.INT24:
    case T.LONG:
    case T.YEAR:
      return Number(text());
    case T.LONGLONG:
      return BigInt(text()).toString();
    case T.BIT: {
      let v = 0n;
      for (const b of raw) v = (v << 8n) | BigInt(b);
      return v.toString();
    }
    case T.DECIMAL:
    case T.NEWDECIMAL:
      return text();
    case T.FLOAT:
      return shortestFloat32(Number(text()));
    case T.DOUBLE:
      return float32 ? shortestFloat32(Number(text())) : Number(text());
    case T.DATE:
    case T.NEWDATE:
    case T.TIME:
    case T.DATETIME:
    case T.TIMESTAMP:
      return text();
    case T.JSON:
      // The server marks JSON results as binary; the text is utf8mb4.
      return text();
    case T.VECTOR:
      return raw.toString('base64');
    case T.GEOMETRY:
      if (raw.length < 4) throw new Error(`GEOMETRY ${field.name}: ${raw.length} bytes`);
      return { srid: raw.readUInt32LE(0), wkb: raw.subarray(4).toString('base64') };
    default:
      if (STRINGS.has(type)) return charset === BINARY_CHARSET ? raw.toString('base64') : text();
      throw new Error(`column ${field.name}: result type ${type} has no canonical form in the oracle`);
  }
}

/** A whole result row (raw buffers by name) in the canonical encoding. */
export function oracleRow(row: Record<string, Buffer | null>, fields: FieldPacket[], float32: ReadonlySet<string> = new Set()): OracleRow {
  const out: OracleRow = {};
  for (const f of fields) out[f.name] = oracleValue(row[f.name] ?? null, f, float32.has(f.name));
  return out;
}

export interface OracleEndpoint {
  host: string;
  port: number;
  user: string;
  password: string;
  database?: string;
}

/**
 * A connection whose every column arrives as the server's raw bytes (utf8mb4 results, session
 * time_zone '+00:00' so TIMESTAMPs print as UTC).
 */
export async function openOracle(ep: OracleEndpoint): Promise<Connection> {
  const conn = await mysql.createConnection({
    host: ep.host,
    port: ep.port,
    user: ep.user,
    password: ep.password,
    database: ep.database,
    charset: 'utf8mb4_general_ci',
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    typeCast: (field) => field.buffer(),
  });
  await conn.query("SET time_zone = '+00:00'");
  return conn;
}

/** SELECTs rows and converts them to the canonical encoding. */
export async function selectCanonical(conn: Connection, sql: string, params: unknown[] = []): Promise<OracleRow[]> {
  const [rows, fields] = (await conn.query(sql, params)) as unknown as [Record<string, Buffer | null>[], FieldPacket[]];
  return rows.map((r) => oracleRow(r, fields));
}

/**
 * SELECTs every column of a table's rows in the canonical encoding. FLOAT columns are read as
 * `col + 0e0`: SELECT prints a FLOAT with 6 significant digits (123456.789 shows as 123457),
 * which loses the stored float32; widened to DOUBLE it prints exactly, and the canonical FLOAT
 * is the shortest decimal that reads back as that float32 (123456.79).
 */
export async function selectTableCanonical(conn: Connection, table: string, where: string, params: unknown[] = []): Promise<OracleRow[]> {
  const [, meta] = (await conn.query(`SELECT * FROM ${table} LIMIT 0`)) as unknown as [unknown, FieldPacket[]];
  const float32 = new Set(meta.filter((f) => (f.columnType ?? f.type) === T.FLOAT).map((f) => f.name));
  const list = meta.map((f) => (float32.has(f.name) ? `(\`${f.name}\` + 0e0) AS \`${f.name}\`` : `\`${f.name}\``)).join(', ');
  const [rows, fields] = (await conn.query(`SELECT ${list} FROM ${table} WHERE ${where}`, params)) as unknown as [
    Record<string, Buffer | null>[],
    FieldPacket[],
  ];
  return rows.map((r) => oracleRow(r, fields, float32));
}
