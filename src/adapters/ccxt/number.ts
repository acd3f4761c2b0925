/**
 * Numbers coming out of ccxt, turned into UTL's wire decimals (plain decimal strings).
 *
 * ccxt hands us JS numbers (IEEE doubles) or, for some exchanges, numeric strings. A double's
 * shortest round-trip text (`String(x)`, what Python's `repr` prints too) is the decimal the
 * exchange sent in the common case, so that text is the value we keep; we never round it to a
 * fixed number of places (which would invent or destroy digits) and never do arithmetic on it.
 *
 * Invariants:
 * - Output is `^-?\d+(\.\d+)?$`: no exponent, no leading `+`, no bare `.`.
 * - Exponent notation is expanded by moving the decimal point in the digit string, so the digits
 *   are exactly those of the input.
 * - Anything that is not a finite number (NaN, ±Infinity, null, undefined, junk text) gives
 *   `undefined`: the caller decides whether a missing number is a problem.
 */
import { parseDecimal } from '../../domain/decimal.js';

/** A numeric literal: sign, integer digits, fraction digits, exponent (each part optional). */
const NUMERIC = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * Exponents beyond this are refused: a double never needs more than ~330, and a hostile string
 * like "1e999999999" must not make us build a gigabyte of zeros.
 */
const MAX_EXPONENT = 1000;

export function ccxtNumberToDecimal(x: unknown): string | undefined {
  if (typeof x === 'number') {
    if (!Number.isFinite(x)) return undefined;
    // String(x) is the shortest text that reads back as x; String(-0) is "0", as we want.
    return normalise(String(x));
  }
  if (typeof x === 'bigint') return x.toString();
  if (typeof x === 'string') return normalise(x);
  return undefined;
}

/**
 * Strings without an exponent pass through (only a `+` or a bare `.` is tidied, so the result is a
 * plain decimal); with an exponent they are expanded.
 */
function normalise(text: string): string | undefined {
  const m = NUMERIC.exec(text);
  if (m === null) return undefined;
  const negative = m[1] === '-';
  const int = m[2] ?? '';
  const frac = m[3] ?? '';
  const exp = m[4];
  // The regex lets "", ".", "-" and "e5" through: they have no digits at all.
  if (int === '' && frac === '') return undefined;
  if (exp === undefined) {
    const body = frac === '' ? (int === '' ? '0' : int) : `${int === '' ? '0' : int}.${frac}`;
    return negative ? `-${body}` : body;
  }
  const e = Number.parseInt(exp, 10); // an exponent, never money
  if (Math.abs(e) > MAX_EXPONENT) return undefined;
  return expand(negative, int, frac, e);
}

/** Moves the decimal point of `int.frac` by `e` places, on the digit string. */
function expand(negative: boolean, int: string, frac: string, e: number): string {
  const digits = int + frac;
  const point = int.length + e; // position of the decimal point within `digits`
  let intPart: string;
  let fracPart: string;
  if (point <= 0) {
    intPart = '0';
    fracPart = '0'.repeat(-point) + digits;
  } else if (point >= digits.length) {
    intPart = digits + '0'.repeat(point - digits.length);
    fracPart = '';
  } else {
    intPart = digits.slice(0, point);
    fracPart = digits.slice(point);
  }
  intPart = intPart.replace(/^0+(?=\d)/, '');
  fracPart = fracPart.replace(/0+$/, '');
  const body = fracPart === '' ? intPart : `${intPart}.${fracPart}`;
  // No "-0": a zero has one spelling.
  return negative && /[1-9]/.test(body) ? `-${body}` : body;
}

/**
 * Exact sum of two plain decimal strings (used for a balance's total = free + used), with the
 * domain's exact decimal. `undefined` if either is not plain. No trailing fractional zeros.
 */
export function addDecimalStrings(a: string, b: string): string | undefined {
  const x = parseDecimal(a);
  const y = parseDecimal(b);
  return x === undefined || y === undefined ? undefined : x.add(y).toString();
}
