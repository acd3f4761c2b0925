/**
 * Given/when/then for reconciliation: the break lifecycle (open, update, acknowledge, resolve,
 * auto-resolve, late reports, tolerances), what explains a break (each suggested cause), the
 * adjusting entry, trade and transfer matching, and checks that fail when the books are wrong.
 */
import { describe, expect, it } from 'vitest';
import { Dec } from '../decimal.js';
import type { BalanceEvent, DepositEvent, TradeEvent, WithdrawalEvent } from '../events.js';
import { InstrumentRegistry } from '../instrument.js';
import { parseTimestamp } from '../time.js';
import { validateEvent } from '../validate.js';
import { ledgerOf, parse, type Wire } from '../../../test/support/ledger.js';
import { reconcileBalances } from './balances.js';
import { adjustingEvent, BreakBook, isRefusal, type Break } from './breaks.js';
import { checkFlows, checkNegativeBalances, checkPositions, FlowsCheck } from './checks.js';
import { reconcileTrades } from './trades.js';
import { matchTransfers } from './transfers.js';
import { DEFAULT_TOLERANCES, within, type Tolerances } from './tolerance.js';

const ts = (s: string): number => parseTimestamp(s)!;
const opts = (atMs = 1_000, tolerances: Tolerances = DEFAULT_TOLERANCES) => ({ tolerances, atMs, fundingIntervalUs: 8 * 3_600_000_000 });

function event<T>(w: Wire): T {
  const v = validateEvent(w, new InstrumentRegistry());
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return v.event as T;
}

const report = (id: string, at: string, total: string, extra: Wire = {}): BalanceEvent => event<BalanceEvent>({ type: 'balance', id, ts: at, venue: 'binance', account: 'main', asset: 'BTC', total, ...extra });

const desk: Wire[] = [
  { type: 'price', id: 'p0', ts: '2026-01-02T09:00:00Z', asset: 'BTC', quote: 'USD', price: '40000' },
  { type: 'price', id: 'p1', ts: '2026-01-02T09:00:00Z', asset: 'BNB', quote: 'USD', price: '300' },
  { type: 'trade', id: 'binance:1', ts: '2026-01-02T10:00:00Z', book: 'mm', venue: 'binance', account: 'main', instrument: 'BTC/USD', side: 'buy', qty: '2', price: '40000' },
  { type: 'trade', id: 'binance:2', ts: '2026-01-02T11:00:00Z', book: 'mm', venue: 'binance', account: 'main', instrument: 'BTC/USD', side: 'sell', qty: '0.5', price: '41000', fee: { asset: 'BTC', amount: '0.001' } },
  { type: 'trade', id: 'binance:3', ts: '2026-01-02T12:00:00Z', book: 'mm', venue: 'binance', account: 'main', instrument: 'BTC/USD', side: 'buy', qty: '1', price: '42000' },
];

