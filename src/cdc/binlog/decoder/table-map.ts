import { ByteReader, TruncatedError } from './byte-reader.js';
import { ColumnType, isCharacter, isNumeric, type ColumnDef, type ServerFlavour } from './column-types.js';
import { decodeText } from './values.js';

/** A TABLE_MAP event: the table id for the following rows events and the full column layout. */
export interface TableMap {
  tableId: number;
  database: string;
  table: string;
  columns: ColumnDef[];
  /** Whether the optional metadata named the columns (binlog_row_metadata=FULL). */
  hasNames: boolean;
  primaryKey: number[];
}

const enum Opt {
  SIGNEDNESS = 1,
  DEFAULT_CHARSET = 2,
  COLUMN_CHARSET = 3,
  COLUMN_NAME = 4,
  SET_STR_VALUE = 5,
  ENUM_STR_VALUE = 6,
  GEOMETRY_TYPE = 7,
  SIMPLE_PRIMARY_KEY = 8,
  PRIMARY_KEY_WITH_PREFIX = 9,
  ENUM_AND_SET_DEFAULT_CHARSET = 10,
  ENUM_AND_SET_COLUMN_CHARSET = 11,
  COLUMN_VISIBILITY = 12,
  VECTOR_DIMENSIONALITY = 13,
}

/** Reads one column's TABLE_MAP metadata; returns [realType, meta, precision, scale]. */
function readColumnMeta(r: ByteReader, type: number): [number, number, number, number] {
  switch (type) {
    case ColumnType.FLOAT:
    case ColumnType.DOUBLE:
    case ColumnType.TINY_BLOB:
    case ColumnType.MEDIUM_BLOB:
    case ColumnType.LONG_BLOB:
    case ColumnType.BLOB:
    case ColumnType.JSON:
    case ColumnType.GEOMETRY:
    case ColumnType.TIMESTAMP2:
    case ColumnType.DATETIME2:
    case ColumnType.TIME2:
    case ColumnType.VECTOR:
      return [type, r.u8(), 0, 0];
    case ColumnType.VARCHAR:
    case ColumnType.VAR_STRING:
      return [type, r.u16(), 0, 0];
    case ColumnType.BIT: {
      const bits = r.u8();
      const bytes = r.u8();
      return [type, bytes * 8 + bits, 0, 0];
    }
    case ColumnType.NEWDECIMAL: {
      const precision = r.u8();
      const scale = r.u8();
      return [type, 0, precision, scale];
    }
    case ColumnType.STRING:
    case ColumnType.ENUM:
    case ColumnType.SET: {
      const b0 = r.u8();
      const b1 = r.u8();
      let realType = b0;
      let length = b1;
      if ((realType & 0x30) !== 0x30) {
        length = b1 | (((realType & 0x30) ^ 0x30) << 4);
        realType = realType | 0x30;
      }
      return [realType, length, 0, 0];
    }
    default:
      return [type, 0, 0, 0];
  }
}

/**
 * Parses the body of a TABLE_MAP event (after the common header). `flavour` is the server that
 * wrote it: MySQL and MariaDB count different columns in the charset metadata.
 */
export function parseTableMap(body: Buffer, postHeaderLength: number, flavour: ServerFlavour): TableMap {
  const r = new ByteReader(body);
  const tableId = postHeaderLength === 6 ? r.u32() : r.uintLE(6);
  r.u16();
  const dbLen = r.u8();
  const database = r.bytes(dbLen).toString('utf8');
  r.skip(1);
  const tLen = r.u8();
  const table = r.bytes(tLen).toString('utf8');
  r.skip(1);
  const count = r.packed();
  if (count > 4096) throw new TruncatedError(`TABLE_MAP with ${count} columns`);
  const types = [...r.bytes(count)];
  const metaLen = r.packed();
  const metaEnd = r.pos + metaLen;
  r.need(metaLen);
  const columns: ColumnDef[] = types.map((type, index) => {
    const [realType, meta, precision, scale] = readColumnMeta(r, type);
    return {
      index,
      name: `col_${index}`,
      type,
      realType,
      meta,
      precision,
      scale,
      nullable: true,
      unsigned: false,
      collation: 0,
      enumValues: null,
      setValues: null,
    };
  });
  if (r.pos !== metaEnd) throw new TruncatedError(`TABLE_MAP metadata length ${metaLen} does not match its columns`);
  const nullBits = r.bytes(Math.floor((count + 7) / 8));
  for (const c of columns) c.nullable = (nullBits[c.index >> 3]! & (1 << (c.index & 7))) !== 0;
  const map: TableMap = { tableId, database, table, columns, hasNames: false, primaryKey: [] };
  if (r.remaining > 0) parseOptionalMetadata(r, map, flavour);
  return map;
}

