/**
 * Ledger.submit at the identity boundary: duplicates are no-ops, the same id with other content is
 * refused without touching the state, instrument terms are registered once and contradicting
 * terms refused, and a derivative trades once its terms are known.
 */
import { describe, expect, it } from 'vitest';
import { Ledger, type SubmitResult } from './ledger.js';
import { buildReport, stateDocument } from './report.js';
import { validateEvent } from './validate.js';
import { parse, position, type Wire } from '../../test/support/ledger.js';

/** A ledger fed wire events one by one, as the replay app feeds it. */
class Desk {
  constructor(readonly ledger = new Ledger()) {}
  submit(w: Wire): SubmitResult {
    return this.ledger.submit(parse(this.ledger, w));
  }
  /** The whole state, canonically (what the replay digest hashes). */
  state(): string {
    return JSON.stringify(stateDocument(this.ledger));
  }
}

const T1: Wire = {
  type: 'trade',
  id: 't1',
  ts: '2026-01-02T10:00:00Z',
  book: 'b1',
  venue: 'coinbase',
  instrument: 'BTC/USD',
  side: 'buy',
  qty: '1.5',
  price: '42000',
  fee: { asset: 'USD', amount: '12.6' },
};

/** The same object with its keys in reverse order (and nested keys reversed too). */
function reversed(w: Wire): Wire {
  const out: Wire = {};
  for (const k of Object.keys(w).reverse()) {
    const v = w[k];
    out[k] = typeof v === 'object' && v !== null && !Array.isArray(v) ? reversed(v as Wire) : v;
  }
  return out;
}

function rejected(r: SubmitResult): { code: string; message: string } {
  if (r.status !== 'rejected') throw new Error(`expected a rejection, got ${JSON.stringify(r)}`);
  return r;
}

describe('duplicates', () => {
  it('a repeated id with identical content is a no-op, even with the JSON keys in another order', () => {
    const d = new Desk();
    expect(d.submit(T1)).toEqual({ status: 'booked' });
    const before = d.state();
    const again = reversed(T1);
    expect(JSON.stringify(Object.keys(again))).not.toBe(JSON.stringify(Object.keys(T1)));
    expect(d.submit(again)).toEqual({ status: 'duplicate' });
    expect(d.submit(T1)).toEqual({ status: 'duplicate' });
    expect(d.state()).toBe(before);
    expect(position(buildReport(d.ledger), 'BTC').qty).toBe('1.5');
  });

  it('the same content written differently is still a duplicate: "1.50" = "1.5", +01:00 = Z, fee = [fee]', () => {
    const d = new Desk();
    d.submit(T1);
    const before = d.state();
    expect(d.submit({ ...T1, qty: '1.50', price: '42000.000' })).toEqual({ status: 'duplicate' });
    expect(d.submit({ ...T1, ts: '2026-01-02T11:00:00+01:00' })).toEqual({ status: 'duplicate' });
    expect(d.submit({ ...T1, ts: '2026-01-02T10:00:00.000000Z' })).toEqual({ status: 'duplicate' });
    const { fee, ...rest } = T1;
    expect(d.submit({ ...rest, fees: [fee] })).toEqual({ status: 'duplicate' });
    expect(d.submit({ ...T1, account: 'default' })).toEqual({ status: 'duplicate' });
    expect(d.state()).toBe(before);
  });

  it('the same id with different content is rejected with DUPLICATE_CONFLICT and leaves the state unchanged', () => {
    const d = new Desk();
    d.submit({ type: 'price', ts: '2026-01-02T09:00:00Z', asset: 'BTC', quote: 'USD', price: '42000' });
    d.submit(T1);
    const before = d.state();
    for (const changed of [{ qty: '2' }, { price: '42000.01' }, { side: 'sell' }, { fee: { asset: 'USD', amount: '12.7' } }, { book: 'b2' }, { ts: '2026-01-02T09:30:00Z' }, { account: 'main' }]) {
      const r = rejected(d.submit({ ...T1, ...changed }));
      expect(r.code).toBe('DUPLICATE_CONFLICT');
      expect(r.message).toContain('t1');
      expect(r.message).toContain('different content');
      expect(d.state()).toBe(before);
    }
    // The original is still the one booked, and still recognised as itself.
    const p = position(buildReport(d.ledger), 'BTC');
    expect(p.qty).toBe('1.5');
    expect(p.costBasis).toBe('63000');
    expect(d.submit(T1)).toEqual({ status: 'duplicate' });
    expect(buildReport(d.ledger).books.map((b) => b.book)).toEqual(['b1']);
  });

  it('an id reused by another event type is a conflict too', () => {
    const d = new Desk();
    d.submit(T1);
    const before = d.state();
    const r = rejected(d.submit({ type: 'deposit', id: 't1', ts: '2026-01-02T09:00:00Z', book: 'b1', venue: 'coinbase', asset: 'USD', qty: '1000' }));
    expect(r.code).toBe('DUPLICATE_CONFLICT');
    expect(r.message).toBe('deposit t1: id already used by an event with different content');
    expect(d.state()).toBe(before);
  });

  it('two different id-less marks for one pair at one instant conflict; the same mark twice is a duplicate', () => {
    const d = new Desk();
    const m = { type: 'price', ts: '2026-01-02T09:00:00Z', asset: 'BTC', quote: 'USD', price: '42000' };
    expect(d.submit(m)).toEqual({ status: 'booked' });
    expect(d.submit(reversed(m))).toEqual({ status: 'duplicate' });
    const before = d.state();
    expect(rejected(d.submit({ ...m, price: '43000' })).code).toBe('DUPLICATE_CONFLICT');
    expect(d.state()).toBe(before);
  });

  // Was a bug: the default id was built from the raw `ts` text, so the same instant spelt another
  // way got another id and a contradicting mark was booked.
  it('an id-less mark at the same instant written differently (.000Z, +01:00) is still a conflict, or a duplicate', () => {
    const d = new Desk();
    d.submit({ type: 'price', ts: '2026-01-02T09:00:00Z', asset: 'BTC', quote: 'USD', price: '42000' });
    const before = d.state();
    const r = rejected(d.submit({ type: 'price', ts: '2026-01-02T09:00:00.000Z', asset: 'BTC', quote: 'USD', price: '44000' }));
    expect(r.code).toBe('DUPLICATE_CONFLICT');
    expect(d.state()).toBe(before);
    expect(d.submit({ type: 'price', ts: '2026-01-02T10:00:00+01:00', asset: 'BTC', quote: 'USD', price: '42000' })).toEqual({ status: 'duplicate' });
  });
});