describe('balance breaks', () => {
  it('a report is held against the balance as of its own instant: later fills make no break', () => {
    const { ledger } = ledgerOf(desk);
    const bb = new BreakBook();
    // At 11:30 the venue held 2 − 0.5 − 0.001; the 12:00 fill is not in its snapshot.
    const r = reconcileBalances(ledger, bb, [report('r1', '2026-01-02T11:30:00Z', '1.499')], opts());
    expect(r.outcomes.map((o) => o.outcome.kind)).toEqual(['matched']);
    expect(bb.active()).toEqual([]);
  });

  it('opens a break with the amount, its value and what moved since the last match; a later agreeing report auto-resolves it', () => {
    const { ledger } = ledgerOf(desk);
    const bb = new BreakBook();
    reconcileBalances(ledger, bb, [report('r0', '2026-01-02T10:30:00Z', '2')], opts(1_000));
    // The venue missed the sell (and its fee): it shows 0.501 more than UTL.
    const r = reconcileBalances(ledger, bb, [report('r1', '2026-01-02T11:30:00Z', '2')], opts(2_000));
    const o = r.outcomes[0]!.outcome;
    expect(o.kind).toBe('opened');
    const b = (o as { brk: Break }).brk;
    expect(b).toMatchObject({ id: 'brk:r1', status: 'open', venueQty: '2', utlQty: '1.499', diff: '0.501', value: '20040', firstSeenMs: 2_000, firstReportTs: '2026-01-02T11:30:00Z' });
    expect(b.explanation.sinceTs).toBe('2026-01-02T10:30:00Z');
    expect(b.explanation.movements.map((m) => [m.id, m.delta])).toEqual([['binance:2', '-0.501']]);
    expect(b.explanation.suggestions.map((s) => s.cause)).toContain('missing_at_venue');
    // The venue catches up: 12:30 shows 2.499 → auto-resolved, with its history.
    const later = reconcileBalances(ledger, bb, [report('r2', '2026-01-02T12:30:00Z', '2.499')], opts(3_000));
    expect(later.outcomes[0]!.outcome.kind).toBe('auto_resolved');
    expect(bb.get('brk:r1')!.status).toBe('auto_resolved');
    expect(bb.get('brk:r1')!.history.map((h) => h.action)).toEqual(['opened', 'auto_resolved']);
    expect(bb.active()).toEqual([]);
  });

  it('an open break is updated, not doubled; an older report only goes into its history', () => {
    const { ledger } = ledgerOf(desk);
    const bb = new BreakBook();
    reconcileBalances(ledger, bb, [report('r1', '2026-01-02T11:30:00Z', '1.4')], opts(1));
    const u = reconcileBalances(ledger, bb, [report('r2', '2026-01-02T12:30:00Z', '2.4')], opts(2));
    expect(u.outcomes[0]!.outcome.kind).toBe('updated');
    expect(bb.active().map((b) => [b.id, b.diff])).toEqual([['brk:r1', '-0.099']]);
    const late = reconcileBalances(ledger, bb, [report('r0', '2026-01-02T10:30:00Z', '2')], opts(3));
    expect(late.outcomes[0]!.outcome.kind).toBe('stale');
    expect(bb.get('brk:r1')!.history.map((h) => h.action)).toEqual(['opened', 'updated', 'late_report']);
  });

  it('within tolerance is a match: absolute floor or a fraction of the venue figure, the wider', () => {
    const t = { abs: Dec.of('0.01'), rel: Dec.of('0.001') };
    expect(within(t, Dec.of('0.01'), Dec.of('1'))).toBe(true);
    expect(within(t, Dec.of('0.011'), Dec.of('1'))).toBe(false);
    expect(within(t, Dec.of('-0.5'), Dec.of('500'))).toBe(true);
    expect(within(t, Dec.of('0.51'), Dec.of('-500'))).toBe(false);
    const { ledger } = ledgerOf(desk);
    const bb = new BreakBook();
    const tolerances: Tolerances = { default: { abs: Dec.ZERO, rel: Dec.ZERO }, byAsset: new Map([['BTC', t]]) };
    const r = reconcileBalances(ledger, bb, [report('r1', '2026-01-02T11:30:00Z', '1.5')], opts(1, tolerances));
    expect(r.outcomes[0]!.outcome.kind).toBe('matched');
  });

  it('acknowledge then resolve by hand, with who and why; a closed break refuses both; a new disagreement opens a new break', () => {
    const { ledger } = ledgerOf(desk);
    const bb = new BreakBook();
    reconcileBalances(ledger, bb, [report('r1', '2026-01-02T11:30:00Z', '1.4')], opts(1));
    const a = bb.acknowledge('brk:r1', 'alice', 'looking', 5);
    expect(isRefusal(a)).toBe(false);
    expect(bb.get('brk:r1')!.status).toBe('acknowledged');
    expect(bb.active().length).toBe(1);
    const r = bb.resolve('brk:r1', 'bob', 'venue confirmed a lost fill', 6, 'adj:brk:r1');
    expect(isRefusal(r)).toBe(false);
    expect(bb.get('brk:r1')!.resolution).toEqual({ by: 'bob', reason: 'venue confirmed a lost fill', atMs: 6, adjustment: 'adj:brk:r1' });
    expect(bb.acknowledge('brk:r1', 'alice', '', 7)).toMatchObject({ code: 'BREAK_CLOSED' });
    expect(bb.resolve('nope', 'alice', '', 7, null)).toMatchObject({ code: 'BREAK_NOT_FOUND' });
    reconcileBalances(ledger, bb, [report('r2', '2026-01-02T12:30:00Z', '2')], opts(8));
    expect(bb.active().map((b) => b.id)).toEqual(['brk:r2']);
  });

  it('a restored break book goes on where it stopped', () => {
    const { ledger } = ledgerOf(desk);
    const bb = new BreakBook();
    reconcileBalances(ledger, bb, [report('r1', '2026-01-02T11:30:00Z', '1.4')], opts(1));
    const copy = BreakBook.restore(JSON.parse(JSON.stringify(bb.snapshot())) as ReturnType<BreakBook["snapshot"]>);
    const r = reconcileBalances(ledger, copy, [report('r2', '2026-01-02T12:30:00Z', '2.499')], opts(2));
    expect(r.outcomes[0]!.outcome.kind).toBe('auto_resolved');
  });

  it('the adjusting entry is a deposit or withdrawal of |diff| at the report instant, carrying who and why', () => {
    const { ledger } = ledgerOf(desk);
    const bb = new BreakBook();
    reconcileBalances(ledger, bb, [report('r1', '2026-01-02T11:30:00Z', '1.4')], opts(1));
    const adj = adjustingEvent(bb.get('brk:r1')!, { id: 'adj:1', book: 'mm', by: 'bob', reason: 'lost fill' });
    expect(adj).toEqual({ type: 'withdrawal', id: 'adj:1', ts: '2026-01-02T11:30:00Z', book: 'mm', venue: 'binance', account: 'main', asset: 'BTC', qty: '0.099', meta: { adjustment: { break: 'brk:r1', by: 'bob', reason: 'lost fill' } } });
    // Booked, it makes UTL agree with that report.
    const { ledger: fixed } = ledgerOf([...desk, adj]);
    const again = reconcileBalances(fixed, new BreakBook(), [report('r1', '2026-01-02T11:30:00Z', '1.4')], opts(2));
    expect(again.outcomes[0]!.outcome.kind).toBe('matched');
  });

  it('a report for one book is held against that book alone; without a book, against every book', () => {
    const other: Wire = { type: 'deposit', id: 'd1', ts: '2026-01-02T09:30:00Z', book: 'otc', venue: 'binance', account: 'main', asset: 'BTC', qty: '1', cost: '40000' };
    const { ledger } = ledgerOf([...desk, other]);
    const r = reconcileBalances(ledger, new BreakBook(), [report('a', '2026-01-02T10:30:00Z', '3'), report('b', '2026-01-02T10:30:00Z', '2', { book: 'mm' })], opts());
    expect(r.outcomes.map((o) => o.outcome.kind)).toEqual(['matched', 'matched']);
  });
});

