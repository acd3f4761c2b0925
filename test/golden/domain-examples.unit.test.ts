/**
 * Every worked example of DOMAIN.md, as given/when/then: the figures are the document's own.
 */
import { describe, expect, it } from 'vitest';
import { mark, nextTs, position, reportOf, trade } from '../support/ledger.js';
import type { CostMethod } from '../../src/domain/lots.js';

describe('DOMAIN.md §3 worked example: buy 1@100, 2@120, 1@90, sell 1.5@130, 1@80, mark 110', () => {
  const table: [CostMethod, string, string, string][] = [
    ['fifo', '-5', '150', '15'],
    ['lifo', '5', '160', '5'],
    ['hifo', '-15', '140', '25'],
    ['wac', '6.25', '161.25', '3.75'],
  ];
  for (const [method, realized, costBasis, unrealized] of table) {
    it(`${method}: realized ${realized}, cost basis ${costBasis}, unrealized ${unrealized}, total 10`, () => {
      const r = reportOf(
        [trade('buy', '1', '100'), trade('buy', '2', '120'), trade('buy', '1', '90'), trade('sell', '1.5', '130'), trade('sell', '1', '80'), mark('BTC', '110')],
        { defaults: { method, fees: 'separate', pool: 'book' } },
      );
      const p = position(r, 'BTC');
      expect(p.qty).toBe('1.5');
      expect(p.realizedPnl).toBe(realized);
      expect(p.costBasis).toBe(costBasis);
      expect(p.unrealizedPnl).toBe(unrealized);
      expect(p.totalPnl).toBe('10');
    });
  }
});

describe('DOMAIN.md §3 short then cover: sell 1@110, 1@120, 1@100, buy 1.5@105, mark 108', () => {
  const table: [CostMethod, string, string][] = [
    ['fifo', '12.5', '-160'],
    ['lifo', '2.5', '-170'],
    ['hifo', '17.5', '-155'],
    ['wac', '7.5', '-165'],
  ];
  for (const [method, realized, left] of table) {
    it(`${method}: realized ${realized}, cost basis left ${left}`, () => {
      const r = reportOf(
        [trade('sell', '1', '110'), trade('sell', '1', '120'), trade('sell', '1', '100'), trade('buy', '1.5', '105'), mark('BTC', '108')],
        { defaults: { method, fees: 'separate', pool: 'book' } },
      );
      const p = position(r, 'BTC');
      expect(p.qty).toBe('-1.5');
      expect(p.realizedPnl).toBe(realized);
      expect(p.costBasis).toBe(left);
    });
  }
});

describe('DOMAIN.md §3 flip', () => {
  it('long 1@100 and 1@90, sell 3@110: +30 and a short 1 at −110; buy 2@100: +10, long 1 at 100', () => {
    const events = [trade('buy', '1', '100'), trade('buy', '1', '90'), trade('sell', '3', '110')];
    let p = position(reportOf(events), 'BTC');
    expect(p.realizedPnl).toBe('30');
    expect(p.qty).toBe('-1');
    expect(p.costBasis).toBe('-110');
    events.push(trade('buy', '2', '100'));
    p = position(reportOf(events), 'BTC');
    expect(p.realizedPnl).toBe('40');
    expect(p.qty).toBe('1');
    expect(p.costBasis).toBe('100');
  });
});

describe('DOMAIN.md §4 fees: buy 2@100 fee 1, buy 2@110 fee 1.2, sell 3@120 fee 1.8, mark 115, FIFO', () => {
  const events = () => [
    trade('buy', '2', '100', { fee: { asset: 'USD', amount: '1' } }),
    trade('buy', '2', '110', { fee: { asset: 'USD', amount: '1.2' } }),
    trade('sell', '3', '120', { fee: { asset: 'USD', amount: '1.8' } }),
    mark('BTC', '115'),
  ];
  it('separate: realized 50, fees 4, unrealized 5, net 51', () => {
    const p = position(reportOf(events()), 'BTC');
    expect(p.realizedPnl).toBe('50');
    expect(p.fees).toBe('4');
    expect(p.unrealizedPnl).toBe('5');
    expect(p.totalPnl).toBe('51');
  });
  it('capitalise: lots 201 and 221.2, realized 46.6, unrealized 4.4, net 51', () => {
    const p = position(reportOf(events(), { defaults: { method: 'fifo', fees: 'capitalise', pool: 'book' } }), 'BTC');
    expect(p.realizedPnl).toBe('46.6');
    expect(p.unrealizedPnl).toBe('4.4');
    expect(p.costBasis).toBe('110.6');
    expect(p.fees).toBe('4');
    expect(p.totalPnl).toBe('51');
  });
});

