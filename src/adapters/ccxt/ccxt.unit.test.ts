// The ccxt importer against real ccxt output (test/fixtures/ccxt, copied from ccxt's own static
// response tests): every fixture file has concrete expectations here, and general invariants
// (every record accounted for, wire-format values, unique ids) are checked on all of them.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { detectCcxtKind, fromCcxt, isCcxtPayload, type CcxtContext, type CcxtMapped } from './ccxt.js';
import { ccxtNumberToDecimal } from './number.js';

const FIXTURES = new URL('../../../test/fixtures/ccxt/', import.meta.url);
const PLAIN = /^-?\d+(\.\d+)?$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const AS_OF = '2024-06-30T00:00:00.000Z';

function load(file: string): unknown[] {
  const data: unknown = JSON.parse(readFileSync(new URL(file, FIXTURES), 'utf8'));
  if (!Array.isArray(data)) throw new Error(`${file}: not an array`);
  return data;
}

function venueOf(file: string): string {
  return file.split('.')[0]!;
}

function map(file: string, extra: Partial<CcxtContext> = {}): CcxtMapped {
  return fromCcxt(load(file), { venue: venueOf(file), book: 'main', ...extra });
}

const fixtureFiles = readdirSync(FIXTURES).filter((f) => f.endsWith('.json') && f !== 'sources.json').sort();

interface Sources {
  files: Record<string, { records: number }>;
}
const sources = JSON.parse(readFileSync(new URL('sources.json', FIXTURES), 'utf8')) as Sources;

