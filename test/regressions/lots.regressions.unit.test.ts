/**
 * Lot book regressions: fixed cases for behaviour the model-based tests
 * (src/domain/lots.prop.test.ts) check in general.
 *
 * HIFO near-ties: HIFO used to rank a lot without an exact unit (a capitalised fee, a quotient) by
 * its unit cost rounded half-even at 18 places, so two lots whose unit costs agreed to 18 places
 * tied on rank and were released oldest first even when the newer one had the strictly higher unit
 * cost (DOMAIN.md §3: "highest unit cost first"). E.g. lot 1: 3 at unit 0.333333333333333333,
 * lot 2: 3 for cost 1 (unit 1/3); releasing 3 released lot 1 at 0.999999999999999999 instead of
 * lot 2 at 1. Ranks are now exact ratios compared by cross-multiplication.
 */
import { describe, it, expect } from 'vitest';
import { Dec } from '../../src/domain/decimal.js';
import { newLotBook } from '../../src/domain/lots.js';

describe('HIFO on unit costs that agree to 18 decimal places', () => {
  it('releases the lot with the higher exact unit cost (1/3) before an older lot at 0.333333333333333333', () => {
    const book = newLotBook('hifo');
    const unit = Dec.of('0.333333333333333333');
    // seq 1: exact unit 0.333333333333333333; seq 2: cost 1 for 3 (a capitalised fee), unit 1/3.
    book.open(Dec.of('3'), Dec.of('3').mul(unit), unit, 1, 1);
    book.open(Dec.of('3'), Dec.of('1'), undefined, 2, 2);
    const out = book.release(Dec.of('3'));
    // Before the fix: seq 1 was released, at cost 0.999999999999999999.
    expect(out.map((l) => [l.seq, l.cost.toString()])).toEqual([[2, '1']]);
  });

  it('releases the newer lot when its unit cost exceeds the older one only past the 18th place', () => {
    const book = newLotBook('hifo');
    // seq 1: unit 1/3 = 0.3333…; seq 2: unit 0.3333333333333333334 (higher), both 0.333333333333333333 when rounded at 18 places.
    book.open(Dec.of('3'), Dec.of('1'), undefined, 1, 1);
    book.open(Dec.of('10'), Dec.of('3.333333333333333334'), undefined, 2, 2);
    const out = book.release(Dec.of('1'));
    // Before the fix: seq 1 was released first.
    expect(out.map((l) => l.seq)).toEqual([2]);
  });

  it('still releases by rank when unit costs differ within 18 places (control case)', () => {
    const book = newLotBook('hifo');
    book.open(Dec.of('3'), Dec.of('1'), undefined, 1, 1);
    book.open(Dec.of('6'), Dec.of('2.000000000000000006'), undefined, 2, 2);
    const out = book.release(Dec.of('1'));
    expect(out.map((l) => [l.seq, l.cost.toString()])).toEqual([[2, '0.333333333333333334']]);
    expect(book.cost().toString()).toBe('2.666666666666666672');
  });
});