describe('instrument terms', () => {
  const TERMS: Wire = { type: 'instrument', id: 'i1', symbol: 'BTC/USDT:USDT', venue: 'binance', multiplier: '1' };

  it('terms re-registered with another multiplier are INSTRUMENT_CONFLICT; the first terms stay', () => {
    const d = new Desk();
    expect(d.submit(TERMS)).toEqual({ status: 'stored' });
    const before = d.state();
    const r = rejected(d.submit({ ...TERMS, id: 'i2', multiplier: '0.01' }));
    expect(r.code).toBe('INSTRUMENT_CONFLICT');
    expect(r.message).toContain('BTC/USDT:USDT@binance');
    expect(d.state()).toBe(before);
    const found = d.ledger.instruments.lookup('BTC/USDT:USDT', 'binance');
    expect(found.ok && found.instrument.kind !== 'spot' && found.instrument.multiplier.toString()).toBe('1');
    // Refused terms are not remembered: sending them again is refused again, not a duplicate.
    expect(rejected(d.submit({ ...TERMS, id: 'i2', multiplier: '0.01' })).code).toBe('INSTRUMENT_CONFLICT');
  });

  it('the same terms again (another id, "1.0" for "1") are accepted; other venues and the all-venue default are separate', () => {
    const d = new Desk();
    d.submit(TERMS);
    expect(d.submit({ ...TERMS, id: 'i3', multiplier: '1.0' })).toEqual({ status: 'stored' });
    expect(d.submit({ ...TERMS, id: 'i4', venue: 'okx', multiplier: '0.01' })).toEqual({ status: 'stored' });
    const everywhere: Wire = { ...TERMS };
    delete everywhere.venue;
    expect(d.submit({ ...everywhere, id: 'i5', multiplier: '0.001' })).toEqual({ status: 'stored' });
    const m = (venue: string): string | false => {
      const f = d.ledger.instruments.lookup('BTC/USDT:USDT', venue);
      return f.ok && f.instrument.kind !== 'spot' && f.instrument.multiplier.toString();
    };
    expect([m('binance'), m('okx'), m('bybit')]).toEqual(['1', '0.01', '0.001']);
    expect(rejected(d.submit({ ...everywhere, id: 'i6', multiplier: '1' })).code).toBe('INSTRUMENT_CONFLICT');
  });

  // Was a bug: an id-less `instrument` event (the form examples/desk.jsonl uses) gets the id
  // `instrument:SYMBOL@VENUE` and ids were checked before terms, so this came back as DUPLICATE_CONFLICT.
  it('id-less terms with another multiplier are INSTRUMENT_CONFLICT; the same terms again are a duplicate', () => {
    const d = new Desk();
    const noId: Wire = { ...TERMS };
    delete noId.id;
    expect(d.submit(noId)).toEqual({ status: 'stored' });
    const before = d.state();
    const r = rejected(d.submit({ ...noId, multiplier: '0.01' }));
    expect(r.code).toBe('INSTRUMENT_CONFLICT');
    expect(r.message).toContain('BTC/USDT:USDT@binance');
    expect(d.state()).toBe(before);
    expect(d.submit({ ...noId, multiplier: '1.00' })).toEqual({ status: 'duplicate' });
  });

  it('a trade on a derivative is refused before its instrument event and accepted after it', () => {
    const d = new Desk();
    const perp: Wire = { type: 'trade', id: 'p1', ts: '2026-01-02T10:21:00Z', book: 'mm', venue: 'binance', instrument: 'BTC/USDT:USDT', side: 'sell', qty: '0.8', price: '42180', fee: { asset: 'USDT', amount: '13.5' } };
    const early = validateEvent(perp, d.ledger.instruments);
    expect(!early.ok && early.issues.map((i) => [i.code, i.path])).toEqual([['UNKNOWN_INSTRUMENT', 'instrument']]);
    d.submit({ type: 'price', ts: '2026-01-02T09:00:00Z', asset: 'USDT', quote: 'USD', price: '1' });
    d.submit({ type: 'price', ts: '2026-01-02T09:00:00Z', asset: 'BTC/USDT:USDT', quote: 'USDT', price: '42000' });
    expect(d.submit(TERMS)).toEqual({ status: 'stored' });
    expect(d.submit(perp)).toEqual({ status: 'booked' });
    const p = position(buildReport(d.ledger), 'BTC/USDT:USDT', 'mm');
    expect(p.kind).toBe('perpetual');
    expect(p.venue).toBe('binance');
    expect(p.qty).toBe('-0.8');
    expect(p.avgPrice).toBe('42180');
    // Short 0.8 at 42180, marked at 42000: +144 USDT at 1 USD.
    expect(p.unrealizedPnl).toBe('144');
    // The terms are per venue: the same symbol at okx is still unknown.
    const okx = validateEvent({ ...perp, id: 'p2', venue: 'okx' }, d.ledger.instruments);
    expect(!okx.ok && okx.issues[0]!.code).toBe('UNKNOWN_INSTRUMENT');
  });
});

