/**
 * The front's copy of the positions (positions-model.ts): fed the messages of any run of book
 * updates (positions changed, come, gone, a book emptied), it answers every query with the bytes
 * the API writes from the same positions (positions-json.ts), books in name order; its `seq` is
 * the last caught-up mark and never goes back. Patches are sent only for the same positions in the
 * same places, and carry only the places that changed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PositionReport } from '../domain/report.js';
import { PositionsFeed, PositionsModel } from './positions-model.js';
import { joinedBody, positionBytes } from './positions-json.js';

const ASSETS = ['BTC', 'ETH', 'SOL', 'USDT', 'X'];
const VENUES = ['binance', 'okx', 'bybit'];
const BOOKS = ['mm', 'otc', 'arb'];

function report(book: string, asset: string, qty: number, venues: readonly string[]): PositionReport {
  const byVenue: Record<string, string> = {};
  for (const v of venues) byVenue[v] = String(qty);
  return { book, asset, kind: 'spot', method: 'fifo', qty: String(qty), costBasis: '0', avgPrice: null, mark: null, value: null, realizedPnl: '0', unrealizedPnl: null, fees: '0', funding: '0', totalPnl: null, byVenue };
}

const step = fc.record({
  book: fc.constantFrom(...BOOKS),
  /** Per asset: absent, or a quantity and its venues. */
  holdings: fc.array(fc.option(fc.record({ qty: fc.integer({ min: 1, max: 3 }), venues: fc.subarray(VENUES) }), { nil: undefined }), { minLength: ASSETS.length, maxLength: ASSETS.length }),
  caughtUp: fc.boolean(),
});

const query = fc.record({
  books: fc.option(fc.subarray([...BOOKS, 'none']), { nil: undefined }),
  asset: fc.option(fc.constantFrom(...ASSETS, 'NONE'), { nil: undefined }),
  venue: fc.option(fc.constantFrom(...VENUES, 'nowhere'), { nil: undefined }),
});

describe('the front\'s positions model', () => {
  it('answers as the API would from the same positions, after any run of updates', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), fc.array(query, { minLength: 1, maxLength: 5 }), (steps, queries) => {
        const feed = new PositionsFeed();
        const model = new PositionsModel('USD');
        const state = new Map<string, PositionReport[]>();
        let seq = 0;
        let caught = 0;
        for (const s of steps) {
          seq++;
          const before = state.get(s.book) ?? [];
          // A position whose figures did not change keeps its report (as report.ts keeps a valuation).
          const positions: PositionReport[] = [];
          s.holdings.forEach((h, i) => {
            if (h === undefined) return;
            const p = report(s.book, ASSETS[i]!, h.qty, h.venues);
            const was = before.find((x) => x.asset === p.asset);
            positions.push(was !== undefined && JSON.stringify(was) === JSON.stringify(p) ? was : p);
          });
          state.set(s.book, positions);
          const m = feed.message({ book: s.book, seq, positions });
          if (m.t === 'patch') {
            expect(before.map((p) => p.asset)).toEqual(positions.map((p) => p.asset));
            expect(m.at).toEqual(positions.flatMap((p, i) => (p === before[i] ? [] : [i])));
          }
          model.apply(structuredClone(m)); // as it crosses to the front's thread
          if (s.caughtUp) {
            caught = seq;
            model.apply({ t: 'seq', seq });
          }
          expect(model.seq).toBe(caught);
          for (const q of queries) {
            const expected: Uint8Array[] = [];
            for (const book of [...state.keys()].sort()) {
              if (q.books !== undefined && !q.books.includes(book)) continue;
              for (const p of state.get(book)!) {
                if ((q.asset === undefined || p.asset === q.asset) && (q.venue === undefined || p.byVenue[q.venue] !== undefined)) expected.push(positionBytes(p));
              }
            }
            const got = model.body({ ...(q.books === undefined ? {} : { books: new Set(q.books) }), ...(q.asset === undefined ? {} : { asset: q.asset }), ...(q.venue === undefined ? {} : { venue: q.venue }) });
            const want = joinedBody({ asOf: null, reporting: 'USD', seq: caught }, expected);
            expect(Buffer.concat(got.chunks).equals(Buffer.concat(want.chunks))).toBe(true);
            expect(got.length).toBe(Buffer.concat(got.chunks).length);
          }
        }
        model.apply({ t: 'seq', seq: 0 });
        expect(model.seq).toBe(caught);
      }),
      { numRuns: 200 },
    );
  });

  it('writes a body of many positions in chunks of 64 KiB, the last one shorter', () => {
    const feed = new PositionsFeed();
    const model = new PositionsModel('USD');
    const positions = Array.from({ length: 2000 }, (_, i) => report('mm', `A${String(i).padStart(4, '0')}`, i + 1, VENUES));
    model.apply(feed.message({ book: 'mm', seq: 1, positions }));
    const body = model.body({});
    expect(body.chunks.length).toBeGreaterThan(2);
    for (const c of body.chunks.slice(0, -1)) expect(c.length).toBe(64 * 1024);
    expect(JSON.parse(Buffer.concat(body.chunks).toString('utf8'))).toEqual({ asOf: null, reporting: 'USD', seq: 0, positions: JSON.parse(JSON.stringify(positions)) as unknown });
  });
});
