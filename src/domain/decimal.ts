/**
 * Exact decimal numbers for money: an integer count of units (bigint) and a scale (the number of
 * decimal places). Every quantity, price, cost and PnL in UTL is a Dec; a JS `number` never holds
 * money.
 *
 * Invariants:
 * - `+`, `−` and `×` are exact: the scale of a sum is the larger scale, of a product the sum of scales.
 * - The only rounding is in `div`, which takes an explicit scale and rounds half-even (DOMAIN.md §7).
 * - Values are immutable; the canonical text (`toString`) has no trailing fractional zeros, no
 *   exponent, no leading `+`, and `0` for every zero, so equal values print equally.
 */

/** Scale used for every quotient the engine forms (WAC releases, pro-rata splits). */
export const DIVISION_SCALE = 18;

/** Powers of ten as bigints, cached: scale alignment is on the hot path. */
const POW10: bigint[] = [];
for (let i = 0, p = 1n; i <= 400; i++, p *= 10n) POW10.push(p);

export function pow10(n: number): bigint {
  const cached = POW10[n];
  if (cached !== undefined) return cached;
  assert(n >= 0 && Number.isInteger(n), `pow10: bad exponent ${n}`);
  return 10n ** BigInt(n);
}

function assert(cond: boolean, message: string): asserts cond {
  if (!cond) throw new Error(`decimal invariant: ${message}`);
}

export class Dec {
  /** Units: the value is `u / 10^s`. */
  readonly u: bigint;
  /** Scale: number of decimal places, a non-negative integer. */
  readonly s: number;

  constructor(u: bigint, s: number) {
    this.u = u;
    this.s = s;
  }

  static readonly ZERO = new Dec(0n, 0);
  static readonly ONE = new Dec(1n, 0);

  /** From an integer (counts, signs): never for money that came from outside. */
  static int(n: number | bigint): Dec {
    return new Dec(BigInt(n), 0);
  }

  /** Parses a plain decimal string, throwing on anything else: for literals in code and tests. */
  static of(text: string): Dec {
    const d = parseDecimal(text);
    if (d === undefined) throw new Error(`not a decimal: ${JSON.stringify(text)}`);
    return d;
  }

  isZero(): boolean {
    return this.u === 0n;
  }

  sign(): -1 | 0 | 1 {
    return this.u > 0n ? 1 : this.u < 0n ? -1 : 0;
  }

  isNeg(): boolean {
    return this.u < 0n;
  }

  isPos(): boolean {
    return this.u > 0n;
  }

  neg(): Dec {
    return this.u === 0n ? this : new Dec(-this.u, this.s);
  }

  abs(): Dec {
    return this.u < 0n ? new Dec(-this.u, this.s) : this;
  }

  add(b: Dec): Dec {
    if (b.u === 0n) return this;
    if (this.u === 0n) return b;
    if (this.s === b.s) return new Dec(this.u + b.u, this.s);
    return this.s > b.s ? new Dec(this.u + b.u * pow10(this.s - b.s), this.s) : new Dec(this.u * pow10(b.s - this.s) + b.u, b.s);
  }

  sub(b: Dec): Dec {
    if (b.u === 0n) return this;
    if (this.s === b.s) return new Dec(this.u - b.u, this.s);
    return this.s > b.s ? new Dec(this.u - b.u * pow10(this.s - b.s), this.s) : new Dec(this.u * pow10(b.s - this.s) - b.u, b.s);
  }

  mul(b: Dec): Dec {
    // Multiplying by one (a cash asset's rate) is common on the hot path: no allocation.
    if (b === Dec.ONE) return this;
    if (this === Dec.ONE) return b;
    return new Dec(this.u * b.u, this.s + b.s);
  }

  /** −(this × b), in one step (one allocation): cash is the negated value of a quantity so often. */
  mulNeg(b: Dec): Dec {
    return new Dec(-(this.u * b.u), this.s + b.s);
  }

  /**
   * `this / b` rounded half-even to `scale` places. The one place where UTL rounds; callers derive
   * any remainder by subtraction so that totals are conserved exactly.
   */
  div(b: Dec, scale: number = DIVISION_SCALE): Dec {
    assert(b.u !== 0n, 'division by zero');
    // this/b = (a.u / 10^a.s) / (b.u / 10^b.s); we want q = round(this/b × 10^scale).
    let num = this.u;
    let den = b.u;
    const shift = scale + b.s - this.s;
    if (shift >= 0) num *= pow10(shift);
    else den *= pow10(-shift);
    return new Dec(roundHalfEven(num, den), scale);
  }

  cmp(b: Dec): -1 | 0 | 1 {
    if (this.s === b.s) return this.u < b.u ? -1 : this.u > b.u ? 1 : 0;
    let x = this.u;
    let y = b.u;
    if (this.s > b.s) y *= pow10(this.s - b.s);
    else if (b.s > this.s) x *= pow10(b.s - this.s);
    return x < y ? -1 : x > y ? 1 : 0;
  }

