/**
 * Balance cells keep raw units and scale (book.ts, Cell): after any sequence of additions a
 * cell's quantity is exactly what folding Dec.add gives, to the unit and the scale, and a clone's
 * cells are its own.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BookState, DEFAULT_SETTINGS } from './book.js';
import { Dec } from './decimal.js';

const delta = fc.oneof(
  fc.tuple(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), fc.integer({ min: 0, max: 18 })).map(([u, s]) => new Dec(u, s)),
  fc.constantFrom(Dec.ZERO, new Dec(0n, 4), Dec.ONE, new Dec(-1n, 0), new Dec(15n, 1), new Dec(-15n, 1)),
);

describe('balance cells', () => {
  it('hold exactly the fold of Dec.add (units and scale); a clone does not move with the original', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('BTC', 'USD'), delta), { maxLength: 60 }), fc.nat(60), (adds, cut) => {
        const s = new BookState('b', DEFAULT_SETTINGS);
        const want = new Map<string, Dec>();
        let clone: { state: BookState; want: Map<string, Dec> } | undefined;
        adds.forEach(([asset, d], i) => {
          if (i === cut) clone = { state: s.clone(), want: new Map(want) };
          s.addBalance('v', 'main', asset, d);
          // Through the cell itself, as a route adds (qty read back between additions, or not).
          if (i % 3 === 0) void s.balanceCell('v', 'main', asset).qty;
          want.set(asset, (want.get(asset) ?? Dec.ZERO).add(d));
          const got = s.balanceCell('v', 'main', asset).qty;
          const w = want.get(asset)!;
          expect(`${got.u}e-${got.s}`).toBe(`${w.u}e-${w.s}`);
        });
        if (clone !== undefined) {
          for (const [asset, w] of clone.want) {
            const got = clone.state.balanceCell('v', 'main', asset).qty;
            expect(`${got.u}e-${got.s}`).toBe(`${w.u}e-${w.s}`);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
