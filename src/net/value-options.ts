/**
 * How every shardline connection receives values: BIGINT and DECIMAL as exact strings, dates and
 * times as the server's text (never through a JS Date and the local time zone).
 */
export const LOSSLESS_VALUES = {
  supportBigNumbers: true,
  bigNumberStrings: true,
  dateStrings: true,
  decimalNumbers: false,
} as const;
