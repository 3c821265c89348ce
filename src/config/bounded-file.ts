import { closeSync, openSync, readSync } from 'node:fs';
import { ConfigError } from '../errors/index.js';

/** The largest cluster config file read: an explicit map of 1,024 shards is about 50 kB. */
export const MAX_CONFIG_FILE_BYTES = 4 << 20;
/** The largest PEM file (CA bundle, certificate, key, server public key) read. */
export const MAX_PEM_FILE_BYTES = 1 << 20;

const CHUNK = 64 * 1024;

/**
 * Reads a whole file of at most `maxBytes`, stopping as soon as it holds more — so that a path
 * given by mistake (`/dev/zero`, a log of gigabytes, a pipe that never closes its write end after
 * writing too much) fails at once instead of filling memory. Pipes and character devices are read
 * like files (`--config <(envsubst < cluster.yaml)` works).
 * @param what how the message names the file (`cluster config`, `tls.ca file`)
 * @throws {ConfigError} `CONFIG_INVALID` when the file holds more than `maxBytes`; errors of the
 * file system (missing, unreadable, a directory) are thrown as Node gives them.
 */
export function readBoundedFile(file: string, maxBytes: number, what: string): Buffer {
  const fd = openSync(file, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK, maxBytes + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) return Buffer.concat(chunks, total);
      chunks.push(n === chunk.length ? chunk : chunk.subarray(0, n));
      total += n;
      if (total > maxBytes) {
        throw new ConfigError('CONFIG_INVALID', `${what} ${file} holds more than ${maxBytes} bytes: is it the right file?`, {
          details: { file, limit: maxBytes },
        });
      }
    }
  } finally {
    closeSync(fd);
  }
}