  /** Compares |this| with |b| without building either absolute value. */
  cmpAbs(b: Dec): -1 | 0 | 1 {
    const an = this.u < 0n;
    if (an === b.u < 0n) {
      const c = this.cmp(b);
      return an ? ((0 - c) as -1 | 0 | 1) : c;
    }
    // Opposite signs: |this| − |b| has the sign of this + b, seen from the non-negative side.
    let x = this.u;
    let y = b.u;
    if (this.s > b.s) y *= pow10(this.s - b.s);
    else if (b.s > this.s) x *= pow10(b.s - this.s);
    const t = x + y;
    const c = t < 0n ? -1 : t > 0n ? 1 : 0;
    return an ? ((0 - c) as -1 | 0 | 1) : c;
  }

  eq(b: Dec): boolean {
    return this.cmp(b) === 0;
  }

  lt(b: Dec): boolean {
    return this.cmp(b) < 0;
  }

  gt(b: Dec): boolean {
    return this.cmp(b) > 0;
  }

  lte(b: Dec): boolean {
    return this.cmp(b) <= 0;
  }

  gte(b: Dec): boolean {
    return this.cmp(b) >= 0;
  }

  min(b: Dec): Dec {
    return this.cmp(b) <= 0 ? this : b;
  }

  max(b: Dec): Dec {
    return this.cmp(b) >= 0 ? this : b;
  }

  /** The same value with trailing fractional zeros removed (smallest scale). */
  normalize(): Dec {
    if (this.s === 0) return this;
    if (this.u === 0n) return Dec.ZERO;
    let u = this.u;
    let s = this.s;
    while (s > 0 && u % 10n === 0n) {
      u /= 10n;
      s--;
    }
    return s === this.s ? this : new Dec(u, s);
  }

  /** Rounds half-even to at most `scale` places (for display only; stored values keep full precision). */
  round(scale: number): Dec {
    if (this.s <= scale) return this;
    return new Dec(roundHalfEven(this.u, pow10(this.s - scale)), scale);
  }

  /** Canonical text: plain digits, no exponent, no trailing fractional zeros. */
  toString(): string {
    return unitsText(this.u, this.s);
  }