/** Concrete expectations, one entry per fixture file (a new fixture without one fails the suite). */
const expectations: Record<string, () => void> = {
  'binance.fetchMyTrades.json': () => {
    const { events, problems } = map('binance.fetchMyTrades.json');
    expect(problems).toEqual([]);
    expect(events).toHaveLength(3);
    // Key order matters too: the wire line is stable.
    expect(JSON.stringify(events[0])).toBe(JSON.stringify({
      type: 'trade',
      id: 'binance:309520010',
      ts: '2023-10-24T09:16:32.358Z',
      book: 'main',
      venue: 'binance',
      account: 'default',
      instrument: 'LTC/USDT',
      side: 'sell',
      qty: '0.2',
      price: '69.63',
      fees: [{ asset: 'USDT', amount: '0.013926' }],
      order: '3784695242',
    }));
    expect(events[1]).toMatchObject({
      id: 'binance:272536245', instrument: 'BTC/USDT:USDT', side: 'buy', qty: '0.01', price: '36567.1',
      fees: [{ asset: 'USDT', amount: '0.1462684' }],
    });
    expect(events[2]).toMatchObject({ ts: '2024-01-31T09:44:27.729Z', qty: '0.173', price: '69.39', fees: [{ asset: 'USDT', amount: '0.01200447' }] });
    // ccxt's `cost` (price × amount, a float) is not carried over.
    for (const e of events) expect(e).not.toHaveProperty('cost');
  },

  'okx.fetchMyTrades.json': () => {
    const { events, problems } = map('okx.fetchMyTrades.json', { account: 'trading' });
    expect(problems).toEqual([]);
    expect(events).toEqual([{
      type: 'trade',
      id: 'okx:56181695',
      ts: '2023-11-01T10:38:13.028Z',
      book: 'main',
      venue: 'okx',
      account: 'trading',
      instrument: 'LTC/USDT',
      side: 'buy',
      qty: '0.1',
      price: '67.84',
      fees: [{ asset: 'LTC', amount: '0.0001' }], // fee in the base, once
      order: '639895991331667968',
    }]);
  },

  'binance.fetchBalance.json': () => {
    const without = map('binance.fetchBalance.json');
    // Spot has a timestamp; swap and both papi balances have timestamp/datetime null.
    expect(without.events).toHaveLength(3);
    expect(without.events.map((e) => e.asset)).toEqual(['BTC', 'LTC', 'ETH']);
    expect(without.events[1]).toEqual({
      type: 'balance',
      id: 'binance:default:balance:2023-12-06T09:53:15.927Z:LTC',
      ts: '2023-12-06T09:53:15.927Z',
      book: 'main',
      venue: 'binance',
      account: 'default',
      asset: 'LTC',
      total: '0.919741',
      free: '0.919741',
      used: '0',
    });
    expect(without.problems).toEqual([1, 2, 3].map((index) => ({
      index, kind: 'balance', message: 'balance has no timestamp; pass --as-of',
    })));

    // The four records are four binance accounts (spot, swap, papi, papi linear): mapped one by
    // one, each with its own account name, they all book.
    const accounts = ['spot', 'swap', 'papi', 'papi-linear'];
    const perAccount = load('binance.fetchBalance.json').map((x, i) =>
      fromCcxt(x, { venue: 'binance', book: 'main', account: accounts[i]!, asOf: AS_OF }));
    expect(perAccount.flatMap((r) => r.problems)).toEqual([]);
    expect(perAccount.map((r) => r.events.length)).toEqual([3, 1, 5, 4]);
    // A balance's own timestamp wins over asOf.
    expect(perAccount[0]!.events[0]!.ts).toBe('2023-12-06T09:53:15.927Z');
    expect(perAccount[1]!.events[0]).toMatchObject({ ts: AS_OF, account: 'swap', asset: 'USDT', total: '31.022612', free: '31.022612', used: '0' });
    // papi: only total known, free/used omitted rather than invented.
    expect(perAccount[2]!.events.find((e) => e.asset === 'ADA')).toEqual({
      type: 'balance', id: `binance:papi:balance:${AS_OF}:ADA`, ts: AS_OF, book: 'main', venue: 'binance', account: 'papi', asset: 'ADA', total: '10.0325',
    });
    expect(perAccount[2]!.events.find((e) => e.asset === 'USDT')).not.toHaveProperty('free');

    // The whole file under one account and one asOf: the undated balances collide on
    // (account, time, asset); the later ones are reported, not merged or double-booked.
    const oneAccount = map('binance.fetchBalance.json', { asOf: AS_OF });
    expect(oneAccount.events).toHaveLength(3 + 1 + 4);
    expect(oneAccount.problems.map((p) => p.index)).toEqual([2, 3, 3, 3, 3]);
    expect(oneAccount.problems[0]).toEqual({
      index: 2, kind: 'balance',
      message: `event id binance:default:balance:${AS_OF}:USDT already produced by record #2 with different values: not mapped; import each account's balance separately with its own account name`,
    });
  },

  'okx.fetchBalance.json': () => {
    const without = map('okx.fetchBalance.json');
    // Record 0 (funding) has no timestamp keys at all; record 1 is empty: no events, no problem.
    expect(without.problems).toEqual([{ index: 0, kind: 'balance', message: 'balance has no timestamp; pass --as-of' }]);
    expect(without.events).toHaveLength(26);
    const btc = without.events.find((e) => e.asset === 'BTC')!;
    expect(btc).toEqual({
      type: 'balance',
      id: 'okx:default:balance:2025-07-11T14:15:39.082Z:BTC',
      ts: '2025-07-11T14:15:39.082Z',
      book: 'main',
      venue: 'okx',
      account: 'default',
      asset: 'BTC',
      total: '1.06126645222',
      free: '0.6612664522199999',
      used: '0.4000000000000001',
    });
    expect(without.events.find((e) => e.asset === 'USDT')).toMatchObject({ total: '0.000258796', free: '0', used: '0.000258796' });

    const withAsOf = map('okx.fetchBalance.json', { asOf: AS_OF, account: 'funding' });
    expect(withAsOf.problems).toEqual([]);
    expect(withAsOf.events[0]).toEqual({
      type: 'balance', id: `okx:funding:balance:${AS_OF}:TUSD`, ts: AS_OF, book: 'main', venue: 'okx', account: 'funding', asset: 'TUSD', total: '100', free: '100', used: '0',
    });
    expect(withAsOf.events).toHaveLength(27);
  },

  'binance.fetchFundingHistory.json': () => {
    const { events, problems } = map('binance.fetchFundingHistory.json');
    expect(problems).toEqual([]);
    expect(JSON.stringify(events)).toBe(JSON.stringify([{
      type: 'funding',
      id: 'binance:funding:8082457372019390060', // 19 digits, kept as a string
      ts: '2024-02-09T08:00:00.000Z',
      book: 'main',
      venue: 'binance',
      account: 'default',
      instrument: 'BTC/USDT:USDT',
      amount: '-0.04618913',
      asset: 'USDT',
    }]));
  },

  'binance.fetchDeposits.json': () => {
    const { events, problems } = map('binance.fetchDeposits.json');
    expect(problems).toEqual([]);
    expect(JSON.stringify(events)).toBe(JSON.stringify([{
      type: 'deposit',
      id: 'binance:deposit:4534543435',
      ts: '2024-05-05T15:41:44.000Z',
      book: 'main',
      venue: 'binance',
      account: 'default',
      asset: 'USDT',
      qty: '10',
      txid: '435kl435jh4354j3k5',
    }]));
  },

  'binance.fetchWithdrawals.json': () => {
    const { events, problems } = map('binance.fetchWithdrawals.json');
    expect(problems).toEqual([]);
    expect(JSON.stringify(events)).toBe(JSON.stringify([{
      type: 'withdrawal',
      id: 'binance:withdrawal:54c1b7543534543fsdfsdf6',
      ts: '2024-05-05T15:38:56.000Z',
      book: 'main',
      venue: 'binance',
      account: 'default',
      asset: 'USDT',
      qty: '9', // excludes the fee: 10 left the account
      fee: '1',
      txid: 'FDSJHFKDSHFJ4KR5H4KJH3454JHK',
    }]));
  },

  'binance.fetchPositions.json': () => {
    const { events, problems } = map('binance.fetchPositions.json');
    expect(events).toEqual([]);
    expect(problems.map((p) => [p.index, p.kind])).toEqual([[0, 'unknown'], [1, 'unknown'], [2, 'unknown'], [3, 'unknown']]);
    for (const p of problems) expect(p.message).toMatch(/^position snapshot/);
  },

  'okx.fetchPositions.json': () => {
    const { events, problems } = map('okx.fetchPositions.json');
    expect(events).toEqual([]);
    expect(problems).toHaveLength(2);
    expect(problems[0]).not.toHaveProperty('id'); // id null in ccxt
    expect(problems[1]).toMatchObject({ index: 1, kind: 'unknown', id: '666159086676836352' });
    for (const p of problems) expect(p.message).toMatch(/^position snapshot/);
  },

  'okx.fetchPosition.json': () => {
    const data = load('okx.fetchPosition.json');
    const { events, problems } = map('okx.fetchPosition.json');
    expect(events).toEqual([]);
    expect(problems.map((p) => p.id)).toEqual(['653944598162657280', '3234547810395054080', '3234559463547297792']);
    // The exponent in the inverse position's realizedPnl, expanded exactly.
    const inverse = data[1] as { realizedPnl: unknown; unrealizedPnl: unknown };
    expect(inverse.realizedPnl).toBe(-5.437318054e-7);
    expect(ccxtNumberToDecimal(inverse.realizedPnl)).toBe('-0.0000005437318054');
    expect(ccxtNumberToDecimal((data[2] as { unrealizedPnl: unknown }).unrealizedPnl)).toBe('0.000000899562244');
  },

  'okx.fetchLedger.json': () => {
    const { events, problems } = map('okx.fetchLedger.json');
    expect(events).toEqual([]);
    expect(problems).toEqual([{ index: 0, kind: 'unknown', id: '696837060589600769', message: expect.stringMatching(/^ledger entry/) as unknown }]);
  },

  'okx.fetchTransfers.json': () => {
    const { events, problems } = map('okx.fetchTransfers.json');
    expect(events).toEqual([]);
    expect(problems).toEqual([{ index: 0, kind: 'unknown', id: '673260238845333504', message: expect.stringMatching(/^internal transfer/) as unknown }]);
  },
};