function charsetColumnsName(type: number): string {
  return type === Opt.DEFAULT_CHARSET || type === Opt.COLUMN_CHARSET ? 'character columns' : 'ENUM/SET columns';
}

function parseOptionalMetadata(r: ByteReader, map: TableMap, flavour: ServerFlavour): void {
  const { columns } = map;
  const numeric = columns.filter((c) => isNumeric(c.type));
  const character = columns.filter((c) => isCharacter(c.type, c.realType, flavour));
  const enums = columns.filter((c) => c.realType === ColumnType.ENUM);
  const sets = columns.filter((c) => c.realType === ColumnType.SET);
  const enumAndSet = columns.filter((c) => c.realType === ColumnType.ENUM || c.realType === ColumnType.SET);
  // ENUM/SET labels are in the column's charset, which comes after them (ENUM_AND_SET_*_CHARSET).
  const rawLabels = new Map<ColumnDef, Buffer[]>();
  while (r.remaining > 0) {
    const type = r.u8();
    const len = r.packed();
    const field = new ByteReader(r.bytes(len));
    switch (type) {
      case Opt.SIGNEDNESS:
        numeric.forEach((c, i) => (c.unsigned = (field.buf[i >> 3]! & (0x80 >> (i & 7))) !== 0));
        break;
      case Opt.DEFAULT_CHARSET:
      case Opt.ENUM_AND_SET_DEFAULT_CHARSET: {
        const targets = type === Opt.DEFAULT_CHARSET ? character : enumAndSet;
        const def = field.packed();
        for (const c of targets) c.collation = def;
        while (field.remaining > 0) {
          const idx = field.packed();
          const collation = field.packed();
          const target = targets[idx];
          if (!target) throw new TruncatedError(`charset metadata names column ${idx} of ${targets.length} ${charsetColumnsName(type)}`);
          target.collation = collation;
        }
        break;
      }
      case Opt.COLUMN_CHARSET:
      case Opt.ENUM_AND_SET_COLUMN_CHARSET: {
        const targets = type === Opt.COLUMN_CHARSET ? character : enumAndSet;
        for (const c of targets) c.collation = field.packed();
        if (field.remaining > 0)
          throw new TruncatedError(`charset metadata has more entries than the ${targets.length} ${charsetColumnsName(type)}`);
        break;
      }
      case Opt.COLUMN_NAME:
        for (const c of columns) c.name = field.bytes(field.packed()).toString('utf8');
        map.hasNames = true;
        break;
      case Opt.SET_STR_VALUE:
      case Opt.ENUM_STR_VALUE: {
        const targets = type === Opt.SET_STR_VALUE ? sets : enums;
        for (const c of targets) {
          const n = field.packed();
          const labels: Buffer[] = [];
          for (let i = 0; i < n; i++) labels.push(field.bytes(field.packed()));
          rawLabels.set(c, labels);
        }
        break;
      }
      case Opt.SIMPLE_PRIMARY_KEY:
        while (field.remaining > 0) map.primaryKey.push(field.packed());
        break;
      case Opt.PRIMARY_KEY_WITH_PREFIX:
        while (field.remaining > 0) {
          map.primaryKey.push(field.packed());
          field.packed();
        }
        break;
      default:
        // GEOMETRY_TYPE, COLUMN_VISIBILITY, VECTOR_DIMENSIONALITY and future fields carry nothing we decode with.
        break;
    }
  }
  for (const [c, raw] of rawLabels) {
    const labels = raw.map((b) => decodeText(b, c.collation, c.name));
    if (c.realType === ColumnType.SET) c.setValues = labels;
    else c.enumValues = labels;
  }
}
