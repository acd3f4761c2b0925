/**
 * The boundary validator: every validation code it can produce (JSON_SYNTAX comes from the replay
 * app and is covered by the CLI end-to-end test; CCXT_UNMAPPED by the ccxt adapter), each with its
 * field path, its expected/received phrases and the event id that the rejection message names.
 * Then the positive side: the minimal valid form of every event type and its canonical defaults.
 */
import { describe, expect, it } from 'vitest';
import { Dec } from './decimal.js';
import { describeIssues, VALIDATION_CODES, type Issue, type ValidationCode } from './errors.js';
import type { LedgerEvent } from './events.js';
import { InstrumentRegistry } from './instrument.js';
import { parseTimestamp } from './time.js';
import { validateEvent } from './validate.js';

type Wire = Record<string, unknown>;

const TS = '2026-01-02T10:00:00Z';
const TS_US = parseTimestamp(TS)!;

/** A registry with binance's BTC/USDT:USDT perpetual (1 BTC per contract) and an inverse BTC/USD:BTC everywhere. */
function registry(): InstrumentRegistry {
  const r = new InstrumentRegistry();
  r.register('BTC/USDT:USDT', 'binance', Dec.of('1'));
  r.register('BTC/USD:BTC', undefined, Dec.of('100'));
  return r;
}

const base = {
  trade: (): Wire => ({ type: 'trade', id: 't1', ts: TS, book: 'b1', venue: 'binance', instrument: 'BTC/USDT', side: 'buy', qty: '1.5', price: '42000.10' }),
  price: (): Wire => ({ type: 'price', ts: TS, asset: 'BTC', quote: 'USD', price: '42000' }),
  transfer: (): Wire => ({ type: 'transfer', id: 'x1', ts: TS, book: 'b1', asset: 'BTC', qty: '0.5', from: 'binance', to: 'kraken' }),
  deposit: (): Wire => ({ type: 'deposit', id: 'd1', ts: TS, book: 'b1', venue: 'binance', asset: 'USDT', qty: '1000' }),
  withdrawal: (): Wire => ({ type: 'withdrawal', id: 'w1', ts: TS, book: 'b1', venue: 'binance', asset: 'USDT', qty: '10' }),
  funding: (): Wire => ({ type: 'funding', id: 'f1', ts: TS, book: 'b1', venue: 'binance', instrument: 'BTC/USDT:USDT', amount: '2.71' }),
  balance: (): Wire => ({ type: 'balance', ts: TS, venue: 'kraken', asset: 'BTC', total: '0.1' }),
  cancel: (): Wire => ({ type: 'cancel', id: 'c1', ts: TS, target: 't1' }),
  amend: (): Wire => ({ type: 'amend', id: 'a1', ts: TS, target: 't1', fields: { price: '42000.5' } }),
  instrument: (): Wire => ({ type: 'instrument', symbol: 'BTC/USDT:USDT', multiplier: '1' }),
} satisfies Record<LedgerEvent['type'], () => Wire>;

function accept(value: unknown): LedgerEvent {
  const v = validateEvent(value, registry());
  if (!v.ok) throw new Error(`expected valid, got ${JSON.stringify(v.issues)}`);
  return v.event;
}

function reject(value: unknown): { issues: Issue[]; id: string | undefined; message: string } {
  const v = validateEvent(value, registry());
  if (v.ok) throw new Error(`expected a rejection, got ${JSON.stringify(v.event)}`);
  // The label the replay app puts in front of every issue: the event's type and id.
  const type = typeof value === 'object' && value !== null && typeof (value as Wire).type === 'string' ? String((value as Wire).type) : 'event';
  const label = `${type} ${v.id ?? 'at line 1'}`;
  return { issues: v.issues, id: v.id, message: describeIssues(label, v.issues) };
}

interface Expect {
  code: ValidationCode;
  path: string;
  /** The event id the result carries (undefined when the event has no string id). */
  id: string | undefined;
  /** A fragment of the expected phrase. */
  expected: string;
  /** The exact received rendering (JSON text of the value, or "nothing"). */
  received: string;
}

