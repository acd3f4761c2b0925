/**
 * Properties of the whole ledger:
 * - any arrival order, with any corrections, gives the state of a clean replay of the sorted,
 *   corrected log (the corrected log is computed here independently of the ledger's machinery);
 * - quantity and total PnL do not depend on the cost method;
 * - lots sum to positions, and venue balances sum to positions.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { correctedLog, documentOf, newLedger, parse, scenarioArb, shuffle, T0, type Wire } from '../../test/support/scenarios.js';
import { formatTimestamp } from './time.js';
import { Dec } from './decimal.js';
import { compareLog } from './events.js';
import { COST_METHODS } from './lots.js';
import { buildReport } from './report.js';
import { restoreBook, restoreMarks, snapshotBook, snapshotMarks, type BookSnapshot, type MarksSnapshot } from './snapshot.js';

describe('ledger: arrival order and corrections never change the state', () => {
  it('any permutation, with any corrections, equals a clean replay of the sorted corrected log', () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer({ min: 1, max: 5 }), fc.nat(), (s, snapshotEvery, seed) => {
        const arrival = shuffle([...s.base, ...s.corrections], seed);
        const live = newLedger({ snapshotEvery });
        for (const w of arrival) live.submit(parse(live, w));

        const clean = newLedger({ snapshotEvery: 1_000_000 });
        const sorted = correctedLog(s)
          .map((w) => parse(clean, w))
          .sort(compareLog);
        for (const e of sorted) clean.submit(e);
        expect(documentOf(live)).toBe(documentOf(clean));
      }),
      { numRuns: 300 },
    );
  });

  it('a streaming ledger (no retention) equals the retaining one on a sorted log, and asks for a replay otherwise', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const retaining = newLedger({});
        const streaming = newLedger({ retain: false });
        const sorted = correctedLog(s).map((w) => parse(retaining, w)).sort(compareLog);
        for (const e of sorted) {
          retaining.submit(e);
          streaming.submit(e);
        }
        expect(streaming.needsReplay).toBe(false);
        expect(documentOf(streaming)).toBe(documentOf(retaining));
      }),
      { numRuns: 100 },
    );
  });
});

describe('snapshots', () => {
  it('a book restored from its snapshot books the rest of the log exactly as the original', () => {
    fc.assert(
      fc.property(scenarioArb, fc.nat(), fc.constantFrom(...COST_METHODS), (s, cut, method) => {
        const config = { defaults: { method, fees: 'separate' as const, pool: 'book' as const } };
        const full = newLedger(config);
        const sorted = correctedLog(s).map((w) => parse(full, w)).sort(compareLog);
        for (const e of sorted) full.submit(e);
        const k = cut % (sorted.length + 1);
        const first = newLedger(config);
        for (const e of sorted.slice(0, k)) first.submit(e);
        const resumed = newLedger(config);
        restoreMarks(resumed.marks, JSON.parse(JSON.stringify(snapshotMarks(first.marks))) as MarksSnapshot);
        for (const book of first.bookNames()) {
          const snap = JSON.parse(JSON.stringify(snapshotBook(first.bookState(book)!))) as BookSnapshot;
          resumed.adoptBook(restoreBook(snap));
        }
        for (const e of sorted.slice(k)) resumed.submit(e);
        expect(documentOf(resumed)).toBe(documentOf(full));
      }),
      { numRuns: 200 },
    );
  });
});

describe('ledger: invariants', () => {
  it('total PnL does not depend on the fee convention', () => {
    fc.assert(
      fc.property(scenarioArb, fc.constantFrom(...COST_METHODS), (s, method) => {
        const log = correctedLog(s);
        const totals = (['separate', 'capitalise'] as const).map((fees) => {
          const l = newLedger({ defaults: { method, fees, pool: 'book' } });
          for (const w of log) l.submit(parse(l, w));
          return buildReport(l).books.map((b) => [b.book, b.totalPnl]);
        });
        expect(totals[1]).toEqual(totals[0]);
      }),
      { numRuns: 150 },
    );
  });

  it('quantity and total PnL do not depend on the cost method; lots and balances sum to positions', () => {
    fc.assert(
      fc.property(scenarioArb, fc.constantFrom<'separate' | 'capitalise'>('separate', 'capitalise'), (s, fees) => {
        const log = correctedLog(s);
        const finalMarks: Wire[] = ['BTC', 'ETH', 'BNB', 'BTC/USD:BTC'].map((asset, i) => ({ type: 'price', id: `m${i}`, ts: formatTimestamp(T0 + 3600e6), asset, quote: 'USD', price: '1234.5' }));
        const byMethod = COST_METHODS.map((method) => {
          const l = newLedger({ defaults: { method, fees, pool: 'book' } });
          for (const w of [...log, ...finalMarks]) l.submit(parse(l, w));
          return buildReport(l, { lots: true, includeFlat: true });
        });
        const first = byMethod[0]!;
        for (const r of byMethod) {
          expect(r.positions.map((p) => [p.book, p.asset, p.qty])).toEqual(first.positions.map((p) => [p.book, p.asset, p.qty]));
          expect(r.books.map((b) => [b.book, b.totalPnl])).toEqual(first.books.map((b) => [b.book, b.totalPnl]));
          for (const p of r.positions) {
            if (p.kind !== 'spot') continue;
            const lots = p.lots ?? [];
            expect(lots.reduce((a, l) => a.add(Dec.of(l.qty)), Dec.ZERO).toString()).toBe(p.qty);
            expect(lots.reduce((a, l) => a.add(Dec.of(l.cost)), Dec.ZERO).toString()).toBe(p.costBasis);
            const held = r.balances.filter((b) => b.book === p.book && b.asset === p.asset).reduce((a, b) => a.add(Dec.of(b.qty)), Dec.ZERO);
            expect(held.toString()).toBe(p.qty);
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});

/** Deterministic Fisher-Yates from a seed (mulberry32). */