describe('suggested causes', () => {
  const causes = (wires: Wire[], r: BalanceEvent, extra: Partial<Parameters<typeof reconcileBalances>[3]> = {}): string[] => {
    const { ledger } = ledgerOf(wires);
    const bb = new BreakBook();
    const out = reconcileBalances(ledger, bb, [r], { ...opts(), ...extra });
    const o = out.outcomes[0]!.outcome;
    if (o.kind !== 'opened') throw new Error(`expected a break, got ${o.kind}`);
    return o.brk.explanation.suggestions.map((s) => s.cause);
  };

  it('a transfer credited in UTL and not yet at the venue is in transit', () => {
    const wires: Wire[] = [
      ...desk,
      { type: 'transfer', id: 'x1', ts: '2026-01-02T12:10:00Z', book: 'mm', asset: 'BTC', qty: '0.5', from: 'okx', to: 'binance', toAccount: 'main' },
    ];
    expect(causes(wires, report('r', '2026-01-02T12:20:00Z', '2.499'))).toEqual(['transfer_in_transit']);
  });

  it('the venue snapshot before every movement since the last match is a stale snapshot', () => {
    const { ledger } = ledgerOf(desk);
    const bb = new BreakBook();
    reconcileBalances(ledger, bb, [report('r0', '2026-01-02T10:30:00Z', '2')], opts());
    const o = reconcileBalances(ledger, bb, [report('r1', '2026-01-02T12:30:00Z', '2')], opts()).outcomes[0]!.outcome as { brk: Break };
    expect(o.brk.explanation.suggestions.map((s) => s.cause)).toEqual(['stale_snapshot']);
  });

  it('a fee UTL deducted in this asset that the venue did not deduct', () => {
    expect(causes(desk, report('r', '2026-01-02T11:30:00Z', '1.5'))).toContain('fee_in_other_asset');
  });

  it('a fee booked in BNB that the venue deducted in BTC instead', () => {
    const wires: Wire[] = [
      ...desk.slice(0, 3),
      { type: 'trade', id: 'binance:9', ts: '2026-01-02T11:00:00Z', book: 'mm', venue: 'binance', account: 'main', instrument: 'BTC/USD', side: 'sell', qty: '0.5', price: '40000', fee: { asset: 'BNB', amount: '1' } },
    ];
    // 1 BNB = 300 USD ≈ 0.0075 BTC at 40,000.
    expect(causes(wires, report('r', '2026-01-02T11:30:00Z', '1.4925'))).toContain('fee_in_other_asset');
  });

  it('a venue trade missing in UTL, and a withdrawal elsewhere with no deposit booked here', () => {
    const extra = {
      unbookedVenueTrades: () => [{ id: 'binance:77', delta: Dec.of('0.25') }],
      unmatchedWithdrawals: () => [{ id: 'w1', venue: 'okx', qty: Dec.of('0.25') }],
    };
    expect(causes(desk, report('r', '2026-01-02T12:30:00Z', '2.749'), extra).sort()).toEqual(['missing_in_utl', 'transfer_in_transit']);
  });

  it('an open perpetual settling in this asset with no funding booked in the interval', () => {
    const wires: Wire[] = [
      { type: 'instrument', id: 'i1', ts: '2026-01-02T00:00:00Z', symbol: 'BTC/USDT:USDT', multiplier: '1' },
      { type: 'price', id: 'p0', ts: '2026-01-02T00:00:00Z', asset: 'USDT', quote: 'USD', price: '1' },
      { type: 'price', id: 'p1', ts: '2026-01-02T00:00:00Z', asset: 'BTC', quote: 'USD', price: '40000' },
      { type: 'deposit', id: 'd1', ts: '2026-01-02T00:00:00Z', book: 'mm', venue: 'binance', account: 'main', asset: 'USDT', qty: '10000', cost: '10000' },
      { type: 'trade', id: 'f1', ts: '2026-01-02T01:00:00Z', book: 'mm', venue: 'binance', account: 'main', instrument: 'BTC/USDT:USDT', side: 'buy', qty: '1', price: '40000' },
    ];
    expect(causes(wires, report('r', '2026-01-02T10:00:00Z', '9990', { asset: 'USDT' }))).toEqual(['funding_not_booked']);
  });
});

