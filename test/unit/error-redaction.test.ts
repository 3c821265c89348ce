import { inspect } from 'node:util';
import { DriverError, QueryError, redactServerMessage, sanitizeDriverError } from '../../src/errors/index.js';
import { wrapQueryError } from '../../src/executor/index.js';
import { serializeError } from '../../src/log/logger.js';

const CARD = '4111111111111111';

/** A driver error shaped like mysql2's: the interpolated statement in `sql`, the server text in `sqlMessage`. */
function mysql2Error(message: string, errno: number, code: string, sqlState = '23000'): Error {
  return Object.assign(new Error(message), {
    errno,
    code,
    sqlState,
    sqlMessage: message,
    sql: `INSERT INTO users_0001 (uid, name) VALUES (${CARD}, 'card ${CARD}')`,
    values: [CARD, `card ${CARD}`],
    fatal: false,
  });
}

describe('redactServerMessage', () => {
  it.each([
    [1062, `Duplicate entry '${CARD}' for key 'users_0001.PRIMARY'`, "Duplicate entry '<redacted>' for key 'users_0001.PRIMARY'"],
    [1062, `Duplicate entry '${CARD}-7' for key 'PRIMARY'`, "Duplicate entry '<redacted>' for key 'PRIMARY'"],
    // the value itself contains the closing text: still redacted completely
    [1062, `Duplicate entry 'a' for key 'x' ${CARD}' for key 'PRIMARY'`, "Duplicate entry '<redacted>' for key 'PRIMARY'"],
    [
      1366,
      `Incorrect decimal value: 'x${CARD}' for column 'balance' at row 1`,
      "Incorrect decimal value: '<redacted>' for column 'balance' at row 1",
    ],
    [
      1366,
      `Incorrect integer value: '${CARD}x' for column \`app_00\`.\`users_0001\`.\`uid\` at row 1`,
      "Incorrect integer value: '<redacted>' for column `app_00`.`users_0001`.`uid` at row 1",
    ],
    [1292, `Truncated incorrect DOUBLE value: '${CARD}abc'`, "Truncated incorrect DOUBLE value: '<redacted>'"],
    [
      1292,
      `Incorrect datetime value: '${CARD}' for column 'created_at' at row 1`,
      "Incorrect datetime value: '<redacted>' for column 'created_at' at row 1",
    ],
    [
      1411,
      `Incorrect datetime value: '${CARD}' for function str_to_date`,
      "Incorrect datetime value: '<redacted>' for function str_to_date",
    ],
    [
      1366,
      `Incorrect string value: '\\xF0\\x9F\\x98\\x80${CARD}' for column 'name' at row 1`,
      "Incorrect string value: '<redacted>' for column 'name' at row 1",
    ],
    [
      1064,
      `You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax to use near '${CARD}')' at line 1`,
      "You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax to use near '<redacted>' at line 1",
    ],
    [1300, `Invalid utf8mb4 character string: '${CARD}'`, "Invalid utf8mb4 character string: '<redacted>'"],
    [1367, `Illegal double '${CARD}e999' value found during parsing`, "Illegal double '<redacted>' value found during parsing"],
    [
      1690,
      `BIGINT UNSIGNED value is out of range in '(${CARD} - 99999999999999999999)'`,
      "BIGINT UNSIGNED value is out of range in '<redacted>'",
    ],
    [1231, `Variable 'sql_mode' can't be set to the value of '${CARD}'`, "Variable 'sql_mode' can't be set to the value of '<redacted>'"],
    [
      1918,
      `Encountered illegal value '${CARD}x' when converting to DECIMAL`,
      "Encountered illegal value '<redacted>' when converting to DECIMAL",
    ],
    // an unknown wording (a translated message) of an errno known to quote values: fail closed
    [1062, `Doppelter Eintrag '${CARD}' für Schlüssel 'PRIMARY'`, "Doppelter Eintrag '<redacted>'"],
  ])('errno %i: %s', (errno, message, expected) => {
    expect(redactServerMessage(message, errno)).toBe(expected);
  });

  it('keeps messages that quote only names', () => {
    for (const m of [
      "Table 'app_00.users_0001' doesn't exist",
      "Data too long for column 'name' at row 1",
      "Out of range value for column 'balance' at row 1",
      "Column 'name' cannot be null",
      "Unknown column 'nme' in 'field list'",
    ]) {
      expect(redactServerMessage(m, 1146)).toBe(m);
    }
  });

  it('masks URL passwords', () => {
    expect(redactServerMessage('connect ECONNREFUSED https://elastic:hunter2@es.local:9200/_bulk')).toBe(
      'connect ECONNREFUSED https://elastic:<redacted>@es.local:9200/_bulk',
    );
  });
});

