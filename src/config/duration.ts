/**
 * Durations of the config (`archival.olderThan`): a whole number and one unit — `d` days, `h`
 * hours, `m` minutes, `s` seconds (`90d`, `12h`, `30m`, `45s`). Pure.
 */
const DURATION = /^(\d{1,9})(d|h|m|s)$/;

const UNIT_MS: Readonly<Record<string, number>> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };

/** The longest duration accepted: 100 years (keeps `NOW(6) - INTERVAL` far from the server's date range). */
export const MAX_DURATION_MS = 36_500 * 86_400_000;

/**
 * Milliseconds of a duration such as `90d`, or null when the text is not one (other units,
 * fractions, spaces, a sign), is zero, or exceeds {@link MAX_DURATION_MS}.
 */
export function parseDuration(text: string): number | null {
  const m = DURATION.exec(text);
  if (!m) return null;
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  return ms > 0 && ms <= MAX_DURATION_MS ? ms : null;
}