describe('DOMAIN.md §5 derivatives', () => {
  const perp = (side: 'buy' | 'sell', qty: string, price: string) => trade(side, qty, price, { instrument: 'BTC/USD:USD' });
  const terms = { type: 'instrument', symbol: 'BTC/USD:USD', multiplier: '1' };
  it('buy 2@100, buy 1@103 (avg 101), sell 1.5@105 → +6, left 1.5 at 101; sell 3@99 → −3, short 1.5 at 99', () => {
    const events = [terms, perp('buy', '2', '100'), perp('buy', '1', '103'), perp('sell', '1.5', '105')];
    let p = position(reportOf(events), 'BTC/USD:USD');
    expect(p.realizedPnl).toBe('6');
    expect(p.qty).toBe('1.5');
    expect(p.avgPrice).toBe('101');
    events.push(perp('sell', '3', '99'));
    p = position(reportOf(events), 'BTC/USD:USD');
    expect(p.realizedPnl).toBe('3');
    expect(p.qty).toBe('-1.5');
    expect(p.avgPrice).toBe('99');
  });
  it('funding: long 2, mark 100, rate 0.0001 → −0.02', () => {
    const events = [
      terms,
      perp('buy', '2', '100'),
      mark('BTC/USD:USD', '100'),
      { type: 'funding', id: 'fu1', ts: '2030-01-01T00:00:00Z', book: 'b1', venue: 'binance', instrument: 'BTC/USD:USD', rate: '0.0001' },
    ];
    const p = position(reportOf(events), 'BTC/USD:USD');
    expect(p.funding).toBe('-0.02');
  });
});

describe('DOMAIN.md §7 numbers', () => {
  it('cost 100 for 3 units, sell 1 (WAC) → releases 33.333333333333333333, leaves 66.666666666666666667', () => {
    const r = reportOf(
      [
        { type: 'deposit', id: 'd1', ts: '2026-01-01T00:00:00Z', book: 'b1', venue: 'binance', asset: 'ETH', qty: '3', cost: '100' },
        { type: 'trade', id: 's1', ts: '2026-01-01T00:00:01Z', book: 'b1', venue: 'binance', instrument: 'ETH/USD', side: 'sell', qty: '1', price: '50' },
      ],
      { defaults: { method: 'wac', fees: 'separate', pool: 'book' } },
    );
    const p = position(r, 'ETH');
    expect(p.costBasis).toBe('66.666666666666666667');
    expect(p.realizedPnl).toBe('16.666666666666666667');
  });
  it('a full close after divisions leaves exactly zero cost', () => {
    const r = reportOf(
      [
        { type: 'deposit', id: 'd1', ts: '2026-01-01T00:00:00Z', book: 'b1', venue: 'binance', asset: 'ETH', qty: '3', cost: '100' },
        { type: 'trade', id: 's1', ts: '2026-01-01T00:00:01Z', book: 'b1', venue: 'binance', instrument: 'ETH/USD', side: 'sell', qty: '1', price: '50' },
        { type: 'trade', id: 's2', ts: '2026-01-01T00:00:02Z', book: 'b1', venue: 'binance', instrument: 'ETH/USD', side: 'sell', qty: '2', price: '40' },
      ],
      { defaults: { method: 'wac', fees: 'separate', pool: 'book' } },
    );
    const p = position(r, 'ETH');
    expect(p.qty).toBe('0');
    expect(p.costBasis).toBe('0');
    expect(p.realizedPnl).toBe('30');
  });
});

