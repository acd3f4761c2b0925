/**
 * Dec properties against rational arithmetic on bigints: a Dec (u, s) is the rational u / 10^s,
 * and every exact operation must agree with the rational result; `div` must be the half-even
 * rounding of the exact quotient.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Dec, decimalAt, pow10, readDecimal } from './decimal.js';

const RUNS = { numRuns: 400 };

/** Units of up to ~40 digits (both signs, zero included) at scale 0..24. */
const units = fc.oneof(
  fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }),
  fc.bigInt({ min: -1000n, max: 1000n }),
  fc.constantFrom(0n, 1n, -1n, 5n, -5n, 10n, 25n, -25n),
  // Trailing zeros (what toString drops from the fraction).
  fc.tuple(fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }), fc.integer({ min: 1, max: 30 })).map(([u, k]) => u * 10n ** BigInt(k)),
);
const dec: fc.Arbitrary<Dec> = fc.tuple(units, fc.integer({ min: 0, max: 24 })).map(([u, s]) => new Dec(u, s));
const nonZeroDec = dec.filter((d) => d.u !== 0n);

/** A rational n / d with d > 0. */
interface Rat {
  n: bigint;
  d: bigint;
}

function rat(x: Dec): Rat {
  return { n: x.u, d: 10n ** BigInt(x.s) };
}

function ratEq(x: Rat, y: Rat): boolean {
  return x.n * y.d === y.n * x.d;
}

function ratAdd(x: Rat, y: Rat): Rat {
  return { n: x.n * y.d + y.n * x.d, d: x.d * y.d };
}

function ratSub(x: Rat, y: Rat): Rat {
  return { n: x.n * y.d - y.n * x.d, d: x.d * y.d };
}

function ratMul(x: Rat, y: Rat): Rat {
  return { n: x.n * y.n, d: x.d * y.d };
}

function ratSign(x: Rat): -1 | 0 | 1 {
  return x.n > 0n ? 1 : x.n < 0n ? -1 : 0;
}

const abs = (v: bigint): bigint => (v < 0n ? -v : v);

/**
 * Checks that q (at `scale`) is the half-even rounding of a / b: with the exact quotient N / D
 * (D > 0) and q = k / 10^scale, the error |k·D − N·10^scale| / (D·10^scale) is at most half an
 * ulp, i.e. 2·|k·D − N·10^scale| ≤ D, and on a tie k is even.
 */
function isHalfEvenQuotient(q: Dec, a: Dec, b: Dec, scale: number): boolean {
  if (q.s !== scale) return false;
  let n = a.u * pow10(b.s);
  let d = b.u * pow10(a.s);
  if (d < 0n) {
    n = -n;
    d = -d;
  }
  const err2 = 2n * abs(q.u * d - n * pow10(scale));
  if (err2 > d) return false;
  if (err2 === d) return q.u % 2n === 0n;
  return true;
}

