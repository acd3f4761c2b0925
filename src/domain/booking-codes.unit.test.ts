/**
 * Every booking-stage rejection code, given/when/then: what the book refuses, why, and that the
 * refusal is undone when the missing piece arrives (a late mark rebooks).
 */
import { describe, expect, it } from 'vitest';
import { ledgerOf } from '../../test/support/ledger.js';
import { unbookedEvents } from './report.js';

const T = (s: number): string => `2026-03-01T00:00:${String(s).padStart(2, '0')}Z`;
const codes = (events: Record<string, unknown>[], config = {}): Record<string, string> =>
  Object.fromEntries(unbookedEvents(ledgerOf(events, config).ledger).map((u) => [u.id, u.code]));

describe('booking-stage rejections', () => {
  it('UNVALUED: a crypto-to-crypto fill, a fee in a third asset, a deposit without cost, a funding rate — each with no mark', () => {
    const got = codes([
      { type: 'trade', id: 'eth-btc', ts: T(1), book: 'b', venue: 'v', instrument: 'ETH/BTC', side: 'buy', qty: '1', price: '0.05' },
      { type: 'trade', id: 'bnb-fee', ts: T(2), book: 'b', venue: 'v', instrument: 'BTC/USD', side: 'buy', qty: '1', price: '100', fee: { asset: 'BNB', amount: '0.1' } },
      { type: 'deposit', id: 'dep', ts: T(3), book: 'b', venue: 'v', asset: 'SOL', qty: '5' },
      { type: 'instrument', symbol: 'BTC/USDT:USDT', multiplier: '1' },
      { type: 'funding', id: 'fund', ts: T(4), book: 'b', venue: 'v', instrument: 'BTC/USDT:USDT', rate: '0.0001' },
    ]);
    expect(got).toEqual({ 'eth-btc': 'UNVALUED', 'bnb-fee': 'UNVALUED', dep: 'UNVALUED', fund: 'UNVALUED' });
  });

  it('UNVALUED is undone by a late mark: the book is rebooked as if the mark had always been there', () => {
    const fill = { type: 'trade', id: 'eth-btc', ts: T(5), book: 'b', venue: 'v', instrument: 'ETH/BTC', side: 'buy', qty: '1', price: '0.05' };
    const { ledger, results } = ledgerOf([fill, { type: 'price', ts: T(1), asset: 'BTC', quote: 'USD', price: '40000' }]);
    expect(results[0]).toMatchObject({ status: 'unbooked', code: 'UNVALUED' });
    expect(unbookedEvents(ledger)).toEqual([]);
    expect(ledger.bookState('b')!.booked).toBe(1);
  });

  it('ORPHAN_CORRECTION and CORRECTION_TARGET_INVALID: corrections that correct nothing are reported, not applied', () => {
    const got = codes([
      { type: 'deposit', id: 'dep', ts: T(1), book: 'b', venue: 'v', asset: 'USD', qty: '5' },
      { type: 'cancel', id: 'c-orphan', ts: T(2), target: 'never-sent' },
      { type: 'amend', id: 'a-dep', ts: T(3), target: 'dep', fields: { qty: '6' } },
      { type: 'cancel', id: 'c1', ts: T(4), target: 'a-dep' },
      { type: 'cancel', id: 'c2', ts: T(5), target: 'c1' },
    ]);
    expect(got).toEqual({ 'c-orphan': 'ORPHAN_CORRECTION', 'a-dep': 'CORRECTION_TARGET_INVALID', c2: 'CORRECTION_TARGET_INVALID' });
  });

  it('INSUFFICIENT_QUANTITY: under venue pooling, a transfer of more than the source venue holds', () => {
    const got = codes(
      [
        { type: 'deposit', id: 'dep', ts: T(1), book: 'b', venue: 'binance', asset: 'BTC', qty: '1', cost: '100' },
        { type: 'transfer', id: 'x', ts: T(2), book: 'b', asset: 'BTC', qty: '1.5', from: 'binance', to: 'kraken' },
      ],
      { defaults: { method: 'fifo', fees: 'separate', pool: 'venue' } },
    );
    expect(got).toEqual({ x: 'INSUFFICIENT_QUANTITY' });
  });

  it('UNKNOWN_INSTRUMENT at booking: an amend that moves a trade onto a derivative with no terms at its venue', () => {
    const got = codes([
      { type: 'trade', id: 't', ts: T(1), book: 'b', venue: 'v', instrument: 'BTC/USD', side: 'buy', qty: '1', price: '100' },
      { type: 'amend', id: 'a', ts: T(2), target: 't', fields: { instrument: 'BTC/USD:USD' } },
    ]);
    expect(got).toEqual({ t: 'UNKNOWN_INSTRUMENT' });
  });
});