describe('venue pooling (pool: venue)', () => {
  const venuePool = { defaults: { method: 'fifo' as const, fees: 'separate' as const, pool: 'venue' as const } };
  it('a transfer moves lots with their cost between venues', () => {
    const r = reportOf(
      [
        trade('buy', '1', '100', { venue: 'binance' }),
        { type: 'transfer', id: 'x1', ts: '2030-01-01T00:00:00Z', book: 'b1', asset: 'BTC', qty: '0.4', from: 'binance', to: 'kraken' },
      ],
      venuePool,
    );
    const at = (venue: string) => r.positions.find((p) => p.asset === 'BTC' && p.venue === venue)!;
    expect(at('binance').qty).toBe('0.6');
    expect(at('binance').costBasis).toBe('60');
    expect(at('kraken').qty).toBe('0.4');
    expect(at('kraken').costBasis).toBe('40');
    expect(at('kraken').realizedPnl).toBe('0');
  });
  it('inventory transferred to a venue where the book is short covers the short at its cost', () => {
    const r = reportOf(
      [
        trade('buy', '1', '100', { venue: 'binance' }),
        trade('sell', '1', '110', { venue: 'kraken' }),
        { type: 'transfer', id: 'x2', ts: '2030-01-01T00:00:00Z', book: 'b1', asset: 'BTC', qty: '0.5', from: 'binance', to: 'kraken' },
      ],
      venuePool,
    );
    const kraken = r.positions.find((p) => p.asset === 'BTC' && p.venue === 'kraken')!;
    expect(kraken.qty).toBe('-0.5');
    expect(kraken.realizedPnl).toBe('5');
    expect(kraken.costBasis).toBe('-55');
  });
});

describe('DOMAIN.md §2 legs: crypto-to-crypto and fees in a third asset', () => {
  it('buying ETH with BTC disposes of BTC at its mark, realizing PnL on the BTC lots', () => {
    const r = reportOf([
      mark('BTC', '40000'),
      trade('buy', '1', '30000'), // 1 BTC at 30000 USD
      mark('BNB', '300'),
      { type: 'deposit', id: 'bnb', ts: nextTs(), book: 'b1', venue: 'binance', asset: 'BNB', qty: '1', cost: '250' },
      trade('buy', '2', '0.05', { instrument: 'ETH/BTC', fee: { asset: 'BNB', amount: '0.01' } }),
    ]);
    const eth = position(r, 'ETH');
    const btc = position(r, 'BTC');
    const bnb = position(r, 'BNB');
    // ETH: 2 at 0.05 BTC × 40000 = 2000 USD each; the BNB fee (0.01 × 300 = 3 USD) is ETH's.
    expect(eth.qty).toBe('2');
    expect(eth.costBasis).toBe('4000');
    expect(eth.fees).toBe('3');
    // BTC: 0.1 BTC left at 30000 (FIFO), worth 4000 when disposed: +1000 realized.
    expect(btc.qty).toBe('0.9');
    expect(btc.realizedPnl).toBe('1000');
    expect(btc.costBasis).toBe('27000');
    // BNB: 0.01 disposed at 3 USD against a cost of 2.5: +0.5 realized.
    expect(bnb.qty).toBe('0.99');
    expect(bnb.realizedPnl).toBe('0.5');
  });

  it('a fee in the base is withheld from what is received and kept out of cost (separate)', () => {
    const r = reportOf([trade('buy', '0.1', '100', { instrument: 'LTC/USD', fee: { asset: 'LTC', amount: '0.0001' } })]);
    const ltc = position(r, 'LTC');
    expect(ltc.qty).toBe('0.0999');
    expect(ltc.costBasis).toBe('9.99');
    expect(ltc.fees).toBe('0.01');
  });
});

describe('DOMAIN.md §5 inverse contracts', () => {
  it('long 100 contracts of 1 USD at 40000, sold at 50000: 0.0005 BTC, worth 25 USD at the exit', () => {
    const inv = (side: 'buy' | 'sell', qty: string, price: string) => trade(side, qty, price, { instrument: 'BTC/USD:BTC' });
    const r = reportOf([{ type: 'instrument', symbol: 'BTC/USD:BTC', multiplier: '1' }, inv('buy', '100', '40000'), inv('sell', '100', '50000')]);
    const p = position(r, 'BTC/USD:BTC');
    expect(p.qty).toBe('0');
    expect(p.realizedPnl).toBe('25');
    // The PnL is paid in BTC: the book now holds 0.0005 BTC, acquired at the exit price.
    const btc = position(r, 'BTC');
    expect(btc.qty).toBe('0.0005');
    expect(btc.costBasis).toBe('25');
  });
});