describe('sanitizeDriverError', () => {
  it('keeps errno, SQLSTATE, code and the statement with placeholders; drops the interpolated SQL, values and server text', () => {
    const raw = mysql2Error(`Duplicate entry '${CARD}' for key 'users_0001.PRIMARY'`, 1062, 'ER_DUP_ENTRY');
    const clean = sanitizeDriverError(raw, 'INSERT INTO users_0001 (uid, name) VALUES (?, ?)') as DriverError;
    expect(clean).toBeInstanceOf(DriverError);
    expect(clean).toMatchObject({
      errno: 1062,
      sqlState: '23000',
      code: 'ER_DUP_ENTRY',
      fatal: false,
      sql: 'INSERT INTO users_0001 (uid, name) VALUES (?, ?)',
    });
    expect(clean.message).toBe("Duplicate entry '<redacted>' for key 'users_0001.PRIMARY'");
    expect(clean.cause).toBeUndefined();
    for (const text of [
      JSON.stringify(clean),
      clean.stack ?? '',
      inspect(clean, { depth: 10, showHidden: true }),
      JSON.stringify(Object.getOwnPropertyNames(clean).map((k) => (clean as unknown as Record<string, unknown>)[k])),
    ]) {
      expect(text).not.toContain(CARD);
    }
    expect(sanitizeDriverError(clean)).toBe(clean);
  });

  it('wrapQueryError: neither the QueryError nor its cause chain carries a value', () => {
    const raw = mysql2Error(
      `Incorrect decimal value: '${CARD}' for column 'balance' at row 1`,
      1366,
      'ER_TRUNCATED_WRONG_VALUE_FOR_FIELD',
      'HY000',
    );
    const err = wrapQueryError(raw, {
      instance: 'shard-0',
      shards: [1],
      sql: 'INSERT INTO app_00.users_0001 (uid, balance) VALUES (?, ?)',
    }) as QueryError;
    expect(err).toBeInstanceOf(QueryError);
    expect(err.details).toMatchObject({
      errno: 1366,
      sqlState: 'HY000',
      code: 'ER_TRUNCATED_WRONG_VALUE_FOR_FIELD',
      sql: 'INSERT INTO app_00.users_0001 (uid, balance) VALUES (?, ?)',
    });
    const texts = [
      err.message,
      err.stack ?? '',
      JSON.stringify(err),
      inspect(err, { depth: 10, showHidden: true }),
      JSON.stringify(serializeError(err)),
    ];
    for (let c: unknown = err; c instanceof Error; c = c.cause)
      texts.push(inspect(c, { depth: 10, showHidden: true }), String((c as { sql?: unknown }).sql));
    for (const text of texts) {
      expect(text).not.toContain(CARD);
      expect(text).not.toContain('VALUES (4111');
    }
  });
});

describe('the logger error serializer', () => {
  it('shows type, code, errno and a redacted message and stack — never sql, values or sqlMessage', () => {
    const raw = mysql2Error(`Duplicate entry '${CARD}' for key 'PRIMARY'`, 1062, 'ER_DUP_ENTRY');
    const shown = serializeError(Object.assign(new Error('outer', { cause: raw })));
    const text = JSON.stringify(shown);
    expect(text).not.toContain(CARD);
    expect(shown).toMatchObject({
      type: 'Error',
      message: 'outer',
      cause: { errno: 1062, code: 'ER_DUP_ENTRY', message: "Duplicate entry '<redacted>' for key 'PRIMARY'" },
    });
  });
});
