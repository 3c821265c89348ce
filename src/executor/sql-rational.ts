/** An exact rational number (denominator > 0) for HAVING and AVG on merged groups. */
export interface Rational {
  n: bigint;
  d: bigint;
}

const NUMBER = /^\s*([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/;

/**
 * A column value, literal or bound value as an exact rational: bigint, number (by its shortest
 * decimal text), DECIMAL text, boolean. Null for SQL NULL.
 * @throws {TypeError} text that is not a number.
 */
export function toRational(v: unknown): Rational | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return { n: v, d: 1n };
  if (typeof v === 'boolean') return { n: v ? 1n : 0n, d: 1n };
  if (typeof v === 'number' && Number.isSafeInteger(v)) return { n: BigInt(v), d: 1n };
  const text = typeof v === 'number' ? String(v) : typeof v === 'string' ? v : '';
  const m = NUMBER.exec(text);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new TypeError('not a number');
  const frac = m[3] ?? '';
  let n = BigInt((m[2] || '0') + frac) * (m[1] === '-' ? -1n : 1n);
  let d = 10n ** BigInt(frac.length);
  const exp = Number(m[4] ?? 0);
  if (exp > 0) n *= 10n ** BigInt(exp);
  else if (exp < 0) d *= 10n ** BigInt(-exp);
  return { n, d };
}

/** -1, 0 or 1. */
export function compareRational(a: Rational, b: Rational): number {
  const x = a.n * b.d;
  const y = b.n * a.d;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** a op b for + - * /; null for a division by zero (as MySQL). */
export function arithmetic(op: string, a: Rational, b: Rational): Rational | null {
  switch (op) {
    case '+':
      return { n: a.n * b.d + b.n * a.d, d: a.d * b.d };
    case '-':
      return { n: a.n * b.d - b.n * a.d, d: a.d * b.d };
    case '*':
      return { n: a.n * b.n, d: a.d * b.d };
    case '/': {
      if (b.n === 0n) return null;
      const n = a.n * b.d;
      const d = a.d * b.n;
      return d < 0n ? { n: -n, d: -d } : { n, d };
    }
    default:
      throw new TypeError(`unknown operator ${op}`);
  }
}

/** `sum / count` as DECIMAL text with `scale` digits, rounded half away from zero (MySQL's AVG). */
export function divideDecimal(sum: string, count: bigint, scale: number): string {
  const r = toRational(sum)!;
  const unit = 10n ** BigInt(scale);
  const num = r.n * unit;
  const den = r.d * count;
  const neg = num < 0n !== den < 0n && num !== 0n;
  const an = num < 0n ? -num : num;
  const ad = den < 0n ? -den : den;
  let q = an / ad;
  if ((an % ad) * 2n >= ad) q += 1n;
  const digits = q.toString().padStart(scale + 1, '0');
  const int = digits.slice(0, digits.length - scale);
  const frac = digits.slice(digits.length - scale);
  return `${neg && q !== 0n ? '-' : ''}${int}${scale ? `.${frac}` : ''}`;
}

/** Digits after the decimal point of a DECIMAL text. */
export function scaleOf(text: string): number {
  const dot = text.indexOf('.');
  return dot < 0 ? 0 : text.length - dot - 1;
}
