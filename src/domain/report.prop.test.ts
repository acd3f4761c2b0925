/**
 * Reports keep each position's valuation from one report to the next (valuePosition in
 * report.ts, BookView) and value again only what changed. Property: whatever the ledger went through
 * between two reports (fills, marks, crosses, transfers, late events and corrections that rebook),
 * a report of the live ledger is the report of a fresh ledger holding the same events, which
 * has nothing kept; and the positions-only and book-update views are exactly its parts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { newLedger, parse, scenarioArb, shuffle } from '../../test/support/scenarios.js';
import { COST_METHODS } from './lots.js';
import { buildBookUpdate, buildPositions, buildReport, type ReportOptions } from './report.js';

const OPTIONS: ReportOptions[] = [{}, { includeFlat: true }, { books: ['b1'] }, { lots: true }, { books: ['b2'], includeFlat: true }];

describe('report: valuations kept between reports', () => {
  it('a report of a changing ledger equals the report of a fresh ledger with the same events', () => {
    fc.assert(
      fc.property(
        scenarioArb,
        fc.nat(),
        fc.constantFrom(...COST_METHODS),
        fc.constantFrom<'separate' | 'capitalise'>('separate', 'capitalise'),
        fc.constantFrom<'book' | 'venue'>('book', 'venue'),
        fc.array(fc.boolean(), { minLength: 50, maxLength: 50 }),
        (s, seed, method, fees, pool, reportAfter) => {
          const config = { defaults: { method, fees, pool } };
          const arrival = shuffle([...s.base, ...s.corrections], seed);
          const live = newLedger(config);
          arrival.forEach((w, i) => {
            live.submit(parse(live, w));
            // Reports after some events only: several changes may come between two reports.
            if (!reportAfter[i % reportAfter.length] && i !== arrival.length - 1) return;
            const fresh = newLedger(config);
            for (const x of arrival.slice(0, i + 1)) fresh.submit(parse(fresh, x));
            for (const o of OPTIONS) {
              const expected = buildReport(fresh, o);
              expect(JSON.stringify(buildReport(live, o))).toBe(JSON.stringify(expected));
              expect(JSON.stringify(buildPositions(live, o))).toBe(JSON.stringify({ asOf: expected.asOf, reporting: expected.reporting, positions: expected.positions }));
            }
            const all = buildReport(fresh);
            for (const book of live.bookNames()) {
              const update = buildBookUpdate(live, book);
              expect(JSON.stringify(update)).toBe(JSON.stringify({ summary: all.books.find((b) => b.book === book), positions: all.positions.filter((p) => p.book === book) }));
            }
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('an unchanged position is the same report object from one report to the next', () => {
    const l = newLedger({});
    for (const w of [
      { type: 'price', id: 'p1', ts: '2026-01-01T00:00:00Z', asset: 'BTC', quote: 'USD', price: '100' },
      { type: 'price', id: 'p2', ts: '2026-01-01T00:00:00Z', asset: 'ETH', quote: 'USD', price: '10' },
      { type: 'trade', id: 't1', ts: '2026-01-01T00:00:01Z', book: 'b1', venue: 'v1', instrument: 'BTC/USD', side: 'buy', qty: '1', price: '100' },
      { type: 'trade', id: 't2', ts: '2026-01-01T00:00:02Z', book: 'b1', venue: 'v1', instrument: 'ETH/USD', side: 'buy', qty: '1', price: '10' },
    ]) l.submit(parse(l, w));
    const first = buildPositions(l).positions;
    l.submit(parse(l, { type: 'price', id: 'p3', ts: '2026-01-01T00:00:03Z', asset: 'ETH', quote: 'USD', price: '11' }));
    const second = buildPositions(l).positions;
    expect(second.find((p) => p.asset === 'BTC')).toBe(first.find((p) => p.asset === 'BTC'));
    expect(second.find((p) => p.asset === 'ETH')).not.toBe(first.find((p) => p.asset === 'ETH'));
    expect(second.find((p) => p.asset === 'ETH')!.mark).toBe('11');
  });
});
