import { describe, expect, it } from '@jest/globals';
import { nextEpoch, parseVersion, rowVersions, sourceVersion, versionIn, type VersionEpoch } from '../../src/cdc/events/source-version.js';
import { prng } from '../support/prng.js';
import { otherServer } from '../../src/cdc/checkpoint/checkpoint.js';
import { mariadbResumePosition } from '../../src/gtid/index.js';
import { sinkRecordOf } from '../../src/cdc/sinks/sink-runner.js';
import { unversionedSource } from '../support/change-events.js';

const at = (file: number, pos: number, row = 0) => ({ file: `binlog.${String(file).padStart(6, '0')}`, pos, row });

describe('source versions across a change of server (epochs)', () => {
  it('epoch 0 (or none) is the position within one binlog: file, then position, then row', () => {
    expect(versionIn(undefined, at(3, 900, 2))).toBe(sourceVersion(at(3, 900, 2)));
    expect(versionIn({ n: 0, base: '0', origin: '0' }, at(3, 900, 2))).toBe(sourceVersion(at(3, 900, 2)));
    // the layout, written out independently: file << 43 | pos << 11 | row
    expect(sourceVersion(at(3, 900, 2))).toBe((3n << 43n) + (900n << 11n) + 2n);
    expect(sourceVersion(at(2, 4_000_000_000, 2047)) < sourceVersion(at(3, 4, 0))).toBe(true);
  });

  it('every version of the new server is above every version published from the old one, whatever its file numbers', () => {
    // The old primary is at binlog.000050; the promoted replica numbers its own files from 1.
    const lastOld = at(50, 123_456);
    const oldVersions = [at(50, 100, 3), at(50, 123_000, 2047), at(49, 999_999, 7)].map((p) => versionIn(undefined, p));
    const e1 = nextEpoch(undefined, lastOld, 'binlog.000001');
    expect(e1.n).toBe(1);
    const newVersions = [at(1, 4), at(1, 5000, 1), at(2, 4), at(7, 900_000, 2047)].map((p) => versionIn(e1, p));
    const maxOld = oldVersions.reduce((a, b) => (a > b ? a : b));
    for (const v of newVersions) expect(v > maxOld).toBe(true);
    expect(newVersions.every((v, i) => i === 0 || v > newVersions[i - 1]!)).toBe(true);
    // and above the checkpoint itself (the next change there would have had at least that version)
    expect(versionIn(e1, at(1, 4)) > versionIn(undefined, lastOld)).toBe(true);
  });

  it('a second failover (back to a server with higher file numbers) keeps climbing; replays version exactly as before', () => {
    const e1 = nextEpoch(undefined, at(50, 1000), 'binlog.000001');
    const lastOnE1 = at(3, 77_000);
    const e2 = nextEpoch(e1, lastOnE1, 'binlog.000040');
    expect(e2.n).toBe(2);
    expect(versionIn(e2, at(51, 4)) > versionIn(e1, lastOnE1)).toBe(true);
    expect(versionIn(e2, at(40, 4)) > versionIn(e1, at(3, 76_999, 2047))).toBe(true);
    const copy: VersionEpoch = JSON.parse(JSON.stringify(e2)) as VersionEpoch;
    expect(versionIn(copy, at(52, 900, 4))).toBe(versionIn(e2, at(52, 900, 4)));
  });

  it('refuses a version beyond 2^63 − 1 rather than wrapping', () => {
    const near: VersionEpoch = { n: 9, base: ((1n << 63n) - 10n).toString(), origin: '0' };
    expect(() => versionIn(near, at(1, 4))).toThrow(RangeError);
  });

  it('versions the rows of one event as versionIn does row by row (caps, clamps and the 2^63 bound included)', () => {
    const random = prng(7);
    const epochs: Array<VersionEpoch | undefined> = [
      undefined,
      { n: 0, base: '0', origin: '0' },
      nextEpoch(undefined, at(50, 123_456), 'binlog.000001'),
      // origin above the position: versionIn clamps to base
      { n: 3, base: '1000', origin: sourceVersion(at(9, 0)).toString() },
      { n: 9, base: ((1n << 63n) - 3000n).toString(), origin: '0' },
    ];
    for (const epoch of epochs)
      for (let k = 0; k < 40; k++) {
        const file = 1 + Math.floor(random() * 20);
        const pos = Math.floor(random() * 4_294_967_295);
        const rowBase = k % 4 === 0 ? 2040 : Math.floor(random() * 100);
        const versions = rowVersions(epoch, at(file, pos).file, pos, rowBase);
        for (const i of [0, 1, 2, 6, 7, 8, 300, 5000]) {
          let want: string | Error;
          try {
            want = versionIn(epoch, at(file, pos, rowBase + i)).toString();
          } catch (err) {
            want = err as Error;
          }
          if (typeof want === 'string') expect(versions(i)).toBe(want);
          else expect(() => versions(i)).toThrow(want.message);
        }
      }
  });

  it('parses only plain decimal versions below 2^63', () => {
    expect(parseVersion('0')).toBe(0n);
    expect(parseVersion('9223372036854775807')).toBe(9223372036854775807n);
    for (const bad of ['9223372036854775808', '-1', '1e3', ' 1', '', '0x10', 12, null, '12345678901234567890'])
      expect(parseVersion(bad)).toBeNull();
  });
});

