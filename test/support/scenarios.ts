/**
 * Generated scenarios for the ledger's properties: events of every kind over two books and two
 * venues, corrections of them, and the corrected log computed without the ledger.
 */
import fc from 'fast-check';
import { Dec } from '../../src/domain/decimal.js';
import type { LedgerEvent } from '../../src/domain/events.js';
import { Ledger, type LedgerConfig } from '../../src/domain/ledger.js';
import { stateDocument } from '../../src/domain/report.js';
import { formatTimestamp } from '../../src/domain/time.js';
import { validateEvent } from '../../src/domain/validate.js';

export type Wire = Record<string, unknown>;

export const T0 = Date.UTC(2026, 0, 1) * 1000;
export const INSTRUMENTS: Wire[] = [
  { type: 'instrument', symbol: 'BTC/USD:USD', multiplier: '0.01' },
  { type: 'instrument', symbol: 'BTC/USD:BTC', multiplier: '100' },
];

export const dec = (maxUnits: number, scale: number) => fc.integer({ min: 1, max: maxUnits }).map((u) => new Dec(BigInt(u), scale).toString());
export const tsArb = fc.integer({ min: 0, max: 40 }).map((s) => formatTimestamp(T0 + s * 1_000_000));
export const book = fc.constantFrom('b1', 'b2');
export const venue = fc.constantFrom('v1', 'v2');

export const tradeArb = fc.record({
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
export const pairArb = fc.constantFrom(['BTC', 'USD'], ['ETH', 'USD'], ['BNB', 'USD'], ['BTC/USD:BTC', 'USD'], ['ETH', 'BTC'], ['BNB', 'ETH']);
export const priceArb = fc.record({ type: fc.constant('price'), ts: tsArb, pair: pairArb, price: dec(3000, 1) }).map(({ pair, ...rest }) => ({ ...rest, asset: pair[0], quote: pair[1] }));
export const transferArb = fc.record({ type: fc.constant('transfer'), ts: tsArb, book, asset: fc.constantFrom('BTC', 'ETH', 'USD'), qty: dec(50, 2), from: fc.constant('v1'), to: fc.constant('v2'), fee: fc.option(dec(5, 3), { nil: undefined }) });
export const depositArb = fc.record({ type: fc.constant('deposit'), ts: tsArb, book, venue, asset: fc.constantFrom('BTC', 'ETH', 'BNB', 'USD'), qty: dec(500, 2), cost: fc.option(dec(100000, 2), { nil: undefined }) });
export const withdrawalArb = fc.record({ type: fc.constant('withdrawal'), ts: tsArb, book, venue, asset: fc.constantFrom('BTC', 'ETH'), qty: dec(100, 2), fee: fc.option(dec(5, 3), { nil: undefined }) });
export const fundingArb = fc.record({ type: fc.constant('funding'), ts: tsArb, book, venue, instrument: fc.constantFrom('BTC/USD:USD', 'BTC/USD:BTC'), amount: fc.integer({ min: -500, max: 500 }).map((u) => new Dec(BigInt(u), 3).toString()) });

export const baseEventArb = fc.oneof(
  { weight: 6, arbitrary: tradeArb },
  { weight: 3, arbitrary: priceArb },
  { weight: 1, arbitrary: transferArb },
  { weight: 1, arbitrary: depositArb },
  { weight: 1, arbitrary: withdrawalArb },
  { weight: 1, arbitrary: fundingArb },
);

/** A correction: cancel or amend of the i-th base event (by index, resolved to its id). */
export const correctionArb = fc.record({
  kind: fc.constantFrom('cancel', 'amend', 'cancel-amend'),
  target: fc.nat(),
  ts: tsArb,
  price: dec(2000, 1),
  qty: fc.option(dec(300, 2), { nil: undefined }),
  moveTo: fc.option(tsArb, { nil: undefined }),
});

export interface Scenario {
  base: Wire[];
  corrections: Wire[];
}

export const scenarioArb: fc.Arbitrary<Scenario> = fc
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

export function stripUndefined(o: Wire): Wire {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

export function parse(ledger: Ledger, w: Wire): LedgerEvent {
  const v = validateEvent(w, ledger.instruments);
  if (!v.ok) throw new Error(`generated event invalid: ${JSON.stringify(v.issues)} in ${JSON.stringify(w)}`);
  return v.event;
}

export function newLedger(config: Partial<LedgerConfig>): Ledger {
  const l = new Ledger(config);
  for (const i of INSTRUMENTS) l.submit(parse(l, i));
  return l;
}

/** The corrected log, computed directly from the wire events: no ledger involved. */
export function correctedLog(s: Scenario): Wire[] {
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

export function documentOf(l: Ledger): string {
  const doc = stateDocument(l) as { unbooked: { code: string }[] };
  // Corrections are part of arrival, not of the corrected log: compare the booked state only.
  doc.unbooked = doc.unbooked.filter((u) => u.code !== 'ORPHAN_CORRECTION' && u.code !== 'CORRECTION_TARGET_INVALID');
  return JSON.stringify(doc);
}

export function shuffle<T>(xs: T[], seed: number): T[] {
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
