import * as cdc from '../../src/cdc/index.js';
import { ArchiveSink, ArchiveSinkError } from '../../src/cdc/sinks/archive/index.js';
import { EsSink, EsSinkError } from '../../src/cdc/sinks/elasticsearch/index.js';
import { ConfigError, ShardlineError, SinkError } from '../../src/errors/index.js';

const schemaOf = async () => ({ table: 't', columns: [], primaryKey: [] });
const archiveOptions = {
  archive: { host: 'x', port: 1, user: 'u', password: 'p' },
  database: 'arch',
  maxBatchRows: 10,
  maxBatchBytes: 1000,
  schemaOf,
};

describe('SinkError: one base for the sinks’ errors', () => {
  it('the archive and Elasticsearch sink errors are SinkErrors naming their sink', () => {
    const a = new ArchiveSinkError('SINK_CLOSED', 'closed', { retriable: true });
    const e = new EsSinkError('ES_SINK_FAILED', 'refused', { details: { status: 401 } });
    for (const [err, sink] of [
      [a, 'archive'],
      [e, 'elasticsearch'],
    ] as const) {
      expect(err).toBeInstanceOf(SinkError);
      expect(err).toBeInstanceOf(ShardlineError);
      expect(err.sink).toBe(sink);
      expect(err.details).toMatchObject({ sink });
    }
    expect(a).toMatchObject({ name: 'ArchiveSinkError', code: 'SINK_CLOSED', retriable: true });
    expect(e).toMatchObject({
      name: 'EsSinkError',
      code: 'ES_SINK_FAILED',
      retriable: false,
      details: { status: 401, sink: 'elasticsearch' },
    });
  });

  it('shardline/cdc exports SinkError and both subclasses', () => {
    expect(cdc.SinkError).toBe(SinkError);
    expect(cdc.ArchiveSinkError).toBe(ArchiveSinkError);
    expect(cdc.EsSinkError).toBe(EsSinkError);
  });
});

describe('sink options that cannot work are config errors naming the field', () => {
  const field = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).code).toBe('CONFIG_INVALID');
      return (err as ConfigError).details['field'];
    }
    throw new Error('no error');
  };

  it('archive sink', () => {
    expect(field(() => new ArchiveSink({ ...archiveOptions, maxBatchRows: 0 }))).toBe('cdc.archive.maxBatchRows');
    expect(field(() => new ArchiveSink({ ...archiveOptions, maxBatchRows: 1.5 }))).toBe('cdc.archive.maxBatchRows');
    expect(field(() => new ArchiveSink({ ...archiveOptions, maxBatchBytes: 0 }))).toBe('cdc.archive.maxBatchBytes');
    expect(field(() => new ArchiveSink({ ...archiveOptions, retry: { baseMs: 500, maxMs: 10 } }))).toBe('archive sink retry');
  });

  it('Elasticsearch sink', () => {
    const es = { node: 'http://127.0.0.1:1', indexPrefix: 'p-', bulkMaxDocs: 10, schemaOf };
    expect(field(() => new EsSink({ ...es, bulkMaxDocs: 0 }))).toBe('cdc.elasticsearch.bulkMaxDocs');
    expect(field(() => new EsSink({ ...es, bulkMaxBytes: 100 }))).toBe('cdc.elasticsearch.bulkMaxBytes');
    expect(field(() => new EsSink({ ...es, maxConcurrentWrites: 0 }))).toBe('cdc.elasticsearch.concurrency');
    expect(field(() => new EsSink({ ...es, maxConcurrentWrites: 2.5 }))).toBe('cdc.elasticsearch.concurrency');
    expect(field(() => new EsSink({ ...es, retry: { initialMs: -1 } }))).toBe('Elasticsearch sink retry');
    expect(field(() => new EsSink({ ...es, indexPrefix: '_' }).namesOf('users'))).toBe('cdc.elasticsearch.indexPrefix');
  });
});
