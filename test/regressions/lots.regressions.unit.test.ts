/**
 * Lot book regressions: fixed cases for behaviour the model-based tests
 * (src/domain/lots.prop.test.ts) check in general.
 *
 * Known deviation, kept as `it.fails` until fixed: HIFO ranks a lot that has no exact unit (a
 * capitalised fee, a quotient) by its unit cost rounded half-even at 18 places. Two lots whose unit
 * costs agree to 18 places then tie on rank and are released oldest first, even when the newer one
 * has the strictly higher unit cost. DOMAIN.md §3 says "highest unit cost first"; the exact
 * comparison is |cost_a|·|qty_b| vs |cost_b|·|qty_a|. The amount involved is below 10^-18 per unit,
 * but the order, and so the released cost, is not the exact one. When HIFO compares exactly these
 * cases will pass, and vitest will then fail them as `it.fails`: turn them into plain `it`.
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
    // Today: seq 1 is released, at cost 0.999999999999999999.
    expect(out.map((l) => [l.seq, l.cost.toString()])).toEqual([[2, '1']]);
  });

  it('releases the newer lot when its unit cost exceeds the older one only past the 18th place', () => {
    const book = newLotBook('hifo');
    // seq 1: unit 1/3 = 0.3333…; seq 2: unit 0.3333333333333333334 (higher), both rank 0.333333333333333333.
    book.open(Dec.of('3'), Dec.of('1'), undefined, 1, 1);
    book.open(Dec.of('10'), Dec.of('3.333333333333333334'), undefined, 2, 2);
    const out = book.release(Dec.of('1'));
    // Today: seq 1 is released first.
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