const trade = (w: Wire): TradeEvent => event<TradeEvent>({ type: 'trade', book: 'mm', account: 'main', instrument: 'BTC/USD', side: 'buy', qty: '1', price: '100', ...w });

describe('trade reconciliation', () => {
  it('finds what is missing on either side, what differs and ids seen twice, inside the venue history window', () => {
    const venue = [
      trade({ id: 'binance:1', ts: '2026-01-02T10:00:00Z', venue: 'binance' }),
      trade({ id: 'binance:2', ts: '2026-01-02T11:00:00Z', venue: 'binance', price: '101' }),
      trade({ id: 'binance:3', ts: '2026-01-02T12:00:00Z', venue: 'binance' }),
      trade({ id: 'binance:3', ts: '2026-01-02T12:00:00Z', venue: 'binance' }),
      trade({ id: 'binance:4', ts: '2026-01-02T13:00:00Z', venue: 'binance', fee: { asset: 'BNB', amount: '0.1' } }),
    ];
    const booked = [
      trade({ id: 'binance:0', ts: '2026-01-01T10:00:00Z', venue: 'binance' }), // older than the venue's history: not missing
      trade({ id: 'binance:1', ts: '2026-01-02T10:00:00Z', venue: 'binance' }),
      trade({ id: '2', ts: '2026-01-02T11:00:00Z', venue: 'binance' }),
      trade({ id: 'binance:4', ts: '2026-01-02T13:00:00Z', venue: 'binance', fee: { asset: 'USD', amount: '0.5' } }),
      trade({ id: 'binance:5', ts: '2026-01-02T12:30:00Z', venue: 'binance' }),
      trade({ id: 'okx:1', ts: '2026-01-02T12:30:00Z', venue: 'okx' }),
    ];
    const r = reconcileTrades(venue, booked, { venue: 'binance' });
    expect(r.window).toEqual({ from: '2026-01-02T10:00:00Z', to: '2026-01-02T13:00:00Z' });
    expect(r.matched).toBe(3);
    expect(r.missingInUtl.map((t) => t.venueTradeId)).toEqual(['3']);
    expect(r.missingAtVenue.map((t) => t.id)).toEqual(['binance:5']);
    expect(r.mismatches.map((m) => [m.venueTradeId, m.field, m.utl, m.venue])).toEqual([
      ['2', 'price', '100', '101'],
      ['4', 'fee', '0.5 USD', '0.1 BNB'],
    ]);
    expect(r.duplicates).toEqual([{ side: 'venue', venueTradeId: '3', ids: ['binance:3', 'binance:3'] }]);
    expect(r.ok).toBe(false);
  });

  it('agrees with itself, and an explicit window covers older positions too', () => {
    const ts1 = [trade({ id: 'a', ts: '2026-01-01T00:00:00Z', venue: 'v' }), trade({ id: 'b', ts: '2026-01-05T00:00:00Z', venue: 'v' })];
    expect(reconcileTrades(ts1, ts1, { venue: 'v' }).ok).toBe(true);
    const r = reconcileTrades(ts1.slice(1), ts1, { venue: 'v', fromTs: ts('2025-12-01T00:00:00Z') });
    expect(r.missingInUtl).toEqual([]);
    expect(r.missingAtVenue.map((t) => t.id)).toEqual(['a']);
  });
});