describe('which server a checkpoint belongs to', () => {
  it('MySQL compares server_uuid; MariaDB (no uuid) server_id', () => {
    const u1 = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
    const u2 = '4e11fa47-71ca-11e1-9e33-c80aa9429562';
    expect(otherServer({ serverUuid: u1, serverId: 1 }, { serverUuid: u1, serverId: 2 })).toBe(false);
    expect(otherServer({ serverUuid: u1, serverId: 1 }, { serverUuid: u2, serverId: 1 })).toBe(true);
    expect(otherServer({ serverUuid: null, serverId: 1 }, { serverUuid: null, serverId: 1 })).toBe(false);
    expect(otherServer({ serverUuid: null, serverId: 1 }, { serverUuid: null, serverId: 11 })).toBe(true);
  });
});

describe('the version a sink applies', () => {
  const source = { ...unversionedSource, instance: 'shard-1', ts_us: 1 };
  const message = (src: Record<string, unknown>) => ({
    key: Buffer.from('7'),
    value: Buffer.from(JSON.stringify({ op: 'c', before: null, after: { id: 7 }, source: src, ts_ms: 1 })),
    headers: {},
    offset: '5',
  });

  it('is the event’s source.version when it carries one, else derived from file/pos/row (events written before)', () => {
    const carried = sinkRecordOf('t', 0, message({ ...source, version: '123456789012345678' }));
    expect(carried && 'version' in carried ? carried.version : null).toBe(123456789012345678n);
    const old = sinkRecordOf('t', 0, message(source));
    expect(old && 'version' in old ? old.version : null).toBe((2n << 43n) + (400n << 11n) + 1n);
  });

  it('sends an event with a malformed version to the dead letters', () => {
    const bad = sinkRecordOf('t', 0, message({ ...source, version: '-5' }));
    expect(bad && 'reason' in bad ? bad.reason : null).toMatch(/source.version/);
  });
});

describe('a MariaDB reader resuming on a promoted replica', () => {
  it('keeps a position the new server holds', () => {
    expect(mariadbResumePosition('0-3-500,1-3-20', '0-3-600,0-13-610,1-3-20')).toEqual({ position: '0-3-500,1-3-20', missing: [] });
  });

  it('steps back to the newest GTID of the same origin the server holds when the dead primary’s last ones never reached it', () => {
    // the old primary (server 3) committed 496…500 and died; the replica (13) had 495 and went on from 496 itself
    expect(mariadbResumePosition('0-3-500', '0-3-495,0-13-620')).toEqual({ position: '0-3-495', missing: ['0-3-496…500'] });
    // per domain: domain 1 is fine
    expect(mariadbResumePosition('0-3-500,1-3-7', '0-3-499,1-3-9,0-13-501')).toEqual({
      position: '0-3-499,1-3-7',
      missing: ['0-3-500…500'],
    });
  });

  it('leaves a position whose origin the server has never seen (the server then names the problem)', () => {
    expect(mariadbResumePosition('0-3-500', '0-13-620')).toEqual({ position: '0-3-500', missing: [] });
  });
});