describe('exact + − × against rationals', () => {
  it('add is exact, at no more than the larger scale', () => {
    fc.assert(
      fc.property(dec, dec, (a, b) => {
        const r = a.add(b);
        expect(ratEq(rat(r), ratAdd(rat(a), rat(b)))).toBe(true);
        expect(r.s).toBeLessThanOrEqual(Math.max(a.s, b.s));
      }),
      RUNS,
    );
  });

  it('sub is exact, at no more than the larger scale', () => {
    fc.assert(
      fc.property(dec, dec, (a, b) => {
        const r = a.sub(b);
        expect(ratEq(rat(r), ratSub(rat(a), rat(b)))).toBe(true);
        expect(r.s).toBeLessThanOrEqual(Math.max(a.s, b.s));
      }),
      RUNS,
    );
  });

  it('mul is exact, at the sum of the scales', () => {
    fc.assert(
      fc.property(dec, dec, (a, b) => {
        const r = a.mul(b);
        expect(ratEq(rat(r), ratMul(rat(a), rat(b)))).toBe(true);
        expect(r.s).toBe(a.s + b.s);
      }),
      RUNS,
    );
  });

  it('neg and abs agree with rationals', () => {
    fc.assert(
      fc.property(dec, (a) => {
        expect(ratEq(rat(a.neg()), { n: -a.u, d: rat(a).d })).toBe(true);
        expect(ratEq(rat(a.abs()), { n: abs(a.u), d: rat(a).d })).toBe(true);
        expect(a.add(a.neg()).isZero()).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('algebra', () => {
  it('add is commutative', () => {
    fc.assert(
      fc.property(dec, dec, (a, b) => {
        expect(a.add(b).eq(b.add(a))).toBe(true);
        expect(a.add(b).toString()).toBe(b.add(a).toString());
      }),
      RUNS,
    );
  });

  it('add is associative', () => {
    fc.assert(
      fc.property(dec, dec, dec, (a, b, c) => {
        expect(a.add(b).add(c).eq(a.add(b.add(c)))).toBe(true);
      }),
      RUNS,
    );
  });

  it('a − b + b = a', () => {
    fc.assert(
      fc.property(dec, dec, (a, b) => {
        expect(a.sub(b).add(b).eq(a)).toBe(true);
        expect(a.sub(b).add(b).toString()).toBe(a.toString());
      }),
      RUNS,
    );
  });

  it('ONE is the identity of mul, ZERO of add', () => {
    fc.assert(
      fc.property(dec, (a) => {
        expect(a.mul(Dec.ONE).eq(a)).toBe(true);
        expect(Dec.ONE.mul(a).toString()).toBe(a.toString());
        expect(a.add(Dec.ZERO).toString()).toBe(a.toString());
        expect(Dec.ZERO.sub(a).eq(a.neg())).toBe(true);
        expect(a.mul(Dec.ZERO).isZero()).toBe(true);
      }),
      RUNS,
    );
  });

  it('mul distributes over add', () => {
    fc.assert(
      fc.property(dec, dec, dec, (a, b, c) => {
        expect(a.mul(b.add(c)).eq(a.mul(b).add(a.mul(c)))).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('comparison', () => {
  it('cmp is the sign of a − b, and of the rational difference', () => {
    fc.assert(
      fc.property(dec, dec, (a, b) => {
        const c = a.cmp(b);
        expect(c).toBe(a.sub(b).sign());
        expect(c).toBe(ratSign(ratSub(rat(a), rat(b))));
        expect(b.cmp(a) + c).toBe(0);
        expect(a.eq(b)).toBe(c === 0);
        expect(a.lt(b)).toBe(c < 0);
        expect(a.gt(b)).toBe(c > 0);
        expect(a.lte(b)).toBe(c <= 0);
        expect(a.gte(b)).toBe(c >= 0);
        expect(a.min(b).eq(c <= 0 ? a : b)).toBe(true);
        expect(a.max(b).eq(c >= 0 ? a : b)).toBe(true);
      }),
      RUNS,
    );
  });

  it('cmpAbs is the comparison of the absolute values, whatever the signs and scales', () => {
    fc.assert(
      fc.property(dec, dec, fc.integer({ min: 0, max: 6 }), (a, b, k) => {
        expect(a.cmpAbs(b)).toBe(a.abs().cmp(b.abs()));
        expect(a.cmpAbs(a.neg())).toBe(0);
        // The same values at other scales compare alike (equal scales take a shortcut).
        const wider = new Dec(b.u * pow10(k), b.s + k);
        expect(a.cmpAbs(wider)).toBe(a.abs().cmp(b.abs()));
        expect(wider.cmpAbs(a)).toBe(b.abs().cmp(a.abs()));
      }),
      RUNS,
    );
  });

  it('a value compares equal to itself at a larger scale', () => {
    fc.assert(
      fc.property(dec, fc.integer({ min: 0, max: 10 }), (a, k) => {
        const wider = new Dec(a.u * pow10(k), a.s + k);
        expect(wider.cmp(a)).toBe(0);
        expect(wider.toString()).toBe(a.toString());
      }),
      RUNS,
    );
  });

  it('sign, isZero, isNeg, isPos agree with the units', () => {
    fc.assert(
      fc.property(dec, (a) => {
        expect(a.sign()).toBe(ratSign(rat(a)));
        expect(a.isZero()).toBe(a.u === 0n);
        expect(a.isNeg()).toBe(a.u < 0n);
        expect(a.isPos()).toBe(a.u > 0n);
      }),
      RUNS,
    );
  });
});

describe('canonical text', () => {
  const CANONICAL = /^(0|-?(0|[1-9]\d*)(\.\d*[1-9])?)$/;

  it('toString → Dec.of round-trips to an equal value with the same text', () => {
    fc.assert(
      fc.property(dec, (a) => {
        const text = a.toString();
        expect(text).toMatch(CANONICAL);
        expect(text).not.toBe('-0');
        const back = Dec.of(text);
        expect(back.eq(a)).toBe(true);
        expect(back.toString()).toBe(text);
        expect(JSON.stringify(a)).toBe(JSON.stringify(text));
      }),
      RUNS,
    );
  });

  it('normalize preserves the value, strips trailing zeros, and is idempotent', () => {
    fc.assert(
      fc.property(dec, (a) => {
        const n = a.normalize();
        expect(ratEq(rat(n), rat(a))).toBe(true);
        expect(n.s).toBeLessThanOrEqual(a.s);
        if (n.s > 0) expect(n.u % 10n).not.toBe(0n);
        if (a.isZero()) expect(n.s).toBe(0);
        const again = n.normalize();
        expect([again.u, again.s]).toEqual([n.u, n.s]);
        expect(n.toString()).toBe(a.toString());
      }),
      RUNS,
    );
  });

  it('toFixedScale has exactly the asked places and reads back as the half-even rounding', () => {
    fc.assert(
      fc.property(dec, fc.integer({ min: 0, max: 20 }), (a, scale) => {
        const text = a.toFixedScale(scale);
        const frac = text.split('.')[1];
        expect(frac?.length ?? 0).toBe(scale);
        const shown = Dec.of(text);
        expect(shown.s).toBeLessThanOrEqual(scale);
        expect(shown.eq(a.round(scale))).toBe(true);
        expect(isHalfEvenQuotient(new Dec(shown.u * pow10(scale - shown.s), scale), a, Dec.ONE, scale)).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('rounding', () => {
  it('div(b, 18) is the half-even rounding of the exact quotient', () => {
    fc.assert(
      fc.property(dec, nonZeroDec, (a, b) => {
        const q = a.div(b, 18);
        expect(isHalfEvenQuotient(q, a, b, 18)).toBe(true);
      }),
      RUNS,
    );
  });

  it('div at any scale is the half-even rounding, and exact when the quotient fits', () => {
    fc.assert(
      fc.property(dec, nonZeroDec, fc.integer({ min: 0, max: 30 }), (a, b, scale) => {
        const q = a.div(b, scale);
        expect(isHalfEvenQuotient(q, a, b, scale)).toBe(true);
        // (a·b) / b fits at scale a.s, so it must come back exactly.
        expect(a.mul(b).div(b, Math.max(scale, a.s)).eq(a)).toBe(true);
      }),
      RUNS,
    );
  });

  it('div hits exact ties and rounds them to even', () => {
    // a = (2k + 1) / 2 · 10^-scale exactly halfway between two ulps at `scale`.
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), fc.integer({ min: 0, max: 18 }), (k, scale) => {
        const a = new Dec(2n * k + 1n, scale);
        const q = a.div(Dec.int(2), scale);
        expect(q.u % 2n).toBe(0n);
        expect(abs(q.u * 2n - (2n * k + 1n))).toBe(1n);
      }),
      RUNS,
    );
  });

  it('round(scale) is the half-even rounding of the value, a no-op when already within scale', () => {
    fc.assert(
      fc.property(dec, fc.integer({ min: 0, max: 24 }), (a, scale) => {
        const r = a.round(scale);
        if (a.s <= scale) {
          expect(r).toBe(a);
        } else {
          expect(isHalfEvenQuotient(r, a, Dec.ONE, scale)).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it('the remainder by subtraction conserves the total: q + (a − q) = a, with q = a·x / n', () => {
    fc.assert(
      fc.property(dec, nonZeroDec, nonZeroDec, (a, x, n) => {
        const q = a.mul(x).div(n);
        const rest = a.sub(q);
        expect(q.add(rest).eq(a)).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('readDecimal against a regex reference', () => {
  const reference = (text: string): string | undefined => {
    const m = /^(-)?(\d+)(?:\.(\d+))?$/.exec(text);
    if (m === null) return undefined;
    const int = m[2]!.replace(/^0+(?=\d)/, '');
    const frac = (m[3] ?? '').replace(/0+$/, '');
    if (int.length > 30 || frac.length > 18) return 'too many';
    const value = `${m[1] ?? ''}${int}${frac === '' ? '' : `.${frac}`}`;
    return /^-0$/.test(value) ? '0' : value;
  };
  it('accepts exactly the plain decimals, with the same value', () => {
    const alphabet = fc.constantFrom('0', '1', '5', '9', '.', '-', '+', 'e', ' ', '0', '0');
    fc.assert(
      fc.property(fc.array(alphabet, { minLength: 1, maxLength: 40 }), (cs) => {
        const text = cs.join('');
        const got = readDecimal(text);
        const want = reference(text);
        if (want === undefined) expect(got instanceof Dec).toBe(false);
        else if (want === 'too many') expect(got).toMatchObject({ code: 'NUMBER_TOO_MANY_DIGITS' });
        else expect(got instanceof Dec ? got.toString() : got).toBe(want);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('decimalAt', () => {
  it('reads, where it stands in a text, exactly what readDecimal reads of the slice (units and scale)', () => {
    const alphabet = fc.constantFrom('0', '1', '5', '9', '.', '-', '+', 'e', ' ', '"', '0', '0', '7', '3');
    const around = fc.string({ maxLength: 4 });
    fc.assert(
      fc.property(around, fc.array(alphabet, { minLength: 0, maxLength: 40 }), around, (before, cs, after) => {
        const piece = cs.join('');
        const text = before + piece + after;
        const got = decimalAt(text, before.length, before.length + piece.length);
        const want = piece === '' ? undefined : readDecimal(piece);
        if (want instanceof Dec) expect(got).toStrictEqual(want);
        else expect(got).toBeUndefined();
      }),
      { numRuns: 10000 },
    );
  });

  it('is exact at the edge of the digits a number holds (15) and past it', () => {
    const digits = fc.array(fc.constantFrom('0', '1', '9', '5'), { minLength: 1, maxLength: 24 }).map((d) => d.join(''));
    fc.assert(
      fc.property(fc.boolean(), digits, fc.option(digits), (neg, int, frac) => {
        const piece = `${neg ? '-' : ''}${int}${frac === null ? '' : `.${frac}`}`;
        const text = `"${piece}"`;
        const want = readDecimal(piece);
        expect(decimalAt(text, 1, text.length - 1)).toStrictEqual(want instanceof Dec ? want : undefined);
      }),
      { numRuns: 10000 },
    );
    expect(decimalAt('999999999999999', 0, 15)).toStrictEqual(new Dec(999999999999999n, 0));
    expect(decimalAt('9999999999999999', 0, 16)).toStrictEqual(new Dec(9999999999999999n, 0));
    expect(decimalAt('9.99999999999999900', 0, 19)).toStrictEqual(new Dec(9999999999999999n, 15));
    expect(decimalAt('1234567890123.40', 0, 16)).toStrictEqual(new Dec(12345678901234n, 1));
    expect(decimalAt('-0.000', 0, 6)).toStrictEqual(new Dec(0n, 0));
  });
});

describe('mulNeg', () => {
  it('is the negated product', () => {
    const arb = fc.tuple(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.integer({ min: 0, max: 20 })).map(([u, s]) => new Dec(u, s));
    fc.assert(
      fc.property(arb, arb, (a, b) => {
        expect(a.mulNeg(b).eq(a.mul(b).neg())).toBe(true);
      }),
    );
  });
});
