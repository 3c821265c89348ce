const DECIMAL = /^(-)?(\d*)(?:\.(\d*))?$/;

function parts(text: string): { neg: boolean; int: string; frac: string } {
  const m = DECIMAL.exec(text.trim());
  if (!m) throw new RangeError(`not a decimal: "${text}"`);
  return { neg: m[1] === '-', int: (m[2] ?? '').replace(/^0+(?=\d)/, '') || '0', frac: m[3] ?? '' };
}

/** Exact sum of two DECIMAL texts, keeping the larger scale (as MySQL's SUM does). */
export function addDecimal(a: string, b: string): string {
  const x = parts(a);
  const y = parts(b);
  const scale = Math.max(x.frac.length, y.frac.length);
  const toBig = (p: ReturnType<typeof parts>) => (p.neg ? -1n : 1n) * BigInt(p.int + p.frac.padEnd(scale, '0'));
  const sum = toBig(x) + toBig(y);
  const neg = sum < 0n;
  const digits = (neg ? -sum : sum).toString().padStart(scale + 1, '0');
  const int = digits.slice(0, digits.length - scale);
  const frac = digits.slice(digits.length - scale);
  return `${neg ? '-' : ''}${int}${scale ? `.${frac}` : ''}`;
}

/** Numeric comparison of two DECIMAL texts without losing precision. */
export function compareDecimal(a: string, b: string): number {
  const x = parts(a);
  const y = parts(b);
  const zero = (p: ReturnType<typeof parts>) => /^0*$/.test(p.int + p.frac);
  const sx = zero(x) ? 0 : x.neg ? -1 : 1;
  const sy = zero(y) ? 0 : y.neg ? -1 : 1;
  if (sx !== sy) return sx < sy ? -1 : 1;
  if (sx === 0) return 0;
  let mag: number;
  if (x.int.length !== y.int.length) mag = x.int.length < y.int.length ? -1 : 1;
  else {
    const len = Math.max(x.frac.length, y.frac.length);
    const ax = x.int + x.frac.padEnd(len, '0');
    const ay = y.int + y.frac.padEnd(len, '0');
    mag = ax === ay ? 0 : ax < ay ? -1 : 1;
  }
  return sx < 0 ? -mag : mag;
}
