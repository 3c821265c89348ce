import { ByteReader, TruncatedError } from './byte-reader.js';
import { decodeJsonBinary } from './json-binary.js';

/** A JSON document node. Scalars keep their text (numbers stay exact: no trip through JS numbers). */
export type JsonNode =
  { kind: 'object'; members: Map<string, JsonNode> } | { kind: 'array'; items: JsonNode[] } | { kind: 'scalar'; text: string };

const MAX_DEPTH = 100;

/** Parses JSON text (as decodeJsonBinary prints it) into a document, keeping number literals as written. */
export function parseJsonText(text: string): JsonNode {
  let i = 0;
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\t' || text[i] === '\r')) i++;
  };
  const fail = (what: string): never => {
    throw new TruncatedError(`JSON text: ${what} at offset ${i}`);
  };
  const stringToken = (): string => {
    const start = i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail('unterminated string');
    i++;
    return text.slice(start, i);
  };
  const value = (depth: number): JsonNode => {
    if (depth > MAX_DEPTH) fail('nesting too deep');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const members = new Map<string, JsonNode>();
      ws();
      if (text[i] === '}') {
        i++;
        return { kind: 'object', members };
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const key = JSON.parse(stringToken()) as string;
        ws();
        if (text[i++] !== ':') fail("expected ':'");
        members.set(key, value(depth + 1));
        ws();
        const sep = text[i++];
        if (sep === '}') return { kind: 'object', members };
        if (sep !== ',') fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      const items: JsonNode[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return { kind: 'array', items };
      }
      for (;;) {
        items.push(value(depth + 1));
        ws();
        const sep = text[i++];
        if (sep === ']') return { kind: 'array', items };
        if (sep !== ',') fail("expected ',' or ']'");
      }
    }
    if (c === '"') return { kind: 'scalar', text: stringToken() };
    const m = /^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
    if (!m) return fail('unexpected character');
    i += m[0].length;
    return { kind: 'scalar', text: m[0] };
  };
  const root = value(0);
  ws();
  if (i !== text.length) fail('trailing characters');
  return root;
}

/** MySQL's key order in JSON objects: shorter keys first, then bytewise (utf8mb4). */
function compareKeys(a: string, b: string): number {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length - y.length || Buffer.compare(x, y);
}

/** Prints a document the way MySQL prints JSON (`{"a": 1, "b": [true, null]}`, keys in MySQL's order). */
export function printJson(node: JsonNode): string {
  if (node.kind === 'scalar') return node.text;
  if (node.kind === 'array') return `[${node.items.map(printJson).join(', ')}]`;
  const keys = [...node.members.keys()].sort(compareKeys);
  return `{${keys.map((k) => `${JSON.stringify(k)}: ${printJson(node.members.get(k)!)}`).join(', ')}}`;
}

type Leg = { member: string } | { index: number };

