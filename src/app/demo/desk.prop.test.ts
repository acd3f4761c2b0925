/**
 * The demo desk: deterministic from its seed whatever the runner's steps, every event valid and
 * bookable, and its balance reports equal to its own running balances (and to what UTL's domain
 * books from the same events) except where a break was injected and recorded.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Dec } from '../../domain/decimal.js';
import { Ledger } from '../../domain/ledger.js';
import { balancesAsOf } from '../../domain/recon/asof.js';
import { unbookedEvents } from '../../domain/report.js';
import { parseTimestamp } from '../../domain/time.js';
import { validateEvent } from '../../domain/validate.js';
import { DEFAULT_DESK, DemoDesk, VENUES, type Advance, type DeskOptions } from './desk.js';

const START_MS = Date.UTC(2026, 0, 2, 10, 0, 0);

function run(options: DeskOptions, stepsMs: readonly number[]): Advance {
  const desk = new DemoDesk(options, START_MS);
  const all: Advance = { events: [], reports: [] };
  let at = START_MS;
  for (const step of stepsMs) {
    at += step;
    const a = desk.advance(at);
    all.events.push(...a.events);
    all.reports.push(...a.reports);
  }
  return all;
}

describe('DemoDesk', () => {
  it('gives the same events for a seed, however the runner slices the clock', () => {
    const options = { ...DEFAULT_DESK, seed: 7 };
    const once = run(options, [12_000]);
    const sliced = run(options, Array.from({ length: 240 }, () => 50));
    expect(JSON.stringify(sliced)).toBe(JSON.stringify(once));
    expect(JSON.stringify(run({ ...options, seed: 8 }, [12_000]))).not.toBe(JSON.stringify(once));
  });

  it('makes every kind of event, at about the rate asked for', () => {
    const { events } = run({ ...DEFAULT_DESK, seed: 3 }, [70_000]);
    const types = new Set(events.map((e) => e.type));
    expect([...types].sort()).toEqual(['balance', 'deposit', 'funding', 'instrument', 'price', 'trade', 'transfer', 'withdrawal']);
    const venues = new Set(events.filter((e) => e.type === 'trade').map((e) => e.venue));
    expect(venues.size).toBeGreaterThanOrEqual(6);
    expect(events.some((e) => e.type === 'trade' && String(e.instrument).includes(':'))).toBe(true);
    expect(events.some((e) => e.type === 'trade' && (e.fee as { amount: string } | undefined)?.amount.startsWith('-') === true)).toBe(true);
    expect(events.length / 70).toBeGreaterThan(DEFAULT_DESK.ratePerSec * 0.9);
    expect(events.length / 70).toBeLessThan(DEFAULT_DESK.ratePerSec * 1.1);
  });

  it('reports its own running balances, apart from recorded injections, and UTL books every event to the same balances', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 60, maxLength: 60 }), (seed, steps) => {
        const desk = new DemoDesk({ ...DEFAULT_DESK, seed, ratePerSec: 120, breakEveryMs: 6_000 }, START_MS);
        const ledger = new Ledger();
        const reports: Advance['reports'] = [];
        const ids = new Set<string>();
        let at = START_MS;
        let lastTs = 0;
        for (const step of steps) {
          at += step;
          const a = desk.advance(at);
          reports.push(...a.reports);
          for (const w of a.events) {
            const v = validateEvent(w, ledger.instruments);
            if (!v.ok) throw new Error(`invalid ${JSON.stringify(w)}: ${JSON.stringify(v.issues)}`);
            expect(ids.has(v.event.id), v.event.id).toBe(false);
            ids.add(v.event.id);
            expect(w.ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
            expect(v.event.ts).toBeGreaterThanOrEqual(lastTs);
            expect(v.event.ts).toBeLessThanOrEqual(at * 1000);
            lastTs = v.event.ts;
            const r = ledger.submit(v.event);
            if (r.status === 'rejected' || r.status === 'unbooked' || r.status === 'history') throw new Error(`${v.event.id}: ${JSON.stringify(r)}`);
          }
        }
        expect(unbookedEvents(ledger)).toEqual([]);
        // Reported = running + the deltas of the injections it names; none named: equal.
        const byId = new Map(desk.injections.map((i) => [i.id, i]));
        for (const r of reports) {
          const deltas = r.injections.flatMap((id) => byId.get(id)!.deltas.filter((d) => d.asset === r.asset).map((d) => Dec.of(d.delta)));
          expect(Dec.of(r.reported).eq(deltas.reduce((s, d) => s.add(d), Dec.of(r.running))), r.id).toBe(true);
          if (r.injections.length === 0) expect(r.reported).toBe(r.running);
        }
        expect(desk.injections.length).toBeGreaterThan(0);
        for (const i of desk.injections) expect(reports.some((r) => r.injections.includes(i.id)), i.id).toBe(true);
        // UTL's domain, booking the same events, holds the running balances at every report.
        const asOf = balancesAsOf(
          ledger,
          reports.map((r) => ({ ts: parseTimestamp(r.ts)!, venue: r.venue, account: 'default', asset: r.asset, book: undefined })),
        );
        reports.forEach((r, i) => expect(asOf.qty[i]?.toString(), `${r.id} running ${r.running}`).toBe(Dec.of(r.running).toString()));
        expect(new Set(reports.map((r) => r.venue))).toEqual(new Set(VENUES));
      }),
      { numRuns: 10 },
    );
  });
});
