/**
 * Dec by example, given/when/then: parsing and its error codes, canonical text, display rounding,
 * half-even division, and the DOMAIN.md §7 example (cost 100 for 3 units, release 1).
 */
import { describe, it, expect } from 'vitest';
import { Dec, DIVISION_SCALE, MAX_FRACTION_DIGITS, MAX_INTEGER_DIGITS, decimalProblem, parseDecimal, sum } from './decimal.js';
import { newLotBook } from './lots.js';

/** Parses with the throwing constructor and returns the parts, so tests see units and scale. */
function parts(text: string): [bigint, number] {
  const d = Dec.of(text);
  return [d.u, d.s];
}

describe('parsing canonical text', () => {
  it('given plain integers and decimals, when parsed, then units and scale are exact', () => {
    expect(parts('0')).toEqual([0n, 0]);
    expect(parts('42')).toEqual([42n, 0]);
    expect(parts('-42')).toEqual([-42n, 0]);
    expect(parts('42000.10')).toEqual([420001n, 1]);
    expect(parts('0.00012')).toEqual([12n, 5]);
    expect(parts('-0.5')).toEqual([-5n, 1]);
    expect(parts('123456789012345678901234567890.123456789012345678')).toEqual([123456789012345678901234567890123456789012345678n, 18]);
  });

  it('given trailing fractional zeros, when parsed, then they are dropped from the scale', () => {
    expect(parts('1.50')).toEqual([15n, 1]);
    expect(parts('1.000')).toEqual([1n, 0]);
    expect(parts('100')).toEqual([100n, 0]);
    expect(parts('-2.2500')).toEqual([-225n, 2]);
    expect(Dec.of('1.500').toString()).toBe('1.5');
  });

  it('given leading zeros, when parsed, then the value is unchanged', () => {
    expect(parts('007')).toEqual([7n, 0]);
    expect(Dec.of('00.10').toString()).toBe('0.1');
  });

  it('given "-0" and "-0.000", when parsed, then the result is zero with no sign', () => {
    for (const text of ['-0', '-0.000', '0.0', '-00']) {
      const d = Dec.of(text);
      expect(d.isZero()).toBe(true);
      expect(d.sign()).toBe(0);
      expect(d.isNeg()).toBe(false);
      expect(d.toString()).toBe('0');
    }
  });

  it('given non-canonical text, when parsed, then parseDecimal returns undefined and Dec.of throws', () => {
    for (const text of ['1e5', '1E5', '1.5e-3', 'NaN', 'Infinity', '-Infinity', '+1', '.5', '1.', ' 1', '1 ', '', '-', '1,5', '0x10', '1_000', '--1', '١']) {
      expect(parseDecimal(text), text).toBeUndefined();
      expect(() => Dec.of(text), text).toThrow(/not a decimal/);
    }
  });
});

describe('decimalProblem codes', () => {
  it('given exponent notation, then NUMBER_EXPONENT', () => {
    for (const text of ['1e5', '1E5', '-1.5e-3', '+2e+10', '.5e1', '1.e3']) {
      expect(decimalProblem(text)?.code, text).toBe('NUMBER_EXPONENT');
    }
  });

  it('given NaN or an infinity in any case or sign, then NUMBER_NOT_FINITE', () => {
    for (const text of ['NaN', 'nan', 'Infinity', '-Infinity', '+inf', 'INF']) {
      expect(decimalProblem(text)?.code, text).toBe('NUMBER_NOT_FINITE');
    }
  });

  it('given 31 integer digits or 19 fraction digits, then NUMBER_TOO_MANY_DIGITS; 30 and 18 pass', () => {
    expect(MAX_INTEGER_DIGITS).toBe(30);
    expect(MAX_FRACTION_DIGITS).toBe(18);
    expect(decimalProblem('1'.repeat(31))?.code).toBe('NUMBER_TOO_MANY_DIGITS');
    expect(decimalProblem(`-${'9'.repeat(31)}.5`)?.code).toBe('NUMBER_TOO_MANY_DIGITS');
    expect(decimalProblem(`0.${'1'.repeat(19)}`)?.code).toBe('NUMBER_TOO_MANY_DIGITS');
    expect(decimalProblem(`-1.${'0'.repeat(18)}1`)?.code).toBe('NUMBER_TOO_MANY_DIGITS');
    expect(decimalProblem('1'.repeat(30))).toBeUndefined();
    expect(decimalProblem(`0.${'1'.repeat(18)}`)).toBeUndefined();
    expect(decimalProblem(`${'9'.repeat(30)}.${'9'.repeat(18)}`)).toBeUndefined();
  });

  it('given zeros that carry no value (leading integer, trailing fraction), then they do not count as digits', () => {
    expect(decimalProblem(`${'0'.repeat(40)}1`)).toBeUndefined();
    expect(decimalProblem(`1.${'0'.repeat(40)}`)).toBeUndefined();
    expect(decimalProblem(`0.${'0'.repeat(17)}1${'0'.repeat(10)}`)).toBeUndefined();
  });

  it('given other malformed text, then NUMBER_SYNTAX', () => {
    for (const text of ['+1', '.5', '1.', ' 1', '1 ', '', 'abc', '1,5', '--1', '1.2.3', '0x1F', 'e5']) {
      expect(decimalProblem(text)?.code, JSON.stringify(text)).toBe('NUMBER_SYNTAX');
    }
  });

  it('given valid text, then no problem, and every problem comes with an expectation phrase', () => {
    for (const text of ['0', '-0', '42000.10', '-0.00012']) expect(decimalProblem(text), text).toBeUndefined();
    for (const text of ['1e5', 'NaN', '1'.repeat(31), 'x']) expect(decimalProblem(text)?.expected, text).toMatch(/\S/);
  });
});

