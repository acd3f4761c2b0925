/**
 * Deltas of a book's positions: a consumer that holds the state at one update and applies the
 * merged deltas of any run of later updates holds exactly the state of the last one.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PositionReport } from '../domain/report.js';
import { diffPositions, indexPositions, MergedDiff, positionKey, type BookDiff } from './book-diff.js';

const ASSETS = ['BTC', 'ETH', 'SOL', 'XRP', 'A01'];
const VENUES = [undefined, 'okx', 'binance'];

/** A book's positions: a subset of (asset, kind, venue) with a quantity each, as fresh report objects. */
const arbBook = fc
  .uniqueArray(
    fc.record({ asset: fc.constantFrom(...ASSETS), kind: fc.constantFrom('spot' as const, 'perpetual' as const), venue: fc.constantFrom(...VENUES), qty: fc.constantFrom('0', '1', '2.5', '-3') }),
    { selector: (p) => positionKey(p), maxLength: 12 },
  )
  .map((ps) => ps.map((p) => ({ book: 'b1', ...(p.venue === undefined ? { asset: p.asset, kind: p.kind } : p), qty: p.qty }) as unknown as PositionReport));

/** What a consumer does with a delta: replace by identity, drop the removed. */
function apply(state: Map<string, PositionReport>, d: BookDiff): Map<string, PositionReport> {
  const out = new Map(state);
  for (const r of d.removed) out.delete(positionKey(r));
  for (const p of d.changed) out.set(positionKey(p), p);
  return out;
}

const json = (m: ReadonlyMap<string, PositionReport>): string[] => [...m.entries()].map(([k, p]) => `${k}=${JSON.stringify(p)}`).sort();

describe('book diffs', () => {
  it('applying the merged deltas of updates i+1..j to the state at i gives the state at j', () => {
    fc.assert(
      fc.property(fc.array(arbBook, { minLength: 1, maxLength: 8 }), fc.nat(), fc.nat(), (books, a, b) => {
        const states = books.map(indexPositions);
        const diffs = books.map((s, k) => diffPositions(k === 0 ? undefined : books[k - 1], s));
        const i = a % states.length;
        const j = i + (b % (states.length - i));
        const merged = new MergedDiff();
        for (let k = i + 1; k <= j; k++) merged.add(diffs[k]!);
        expect(json(apply(states[i]!, merged.diff()))).toEqual(json(states[j]!));
        // From nothing, the first update's delta is the whole book.
        expect(json(apply(new Map(), diffs[0]!))).toEqual(json(states[0]!));
      }),
    );
  });

  it('a position whose report is another object with the same JSON is not changed; one with other figures is', () => {
    fc.assert(
      fc.property(arbBook, (book) => {
        const copies = book.map((p) => ({ ...p }));
        expect(diffPositions(book, copies)).toEqual({ changed: [], removed: [] });
        const moved = book.map((p) => ({ ...p, qty: `${p.qty}1` }));
        expect(diffPositions(book, moved).changed).toHaveLength(book.length);
      }),
    );
  });

  it('walked side by side (a book in the same order, some reports kept, some new, some other figures) it equals the diff by identity', () => {
    fc.assert(
      fc.property(arbBook, fc.array(fc.constantFrom('keep', 'copy', 'move', 'drop'), { minLength: 12, maxLength: 12 }), fc.boolean(), (book, fate, shuffle) => {
        const after: PositionReport[] = [];
        for (const [i, p] of book.entries()) {
          const f = fate[i]!;
          if (f === 'keep') after.push(p);
          else if (f === 'copy') after.push({ ...p });
          else if (f === 'move') after.push({ ...p, qty: `${p.qty}7` });
        }
        if (shuffle) after.reverse();
        const d = diffPositions(book, after);
        // The reference: by identity, through maps.
        const was = indexPositions(book);
        const now = indexPositions(after);
        const changed = after.filter((p) => JSON.stringify(was.get(positionKey(p))) !== JSON.stringify(p));
        const removed = book.filter((p) => !now.has(positionKey(p))).map(positionKey);
        expect(d.changed).toEqual(changed);
        expect(d.changed.every((p, i) => p === changed[i])).toBe(true);
        expect(d.removed.map(positionKey)).toEqual(removed);
      }),
    );
  });
});
