import { crc32 } from 'node:zlib';

/** Maps a canonical UID text to an unsigned 32-bit hash. */
export type UidHasher = (canonicalUid: string) => number;

/**
 * CRC-32 (IEEE) of the UID's decimal text: the same number as MySQL's `CRC32('<uid>')`, so
 * `SELECT CRC32('42') % 1024` finds a UID's shard in plain SQL.
 */
export const crc32Hasher: UidHasher = (canonicalUid) => crc32(canonicalUid);

/** The built-in hashers by config name. */
export const HASHERS: Readonly<Record<'crc32', UidHasher>> = { crc32: crc32Hasher };