describe('trim', () => {
  it('lets go of the marks, venue reports and terms before the cut, except corrected ones; a repeat after it is new again', () => {
    const d = new Desk();
    const mark = (id: string, ts: string): Wire => ({ type: 'price', id, ts, asset: 'BTC', quote: 'USD', price: '42000' });
    d.submit(mark('m1', '2026-01-02T09:00:00Z'));
    d.submit(mark('m2', '2026-01-02T09:30:00Z'));
    d.submit(mark('m3', '2026-01-02T11:00:00Z'));
    d.submit({ type: 'balance', id: 'r1', ts: '2026-01-02T09:10:00Z', venue: 'coinbase', asset: 'BTC', total: '1' });
    d.submit({ type: 'cancel', id: 'c1', ts: '2026-01-02T09:40:00Z', target: 'm2' });
    d.submit(T1);
    d.ledger.trim(Date.UTC(2026, 0, 2, 10) * 1000);
    expect(['m1', 'm2', 'm3', 'r1', 'c1'].map((id) => d.ledger.knows(id))).toEqual([false, true, true, false, true]);
    // Let go of: the same id again is taken as new (it is no longer held to compare with).
    expect(d.submit(mark('m1', '2026-01-02T09:00:00Z')).status).not.toBe('duplicate');
    expect(d.submit(mark('m3', '2026-01-02T11:00:00Z')).status).toBe('duplicate');
  });
});

describe('deferred forgetting', () => {
  it('a deferred trim keeps the windows\' old ids held until forgetSome lets go of them, a few at a time', () => {
    const d = new Desk(new Ledger({ snapshotEvery: 3 }));
    for (let i = 0; i < 10; i++) d.submit({ ...T1, id: `t${i}`, ts: `2026-01-02T10:00:0${i}Z` });
    d.ledger.trim(Date.UTC(2026, 0, 3) * 1000, Number.MAX_SAFE_INTEGER, { deferForget: true });
    const held = (): boolean[] => Array.from({ length: 10 }, (_, i) => d.ledger.knows(`t${i}`));
    // Held still: the trim deferred letting go of them.
    expect(held().every((x) => x)).toBe(true);
    expect(d.submit({ ...T1, id: 't0', ts: '2026-01-02T10:00:00Z' }).status).toBe('duplicate');
    let rounds = 0;
    while (d.ledger.forgetSome(3)) rounds++;
    expect(rounds).toBeGreaterThan(0);
    const after = held();
    expect(after.some((x) => !x)).toBe(true);
    const plain = new Desk(new Ledger({ snapshotEvery: 3 }));
    for (let i = 0; i < 10; i++) plain.submit({ ...T1, id: `t${i}`, ts: `2026-01-02T10:00:0${i}Z` });
    plain.ledger.trim(Date.UTC(2026, 0, 3) * 1000);
    expect(after).toEqual(Array.from({ length: 10 }, (_, i) => plain.ledger.knows(`t${i}`)));
    expect(d.state()).toBe(plain.state());
  });
});