describe('fromCcxt on every fixture file', () => {
  it('has concrete expectations for every fixture file', () => {
    expect(fixtureFiles.length).toBeGreaterThan(0);
    expect(Object.keys(expectations).sort()).toEqual(fixtureFiles);
  });

  for (const file of fixtureFiles) {
    describe(file, () => {
      it('maps to the expected values', () => {
        const check = expectations[file];
        expect(check).toBeDefined();
        check!();
      });

      it('holds the record count sources.json states', () => {
        expect(load(file)).toHaveLength(sources.files[file]!.records);
      });

      it('is recognised as a ccxt payload', () => {
        expect(isCcxtPayload(load(file))).toBe(true);
      });

      it('accounts for every record and emits well-formed wire values', () => {
        const data = load(file);
        const { events, problems } = fromCcxt(data, { venue: venueOf(file), book: 'main', asOf: AS_OF });
        // Ids are unique whatever the input (collisions become problems).
        const ids = events.map((e) => e.id);
        expect(new Set(ids).size).toBe(ids.length);
        for (const e of events) {
          expect(typeof e.id).toBe('string');
          expect(e.ts).toMatch(ISO);
          for (const k of ['qty', 'price', 'amount', 'total', 'free', 'used', 'fee']) {
            if (k in e) expect(e[k]).toMatch(PLAIN);
          }
          const fees = (e.fees ?? []) as { amount: string }[];
          for (const f of fees) expect(f.amount).toMatch(PLAIN);
          // Plain JSON: a JSONL round trip changes nothing.
          expect(JSON.parse(JSON.stringify(e))).toEqual(e);
        }
        for (const p of problems) expect(p.index).toBeLessThan(data.length);
        // Each record yields an event or a problem, except an empty balance.
        const emptyBalance = (x: unknown): boolean =>
          detectCcxtKind(x) === 'balance' && Object.keys((x as { total: object }).total).length === 0;
        data.forEach((x, i) => {
          const single = fromCcxt(x, { venue: venueOf(file), book: 'main', asOf: AS_OF });
          expect(single.events.length + single.problems.length > 0 || emptyBalance(x)).toBe(true);
          expect(single.problems.every((p) => p.index === 0)).toBe(true);
          // Alone, a record yields what it yields in the file, minus id collisions with earlier ones.
          const inFile = problems.filter((p) => p.index === i && !p.message.includes('already produced by record'));
          expect(inFile.map((p) => p.message)).toEqual(single.problems.map((p) => p.message));
        });
      });
    });
  }
});