describe('toString: canonical text', () => {
  it('given values built from units and scale, then the text has no trailing zeros and no exponent', () => {
    expect(new Dec(1500n, 3).toString()).toBe('1.5');
    expect(new Dec(1500n, 0).toString()).toBe('1500');
    expect(new Dec(-5n, 3).toString()).toBe('-0.005');
    expect(new Dec(5n, 20).toString()).toBe('0.00000000000000000005');
    expect(new Dec(0n, 7).toString()).toBe('0');
    expect(new Dec(-1000n, 3).toString()).toBe('-1');
    expect(new Dec(10n ** 30n, 0).toString()).toBe(`1${'0'.repeat(30)}`);
    expect(JSON.stringify({ v: new Dec(250n, 2) })).toBe('{"v":"2.5"}');
  });

  it('given equal values at different scales, then the texts are equal', () => {
    expect(new Dec(2n, 0).toString()).toBe(new Dec(2000000n, 6).toString());
    expect(Dec.int(-3).toString()).toBe('-3');
  });
});

describe('toFixedScale: display text', () => {
  it('given fewer places than asked, then it pads with zeros', () => {
    expect(Dec.of('1').toFixedScale(3)).toBe('1.000');
    expect(Dec.of('-0.5').toFixedScale(2)).toBe('-0.50');
    expect(Dec.of('0.05').toFixedScale(4)).toBe('0.0500');
    expect(Dec.of('12.34').toFixedScale(2)).toBe('12.34');
  });

  it('given more places than asked, then it rounds half-even', () => {
    expect(Dec.of('1.005').toFixedScale(2)).toBe('1.00');
    expect(Dec.of('1.015').toFixedScale(2)).toBe('1.02');
    expect(Dec.of('1.0051').toFixedScale(2)).toBe('1.01');
    expect(Dec.of('2.5').toFixedScale(0)).toBe('2');
    expect(Dec.of('-1.5').toFixedScale(0)).toBe('-2');
    expect(Dec.of('99.995').toFixedScale(2)).toBe('100.00');
  });

  it('given a negative value that rounds to zero, then no "-0" is shown', () => {
    expect(Dec.of('-0.004').toFixedScale(2)).toBe('0.00');
    expect(Dec.of('-0.5').toFixedScale(0)).toBe('0');
  });
});

describe('round: half-even', () => {
  const cases: [string, number, string][] = [
    ['2.5', 0, '2'],
    ['3.5', 0, '4'],
    ['-2.5', 0, '-2'],
    ['-3.5', 0, '-4'],
    ['0.125', 2, '0.12'],
    ['0.135', 2, '0.14'],
    ['-0.125', 2, '-0.12'],
    ['0.1251', 2, '0.13'],
    ['2.4999', 0, '2'],
    ['2.51', 0, '3'],
    ['-0.5', 0, '0'],
    ['1.23', 5, '1.23'],
  ];
  for (const [input, scale, expected] of cases) {
    it(`given ${input}, when rounded to ${scale} places, then ${expected}`, () => {
      const r = Dec.of(input).round(scale);
      expect(r.toString()).toBe(expected);
      expect(r.s).toBeLessThanOrEqual(Math.max(scale, Dec.of(input).s));
    });
  }
});