describe('transfer matching', () => {
  const w = (id: string, at: string, venue: string, qty: string): WithdrawalEvent => event<WithdrawalEvent>({ type: 'withdrawal', id, ts: at, book: 'mm', venue, asset: 'BTC', qty, cost: '1' });
  const d = (id: string, at: string, venue: string, qty: string): DepositEvent => event<DepositEvent>({ type: 'deposit', id, ts: at, book: 'mm', venue, asset: 'BTC', qty, cost: '1' });
  const o = { windowUs: 6 * 3_600_000_000, skewUs: 60_000_000, maxTransitUs: 2 * 3_600_000_000, feeTolerance: () => Dec.of('0.001'), nowUs: ts('2026-01-02T15:00:00Z') };

  it('matches within the fee tolerance and the window; the rest is in transit, a break when too old, or an unmatched deposit', () => {
    const r = matchTransfers(
      [w('w1', '2026-01-02T10:00:00Z', 'binance', '1'), w('w2', '2026-01-02T14:00:00Z', 'binance', '2'), w('w3', '2026-01-02T11:00:00Z', 'okx', '3')],
      [d('d1', '2026-01-02T10:20:00Z', 'okx', '0.9995'), d('d2', '2026-01-02T10:05:00Z', 'okx', '1.1'), d('d3', '2026-01-02T11:00:00Z', 'okx', '3')],
      o,
    );
    expect(r.matched.map((m) => [m.withdrawal, m.deposit, m.fee, m.transitSeconds])).toEqual([['w1', 'd1', '0.0005', '1200']]);
    expect(r.inTransit.map((x) => x.id)).toEqual(['w2']);
    expect(r.breaks.map((x) => [x.id, x.ageSeconds])).toEqual([['w3', '14400']]);
    expect(r.unmatchedDeposits.map((x) => x.id)).toEqual(['d2', 'd3']);
  });

  it('does not depend on the order of its input', () => {
    const ws = [w('w1', '2026-01-02T10:00:00Z', 'a', '1'), w('w2', '2026-01-02T10:00:00Z', 'b', '1')];
    const ds = [d('d1', '2026-01-02T10:10:00Z', 'c', '1'), d('d2', '2026-01-02T10:10:00Z', 'c', '0.9999')];
    expect(matchTransfers([...ws].reverse(), [...ds].reverse(), o)).toEqual(matchTransfers(ws, ds, o));
  });
});

