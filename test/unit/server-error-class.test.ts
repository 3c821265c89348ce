import {
  DriverError,
  QueryError,
  ShardUnavailableError,
  ShardlineError,
  isClientRefusal,
  isShardlineError,
} from '../../src/errors/index.js';
import { wrapQueryError } from '../../src/executor/index.js';
import { classifyServerError, leavesConnectionUnusable, securityFailure, serverError } from '../../src/net/index.js';

/** An error shaped as mysql2 (or Node's socket layer under it) rejects with. */
const raw = (fields: { errno?: number; code?: string; fatal?: boolean; message?: string }) =>
  Object.assign(new Error(fields.message ?? fields.code ?? 'x'), fields);
const classOf = (fields: Parameters<typeof raw>[0]) => {
  const e = serverError(raw(fields)) as DriverError;
  expect(e).toBeInstanceOf(DriverError);
  return { kind: e.kind, retriable: e.retriable };
};

describe('classifyServerError: the one retriability table', () => {
  it.each([
    [{ errno: 1045, code: 'ER_ACCESS_DENIED_ERROR', fatal: true }],
    [{ errno: 1044, code: 'ER_DBACCESS_DENIED_ERROR', fatal: true }],
    [{ errno: 1698, code: 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR', fatal: true }],
    [{ errno: 2059 }],
    [{ code: 'AUTH_SWITCH_PLUGIN_ERROR', fatal: true }],
    [{ code: 'ER_ACCESS_DENIED_CHANGE_USER_ERROR' }],
    [{ errno: 1251, code: 'ER_NOT_SUPPORTED_AUTH_MODE', fatal: true }],
  ])('authentication %p is auth, not retriable', (fields) => {
    expect(classOf(fields)).toEqual({ kind: 'auth', retriable: false });
  });

  it.each([[{ code: 'ENOTFOUND', errno: -3008, fatal: true }], [{ code: 'EAI_NONAME', errno: -3007 }]])(
    'unknown host %p is not retriable',
    (fields) => {
      expect(classOf(fields)).toEqual({ kind: 'unknown-host', retriable: false });
    },
  );

  it.each([
    [{ code: 'ECONNREFUSED', errno: -111, fatal: true }],
    [{ code: 'ECONNRESET', errno: -104, fatal: true }],
    [{ code: 'ETIMEDOUT', fatal: true }],
    [{ code: 'EPIPE', errno: -32 }],
    [{ code: 'EHOSTUNREACH', errno: -113 }],
    [{ code: 'EAI_AGAIN', errno: -3001 }],
    [{ code: 'PROTOCOL_CONNECTION_LOST', fatal: true }],
    [{ code: 'PROTOCOL_SEQUENCE_TIMEOUT', fatal: true }],
    [{ errno: 2013, code: 'CR_SERVER_LOST' }],
    [{ errno: 2006 }],
    [{ errno: 1053, code: 'ER_SERVER_SHUTDOWN' }],
    [{ errno: 1040, code: 'ER_CON_COUNT_ERROR', fatal: true }],
    [{ errno: 1927, code: 'ER_CONNECTION_KILLED', fatal: true }],
    [{ code: 'SOMETHING_NEW', fatal: true }],
  ])('lost or impossible connection %p is retriable', (fields) => {
    expect(classOf(fields)).toEqual({ kind: 'connection', retriable: true });
  });

  it.each([
    [{ errno: 1213, code: 'ER_LOCK_DEADLOCK' }],
    [{ errno: 1205, code: 'ER_LOCK_WAIT_TIMEOUT' }],
    [{ errno: 1290 }],
    [{ errno: 9007 }],
    [{ errno: 8022 }],
  ])('transient server refusal %p is retriable', (fields) => {
    expect(classOf(fields)).toEqual({ kind: 'transient', retriable: true });
  });

  it.each([
    [{ errno: 1062, code: 'ER_DUP_ENTRY' }],
    [{ errno: 1064, code: 'ER_PARSE_ERROR' }],
    [{ errno: 1142, code: 'ER_TABLEACCESS_DENIED_ERROR' }],
    [{ errno: 1406 }],
    [{ code: 'SOMETHING_NEW' }],
    [{}],
  ])('anything else %p is other, not retriable', (fields) => {
    expect(classOf(fields)).toEqual({ kind: 'other', retriable: false });
  });

  it('is pure over errno, code and fatal', () => {
    expect(classifyServerError({ errno: 1213, code: undefined, fatal: false })).toEqual({ kind: 'transient', retriable: true });
    expect(classifyServerError({ errno: undefined, code: undefined, fatal: true })).toEqual({ kind: 'connection', retriable: true });
  });

  it('a connect failure leaves net/ sanitized and classified (securityFailure)', () => {
    const e = securityFailure(
      raw({
        errno: 1045,
        code: 'ER_ACCESS_DENIED_ERROR',
        fatal: true,
        message: "Access denied for user 'app'@'10.0.0.1' (using password: YES)",
      }),
      { name: 'shard-0', host: 'h', port: 1 },
    ) as DriverError;
    expect(e).toBeInstanceOf(DriverError);
    expect(e).toMatchObject({ kind: 'auth', retriable: false, errno: 1045 });
  });

  it('a DriverError is not taken for a ShardlineError though it has code and retriable', () => {
    const e = serverError(raw({ errno: 1213, code: 'ER_LOCK_DEADLOCK' }));
    expect(isShardlineError(e)).toBe(false);
    expect(isShardlineError(new ShardlineError('POOL_TIMEOUT', 'x'))).toBe(true);
  });

  it('an error built without the table is not retriable', () => {
    expect(new DriverError('x', { errno: 1213 })).toMatchObject({ kind: 'other', retriable: false });
  });
});

describe('the executor reads the class instead of a table of its own', () => {
  const target = { instance: 'shard-0', shards: [1], sql: 'UPDATE t SET a = ? WHERE uid = ?' };

  it('a lost connection makes the shard unavailable, retriable', () => {
    const err = wrapQueryError(serverError(raw({ code: 'PROTOCOL_CONNECTION_LOST', fatal: true })), target);
    expect(err).toBeInstanceOf(ShardUnavailableError);
    expect(err).toMatchObject({ code: 'SHARD_UNAVAILABLE', retriable: true });
  });

  it('a server refusal is a QueryError whose retriable is the driver error’s', () => {
    expect(wrapQueryError(serverError(raw({ errno: 1213, code: 'ER_LOCK_DEADLOCK' })), target)).toMatchObject({
      code: 'QUERY_FAILED',
      retriable: true,
    });
    expect(wrapQueryError(serverError(raw({ errno: 2013 })), target)).toMatchObject({ code: 'SHARD_UNAVAILABLE', retriable: true });
    const dup = wrapQueryError(serverError(raw({ errno: 1062, code: 'ER_DUP_ENTRY' })), target);
    expect(dup).toBeInstanceOf(QueryError);
    expect(dup).toMatchObject({ retriable: false });
  });

  it("a statement over max_allowed_packet (1153) is the client's, and its connection is done (the server hangs up after the error)", () => {
    const tooLarge = raw({ errno: 1153, code: 'ER_NET_PACKET_TOO_LARGE', message: "Got a packet bigger than 'max_allowed_packet' bytes" });
    expect(leavesConnectionUnusable(tooLarge)).toBe(true);
    const e = serverError(tooLarge);
    expect(e).toMatchObject({ kind: 'client', retriable: false });
    const typed = wrapQueryError(e, target);
    expect(typed).toMatchObject({ code: 'QUERY_FAILED', retriable: false });
    expect(isClientRefusal(typed)).toBe(true);
    expect(leavesConnectionUnusable(raw({ fatal: true }))).toBe(true);
    expect(leavesConnectionUnusable(raw({ code: 'PROTOCOL_SEQUENCE_TIMEOUT' }))).toBe(true);
    expect(leavesConnectionUnusable(raw({ errno: 1062, code: 'ER_DUP_ENTRY' }))).toBe(false);
    expect(leavesConnectionUnusable(raw({ errno: 1205 }))).toBe(false);
    expect(leavesConnectionUnusable(null)).toBe(false);
  });

  it("mysql2's refusal of a column name is the client's (not retriable, not the instance), whatever the name", () => {
    for (const name of ['__proto__', '__defineGetter__', 'a) b (c']) {
      const refusal = raw({ fatal: true, message: `The field name (${name}) can't be the same as an object's private property.` });
      const e = serverError(refusal);
      expect(e).toMatchObject({ kind: 'client', retriable: false, code: 'DRIVER_REFUSED_FIELD_NAME' });
      const typed = wrapQueryError(e, target);
      expect(typed).toMatchObject({ code: 'QUERY_FAILED', retriable: false });
      expect(isClientRefusal(typed)).toBe(true);
    }
    // the same words with a code, an errno, or more text stay what they were
    expect(classOf({ fatal: true, message: "The field name (x) can't be the same as an object's private property. " })).toEqual({
      kind: 'connection',
      retriable: true,
    });
    expect(classOf({ errno: 1064, message: "The field name (x) can't be the same as an object's private property." })).toEqual({
      kind: 'other',
      retriable: false,
    });
    expect(isClientRefusal(wrapQueryError(serverError(raw({ errno: 2013 })), target))).toBe(false);
    expect(isClientRefusal(new Error('x'))).toBe(false);
  });

  it('an error that did not come through net/ is not retriable', () => {
    expect(wrapQueryError(raw({ errno: 1213 }), target)).toMatchObject({ code: 'QUERY_FAILED', retriable: false });
  });

  it('shardline errors pass unchanged', () => {
    const own = new ShardlineError('POOL_TIMEOUT', 'x', { retriable: true });
    expect(wrapQueryError(own, target)).toBe(own);
  });
});
