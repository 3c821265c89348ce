// Regenerates schemas/shard-hash-vectors.json with MySQL itself as the oracle:
// shard = CRC32('<uid>') % shards, computed by the server (needs the local cluster: `dev up`).
// Usage: node scripts/hash-vectors.mjs [host] [port]
import { writeFileSync } from 'node:fs';
import mysql from 'mysql2/promise';

const [host = '127.0.0.1', port = '3311'] = process.argv.slice(2);
const shards = 1024;
const uids = [
  '0',
  '1',
  '2',
  '9',
  '10',
  '42',
  '99',
  '100',
  '1023',
  '1024',
  '65535',
  '65536',
  '4294967295',
  '4294967296',
  '9007199254740991',
  '9007199254740992',
  '9223372036854775807',
  '9223372036854775808',
  '18446744073709551614',
  '18446744073709551615',
];
let x = 0x2545f4914f6cdd1dn;
for (let i = 0; i < 40; i++) {
  x ^= x << 13n;
  x &= (1n << 64n) - 1n;
  x ^= x >> 7n;
  x ^= x << 17n;
  x &= (1n << 64n) - 1n;
  uids.push((i % 2 ? x >> BigInt(i) : x % 10000000n).toString());
}
const conn = await mysql.createConnection({ host, port: Number(port), user: 'root', password: '' });
const vectors = [];
for (const uid of uids) {
  const [[row]] = await conn.query('SELECT CRC32(?) AS crc, CRC32(?) % ? AS shard', [uid, uid, shards]);
  vectors.push({ uid, crc32: Number(row.crc), shard: Number(row.shard) });
}
await conn.end();
writeFileSync(
  new URL('../schemas/shard-hash-vectors.json', import.meta.url),
  `${JSON.stringify(
    {
      description: 'UID → shard test vectors computed by MySQL: shard = CRC32(<uid as decimal text>) % shards',
      shards,
      hash: 'crc32',
      vectors,
    },
    null,
    2,
  )}\n`,
);
console.log(`wrote ${vectors.length} vectors`);