/** Parses a JSON path of a JSON diff: `$`, then `.key`, `."quoted key"` or `[n]` legs. */
export function parseJsonPath(path: string): Leg[] {
  if (path[0] !== '$') throw new TruncatedError(`JSON diff path ${JSON.stringify(path)} does not start with $`);
  const legs: Leg[] = [];
  let i = 1;
  const fail = (): never => {
    throw new TruncatedError(`JSON diff path ${JSON.stringify(path)} cannot be parsed at offset ${i}`);
  };
  while (i < path.length) {
    const c = path[i];
    if (c === '.') {
      i++;
      if (path[i] === '"') {
        const start = i++;
        while (i < path.length && path[i] !== '"') i += path[i] === '\\' ? 2 : 1;
        if (i >= path.length) fail();
        i++;
        legs.push({ member: JSON.parse(path.slice(start, i)) as string });
      } else {
        const m = /^[^.[\s]+/.exec(path.slice(i));
        if (!m || m[0] === '*') fail();
        legs.push({ member: m![0] });
        i += m![0].length;
      }
    } else if (c === '[') {
      const m = /^\[\s*(\d+)\s*\]/.exec(path.slice(i));
      if (!m) fail();
      legs.push({ index: Number(m![1]) });
      i += m![0].length;
    } else fail();
  }
  return legs;
}

/** JSON diff operations (enum_json_diff_operation). */
export const JsonDiffOperation = { REPLACE: 0, INSERT: 1, REMOVE: 2 } as const;

/** One decoded JSON diff. */
export interface JsonDiff {
  operation: 0 | 1 | 2;
  path: string;
  /** The new value as JSON text; null for REMOVE. */
  value: string | null;
}

/** Reads the diff list of a partial JSON value (Json_diff_vector::read_binary): operation, path, value. */
export function readJsonDiffs(buf: Buffer): JsonDiff[] {
  const r = new ByteReader(buf);
  const diffs: JsonDiff[] = [];
  while (r.remaining > 0) {
    const operation = r.u8();
    if (operation > 2) throw new TruncatedError(`unknown JSON diff operation ${operation}`);
    const path = r.bytes(r.packed()).toString('utf8');
    const value = operation === JsonDiffOperation.REMOVE ? null : decodeJsonBinary(r.bytes(r.packed()));
    diffs.push({ operation: operation as 0 | 1 | 2, path, value });
  }
  return diffs;
}

function describe(d: JsonDiff): string {
  return `${['REPLACE', 'INSERT', 'REMOVE'][d.operation]} ${d.path}`;
}

function applyOne(root: JsonNode, d: JsonDiff): JsonNode {
  const legs = parseJsonPath(d.path);
  const value = d.value === null ? null : parseJsonText(d.value);
  const last = legs.pop();
  if (last === undefined) {
    if (d.operation !== JsonDiffOperation.REPLACE || value === null)
      throw new TruncatedError(`JSON diff ${describe(d)} on the whole document`);
    return value;
  }
  let parent = root;
  for (const leg of legs) {
    const next =
      'member' in leg
        ? parent.kind === 'object'
          ? parent.members.get(leg.member)
          : undefined
        : parent.kind === 'array'
          ? parent.items[leg.index]
          : undefined;
    if (!next) throw new TruncatedError(`JSON diff ${describe(d)}: the path does not exist in the before image`);
    parent = next;
  }
  if ('member' in last) {
    if (parent.kind !== 'object') throw new TruncatedError(`JSON diff ${describe(d)}: the parent is not an object`);
    if (d.operation === JsonDiffOperation.REMOVE) {
      if (!parent.members.delete(last.member)) throw new TruncatedError(`JSON diff ${describe(d)}: no such member`);
    } else {
      if (d.operation === JsonDiffOperation.REPLACE && !parent.members.has(last.member))
        throw new TruncatedError(`JSON diff ${describe(d)}: no such member`);
      parent.members.set(last.member, value!);
    }
    return root;
  }
  if (parent.kind !== 'array') throw new TruncatedError(`JSON diff ${describe(d)}: the parent is not an array`);
  const { items } = parent;
  if (d.operation === JsonDiffOperation.INSERT) items.splice(Math.min(last.index, items.length), 0, value!);
  else if (last.index >= items.length)
    throw new TruncatedError(`JSON diff ${describe(d)}: index beyond the array's ${items.length} elements`);
  else if (d.operation === JsonDiffOperation.REMOVE) items.splice(last.index, 1);
  else items[last.index] = value!;
  return root;
}

/**
 * Applies the JSON diffs of a PARTIAL_UPDATE_ROWS after image to the before image's JSON text and
 * returns the after document as MySQL prints it. A diff that does not fit the document is an error.
 */
export function applyJsonDiffs(beforeText: string, diffs: readonly JsonDiff[]): string {
  let root = parseJsonText(beforeText);
  for (const d of diffs) root = applyOne(root, d);
  return printJson(root);
}
