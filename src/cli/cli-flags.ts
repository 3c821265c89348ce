import { UsageError } from '../errors/index.js';

/**
 * Parses a numeric CLI flag: decimal digits only, an integer within `min … max`.
 * @throws {UsageError} `USAGE` naming the flag, what it expects and what it got.
 */
export function intFlag(flag: string, value: string, min: number, max: number): number {
  const n = /^\d{1,16}$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    throw new UsageError(`${flag} expects an integer ${min} … ${max}, got "${shown}"`, { details: { flag, min, max } });
  }
  return n;
}

/** Like {@link intFlag} for a flag that may be absent. */
export function optionalIntFlag(flag: string, value: string | undefined, min: number, max: number): number | undefined {
  return value === undefined ? undefined : intFlag(flag, value, min, max);
}
