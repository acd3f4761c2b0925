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
import { bookUpdateSteps, buildBookUpdate, buildPositions, buildReport, REPORT_STEP, runSteps, type ReportOptions } from './report.js';

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
            // A sliced update started and paused mid-way (the service answers GETs between its
            // slices): the reports below overtake it, and it still ends as the fresh ledger's.
            const paused = live.bookNames().map((book) => {
              const steps = bookUpdateSteps(live, book);
              for (let k = 0; k < i % 3; k++) {
                const r = steps.next();
                if (r.done === true) return { book, finish: () => r.value };
              }
              return { book, finish: () => runSteps(steps) };
            });
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
            for (const { book, finish } of paused) {
              expect(JSON.stringify(finish())).toBe(JSON.stringify({ summary: all.books.find((b) => b.book === book), positions: all.positions.filter((p) => p.book === book) }));
            }
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a position unpriced through a cross is priced once the cross completes (its lookup read more assets, the valuation stayed the same)', () => {
    const live = newLedger({});
    const w = (x: Record<string, unknown>): void => void live.submit(parse(live, { ts: '2026-01-01T00:00:00Z', ...x }));
    const ethMark = (): string | null | undefined => buildReport(live).positions.find((p) => p.asset === 'ETH')?.mark;
    w({ type: 'trade', id: 't1', book: 'b1', venue: 'v1', instrument: 'ETH/USD', side: 'buy', qty: '0.01', price: '0.1' });
    expect(ethMark()).toBeNull();
    w({ type: 'price', id: 'p1', asset: 'ETH', quote: 'BTC', price: '0.1' });
    expect(ethMark()).toBeNull(); // ETH in BTC, BTC in nothing yet: the same valuation, read more assets
    w({ type: 'price', id: 'p2', asset: 'BTC', quote: 'USD', price: '0.1' });
    expect(ethMark()).toBe('0.01');
  });

  it('a report that overtakes a sliced update paused mid-way values what that update had left, and the update ends right', () => {
    // More positions than REPORT_STEP, all changed: the update's sync pauses with positions still to value.
    const n = REPORT_STEP * 2 + 10;
    const asset = (i: number): string => `X${String(i).padStart(4, '0')}`;
    const wires: Record<string, unknown>[] = [];
    for (let i = 0; i < n; i++) wires.push({ type: 'price', id: `p${i}`, ts: '2026-01-01T00:00:00Z', asset: asset(i), quote: 'USD', price: '10' });
    for (let i = 0; i < n; i++) wires.push({ type: 'trade', id: `a${i}`, ts: '2026-01-01T00:00:01Z', book: 'b1', venue: 'v1', instrument: `${asset(i)}/USD`, side: 'buy', qty: '2', price: '10' });
    const later: Record<string, unknown>[] = [];
    for (let i = 0; i < n; i++) later.push({ type: 'trade', id: `b${i}`, ts: '2026-01-01T00:00:02Z', book: 'b1', venue: 'v1', instrument: `${asset(i)}/USD`, side: 'sell', qty: '1', price: String(11 + (i % 7)) });
    const live = newLedger({});
    for (const w of wires) live.submit(parse(live, w));
    buildPositions(live); // the view holds every position
    for (const w of later) live.submit(parse(live, w));
    const fresh = newLedger({});
    for (const w of [...wires, ...later]) fresh.submit(parse(fresh, w));
    const expected = buildReport(fresh);

    const steps = bookUpdateSteps(live, 'b1');
    expect(steps.next().done).toBe(false); // paused after REPORT_STEP positions valued again
    expect(JSON.stringify(buildPositions(live).positions)).toBe(JSON.stringify(expected.positions));
    expect(JSON.stringify(runSteps(steps))).toBe(JSON.stringify({ summary: expected.books[0], positions: expected.positions }));
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
