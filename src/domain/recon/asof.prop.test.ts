/**
 * Properties of the as-of balances and the consistency checks over generated desks (every event
 * kind, corrections, late arrival):
 * - UTL's balance of a cell as of an instant equals the balance of a ledger that never saw
 *   anything after that instant (`until`), whatever the arrival order and the snapshot spacing;
 * - movements of a cell over (a, b] add up to the difference of its balances at b and at a;
 * - every consistency check passes on whatever the ledger booked.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Dec } from '../decimal.js';
import { T0, newLedger, parse, scenarioArb, shuffle } from '../../../test/support/scenarios.js';
import { balancesAsOf, cellQty, movementsForCells, movementsOf, type BalanceQuery } from './asof.js';
import { consistencyChecks } from './checks.js';

const queryArb = fc.record({
  s: fc.integer({ min: -1, max: 42 }),
  venue: fc.constantFrom('v1', 'v2'),
  asset: fc.constantFrom('BTC', 'ETH', 'USD', 'BNB'),
  book: fc.constantFrom(undefined, 'b1', 'b2'),
});

describe('as-of balances', () => {
  it('equal a ledger that stopped at the instant, and movements bridge two instants', () => {
    fc.assert(
      fc.property(scenarioArb, fc.array(queryArb, { minLength: 1, maxLength: 6 }), fc.integer(), fc.integer({ min: 1, max: 5 }), (sc, qs, seed, every) => {
        const wires = shuffle([...sc.base, ...sc.corrections], seed);
        const live = newLedger({ snapshotEvery: every });
        for (const w of wires) live.submit(parse(live, w));
        const queries: BalanceQuery[] = qs.map((q) => ({ ts: T0 + q.s * 1_000_000, venue: q.venue, account: 'default', asset: q.asset, book: q.book }));
        const got = balancesAsOf(live, queries);
        expect(got.needs).toEqual([]);
        for (const [i, q] of queries.entries()) {
          const past = newLedger({ until: q.ts });
          for (const w of wires) past.submit(parse(past, w));
          let want = Dec.ZERO;
          for (const b of past.bookNames()) if (q.book === undefined || q.book === b) want = want.add(cellQty(past.bookState(b)!, q.venue, 'default', q.asset));
          expect(got.qty[i]!.toString()).toBe(want.toString());
        }
        // Movements over (a, b] bridge the balances at a and at b.
        const [a, b] = [queries[0]!.ts, queries[queries.length - 1]!.ts].sort((x, y) => x - y) as [number, number];
        const cell = { venue: queries[0]!.venue, account: 'default', asset: queries[0]!.asset, book: queries[0]!.book };
        const at = balancesAsOf(live, [{ ...cell, ts: a }, { ...cell, ts: b }]).qty;
        const m = movementsOf(live, cell, a, b);
        expect(m.complete).toBe(true);
        const net = m.movements.reduce((s, x) => s.add(x.delta), Dec.ZERO);
        expect(at[0]!.add(net).toString()).toBe(at[1]!.toString());
      }),
      { numRuns: 150 },
    );
  });

  it('movements read without booking equal movements booked again on a copy', () => {
    fc.assert(
      fc.property(scenarioArb, fc.array(queryArb, { minLength: 1, maxLength: 5 }), fc.array(fc.option(fc.integer({ min: -1, max: 40 }), { nil: undefined }), { minLength: 5, maxLength: 5 }), fc.integer(), (sc, qs, afters, seed) => {
        const l = newLedger({ snapshotEvery: 3 });
        for (const w of shuffle([...sc.base, ...sc.corrections], seed)) l.submit(parse(l, w));
        const reqs = qs.map((q, i) => {
          const a = afters[i];
          return { venue: q.venue, account: 'default', asset: q.asset, book: q.book, afterTs: a === undefined ? undefined : T0 + Math.min(a, q.s) * 1_000_000, toTs: T0 + q.s * 1_000_000 };
        });
        const fast = movementsForCells(l, reqs);
        for (const [i, r] of reqs.entries()) {
          const slow = movementsOf(l, r, r.afterTs, r.toTs);
          const show = (m: typeof slow) => m.movements.map((x) => `${x.book} ${x.id} ${x.delta.toString()}`);
          expect(show(fast[i]!)).toEqual(show(slow));
          expect(fast[i]!.complete).toBe(slow.complete);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('every consistency check passes on what the ledger booked', () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer(), (sc, seed) => {
        const l = newLedger({ snapshotEvery: 4 });
        for (const w of shuffle([...sc.base, ...sc.corrections], seed)) l.submit(parse(l, w));
        const failed = consistencyChecks(l, { lendingVenues: new Set(['v1', 'v2']) }).filter((c) => !c.ok);
        expect(failed).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});
