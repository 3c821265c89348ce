/** MySQL column type codes as they appear in TABLE_MAP. */
export const ColumnType = {
  DECIMAL: 0,
  TINY: 1,
  SHORT: 2,
  LONG: 3,
  FLOAT: 4,
  DOUBLE: 5,
  NULL: 6,
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
  TIMESTAMP2: 17,
  DATETIME2: 18,
  TIME2: 19,
  TYPED_ARRAY: 20,
  VECTOR: 242,
  INVALID: 243,
  BOOL: 244,
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

/** YEAR is an unsigned TINYINT to both servers: it takes a (set) bit, so the numeric columns after it are one bit further. */
const NUMERIC = new Set<number>([
  ColumnType.TINY,
  ColumnType.SHORT,
  ColumnType.INT24,
  ColumnType.LONG,
  ColumnType.LONGLONG,
  ColumnType.NEWDECIMAL,
  ColumnType.FLOAT,
  ColumnType.DOUBLE,
  ColumnType.DECIMAL,
  ColumnType.YEAR,
]);
const BLOBS = new Set<number>([ColumnType.TINY_BLOB, ColumnType.MEDIUM_BLOB, ColumnType.LONG_BLOB, ColumnType.BLOB]);

/** Whether the column takes a bit in the SIGNEDNESS optional metadata. */
export function isNumeric(type: number): boolean {
  return NUMERIC.has(type);
}

/** The server family that wrote a binlog: they differ in which columns a TABLE_MAP's charset list counts. */
export type ServerFlavour = 'mysql' | 'mariadb';

/**
 * Whether the column takes an entry in the DEFAULT_CHARSET / COLUMN_CHARSET optional metadata,
 * whose entries (and exception indexes) follow the order of these columns only. ENUM and SET
 * never do (they have ENUM_AND_SET_*_CHARSET). MySQL counts CHAR, VARCHAR, BLOB/TEXT and VECTOR
 * (binary), not JSON or GEOMETRY. MariaDB counts every column that has a charset: CHAR, VARCHAR,
 * BLOB/TEXT (its JSON is a LONGTEXT), the fixed binary types (INET6, UUID: STRING on the wire)
 * and GEOMETRY (binary).
 */
export function isCharacter(type: number, realType: number, flavour: ServerFlavour): boolean {
  if (type === ColumnType.STRING) return realType !== ColumnType.ENUM && realType !== ColumnType.SET;
  if (type === ColumnType.GEOMETRY) return flavour === 'mariadb';
  return type === ColumnType.VARCHAR || type === ColumnType.VAR_STRING || type === ColumnType.VECTOR || BLOBS.has(type);
}

export function isBlob(type: number): boolean {
  return BLOBS.has(type);
}

/** A column as TABLE_MAP describes it, completed by optional metadata or schema history. */
export interface ColumnDef {
  index: number;
  name: string;
  /** The type byte of TABLE_MAP. */
  type: number;
  /** For STRING: the real type (STRING, ENUM or SET); else `type`. */
  realType: number;
  /** Type-specific: max length, precision/scale, fsp, pack length… */
  meta: number;
  precision: number;
  scale: number;
  nullable: boolean;
  unsigned: boolean;
  /** Collation id for character columns (63 = binary), 0 when unknown. */
  collation: number;
  enumValues: string[] | null;
  setValues: string[] | null;
}

/** Type name for messages and schemas. */
export function columnTypeName(c: Pick<ColumnDef, 'type' | 'realType'>): string {
  const t = c.type === ColumnType.STRING ? c.realType : c.type;
  return (
    Object.entries(ColumnType)
      .find(([, v]) => v === t)?.[0]
      ?.toLowerCase() ?? `type${t}`
  );
}
