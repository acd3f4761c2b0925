/**
 * A spot fill with no fee or one fee in the quote takes a raw path (book.ts, spotTradeRaw): no Dec
 * made, lots booked through QueueBook.legAtUnit. This test holds it to the Dec path it shortcuts:
 * after any sequence of fills (quotes that are cash or not, fees in the quote, the base, a third
 * asset or none, rebates), marks and every method and fee convention, both give the same book to
 * the unit and the scale: lots, realized PnL, fees, balances, cash fees, sequence numbers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SPOT_FAST_PATH, type BookSettings, type BookState } from './book.js';
import { Dec } from './decimal.js';
import type { Fee, LedgerEvent } from './events.js';
import { COST_METHODS, type Lot } from './lots.js';
import { Ledger } from './ledger.js';

function raw(d: Dec | undefined): string {
  return d === undefined ? '-' : `${d.u}e-${d.s}`;
}

function rawLot(l: Lot): string {
  return `${raw(l.qty)} ${raw(l.cost)} ${raw(l.unit)} ${l.ts} ${l.seq}`;
}

/** Everything a book holds, as exact text (units and scale). */
function bookText(s: BookState): string {
  const out: string[] = [];
  for (const [k, p] of s.positions) {
    if (p.kind !== 'spot') continue;
    out.push(`${k}: qty ${raw(p.lots.qty())} cost ${raw(p.lots.cost())} realized ${raw(p.realized)} fees ${raw(p.fees)} lots ${p.lots.lots().map(rawLot).join('|')}`);
  }
  for (const [venue, accounts] of s.balances) for (const [account, assets] of accounts) for (const [asset, cell] of assets) out.push(`${venue}/${account}/${asset}: ${raw(cell.qty)}`);
  out.push(`cashFees ${raw(s.cashFees)} lotSeq ${s.lotSeq} booked ${s.booked} unbooked ${[...s.unbooked.keys()].join(',')}`);
  const stamps: string[] = [];
  s.stamps.forEach((stamp, asset) => stamps.push(`${asset}=${stamp}`));
  out.push(`stamps ${stamps.sort().join(',')} changes ${s.changes}`);
  return out.join('\n');
}

const decimal = (maxUnits: bigint, maxScale: number): fc.Arbitrary<Dec> =>
  fc.tuple(fc.bigInt({ min: 1n, max: maxUnits }), fc.integer({ min: 0, max: maxScale })).map(([u, s]) => new Dec(u, s));

const feeArb: fc.Arbitrary<'none' | 'quote' | 'base' | 'other' | 'zero' | 'two'> = fc.constantFrom('none', 'quote', 'quote', 'quote', 'base', 'other', 'zero', 'two');

const stepArb = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('trade' as const),
      instrument: fc.constantFrom('BTC/USD', 'BTC/USDT', 'ETH/USDT', 'ETH/BTC', 'USDT/USD'),
      venue: fc.constantFrom('v1', 'v2'),
      side: fc.constantFrom('buy' as const, 'sell' as const),
      qty: fc.oneof(decimal(30n, 2), decimal(10n ** 12n, 9)),
      price: decimal(10n ** 9n, 6),
      fee: feeArb,
      feeAmount: fc.tuple(fc.bigInt({ min: -(10n ** 6n), max: 10n ** 6n }), fc.integer({ min: 0, max: 6 })).map(([u, s]) => new Dec(u, s)),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('price' as const), asset: fc.constantFrom('USDT', 'BTC', 'ETH', 'BNB'), price: decimal(10n ** 8n, 4) }) },
);

type Step = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;

function events(steps: readonly Step[]): LedgerEvent[] {
  const out: LedgerEvent[] = [];
  let ts = 1_700_000_000_000_000;
  // Every asset has a mark first, so that fills are valued (some later marks move the rates).
  for (const asset of ['USDT', 'BTC', 'ETH', 'BNB']) out.push({ type: 'price', id: `p-${asset}`, ts: ts++, asset, quote: 'USD', price: new Dec(10001n, 4) });
  steps.forEach((st, i) => {
    ts += 1000;
    if (st.kind === 'price') {
      out.push({ type: 'price', id: `p${i}`, ts, asset: st.asset, quote: 'USD', price: st.price });
      return;
    }
    const [base, quote] = st.instrument.split('/') as [string, string];
    const fees: Fee[] = [];
    if (st.fee === 'quote') fees.push({ asset: quote, amount: st.feeAmount });
    else if (st.fee === 'base') fees.push({ asset: base, amount: st.feeAmount });
    else if (st.fee === 'other') fees.push({ asset: 'BNB', amount: st.feeAmount });
    else if (st.fee === 'zero') fees.push({ asset: quote, amount: new Dec(0n, 3) });
    else if (st.fee === 'two') fees.push({ asset: quote, amount: st.feeAmount }, { asset: quote, amount: Dec.ONE });
    out.push({ type: 'trade', id: `t${i}`, ts, book: 'b', venue: st.venue, account: 'main', instrument: st.instrument, side: st.side, qty: st.qty, price: st.price, fees });
  });
  return out;
}

function book(settings: BookSettings, evs: readonly LedgerEvent[], fast: boolean): string {
  SPOT_FAST_PATH.on = fast;
  const ledger = new Ledger({ retain: false, defaults: settings });
  for (const e of evs) ledger.submit(e);
  expect(ledger.needsReplay).toBe(false);
  const state = ledger.bookState('b');
  return state === undefined ? 'no book' : bookText(state);
}

describe('spot fills on raw units (spotTradeRaw) against the Dec path', () => {
  afterEach(() => {
    SPOT_FAST_PATH.on = true;
  });

  it('give the same book to the unit and scale, for every method, fee convention and pooling', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...COST_METHODS),
        fc.constantFrom('separate' as const, 'capitalise' as const),
        fc.constantFrom('book' as const, 'venue' as const),
        fc.array(stepArb, { minLength: 1, maxLength: 80 }),
        (method, fees, pool, steps) => {
          const evs = events(steps);
          expect(book({ method, fees, pool }, evs, true)).toBe(book({ method, fees, pool }, evs, false));
        },
      ),
      { numRuns: 300 },
    );
  });
});