/** Exactly one issue, as described; the message names the id and says expected X, got Y. */
function expectOnly(value: unknown, want: Expect): Issue {
  const r = reject(value);
  expect(r.issues.map((i) => `${i.code}@${i.path}`)).toEqual([`${want.code}@${want.path}`]);
  const issue = r.issues[0]!;
  expect(issue.expected).toContain(want.expected);
  expect(issue.received).toBe(want.received);
  expect(r.id).toBe(want.id);
  if (want.id !== undefined) expect(r.message).toContain(` ${want.id}: `);
  expect(r.message).toContain(`${want.path === '' ? '' : `${want.path}: `}expected ${issue.expected}, got ${want.received}`);
  return issue;
}

const seen = new Set<ValidationCode>();
function covers(code: ValidationCode): ValidationCode {
  seen.add(code);
  return code;
}

describe('validateEvent: rejection codes', () => {
  it('NOT_AN_OBJECT: a list, a string, null and a number are not events (no id)', () => {
    for (const [value, kind] of [[[], 'a list'], ['trade', 'string'], [null, 'null'], [42, 'number']] as const) {
      const r = reject(value);
      expect(r.issues).toEqual([{ code: covers('NOT_AN_OBJECT'), path: '', expected: 'a JSON object', received: kind }]);
      expect(r.id).toBeUndefined();
      expect(r.message).toBe(`event at line 1: expected a JSON object, got ${kind}`);
    }
  });

  it('UNKNOWN_TYPE: type "swap" names the known types and keeps the id', () => {
    const issue = expectOnly({ ...base.trade(), type: 'swap' }, { code: covers('UNKNOWN_TYPE'), path: 'type', id: 't1', expected: 'one of trade, price', received: '"swap"' });
    expect(issue.expected).toContain('instrument');
  });

  it('UNKNOWN_TYPE: a non-string type', () => {
    expectOnly({ ...base.trade(), type: 7 }, { code: 'UNKNOWN_TYPE', path: 'type', id: 't1', expected: 'one of', received: '7' });
  });

  it('MISSING_FIELD: no type at all', () => {
    const w = base.trade();
    delete w.type;
    expectOnly(w, { code: covers('MISSING_FIELD'), path: 'type', id: 't1', expected: 'one of trade', received: 'nothing' });
  });

  it('MISSING_FIELD: a required field absent, and one sent as null', () => {
    const w = base.trade();
    delete w.qty;
    expectOnly(w, { code: 'MISSING_FIELD', path: 'qty', id: 't1', expected: 'a value', received: 'nothing' });
    expectOnly({ ...base.trade(), price: null }, { code: 'MISSING_FIELD', path: 'price', id: 't1', expected: 'a value', received: 'null' });
  });

  it('MISSING_FIELD: a trade without an id is rejected with the id undefined', () => {
    const w = base.trade();
    delete w.id;
    const r = reject(w);
    expect(r.issues).toEqual([{ code: 'MISSING_FIELD', path: 'id', expected: 'a value', received: 'nothing' }]);
    expect(r.id).toBeUndefined();
    expect(r.message).toBe('trade at line 1: id: expected a value, got nothing');
  });

  it('MISSING_FIELD: the instrument of a trade, and the fields of an amend', () => {
    const w = base.trade();
    delete w.instrument;
    expectOnly(w, { code: 'MISSING_FIELD', path: 'instrument', id: 't1', expected: 'a value', received: 'nothing' });
    const a = base.amend();
    delete a.fields;
    expectOnly(a, { code: 'MISSING_FIELD', path: 'fields', id: 'a1', expected: 'an object of trade fields', received: 'nothing' });
    expectOnly({ ...base.amend(), fields: {} }, { code: 'MISSING_FIELD', path: 'fields', id: 'a1', expected: 'at least one trade field', received: '{}' });
  });

  it('UNKNOWN_FIELD: "qyt" (a typo for qty) is reported, and so is the missing qty', () => {
    const w = base.trade();
    delete w.qty;
    w.qyt = '1';
    const r = reject(w);
    expect(r.issues.map((i) => [i.code, i.path])).toEqual([
      [covers('UNKNOWN_FIELD'), 'qyt'],
      ['MISSING_FIELD', 'qty'],
    ]);
    expect(r.issues[0]!.expected).toContain('qty');
    expect(r.issues[0]!.received).toBe('"qyt"');
    expect(r.id).toBe('t1');
    expect(r.message).toContain('trade t1: qyt: expected only id, ts, book');
    expect(r.message).toContain('got "qyt"; trade t1: qty: expected a value, got nothing');
  });

  it('UNKNOWN_FIELD: inside a fee object, with the nested path', () => {
    expectOnly({ ...base.trade(), fee: { asset: 'USDT', amount: '1', amnt: '1' } }, { code: 'UNKNOWN_FIELD', path: 'fee.amnt', id: 't1', expected: 'only asset, amount', received: '"amnt"' });
  });

  it('UNKNOWN_FIELD: a field of another event type (price has no book)', () => {
    expectOnly({ ...base.price(), book: 'b1' }, { code: 'UNKNOWN_FIELD', path: 'book', id: undefined, expected: 'only id, ts, asset', received: '"book"' });
  });

  it('WRONG_TYPE: a number where a name is expected', () => {
    expectOnly({ ...base.trade(), book: 42 }, { code: covers('WRONG_TYPE'), path: 'book', id: 't1', expected: 'a string', received: '42' });
  });

  it('WRONG_TYPE: a non-string id (the result then has no id)', () => {
    expectOnly({ ...base.trade(), id: 17 }, { code: 'WRONG_TYPE', path: 'id', id: undefined, expected: 'a string', received: '17' });
  });

  it('WRONG_TYPE: a boolean decimal, a fee that is not an object, fees that are not a list, a non-string instrument', () => {
    expectOnly({ ...base.trade(), qty: true }, { code: 'WRONG_TYPE', path: 'qty', id: 't1', expected: 'a decimal string', received: 'true' });
    expectOnly({ ...base.trade(), fee: '0.1' }, { code: 'WRONG_TYPE', path: 'fee', id: 't1', expected: 'an object {"asset","amount"}', received: '"0.1"' });
    expectOnly({ ...base.trade(), fees: { asset: 'USDT', amount: '1' } }, { code: 'WRONG_TYPE', path: 'fees', id: 't1', expected: 'a list of', received: '{"asset":"USDT","amount":"1"}' });
    expectOnly({ ...base.trade(), fees: [{ asset: 'USDT', amount: '1' }, 5] }, { code: 'WRONG_TYPE', path: 'fees[1]', id: 't1', expected: 'an object', received: '5' });
    expectOnly({ ...base.trade(), instrument: ['BTC/USDT'] }, { code: 'WRONG_TYPE', path: 'instrument', id: 't1', expected: 'a string', received: '["BTC/USDT"]' });
    expectOnly({ ...base.amend(), fields: ['price'] }, { code: 'WRONG_TYPE', path: 'fields', id: 'a1', expected: 'an object', received: '["price"]' });
  });

  it('NUMBER_NOT_STRING: a decimal sent as a JSON number', () => {
    expectOnly({ ...base.trade(), qty: 1.5 }, { code: covers('NUMBER_NOT_STRING'), path: 'qty', id: 't1', expected: 'a decimal as a JSON string', received: '1.5' });
    expectOnly({ ...base.trade(), fee: { asset: 'USDT', amount: 0.1 } }, { code: 'NUMBER_NOT_STRING', path: 'fee.amount', id: 't1', expected: 'a JSON string', received: '0.1' });
  });

  it('NUMBER_EXPONENT: "1e5"', () => {
    expectOnly({ ...base.trade(), price: '1e5' }, { code: covers('NUMBER_EXPONENT'), path: 'price', id: 't1', expected: 'without an exponent', received: '"1e5"' });
    expectOnly({ ...base.trade(), qty: '1.5E-3' }, { code: 'NUMBER_EXPONENT', path: 'qty', id: 't1', expected: 'without an exponent', received: '"1.5E-3"' });
  });

  it('NUMBER_NOT_FINITE: "NaN" and "Infinity"', () => {
    expectOnly({ ...base.trade(), price: 'NaN' }, { code: covers('NUMBER_NOT_FINITE'), path: 'price', id: 't1', expected: 'a finite decimal', received: '"NaN"' });
    expectOnly({ ...base.trade(), qty: 'Infinity' }, { code: 'NUMBER_NOT_FINITE', path: 'qty', id: 't1', expected: 'a finite decimal', received: '"Infinity"' });
    expectOnly({ ...base.deposit(), cost: '-Infinity' }, { code: 'NUMBER_NOT_FINITE', path: 'cost', id: 'd1', expected: 'a finite decimal', received: '"-Infinity"' });
  });

  it('NUMBER_TOO_MANY_DIGITS: 31 integer digits, 19 decimals; 30 and 18 are fine', () => {
    const int31 = `1${'0'.repeat(30)}`;
    const frac19 = `0.${'1'.repeat(19)}`;
    expectOnly({ ...base.trade(), qty: int31 }, { code: covers('NUMBER_TOO_MANY_DIGITS'), path: 'qty', id: 't1', expected: 'at most 30 integer and 18 fractional digits', received: JSON.stringify(int31) });
    expectOnly({ ...base.trade(), price: frac19 }, { code: 'NUMBER_TOO_MANY_DIGITS', path: 'price', id: 't1', expected: 'at most 30 integer', received: JSON.stringify(frac19) });
    // The limits themselves, and zeros that carry no digits (leading integer, trailing fractional).
    const ok = accept({ ...base.trade(), qty: '9'.repeat(30), price: `0.${'1'.repeat(18)}000000` });
    expect(ok.type === 'trade' && ok.qty.toString()).toBe('9'.repeat(30));
    expect(ok.type === 'trade' && ok.price.toString()).toBe(`0.${'1'.repeat(18)}`);
    expect(accept({ ...base.trade(), qty: `000${'9'.repeat(30)}` }).type).toBe('trade');
  });

  it('NUMBER_SYNTAX: "12,5", "", "+1", " 1" and ".5"', () => {
    expectOnly({ ...base.trade(), qty: '12,5' }, { code: covers('NUMBER_SYNTAX'), path: 'qty', id: 't1', expected: 'a decimal string like', received: '"12,5"' });
    for (const bad of ['', '+1', ' 1', '.5', '1.', '0x10']) {
      expectOnly({ ...base.trade(), price: bad }, { code: 'NUMBER_SYNTAX', path: 'price', id: 't1', expected: 'a decimal string', received: JSON.stringify(bad) });
    }
  });

  it('QUANTITY_NOT_POSITIVE: qty "-1" and "0" (and "-0")', () => {
    expectOnly({ ...base.trade(), qty: '-1' }, { code: covers('QUANTITY_NOT_POSITIVE'), path: 'qty', id: 't1', expected: 'greater than zero', received: '"-1"' });
    expectOnly({ ...base.trade(), qty: '0' }, { code: 'QUANTITY_NOT_POSITIVE', path: 'qty', id: 't1', expected: 'greater than zero', received: '"0"' });
    expectOnly({ ...base.transfer(), qty: '-0' }, { code: 'QUANTITY_NOT_POSITIVE', path: 'qty', id: 'x1', expected: 'greater than zero', received: '"-0"' });
  });

  it('QUANTITY_NOT_POSITIVE: a negative deposit cost or withdrawal fee (zero is allowed)', () => {
    expectOnly({ ...base.deposit(), cost: '-5' }, { code: 'QUANTITY_NOT_POSITIVE', path: 'cost', id: 'd1', expected: 'zero or more', received: '"-5"' });
    expectOnly({ ...base.withdrawal(), fee: '-0.1' }, { code: 'QUANTITY_NOT_POSITIVE', path: 'fee', id: 'w1', expected: 'zero or more', received: '"-0.1"' });
    expect(accept({ ...base.deposit(), cost: '0' }).type).toBe('deposit');
  });

  it('PRICE_NOT_POSITIVE: price "0", a negative mark, a zero multiplier', () => {
    expectOnly({ ...base.trade(), price: '0' }, { code: covers('PRICE_NOT_POSITIVE'), path: 'price', id: 't1', expected: 'greater than zero', received: '"0"' });
    expectOnly({ ...base.price(), price: '-42000' }, { code: 'PRICE_NOT_POSITIVE', path: 'price', id: undefined, expected: 'greater than zero', received: '"-42000"' });
    expectOnly({ ...base.instrument(), multiplier: '0' }, { code: 'PRICE_NOT_POSITIVE', path: 'multiplier', id: undefined, expected: 'greater than zero', received: '"0"' });
  });

  it('UNKNOWN_SIDE: "hold" (and "BUY": sides are lower case)', () => {
    expectOnly({ ...base.trade(), side: 'hold' }, { code: covers('UNKNOWN_SIDE'), path: 'side', id: 't1', expected: '"buy" or "sell"', received: '"hold"' });
    expectOnly({ ...base.trade(), side: 'BUY' }, { code: 'UNKNOWN_SIDE', path: 'side', id: 't1', expected: '"buy" or "sell"', received: '"BUY"' });
  });

  it('BAD_TIMESTAMP: a date that does not exist, words, no zone, non-zero nanoseconds, a number', () => {
    const cases: [unknown, string][] = [
      ['2026-02-30T00:00:00Z', 'with a zone'],
      ['yesterday', 'with a zone'],
      ['2026-01-02T10:00:00', 'with a zone'],
      ['2026-01-02T10:00:00.123456789Z', 'at most microseconds'],
      ['2026-01-02 10:00:00Z', 'ISO-8601'],
      ['2026-01-02T24:00:00Z', 'ISO-8601'],
      ['1969-12-31T23:59:59Z', 'from 1970'],
      ['2026-01-02T10:00:00+25:00', 'with a zone'],
      [1767348000000, 'an ISO-8601 timestamp string'],
    ];
    for (const [ts, expected] of cases) {
      expectOnly({ ...base.trade(), ts }, { code: covers('BAD_TIMESTAMP'), path: 'ts', id: 't1', expected, received: JSON.stringify(ts) });
    }
  });

  it('BAD_TIMESTAMP: sub-microsecond zeros, fractions and offsets that are real instants are fine', () => {
    const at = (ts: string): number => accept({ ...base.trade(), ts }).ts;
    expect(at('2026-01-02T10:00:00.123456000Z')).toBe(TS_US + 123456);
    expect(at('2026-01-02T10:00:00.5Z')).toBe(TS_US + 500000);
    expect(at('2026-01-02T11:30:00+01:30')).toBe(TS_US);
    expect(at('2026-01-02T05:00:00-05:00')).toBe(TS_US);
    expect(at('2024-02-29T00:00:00Z')).toBe(parseTimestamp('2024-03-01T00:00:00Z')! - 86_400_000_000);
  });

  it('BAD_IDENTIFIER: an empty book, an asset with spaces, an id with surrounding spaces or too long', () => {
    expectOnly({ ...base.trade(), book: '' }, { code: covers('BAD_IDENTIFIER'), path: 'book', id: 't1', expected: 'a name of 1-128', received: '""' });
    expectOnly({ ...base.deposit(), asset: 'US DT' }, { code: 'BAD_IDENTIFIER', path: 'asset', id: 'd1', expected: 'an asset code', received: '"US DT"' });
    expectOnly({ ...base.trade(), venue: 'bin ance' }, { code: 'BAD_IDENTIFIER', path: 'venue', id: 't1', expected: 'a name of 1-128', received: '"bin ance"' });
    expectOnly({ ...base.trade(), fee: { asset: ' USDT', amount: '1' } }, { code: 'BAD_IDENTIFIER', path: 'fee.asset', id: 't1', expected: 'an asset code', received: '" USDT"' });
    // The id itself is malformed: it is still what the result (and the message) carries.
    expectOnly({ ...base.trade(), id: ' t1' }, { code: 'BAD_IDENTIFIER', path: 'id', id: ' t1', expected: 'without surrounding spaces', received: '" t1"' });
    expectOnly({ ...base.trade(), id: '' }, { code: 'BAD_IDENTIFIER', path: 'id', id: '', expected: 'a non-empty id', received: '""' });
    const long = 'x'.repeat(257);
    const issue = expectOnly({ ...base.trade(), id: long }, { code: 'BAD_IDENTIFIER', path: 'id', id: long, expected: 'at most 256 characters', received: `"${'x'.repeat(76)}...` });
    expect(issue.received.length).toBe(80);
    expect(accept({ ...base.trade(), id: 'x'.repeat(256) }).id).toHaveLength(256);
  });

  it('UNKNOWN_INSTRUMENT: "BTCUSDT" is not a symbol', () => {
    expectOnly({ ...base.trade(), instrument: 'BTCUSDT' }, { code: covers('UNKNOWN_INSTRUMENT'), path: 'instrument', id: 't1', expected: 'expected BASE/QUOTE (spot)', received: '"BTCUSDT"' });
  });

  it('UNKNOWN_INSTRUMENT: BTC/USDT:USDT at a venue with no registered terms', () => {
    expectOnly(
      { ...base.trade(), venue: 'okx', instrument: 'BTC/USDT:USDT' },
      { code: 'UNKNOWN_INSTRUMENT', path: 'instrument', id: 't1', expected: 'no registered terms at okx', received: '"BTC/USDT:USDT"' },
    );
    const r = validateEvent({ ...base.trade(), instrument: 'BTC/USDT:USDT' }, new InstrumentRegistry());
    expect(!r.ok && r.issues[0]!.code).toBe('UNKNOWN_INSTRUMENT');
  });

  it('UNKNOWN_INSTRUMENT: a quanto BTC/USD:ETH (settled in neither base nor quote)', () => {
    expectOnly({ ...base.trade(), instrument: 'BTC/USD:ETH' }, { code: 'UNKNOWN_INSTRUMENT', path: 'instrument', id: 't1', expected: 'quanto', received: '"BTC/USD:ETH"' });
  });

  it('UNKNOWN_INSTRUMENT: funding on a spot pair, terms for a spot pair, an amend to a malformed symbol', () => {
    expectOnly({ ...base.funding(), instrument: 'BTC/USDT' }, { code: 'UNKNOWN_INSTRUMENT', path: 'instrument', id: 'f1', expected: 'spot has no funding', received: '"BTC/USDT"' });
    expectOnly({ ...base.instrument(), symbol: 'BTC/USDT' }, { code: 'UNKNOWN_INSTRUMENT', path: 'symbol', id: undefined, expected: 'a derivative symbol', received: '"BTC/USDT"' });
    expectOnly({ ...base.amend(), fields: { instrument: 'BTCUSDT' } }, { code: 'UNKNOWN_INSTRUMENT', path: 'fields.instrument', id: 'a1', expected: 'an instrument symbol', received: '"BTCUSDT"' });
  });

  it('INVALID_COMBINATION: fee and fees together', () => {
    expectOnly(
      { ...base.trade(), fee: { asset: 'USDT', amount: '1' }, fees: [{ asset: 'USDT', amount: '1' }] },
      { code: covers('INVALID_COMBINATION'), path: 'fees', id: 't1', expected: 'either "fee" or "fees", not both', received: '[{"asset":"USDT","amount":"1"}]' },
    );
  });

  it('INVALID_COMBINATION: funding with both amount and rate, and with neither', () => {
    expectOnly({ ...base.funding(), rate: '0.0001' }, { code: 'INVALID_COMBINATION', path: 'amount', id: 'f1', expected: 'exactly one of "amount"', received: '"2.71"' });
    const w = base.funding();
    delete w.amount;
    expectOnly(w, { code: 'INVALID_COMBINATION', path: 'amount', id: 'f1', expected: 'exactly one of "amount"', received: 'nothing' });
  });

  it('INVALID_COMBINATION: funding in an asset other than the settlement asset', () => {
    expectOnly({ ...base.funding(), asset: 'BTC' }, { code: 'INVALID_COMBINATION', path: 'asset', id: 'f1', expected: 'USDT, the settlement asset of BTC/USDT:USDT', received: '"BTC"' });
  });

  it('INVALID_COMBINATION: a transfer to the same venue and account (default or explicit)', () => {
    expectOnly({ ...base.transfer(), to: 'binance' }, { code: 'INVALID_COMBINATION', path: 'to', id: 'x1', expected: 'a venue or account other than the source', received: '"binance"' });
    expectOnly(
      { ...base.transfer(), to: 'binance', fromAccount: 'main', toAccount: 'main' },
      { code: 'INVALID_COMBINATION', path: 'to', id: 'x1', expected: 'other than the source', received: '"binance"' },
    );
    // Same venue, another account: a real move.
    const e = accept({ ...base.transfer(), to: 'binance', toAccount: 'margin' });
    expect(e.type === 'transfer' && [e.from, e.fromAccount, e.to, e.toAccount]).toEqual(['binance', 'default', 'binance', 'margin']);
  });

  it('INVALID_COMBINATION: a mark of an asset in itself, a cancel of itself', () => {
    expectOnly({ ...base.price(), quote: 'BTC' }, { code: 'INVALID_COMBINATION', path: 'quote', id: undefined, expected: 'a quote other than the asset', received: '"BTC"' });
    expectOnly({ ...base.cancel(), target: 'c1' }, { code: 'INVALID_COMBINATION', path: 'target', id: 'c1', expected: 'the id of another event', received: '"c1"' });
  });

  it('reports several issues at once, all of them, in field order', () => {
    const r = reject({ type: 'trade', id: 'bad-1', ts: 'yesterday', book: '', venue: 'binance', instrument: 'BTC/USDT', side: 'hold', qty: '1e3', price: '0', fee: { asset: 'USDT', amount: 1 }, qyt: '1' });
    expect(r.issues.map((i) => `${i.code}@${i.path}`)).toEqual([
      'UNKNOWN_FIELD@qyt',
      'BAD_TIMESTAMP@ts',
      'BAD_IDENTIFIER@book',
      'UNKNOWN_SIDE@side',
      'NUMBER_EXPONENT@qty',
      'PRICE_NOT_POSITIVE@price',
      'NUMBER_NOT_STRING@fee.amount',
    ]);
    expect(r.id).toBe('bad-1');
    const parts = r.message.split('; ');
    expect(parts).toHaveLength(7);
    for (const p of parts) expect(p.startsWith('trade bad-1: ')).toBe(true);
    expect(parts[3]).toBe('trade bad-1: side: expected "buy" or "sell", got "hold"');
    expect(parts[6]).toBe('trade bad-1: fee.amount: expected a decimal as a JSON string (e.g. "1.5"), got 1');
  });

  // Was a bug: the key `type` was skipped at every level, not only at the top.
  it('UNKNOWN_FIELD: a "type" key inside a fee object or an amend\'s fields is not ignored', () => {
    expectOnly({ ...base.trade(), fee: { asset: 'USDT', amount: '1', type: 'taker' } }, { code: 'UNKNOWN_FIELD', path: 'fee.type', id: 't1', expected: 'only asset, amount', received: '"type"' });
    expectOnly({ ...base.amend(), fields: { type: 'trade' } }, { code: 'UNKNOWN_FIELD', path: 'fields.type', id: 'a1', expected: 'only ts, venue', received: '"type"' });
  });

  // Was a bug: null-valued fields are skipped, but the "at least one field" check counted keys.
  it('MISSING_FIELD: an amend whose only field is null replaces nothing and is refused', () => {
    expectOnly({ ...base.amend(), fields: { qty: null } }, { code: 'MISSING_FIELD', path: 'fields', id: 'a1', expected: 'at least one trade field', received: '{}' });
  });

  it('covers every validation code except JSON_SYNTAX (replay app), CCXT_UNMAPPED (ccxt adapter) and the two ledger codes', () => {
    const elsewhere = new Set<ValidationCode>(['JSON_SYNTAX', 'CCXT_UNMAPPED', 'DUPLICATE_CONFLICT', 'INSTRUMENT_CONFLICT']);
    const missing = (Object.keys(VALIDATION_CODES) as ValidationCode[]).filter((c) => !elsewhere.has(c) && !seen.has(c));
    expect(missing).toEqual([]);
  });
});