describe('detectCcxtKind', () => {
  it('classifies the fixture structures', () => {
    expect(detectCcxtKind(load('binance.fetchMyTrades.json')[0])).toBe('trade');
    expect(detectCcxtKind(load('okx.fetchBalance.json')[1])).toBe('balance');
    expect(detectCcxtKind(load('binance.fetchFundingHistory.json')[0])).toBe('funding');
    expect(detectCcxtKind(load('binance.fetchDeposits.json')[0])).toBe('transaction');
    expect(detectCcxtKind(load('binance.fetchWithdrawals.json')[0])).toBe('transaction');
    for (const f of ['binance.fetchPositions.json', 'okx.fetchPosition.json', 'okx.fetchLedger.json', 'okx.fetchTransfers.json']) {
      for (const x of load(f)) expect(detectCcxtKind(x)).toBeUndefined();
    }
    for (const x of [null, 1, 'trade', [], {}, { foo: 1 }]) expect(detectCcxtKind(x)).toBeUndefined();
  });
});

describe('isCcxtPayload', () => {
  it('rejects UTL wire events and non-ccxt input', () => {
    const utl = [{ type: 'trade', id: 't1', ts: '2024-01-01T00:00:00Z', book: 'main', venue: 'x', account: 'a', instrument: 'BTC/USD', side: 'buy', qty: '1', price: '2' }];
    expect(isCcxtPayload(utl)).toBe(false);
    expect(isCcxtPayload([...load('binance.fetchMyTrades.json'), ...utl])).toBe(false);
    expect(isCcxtPayload({ type: 'deposit', id: 'd', ts: '2024-01-01T00:00:00Z', asset: 'BTC', qty: '1' })).toBe(false);
    for (const x of [[], {}, null, 'x', [1, 2], [{ foo: 1 }]]) expect(isCcxtPayload(x)).toBe(false);
  });

  it('accepts a single structure and mixed arrays', () => {
    expect(isCcxtPayload(load('binance.fetchBalance.json')[0])).toBe(true);
    expect(isCcxtPayload([...load('okx.fetchMyTrades.json'), ...load('okx.fetchLedger.json'), { foo: 1 }])).toBe(true);
  });
});

