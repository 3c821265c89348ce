import type { Logger } from '../log/logger.js';

/**
 * Progress of a long operation: a redrawn bar on a TTY (cleared at the end: the command prints
 * its own summary, no log line is left under it), a log line every few seconds otherwise.
 */
export interface Progress {
  update(done: number, total: number, note?: string): void;
  finish(message: string): void;
}

/** Creates the progress display for `label` (stderr). */
export function createProgress(label: string, log: Logger): Progress {
  const tty = process.stderr.isTTY && process.env['CI'] !== 'true';
  const t0 = Date.now();
  let lastLog = 0;
  let lastDraw = 0;
  return {
    update(done, total, note) {
      const now = Date.now();
      if (tty) {
        if (now - lastDraw < 80 && done < total) return;
        lastDraw = now;
        const width = 30;
        const filled = total === 0 ? width : Math.round((done / total) * width);
        const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
        process.stderr.write(
          `\r\x1b[K${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${pct}%${note ? `  ${note}` : ''}`,
        );
      } else if (now - lastLog >= 2000 || done === total) {
        lastLog = now;
        log.info({ operation: label, done, total, seconds: (now - t0) / 1000, ...(note ? { note } : {}) }, `${label} progress`);
      }
    },
    finish(message) {
      if (tty) {
        process.stderr.write(`\r\x1b[K`);
        return;
      }
      log.info({ operation: label, seconds: (Date.now() - t0) / 1000 }, message);
    },
  };
}