describe('div: half-even at an explicit scale', () => {
  it('given 100/3 at the division scale, then 33.333333333333333333 (18 places, rounded down)', () => {
    expect(DIVISION_SCALE).toBe(18);
    const q = Dec.of('100').div(Dec.of('3'), 18);
    expect(q.toString()).toBe('33.333333333333333333');
    expect(q.s).toBe(18);
    expect(Dec.of('100').div(Dec.of('3')).toString()).toBe('33.333333333333333333');
  });

  it('given 200/3, then the last digit rounds up: 66.666666666666666667', () => {
    expect(Dec.of('200').div(Dec.of('3')).toString()).toBe('66.666666666666666667');
  });

  it('given negative operands, then the sign follows the operands and rounding is symmetric', () => {
    expect(Dec.of('-100').div(Dec.of('3')).toString()).toBe('-33.333333333333333333');
    expect(Dec.of('100').div(Dec.of('-3')).toString()).toBe('-33.333333333333333333');
    expect(Dec.of('-200').div(Dec.of('3')).toString()).toBe('-66.666666666666666667');
    expect(Dec.of('-200').div(Dec.of('-3')).toString()).toBe('66.666666666666666667');
  });

  it('given exact ties, then the even neighbour wins, for both signs', () => {
    expect(Dec.of('1').div(Dec.of('8'), 2).toString()).toBe('0.12');
    expect(Dec.of('3').div(Dec.of('8'), 2).toString()).toBe('0.38');
    expect(Dec.of('-1').div(Dec.of('8'), 2).toString()).toBe('-0.12');
    expect(Dec.of('5').div(Dec.of('2'), 0).toString()).toBe('2');
    expect(Dec.of('7').div(Dec.of('-2'), 0).toString()).toBe('-4');
  });

  it('given operands of different scales, then the quotient is exact when it fits', () => {
    expect(Dec.of('0.0001').div(Dec.of('0.02')).toString()).toBe('0.005');
    expect(Dec.of('123.456').div(Dec.of('1000'), 2).toString()).toBe('0.12');
    expect(Dec.of('1').div(Dec.of('0.0000001'), 0).toString()).toBe('10000000');
    expect(Dec.of('1').div(Dec.of('3'), 0).toString()).toBe('0');
  });

  it('given a zero divisor, then it throws', () => {
    expect(() => Dec.of('1').div(Dec.ZERO)).toThrow(/division by zero/);
    expect(() => Dec.ZERO.div(new Dec(0n, 5))).toThrow(/division by zero/);
  });
});

describe('exact + − ×', () => {
  it('given decimals of different scales, then sums, differences and products are exact', () => {
    expect(Dec.of('0.1').add(Dec.of('0.2')).toString()).toBe('0.3');
    expect(Dec.of('1').sub(Dec.of('0.000000000000000001')).toString()).toBe('0.999999999999999999');
    expect(Dec.of('1.5').mul(Dec.of('-2.25')).toString()).toBe('-3.375');
    expect(Dec.of('1.5').mul(Dec.of('2.25')).s).toBe(3);
    expect(Dec.of('0').sub(Dec.of('0.5')).toString()).toBe('-0.5');
    expect(sum([Dec.of('0.1'), Dec.of('0.2'), Dec.of('-0.3')]).isZero()).toBe(true);
  });
});

describe('DOMAIN.md §7: cost 100 for 3 units, release 1', () => {
  it('given the division, then release 33.333333333333333333 and leave 66.666666666666666667 by subtraction', () => {
    const cost = Dec.of('100');
    const released = cost.mul(Dec.of('1')).div(Dec.of('3'));
    const left = cost.sub(released);
    expect(released.toString()).toBe('33.333333333333333333');
    expect(left.toString()).toBe('66.666666666666666667');
    expect(released.add(left).eq(cost)).toBe(true);
  });

  it('given a WAC book holding 3 at cost 100, when 1 is released, then the same figures, and closing the rest leaves exactly 0', () => {
    const book = newLotBook('wac');
    book.open(Dec.of('3'), Dec.of('100'), undefined, 0, 1);
    const out = book.release(Dec.of('1'));
    expect(out.map((l) => [l.qty.toString(), l.cost.toString()])).toEqual([['1', '33.333333333333333333']]);
    expect(book.qty().toString()).toBe('2');
    expect(book.cost().toString()).toBe('66.666666666666666667');
    const rest = book.release(Dec.of('2'));
    expect(rest.map((l) => l.cost.toString())).toEqual(['66.666666666666666667']);
    expect(book.qty().isZero() && book.cost().isZero()).toBe(true);
  });
});