describe('consistency checks fail when the books are wrong', () => {
  it('flows: a balance moved by nothing in the log', () => {
    const { ledger } = ledgerOf(desk);
    expect(checkFlows(ledger).ok).toBe(true);
    ledger.bookState('mm')!.addBalance('binance', 'main', 'BTC', Dec.of('0.1'));
    const r = checkFlows(ledger);
    expect(r.ok).toBe(false);
    expect(r.failures[0]).toContain('mm binance/main BTC');
  });

  it('flows in steps: prepared on the ledger, replayed on copies while the ledger books on (a late fill too); the same as at once', () => {
    const { ledger } = ledgerOf(desk);
    const prepared = FlowsCheck.prepare(ledger);
    // After it was prepared: a fill later than the rest, and a late one before them.
    for (const w of [
      { type: 'trade', id: 'binance:4', ts: '2026-01-02T13:00:00Z', book: 'mm', venue: 'binance', account: 'main', instrument: 'BTC/USD', side: 'sell', qty: '1', price: '42500' },
      { type: 'trade', id: 'binance:0', ts: '2026-01-02T09:30:00Z', book: 'mm', venue: 'binance', account: 'main', instrument: 'BTC/USD', side: 'buy', qty: '0.3', price: '39900' },
    ]) ledger.submit(parse(ledger, w));
    let steps = 0;
    while (!prepared.step(1)) steps++;
    expect(steps).toBe(2); // one event a step: the third event finishes the book, and the check
    const r = prepared.result();
    expect(r).toEqual({ name: 'flows', ok: true, detail: '3 events: opening + flows = closing in every cell', failures: [] });
    expect(checkFlows(ledger)).toEqual({ ...r, detail: '5 events: opening + flows = closing in every cell' });
    // A balance moved by nothing after preparing is not the prepared check's: the ledger's next one finds it.
    const again = FlowsCheck.prepare(ledger);
    ledger.bookState('mm')!.addBalance('binance', 'main', 'BTC', Dec.of('0.1'));
    again.step(Number.POSITIVE_INFINITY);
    expect(again.result().ok).toBe(true);
    expect(checkFlows(ledger).ok).toBe(false);
  });

  it('lots and balances: a position whose lots or venues do not add up', () => {
    const { ledger } = ledgerOf(desk);
    expect(checkPositions(ledger).every((c) => c.ok)).toBe(true);
    ledger.bookState('mm')!.addBalance('kraken', 'main', 'BTC', Dec.of('1'));
    expect(checkPositions(ledger).map((c) => [c.name, c.ok])).toEqual([
      ['lots', true],
      ['balances', false],
    ]);
  });

  it('negative balances only where the venue does not lend', () => {
    const { ledger } = ledgerOf([...desk, { type: 'withdrawal', id: 'w', ts: '2026-01-02T13:00:00Z', book: 'mm', venue: 'binance', account: 'main', asset: 'BTC', qty: '5', cost: '1' }]);
    expect(checkNegativeBalances(ledger, new Set()).ok).toBe(false);
    expect(checkNegativeBalances(ledger, new Set(['binance'])).ok).toBe(true);
  });
});