describe('validateEvent: valid events', () => {
  it('the minimal form of every event type validates', () => {
    for (const [type, make] of Object.entries(base)) {
      const e = accept(make());
      expect(e.type).toBe(type);
      expect(typeof e.id).toBe('string');
      expect(e.id.length).toBeGreaterThan(0);
    }
  });

  it('a trade becomes canonical: exact decimals, epoch microseconds, account "default", no fees', () => {
    const e = accept(base.trade());
    if (e.type !== 'trade') throw new Error('not a trade');
    expect(e.ts).toBe(TS_US);
    expect(e.ts).toBe(Date.UTC(2026, 0, 2, 10) * 1000);
    expect(e.qty.toString()).toBe('1.5');
    expect(e.price.toString()).toBe('42000.1');
    expect(e.account).toBe('default');
    expect(e.fees).toEqual([]);
    expect(Object.keys(e).sort()).toEqual(['account', 'book', 'fees', 'id', 'instrument', 'price', 'qty', 'side', 'ts', 'type', 'venue']);
  });

  it('account defaults to "default" everywhere it is optional, and null counts as absent', () => {
    for (const make of [base.trade, base.deposit, base.withdrawal, base.funding, base.balance]) {
      const e = accept(make()) as { account?: string };
      expect(e.account).toBe('default');
    }
    expect((accept({ ...base.deposit(), account: null }) as { account?: string }).account).toBe('default');
    expect((accept({ ...base.deposit(), account: 'main' }) as { account?: string }).account).toBe('main');
    const t = accept(base.transfer());
    expect(t.type === 'transfer' && [t.fromAccount, t.toAccount]).toEqual(['default', 'default']);
  });

  it('a price without id gets a deterministic id from pair and time', () => {
    const a = accept(base.price());
    const b = accept(base.price());
    expect(a.id).toBe('price:BTC/USD@2026-01-02T10:00:00Z');
    expect(b.id).toBe(a.id);
    expect(accept({ ...base.price(), ts: '2026-01-02T10:00:01Z' }).id).not.toBe(a.id);
    expect(accept({ ...base.price(), quote: 'USDT' }).id).not.toBe(a.id);
    // The price is content, not identity: another price at the same instant has the same id (a conflict for the ledger).
    expect(accept({ ...base.price(), price: '43000' }).id).toBe(a.id);
    expect(accept({ ...base.price(), id: 'm1' }).id).toBe('m1');
  });

  it('balance and instrument events without id get deterministic ids too', () => {
    expect(accept(base.balance()).id).toBe('balance:kraken:default:BTC@2026-01-02T10:00:00Z');
    expect(accept(base.instrument()).id).toBe('instrument:BTC/USDT:USDT@*');
    const i = accept({ ...base.instrument(), venue: 'binance' });
    expect(i.id).toBe('instrument:BTC/USDT:USDT@binance');
    expect(i.type === 'instrument' && [i.venue, i.multiplier.toString(), i.ts]).toEqual(['binance', '1', 0]);
  });

  it('`fee` becomes a one-element fees list; `fees` keeps every entry; a negative fee is a rebate', () => {
    const one = accept({ ...base.trade(), fee: { asset: 'BNB', amount: '0.15' } });
    expect(one.type === 'trade' && one.fees.map((f) => [f.asset, f.amount.toString()])).toEqual([['BNB', '0.15']]);
    const many = accept({ ...base.trade(), fees: [{ asset: 'USDT', amount: '-3.15' }, { asset: 'BNB', amount: '0.01' }] });
    expect(many.type === 'trade' && many.fees.map((f) => [f.asset, f.amount.toString()])).toEqual([
      ['USDT', '-3.15'],
      ['BNB', '0.01'],
    ]);
    const none = accept({ ...base.trade(), fee: null });
    expect(none.type === 'trade' && none.fees).toEqual([]);
  });

  it('meta is accepted and dropped; derivative trades validate once their terms are registered', () => {
    const e = accept({ ...base.trade(), meta: { note: 'anything', n: 1 } });
    expect('meta' in e).toBe(false);
    expect(accept({ ...base.trade(), instrument: 'BTC/USDT:USDT' }).type).toBe('trade');
    // Terms registered for every venue (no venue) apply at any venue.
    expect(accept({ ...base.trade(), venue: 'okx', instrument: 'BTC/USD:BTC' }).type).toBe('trade');
  });

  it('an amend keeps only the fields it replaces, validated like a trade', () => {
    const e = accept({ ...base.amend(), fields: { price: '2539.5', fee: { asset: 'USD', amount: '1.27' }, side: 'sell' } });
    if (e.type !== 'amend') throw new Error('not an amend');
    expect(Object.keys(e.fields).sort()).toEqual(['fees', 'price', 'side']);
    expect(e.fields.price?.toString()).toBe('2539.5');
    expect(e.fields.fees?.map((f) => f.asset)).toEqual(['USD']);
    expectOnly({ ...base.amend(), fields: { book: 'b2' } }, { code: 'UNKNOWN_FIELD', path: 'fields.book', id: 'a1', expected: 'only ts, venue', received: '"book"' });
    expectOnly({ ...base.amend(), fields: { qty: '0' } }, { code: 'QUANTITY_NOT_POSITIVE', path: 'fields.qty', id: 'a1', expected: 'greater than zero', received: '"0"' });
  });
});
