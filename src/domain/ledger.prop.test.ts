/**
 * Properties of the whole ledger:
 * - any arrival order, with any corrections, gives the state of a clean replay of the sorted,
 *   corrected log (the corrected log is computed here independently of the ledger's machinery);
 * - quantity and total PnL do not depend on the cost method;
 * - lots sum to positions, and venue balances sum to positions.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Dec } from './decimal.js';
import { compareLog, type LedgerEvent } from './events.js';
import { Ledger, type LedgerConfig } from './ledger.js';
import { COST_METHODS } from './lots.js';
import { buildReport, stateDocument } from './report.js';
import { restoreBook, restoreMarks, snapshotBook, snapshotMarks, type BookSnapshot, type MarksSnapshot } from './snapshot.js';
import { formatTimestamp } from './time.js';
import { validateEvent } from './validate.js';

type Wire = Record<string, unknown>;

const T0 = Date.UTC(2026, 0, 1) * 1000;
const INSTRUMENTS: Wire[] = [
  { type: 'instrument', symbol: 'BTC/USD:USD', multiplier: '0.01' },
  { type: 'instrument', symbol: 'BTC/USD:BTC', multiplier: '100' },
];

const dec = (maxUnits: number, scale: number) => fc.integer({ min: 1, max: maxUnits }).map((u) => new Dec(BigInt(u), scale).toString());
const tsArb = fc.integer({ min: 0, max: 40 }).map((s) => formatTimestamp(T0 + s * 1_000_000));
const book = fc.constantFrom('b1', 'b2');
const venue = fc.constantFrom('v1', 'v2');

const tradeArb = fc.record({
  type: fc.constant('trade'),
  ts: tsArb,
  book,
  venue,
  instrument: fc.constantFrom('BTC/USD', 'ETH/USD', 'ETH/BTC', 'BTC/USD:USD', 'BTC/USD:BTC'),
  side: fc.constantFrom('buy', 'sell'),
  qty: dec(400, 2),
  price: dec(2000, 1),
  fee: fc.option(
    fc.record({ asset: fc.constantFrom('USD', 'BTC', 'ETH', 'BNB'), amount: fc.integer({ min: -20, max: 60 }).map((u) => new Dec(BigInt(u), 2).toString()) }),
    { nil: undefined },
  ),
});
// Marks in USD, and crosses (ETH in BTC, BNB in ETH) whose R value goes through another mark.
const pairArb = fc.constantFrom(['BTC', 'USD'], ['ETH', 'USD'], ['BNB', 'USD'], ['BTC/USD:BTC', 'USD'], ['ETH', 'BTC'], ['BNB', 'ETH']);
const priceArb = fc.record({ type: fc.constant('price'), ts: tsArb, pair: pairArb, price: dec(3000, 1) }).map(({ pair, ...rest }) => ({ ...rest, asset: pair[0], quote: pair[1] }));
const transferArb = fc.record({ type: fc.constant('transfer'), ts: tsArb, book, asset: fc.constantFrom('BTC', 'ETH', 'USD'), qty: dec(50, 2), from: fc.constant('v1'), to: fc.constant('v2'), fee: fc.option(dec(5, 3), { nil: undefined }) });
const depositArb = fc.record({ type: fc.constant('deposit'), ts: tsArb, book, venue, asset: fc.constantFrom('BTC', 'ETH', 'BNB', 'USD'), qty: dec(500, 2), cost: fc.option(dec(100000, 2), { nil: undefined }) });
const withdrawalArb = fc.record({ type: fc.constant('withdrawal'), ts: tsArb, book, venue, asset: fc.constantFrom('BTC', 'ETH'), qty: dec(100, 2), fee: fc.option(dec(5, 3), { nil: undefined }) });
const fundingArb = fc.record({ type: fc.constant('funding'), ts: tsArb, book, venue, instrument: fc.constantFrom('BTC/USD:USD', 'BTC/USD:BTC'), amount: fc.integer({ min: -500, max: 500 }).map((u) => new Dec(BigInt(u), 3).toString()) });

const baseEventArb = fc.oneof(
  { weight: 6, arbitrary: tradeArb },
  { weight: 3, arbitrary: priceArb },
  { weight: 1, arbitrary: transferArb },
  { weight: 1, arbitrary: depositArb },
  { weight: 1, arbitrary: withdrawalArb },
  { weight: 1, arbitrary: fundingArb },
);

/** A correction: cancel or amend of the i-th base event (by index, resolved to its id). */
const correctionArb = fc.record({
  kind: fc.constantFrom('cancel', 'amend', 'cancel-amend'),
  target: fc.nat(),
  ts: tsArb,
  price: dec(2000, 1),
  qty: fc.option(dec(300, 2), { nil: undefined }),
  moveTo: fc.option(tsArb, { nil: undefined }),
});

