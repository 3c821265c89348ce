import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, type YAMLError } from 'yaml';
import { ConfigError } from '../errors/index.js';

/** What each YAML error code means, in words that quote nothing from the file. */
const YAML_PROBLEMS: Readonly<Record<string, string>> = {
  ALIAS_PROPS: 'an alias with a tag or anchor',
  BAD_ALIAS: 'an alias to an anchor that is not defined',
  BAD_DIRECTIVE: 'an invalid directive',
  BAD_DQ_ESCAPE: 'an invalid escape sequence in a double-quoted string',
  BAD_INDENT: 'wrong indentation',
  BAD_PROP_ORDER: 'anchor and tag in the wrong order',
  BAD_SCALAR_START: 'a plain value starting with a reserved character (quote it)',
  BLOCK_AS_IMPLICIT_KEY: 'a block value used as a key',
  BLOCK_IN_FLOW: 'a block value inside a flow collection',
  DUPLICATE_KEY: 'a duplicate key',
  KEY_OVER_1024_CHARS: 'a key longer than 1024 characters',
  MISSING_CHAR: 'a missing character (an unclosed quote or bracket, or a key without `:`)',
  MULTILINE_IMPLICIT_KEY: 'a key spanning several lines',
  MULTIPLE_ANCHORS: 'several anchors on one node',
  MULTIPLE_DOCS: 'several YAML documents in one file',
  MULTIPLE_TAGS: 'several tags on one node',
  NON_STRING_KEY: 'a key that is not a string',
  RESOURCE_EXHAUSTION: 'too many aliases',
  TAB_AS_INDENT: 'a tab used for indentation',
  TAG_RESOLVE_FAILED: 'a value that does not fit its tag',
  UNEXPECTED_TOKEN: 'an unexpected token',
  BAD_COLLECTION_TYPE: 'a collection of the wrong type',
};

/** Keys shown in a key path; anything else (a value parsed as a key by mistake) shows as `?`. */
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/** The key path (`instances.0.replication`) of the innermost node whose source contains `offset`. */
function keyPathAt(node: unknown, offset: number, path: string[] = []): string[] {
  const within = (n: unknown) => {
    const range = (n as { range?: [number, number, number] } | null)?.range;
    return range !== undefined && offset >= range[0] && offset <= range[2];
  };
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const key = isScalar(pair.key) && typeof pair.key.value === 'string' && PLAIN_KEY.test(pair.key.value) ? pair.key.value : '?';
      if (within(pair.value)) return keyPathAt(pair.value, offset, [...path, key]);
      if (within(pair.key)) return [...path, key];
    }
  } else if (isSeq(node)) {
    for (const [i, item] of node.items.entries()) if (within(item)) return keyPathAt(item, offset, [...path, String(i)]);
  }
  return path;
}

/**
 * Parses the text of a config file. A syntax error is reported by line, column, what is wrong
 * and the key path where it is — never with the offending line or any text of the file, which
 * can hold a password. The error has no cause (the parser's error quotes the source).
 * @throws {ConfigError} `CONFIG_INVALID`.
 */
export function parseConfigYaml(text: string, file: string): unknown {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, logLevel: 'silent', uniqueKeys: true, lineCounter });
  const error: YAMLError | undefined = doc.errors[0];
  if (!error) {
    try {
      return doc.toJS({ maxAliasCount: 100 });
    } catch {
      throw new ConfigError('CONFIG_INVALID', `cluster config ${file} is not valid YAML: its aliases cannot be resolved`, {
        details: { source: file },
      });
    }
  }
  const at = lineCounter.linePos(error.pos[0]);
  const keyPath = keyPathAt(doc.contents, error.pos[0]).join('.');
  const where = `line ${at.line}, column ${at.col}${keyPath ? ` (under ${keyPath})` : ''}`;
  throw new ConfigError(
    'CONFIG_INVALID',
    `cluster config ${file} is not valid YAML at ${where}: ${YAML_PROBLEMS[error.code] ?? error.code}`,
    {
      details: { source: file, line: at.line, column: at.col, yamlCode: error.code, keyPath },
    },
  );
}
