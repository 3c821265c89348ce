import { pino } from 'pino';
import { formatLogLine, prettyDestination } from '../../src/log/pretty-format.js';
import { REDACTED_PATHS, serializeError, wantsPretty } from '../../src/log/logger.js';
import { ShardlineError } from '../../src/errors/index.js';

const at = new Date(2026, 11, 3, 9, 5, 7, 42).getTime();

describe('formatLogLine', () => {
  it('prints time, level, message and fields; hides pid, hostname and name', () => {
    const line = formatLogLine({
      level: 40,
      time: at,
      pid: 1,
      hostname: 'vm',
      name: 'shardline',
      msg: 'elasticsearch sink: retrying bulk items',
      items: 3,
      reasons: ['item_429'],
      table: 'users',
      note: 'two words',
    });
    expect(line).toBe(
      '09:05:07.042 WARN  elasticsearch sink: retrying bulk items items=3 reasons=["item_429"] table=users note="two words"\n',
    );
    expect(line.startsWith('{')).toBe(false);
  });

  it('names every pino level and shows an error as type, code and message with its causes, stack only on request', () => {
    for (const [level, name] of [
      [10, 'TRACE'],
      [20, 'DEBUG'],
      [30, 'INFO '],
      [50, 'ERROR'],
      [60, 'FATAL'],
    ] as const)
      expect(formatLogLine({ level, time: at, msg: 'x' })).toBe(`09:05:07.042 ${name} x\n`);
    const err = serializeError(
      Object.assign(new ShardlineError('KAFKA', 'broker gone', { retriable: true, cause: new Error('ECONNREFUSED') }), {}),
    );
    const line = formatLogLine({ level: 50, time: at, msg: 'worker failed', err });
    expect(line).toBe('09:05:07.042 ERROR worker failed\n    ShardlineError [KAFKA]: broker gone\n    caused by Error: ECONNREFUSED\n');
    expect(formatLogLine({ level: 50, time: at, msg: 'm', err }, { stacks: true })).toMatch(/broker gone\n\s+at /);
  });

  it('colours only when asked', () => {
    expect(formatLogLine({ level: 30, time: at, msg: 'm', a: 1 })).not.toContain('\x1b[');
    expect(formatLogLine({ level: 30, time: at, msg: 'm', a: 1 }, { color: true })).toContain('\x1b[32mINFO ');
  });
});

describe('prettyDestination under pino', () => {
  it('turns each JSON line into a readable one, redaction applied first, non-JSON passed through', () => {
    const written: string[] = [];
    const dest = prettyDestination((t) => written.push(t));
    const log = pino({ redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' } }, dest);
    log.info({ config: { instances: [{ password: 'hunter2' }] }, password: 'p4ss' }, 'hello');
    log.warn('second');
    dest.write('not json\n');
    expect(written).toHaveLength(3);
    expect(written[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}hello config=.*password="\[redacted\]"\n$/);
    expect(written.join('')).not.toContain('hunter2');
    expect(written.join('')).not.toContain('p4ss');
    expect(written[1]).toMatch(/ WARN {2}second\n$/);
    expect(written[2]).toBe('not json\n');
    expect(written.some((w) => w.startsWith('{"level"'))).toBe(false);
  });
});

describe('wantsPretty', () => {
  const saved = process.env['SHARDLINE_LOG_FORMAT'];
  afterEach(() => {
    if (saved === undefined) delete process.env['SHARDLINE_LOG_FORMAT'];
    else process.env['SHARDLINE_LOG_FORMAT'] = saved;
  });
  it('is pretty on a TTY, JSON otherwise; SHARDLINE_LOG_FORMAT and the option override', () => {
    delete process.env['SHARDLINE_LOG_FORMAT'];
    expect(wantsPretty(undefined, true)).toBe(true);
    expect(wantsPretty(undefined, false)).toBe(false);
    expect(wantsPretty(undefined, undefined)).toBe(false);
    expect(wantsPretty('json', true)).toBe(false);
    expect(wantsPretty('pretty', false)).toBe(true);
    process.env['SHARDLINE_LOG_FORMAT'] = 'json';
    expect(wantsPretty(undefined, true)).toBe(false);
    process.env['SHARDLINE_LOG_FORMAT'] = 'pretty';
    expect(wantsPretty(undefined, false)).toBe(true);
  });
});