interface Scenario {
  base: Wire[];
  corrections: Wire[];
}

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({ events: fc.array(baseEventArb, { minLength: 1, maxLength: 40 }), corrections: fc.array(correctionArb, { maxLength: 6 }) })
  .map(({ events, corrections }) => {
    const base = events.map((e, i) => stripUndefined({ ...e, id: `e${i}` }));
    const out: Wire[] = [];
    corrections.forEach((c, i) => {
      const target = base[c.target % base.length]!;
      if (c.kind === 'cancel') out.push({ type: 'cancel', id: `c${i}`, ts: c.ts, target: target.id });
      else if (target.type === 'trade') {
        const fields = stripUndefined({ price: c.price, qty: c.qty, ts: c.moveTo });
        out.push({ type: 'amend', id: `a${i}`, ts: c.ts, target: target.id, fields });
        if (c.kind === 'cancel-amend') out.push({ type: 'cancel', id: `ca${i}`, ts: c.ts, target: `a${i}` });
      }
    });
    return { base, corrections: out };
  });

function stripUndefined(o: Wire): Wire {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function parse(ledger: Ledger, w: Wire): LedgerEvent {
  const v = validateEvent(w, ledger.instruments);
  if (!v.ok) throw new Error(`generated event invalid: ${JSON.stringify(v.issues)} in ${JSON.stringify(w)}`);
  return v.event;
}

function newLedger(config: Partial<LedgerConfig>): Ledger {
  const l = new Ledger(config);
  for (const i of INSTRUMENTS) l.submit(parse(l, i));
  return l;
}

/** The corrected log, computed directly from the wire events: no ledger involved. */
function correctedLog(s: Scenario): Wire[] {
  const cancelled = new Set(s.corrections.filter((c) => c.type === 'cancel').map((c) => c.target as string));
  const amends = s.corrections
    .filter((c) => c.type === 'amend' && !cancelled.has(c.id as string))
    .sort((a, b) => (a.ts as string) < (b.ts as string) ? -1 : (a.ts as string) > (b.ts as string) ? 1 : (a.id as string) < (b.id as string) ? -1 : 1);
  const out: Wire[] = [];
  for (const e of s.base) {
    if (cancelled.has(e.id as string)) continue;
    let x = e;
    for (const a of amends) if (a.target === e.id) x = { ...x, ...(a.fields as Wire) };
    out.push(x);
  }
  return out;
}

function documentOf(l: Ledger): string {
  const doc = stateDocument(l) as { unbooked: { code: string }[] };
  // Corrections are part of arrival, not of the corrected log: compare the booked state only.
  doc.unbooked = doc.unbooked.filter((u) => u.code !== 'ORPHAN_CORRECTION' && u.code !== 'CORRECTION_TARGET_INVALID');
  return JSON.stringify(doc);
}

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
function shuffle<T>(xs: T[], seed: number): T[] {
  let a = seed >>> 0;
  const rnd = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}