describe('fromCcxt details', () => {
  const ctx: CcxtContext = { venue: 'ex', book: 'b' };
  const trade = {
    timestamp: 1698138992358, datetime: '2023-10-24T09:16:32.358Z', symbol: 'ETH/USDT', id: '1', order: null, type: null,
    side: 'buy', takerOrMaker: 'maker', price: '1800.5', amount: 2, cost: 3601,
  };

  it('maps a mixed array in input order and accepts one structure alone', () => {
    const mixed = [...load('binance.fetchWithdrawals.json'), ...load('okx.fetchMyTrades.json'), ...load('binance.fetchPositions.json').slice(0, 1)];
    const r = fromCcxt(mixed, ctx);
    expect(r.events.map((e) => e.type)).toEqual(['withdrawal', 'trade']);
    expect(r.problems.map((p) => p.index)).toEqual([2]);
    expect(fromCcxt(load('binance.fetchFundingHistory.json')[0], ctx).events).toHaveLength(1);
  });

  it('takes fees from `fees` when non-empty, else `fee`, dropping null costs and keeping rebates negative', () => {
    const both = fromCcxt({ ...trade, fee: { cost: 1, currency: 'USDT' }, fees: [{ cost: 1, currency: 'USDT' }] }, ctx).events[0]!;
    expect(both.fees).toEqual([{ asset: 'USDT', amount: '1' }]);
    const gate = fromCcxt({ ...trade, fee: null, fees: [{ cost: '0.0018', currency: 'USDT' }, { cost: '0.0001', currency: 'GT' }] }, ctx).events[0]!;
    expect(gate.fees).toEqual([{ asset: 'USDT', amount: '0.0018' }, { asset: 'GT', amount: '0.0001' }]);
    const onlyFee = fromCcxt({ ...trade, fee: { cost: -0.00012, currency: 'BNB' }, fees: [] }, ctx).events[0]!;
    expect(onlyFee.fees).toEqual([{ asset: 'BNB', amount: '-0.00012' }]);
    const none = fromCcxt({ ...trade, fee: { cost: null, currency: null }, fees: [] }, ctx).events[0]!;
    expect(none).not.toHaveProperty('fees');
    expect(none).not.toHaveProperty('order');
    expect(none).toMatchObject({ price: '1800.5', qty: '2' });
    const partial = fromCcxt({ ...trade, fees: [{ cost: null, currency: 'USDT' }, { cost: 0.5, currency: 'USDT' }] }, ctx).events[0]!;
    expect(partial.fees).toEqual([{ asset: 'USDT', amount: '0.5' }]);
  });

  it('reports a fee without currency instead of dropping it', () => {
    const r = fromCcxt({ ...trade, fee: { cost: 0.5, currency: null } }, ctx);
    expect(r.events).toEqual([]);
    expect(r.problems[0]).toMatchObject({ index: 0, kind: 'trade', id: '1' });
    expect(r.problems[0]!.message).toContain('fee 0.5 has no currency');
  });

  it('reports trades missing required fields', () => {
    const r = fromCcxt([
      { ...trade, side: null },
      { ...trade, amount: null, price: NaN },
      { ...trade, timestamp: null, datetime: null },
      { ...trade, id: Number('12345678901234567890') }, // a 20-digit id parsed as a double,
    ], ctx);
    expect(r.events).toEqual([]);
    expect(r.problems.map((p) => p.index)).toEqual([0, 1, 2, 3]);
    expect(r.problems[0]!.message).toContain('side');
    expect(r.problems[1]!.message).toContain('amount, price');
    expect(r.problems[2]!.message).toContain('no timestamp');
    expect(r.problems[3]!.message).toContain('lost digits');
  });

  it('passes an identical repeat (overlapping fetches) on as the same event, and reports a conflicting one', () => {
    const r = fromCcxt([trade, { ...trade, id: '2' }, trade, { ...trade, price: 1 }], ctx);
    expect(r.events.map((e) => e.id)).toEqual(['ex:1', 'ex:2', 'ex:1']);
    expect(r.sources).toEqual([0, 1, 2]);
    expect(r.events[2]).toEqual(r.events[0]);
    expect(r.problems).toEqual([
      { index: 3, kind: 'trade', id: '1', message: 'event id ex:1 already produced by record #1 with different values: not mapped' },
    ]);
  });

  it('falls back to datetime when timestamp is null', () => {
    const e = fromCcxt({ ...trade, timestamp: null, datetime: '2023-10-24T09:16:32.358Z' }, ctx).events[0]!;
    expect(e.ts).toBe('2023-10-24T09:16:32.358Z');
  });

  it('computes a missing balance total exactly as free + used', () => {
    const r = fromCcxt({ BTC: { free: 0.6612664522199999, used: 0.4000000000000001, total: null }, ETH: { free: null, used: 1, total: null }, timestamp: 1752243339082, datetime: null }, ctx);
    expect(r.events).toEqual([{
      type: 'balance', id: 'ex:default:balance:2025-07-11T14:15:39.082Z:BTC', ts: '2025-07-11T14:15:39.082Z', book: 'b', venue: 'ex', account: 'default',
      asset: 'BTC', total: '1.06126645222', free: '0.6612664522199999', used: '0.4000000000000001',
    }]);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]!.message).toMatch(/^balance ETH: no total/);
  });

  it('uses the top-level maps only when per-currency entries are absent', () => {
    const r = fromCcxt({ timestamp: 1752243339082, free: { XRP: '5' }, used: { XRP: '1.5' }, total: { XRP: null } }, { ...ctx, account: 'a' });
    expect(r.events).toEqual([expect.objectContaining({ asset: 'XRP', total: '6.5', free: '5', used: '1.5' })]);
  });

  it('rejects an asOf that is not ISO-8601 UTC', () => {
    const r = fromCcxt(load('okx.fetchBalance.json')[0], { ...ctx, asOf: 'yesterday' });
    expect(r.events).toEqual([]);
    expect(r.problems[0]!.message).toMatch(/^asOf "yesterday"/);
  });

  it('books only settled transactions and reports the rest', () => {
    const [w] = load('binance.fetchWithdrawals.json') as Record<string, unknown>[];
    const [d] = load('binance.fetchDeposits.json') as Record<string, unknown>[];
    const r = fromCcxt([
      { ...w, status: 'pending' },
      { ...d, status: 'failed' },
      { ...w, status: 'canceled' },
      { ...w, status: null, fee: { currency: 'USDT', cost: 0 } },
      { ...d, id: null },
      { ...w, id: 'w2', fee: { currency: 'BNB', cost: 0.0005 } },
    ], ctx);
    expect(r.problems.slice(0, 3)).toEqual([
      { index: 0, kind: 'transaction', id: '54c1b7543534543fsdfsdf6', message: 'withdrawal not booked: status pending' },
      { index: 1, kind: 'transaction', id: '4534543435', message: 'deposit not booked: status failed' },
      { index: 2, kind: 'transaction', id: '54c1b7543534543fsdfsdf6', message: 'withdrawal not booked: status canceled' },
    ]);
    expect(r.events).toHaveLength(3);
    expect(r.events[0]).not.toHaveProperty('fee'); // zero fee omitted
    expect(r.events[1]!.id).toBe('ex:deposit:435kl435jh4354j3k5'); // txid stands in for a missing id
    expect(r.events[2]).toMatchObject({ qty: '9' });
    expect(r.events[2]).not.toHaveProperty('fee');
    expect(r.problems[3]).toMatchObject({ index: 5, kind: 'transaction', id: 'w2' });
    expect(r.problems[3]!.message).toContain('BNB');
  });

  it('keeps a funding payment without id keyed by symbol and time', () => {
    const [f] = load('binance.fetchFundingHistory.json') as Record<string, unknown>[];
    const e = fromCcxt({ ...f, id: null }, ctx).events[0]!;
    expect(e.id).toBe('ex:funding:BTC/USDT:USDT:2024-02-09T08:00:00.000Z');
  });

  it('reports non-objects and unknown shapes by index', () => {
    const r = fromCcxt([null, [1], 'x', { bid: 1, ask: 2, symbol: 'BTC/USDT' }], ctx);
    expect(r.events).toEqual([]);
    expect(r.problems.map((p) => [p.index, p.kind])).toEqual([[0, 'unknown'], [1, 'unknown'], [2, 'unknown'], [3, 'unknown']]);
    expect(r.problems[3]!.message).toContain('unrecognised record (keys: bid, ask, symbol)');
  });
});