  /** Text with exactly `scale` places (rounded half-even): for display tables. */
  toFixedScale(scale: number): string {
    const r = this.round(scale);
    const u = r.s === scale ? r.u : r.u * pow10(scale - r.s);
    if (scale === 0) return u.toString();
    const neg = u < 0n;
    const digits = (neg ? -u : u).toString().padStart(scale + 1, '0');
    const cut = digits.length - scale;
    return `${neg ? '-' : ''}${digits.slice(0, cut)}.${digits.slice(cut)}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

/** round(num / den) half-even, for any signs. */
function roundHalfEven(num: bigint, den: bigint): bigint {
  if (den < 0n) {
    num = -num;
    den = -den;
  }
  let q = num / den; // truncates toward zero
  const r = num - q * den;
  if (r === 0n) return q;
  const twice = (r < 0n ? -r : r) * 2n;
  if (twice > den || (twice === den && (q & 1n) !== 0n)) q += num < 0n ? -1n : 1n;
  return q;
}

/** Limits on accepted text: beyond them a value is "too many digits". */
export const MAX_INTEGER_DIGITS = 30;
export const MAX_FRACTION_DIGITS = 18;

const DECIMAL_RE = /^(-)?(\d+)(?:\.(\d+))?$/;

/**
 * Parses canonical input text: optional `-`, digits, optional `.digits`. Returns undefined for
 * anything else (exponents, `NaN`, `Infinity`, `+`, spaces, empty). Limits are checked by the
 * caller (see `decimalProblem`) so that it can report which one failed.
 */
/** The canonical text of `u` units at scale `s` (`new Dec(u, s).toString()`, with no Dec made). */
export function unitsText(u: bigint, s: number): string {
  if (s === 0) return u.toString();
  if (u === 0n) return '0';
  // The trailing fractional zeros are dropped from the text (no bigint division per zero).
  const neg = u < 0n;
  let digits = (neg ? -u : u).toString();
  let scale = s;
  let end = digits.length;
  while (scale > 0 && digits.charCodeAt(end - 1) === 48) {
    end--;
    scale--;
  }
  if (end < digits.length) digits = digits.slice(0, end);
  if (scale === 0) return neg ? `-${digits}` : digits;
  if (digits.length <= scale) digits = digits.padStart(scale + 1, '0');
  const cut = digits.length - scale;
  return `${neg ? '-' : ''}${digits.slice(0, cut)}.${digits.slice(cut)}`;
}

export function parseDecimal(text: string): Dec | undefined {
  const m = DECIMAL_RE.exec(text);
  if (m === null) return undefined;
  const int = m[2] ?? '';
  let frac = m[3] ?? '';
  // Trailing fractional zeros carry no value: dropping them keeps scales (and products) small.
  let end = frac.length;
  while (end > 0 && frac.charCodeAt(end - 1) === 48) end--;
  if (end !== frac.length) frac = frac.slice(0, end);
  const u = BigInt(int + frac);
  return new Dec(m[1] === '-' ? -u : u, frac.length);
}

export interface DecimalProblem {
  readonly code: 'NUMBER_EXPONENT' | 'NUMBER_NOT_FINITE' | 'NUMBER_TOO_MANY_DIGITS' | 'NUMBER_SYNTAX';
  readonly expected: string;
}

const TOO_MANY_DIGITS: DecimalProblem = {
  code: 'NUMBER_TOO_MANY_DIGITS',
  expected: `at most ${MAX_INTEGER_DIGITS} integer and ${MAX_FRACTION_DIGITS} fractional digits`,
};

/**
 * Parses input text within the digit limits, or says why it cannot. One hand-written scan (this
 * is the hot path of every event): optional `-`, digits, optional `.` and digits.
 */
export function readDecimal(text: string): Dec | DecimalProblem {
  const n = text.length;
  let i = text.charCodeAt(0) === 45 ? 1 : 0;
  const intStart = i;
  while (i < n && isDigit(text.charCodeAt(i))) i++;
  const intEnd = i;
  if (intEnd === intStart) return syntaxProblem(text);
  let fracEnd = intEnd;
  if (i < n) {
    if (text.charCodeAt(i) !== 46) return syntaxProblem(text);
    i++;
    while (i < n && isDigit(text.charCodeAt(i))) i++;
    if (i !== n || i === intEnd + 1) return syntaxProblem(text);
    fracEnd = n;
    // Trailing fractional zeros carry no value: dropping them keeps scales (and products) small.
    while (fracEnd > intEnd + 1 && text.charCodeAt(fracEnd - 1) === 48) fracEnd--;
  }
  let lead = intStart;
  while (lead < intEnd - 1 && text.charCodeAt(lead) === 48) lead++;
  const scale = fracEnd > intEnd ? fracEnd - intEnd - 1 : 0;
  if (intEnd - lead > MAX_INTEGER_DIGITS || scale > MAX_FRACTION_DIGITS) return TOO_MANY_DIGITS;
  const digits = scale === 0 ? text.slice(intStart, intEnd) : text.slice(intStart, intEnd) + text.slice(intEnd + 1, fracEnd);
  const u = BigInt(digits);
  return new Dec(intStart === 1 ? -u : u, scale);
}

/** Digits a JS number holds exactly: 10^15 < 2^53. */
const EXACT_DIGITS = 15;
const POW10_EXACT = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/**
 * `readDecimal(text.slice(start, end))` when that is a Dec, else undefined: a decimal read where
 * it stands in a line, in one pass. Up to 15 digits are accumulated in a number (exact: every
 * partial value is an integer below 10^15 < 2^53, and dropping the trailing fractional zeros is
 * a division whose exact quotient is an integer, so exact too) and turned into a bigint once;
 * longer texts take `readDecimal`.
 */
export function decimalAt(text: string, start: number, end: number): Dec | undefined {
  const neg = text.charCodeAt(start) === 45;
  let i = neg ? start + 1 : start;
  const intStart = i;
  let acc = 0;
  for (; i < end; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    acc = acc * 10 + c;
  }
  if (i === intStart) return undefined;
  let scale = 0;
  if (i < end) {
    if (text.charCodeAt(i) !== 46) return undefined;
    const fracStart = ++i;
    let zeros = 0;
    for (; i < end; i++) {
      const c = text.charCodeAt(i) - 48;
      if (c < 0 || c > 9) return undefined;
      acc = acc * 10 + c;
      zeros = c === 0 ? zeros + 1 : 0;
    }
    if (i === fracStart) return undefined;
    if (end - intStart - 1 > EXACT_DIGITS) return slowDecimalAt(text, start, end);
    scale = end - fracStart - zeros;
    if (zeros > 0) acc /= POW10_EXACT[zeros]!;
  } else if (end - intStart > EXACT_DIGITS) {
    return slowDecimalAt(text, start, end);
  }
  const u = BigInt(acc);
  return new Dec(neg ? -u : u, scale);
}

function slowDecimalAt(text: string, start: number, end: number): Dec | undefined {
  const d = readDecimal(text.slice(start, end));
  return d instanceof Dec ? d : undefined;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function syntaxProblem(text: string): DecimalProblem {
  if (/^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$/.test(text)) {
    return { code: 'NUMBER_EXPONENT', expected: 'a plain decimal string without an exponent' };
  }
  if (/^[-+]?(nan|inf|infinity)$/i.test(text)) {
    return { code: 'NUMBER_NOT_FINITE', expected: 'a finite decimal string' };
  }
  return { code: 'NUMBER_SYNTAX', expected: 'a decimal string like "42000.10"' };
}

/** Why a text is not an acceptable decimal; undefined when it is. */
export function decimalProblem(text: string): DecimalProblem | undefined {
  const d = readDecimal(text);
  return d instanceof Dec ? undefined : d;
}

/** Sum of a list (exact). */
export function sum(values: Iterable<Dec>): Dec {
  let acc = Dec.ZERO;
  for (const v of values) acc = acc.add(v);
  return acc;
}
