// ccxt number → plain decimal string: exact expansion of exponents, round-trip of every double,
// and the exact string addition used for balance totals. Number() appears here only to check
// the round trip; the module under test never does float arithmetic.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { addDecimalStrings, ccxtNumberToDecimal } from './number.js';

const FIXTURES = new URL('../../../test/fixtures/ccxt/', import.meta.url);
const PLAIN = /^-?\d+(\.\d+)?$/;

describe('ccxtNumberToDecimal', () => {
  it('keeps the shortest round-trip text of a double', () => {
    expect(ccxtNumberToDecimal(0.4000000000000001)).toBe('0.4000000000000001');
    expect(ccxtNumberToDecimal(0.6612664522199999)).toBe('0.6612664522199999');
    expect(ccxtNumberToDecimal(69.63)).toBe('69.63');
    expect(ccxtNumberToDecimal(0.013926)).toBe('0.013926');
    expect(ccxtNumberToDecimal(10000)).toBe('10000');
    expect(ccxtNumberToDecimal(0)).toBe('0');
    expect(ccxtNumberToDecimal(-0)).toBe('0');
  });

  it('expands exponent notation exactly', () => {
    expect(ccxtNumberToDecimal(-5.437318054e-7)).toBe('-0.0000005437318054');
    expect(ccxtNumberToDecimal(8.99562244e-7)).toBe('0.000000899562244');
    expect(ccxtNumberToDecimal(1e21)).toBe('1000000000000000000000');
    expect(ccxtNumberToDecimal(1.5e21)).toBe('1500000000000000000000');
    expect(ccxtNumberToDecimal(1e-7)).toBe('0.0000001');
    expect(ccxtNumberToDecimal(5e-324)).toBe(`0.${'0'.repeat(323)}5`);
    expect(ccxtNumberToDecimal(Number.MAX_VALUE)).toBe(`17976931348623157${'0'.repeat(292)}`);
  });

  it('passes numeric strings through, expanding exponents', () => {
    expect(ccxtNumberToDecimal('0.00012')).toBe('0.00012');
    expect(ccxtNumberToDecimal('1.50')).toBe('1.50');
    expect(ccxtNumberToDecimal('-3')).toBe('-3');
    expect(ccxtNumberToDecimal('-5.437318054e-7')).toBe('-0.0000005437318054');
    expect(ccxtNumberToDecimal('1E+3')).toBe('1000');
    expect(ccxtNumberToDecimal('12.5e-1')).toBe('1.25');
    expect(ccxtNumberToDecimal('-0e5')).toBe('0');
    expect(ccxtNumberToDecimal('+2')).toBe('2');
    expect(ccxtNumberToDecimal('.5')).toBe('0.5');
  });

  it('gives undefined for anything that is not a finite number', () => {
    for (const bad of [NaN, Infinity, -Infinity, null, undefined, '', ' 1', 'abc', 'NaN', 'Infinity', '1,5', '.', '-', 'e5', '1e99999', {}, [], true]) {
      expect(ccxtNumberToDecimal(bad)).toBeUndefined();
    }
  });

  it('every number in every fixture converts to a plain decimal that reads back as the same double', () => {
    const walk = (v: unknown): void => {
      if (typeof v === 'number') {
        const s = ccxtNumberToDecimal(v);
        expect(s).toMatch(PLAIN);
        expect(Number(s) === v).toBe(true);
      } else if (Array.isArray(v)) v.forEach(walk);
      else if (typeof v === 'object' && v !== null) Object.values(v).forEach(walk);
    };
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json') && f !== 'sources.json');
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) walk(JSON.parse(readFileSync(new URL(f, FIXTURES), 'utf8')));
  });

  it('property: any finite double gives a plain decimal equal to it', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const s = ccxtNumberToDecimal(x);
        expect(s).toMatch(PLAIN);
        // === rather than toBe: -0 prints as "0", which is the same amount.
        expect(Number(s) === x).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('property: exponent strings expand to the same value as the double they spell', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const s = ccxtNumberToDecimal(x.toExponential());
        expect(s).toMatch(PLAIN);
        expect(Number(s) === x).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('addDecimalStrings', () => {
  it('adds exactly', () => {
    expect(addDecimalStrings('0.1', '0.2')).toBe('0.3');
    expect(addDecimalStrings('0.6612664522199999', '0.4000000000000001')).toBe('1.06126645222');
    expect(addDecimalStrings('-1.5', '1.5')).toBe('0');
    expect(addDecimalStrings('-1.25', '0.05')).toBe('-1.2');
    expect(addDecimalStrings('100', '0.000000000000000001')).toBe('100.000000000000000001');
    expect(addDecimalStrings('1e3', '1')).toBeUndefined();
  });

  it('property: agrees with bigint arithmetic on scaled integers', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.nat(20), fc.nat(20), (a, b, sa, sb) => {
        const text = (u: bigint, s: number): string => {
          const neg = u < 0n;
          const d = (neg ? -u : u).toString().padStart(s + 1, '0');
          const body = s === 0 ? d : `${d.slice(0, d.length - s)}.${d.slice(d.length - s)}`;
          return neg ? `-${body}` : body;
        };
        const sum = addDecimalStrings(text(a, sa), text(b, sb));
        const s = Math.max(sa, sb);
        const expected = ccxtNumberToDecimal(`${a * 10n ** BigInt(s - sa) + b * 10n ** BigInt(s - sb)}e-${s}`);
        expect(sum).toBe(expected);
      }),
    );
  });
});
