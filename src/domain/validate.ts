/**
 * The boundary: turns a parsed JSON value into a canonical event, or into the list of every
 * problem found, each with its field path, what was expected and what was received. Nothing
 * past this point sees unchecked input. Hand-written rather than a schema library because it is
 * on the hot path of replay (about a microsecond per fill) and because each failure needs its own
 * stable code (docs/errors.md).
 */
import { Dec, readDecimal } from './decimal.js';
import { show, type Issue, type ValidationCode } from './errors.js';
import type { Fee, LedgerEvent, Side, TradeAmendment, TsUs } from './events.js';
import { ASSET_RE, parseSymbol, type InstrumentRegistry } from './instrument.js';
import { formatTimestamp, parseTimestamp } from './time.js';

export type Validated = { ok: true; event: LedgerEvent } | { ok: false; issues: Issue[]; id: string | undefined };

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,127}$/;
const ID_MAX = 256;

/** A valid book, venue or account name. */
export function isName(v: string): boolean {
  return NAME_RE.test(v);
}

/** A valid event id. */
export function isId(v: string): boolean {
  return v.length > 0 && v.length <= ID_MAX && v.trim() === v;
}

/** Allowed fields per type (beyond `type`); `meta` is free-form and never read. */
const FIELDS: Record<LedgerEvent['type'], readonly string[]> = {
  trade: ['id', 'ts', 'book', 'venue', 'account', 'instrument', 'side', 'qty', 'price', 'fee', 'fees', 'order', 'meta'],
  price: ['id', 'ts', 'asset', 'quote', 'price', 'meta'],
  transfer: ['id', 'ts', 'book', 'asset', 'qty', 'from', 'to', 'fromAccount', 'toAccount', 'fee', 'meta'],
  deposit: ['id', 'ts', 'book', 'venue', 'account', 'asset', 'qty', 'cost', 'txid', 'meta'],
  withdrawal: ['id', 'ts', 'book', 'venue', 'account', 'asset', 'qty', 'cost', 'fee', 'txid', 'meta'],
  funding: ['id', 'ts', 'book', 'venue', 'account', 'instrument', 'amount', 'rate', 'asset', 'meta'],
  balance: ['id', 'ts', 'book', 'venue', 'account', 'asset', 'total', 'free', 'used', 'meta'],
  cancel: ['id', 'ts', 'target', 'reason', 'meta'],
  amend: ['id', 'ts', 'target', 'fields', 'reason', 'meta'],
  instrument: ['id', 'ts', 'symbol', 'venue', 'multiplier', 'meta'],
};
const FIELD_SETS = Object.fromEntries(Object.entries(FIELDS).map(([k, v]) => [k, new Set(v)])) as Record<
  LedgerEvent['type'],
  Set<string>
>;
const AMENDABLE = new Set(['ts', 'venue', 'account', 'instrument', 'side', 'qty', 'price', 'fee', 'fees']);

type Obj = Record<string, unknown>;

/** Collects issues while reading fields of one object. */
class Reader {
  readonly issues: Issue[] = [];
  constructor(
    private readonly o: Obj,
    private readonly prefix: string,
  ) {}

  private fail(code: ValidationCode, field: string, expected: string, received: unknown): undefined {
    this.issues.push({ code, path: this.prefix + field, expected, received: show(received) });
    return undefined;
  }

  private raw(field: string, required: boolean): unknown {
    const v = this.o[field];
    if ((v === undefined || v === null) && required) this.fail('MISSING_FIELD', field, 'a value', v);
    return v ?? undefined;
  }

  name(field: string, required: boolean, def?: string): string | undefined {
    const v = this.raw(field, required && def === undefined);
    if (v === undefined) return def;
    if (typeof v !== 'string') return this.fail('WRONG_TYPE', field, 'a string', v);
    if (!isName(v)) return this.fail('BAD_IDENTIFIER', field, 'a name of 1-128 letters, digits or ._:@/+-', v);
    return v;
  }

  /** The fields that place a book event: id, ts, book, venue, account (default `default`), in that order. */
  located(): { id: string | undefined; ts: TsUs | undefined; book: string | undefined; venue: string | undefined; account: string | undefined } {
    return { id: this.id('id', true), ts: this.ts('ts', true), book: this.name('book', true), venue: this.name('venue', true), account: this.name('account', false, 'default') };
  }

  id(field: string, required: boolean): string | undefined {
    const v = this.raw(field, required);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') return this.fail('WRONG_TYPE', field, 'a string', v);
    if (!isId(v)) {
      return this.fail('BAD_IDENTIFIER', field, `a non-empty id of at most ${ID_MAX} characters without surrounding spaces`, v);
    }
    return v;
  }

  asset(field: string, required: boolean): string | undefined {
    const v = this.raw(field, required);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') return this.fail('WRONG_TYPE', field, 'a string', v);
    if (!ASSET_RE.test(v)) return this.fail('BAD_IDENTIFIER', field, 'an asset code like "BTC"', v);
    return v;
  }

  ts(field: string, required: boolean): TsUs | undefined {
    const v = this.raw(field, required);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') return this.fail('BAD_TIMESTAMP', field, 'an ISO-8601 timestamp string like "2026-01-02T10:00:00Z"', v);
    const t = parseTimestamp(v);
    if (t === undefined) {
      return this.fail('BAD_TIMESTAMP', field, 'an ISO-8601 instant with a zone (Z or ±HH:MM), at most microseconds, from 1970', v);
    }
    return t;
  }

  decimal(field: string, required: boolean): Dec | undefined {
    const v = this.raw(field, required);
    if (v === undefined) return undefined;
    if (typeof v === 'number') return this.fail('NUMBER_NOT_STRING', field, 'a decimal as a JSON string (e.g. "1.5")', v);
    if (typeof v !== 'string') return this.fail('WRONG_TYPE', field, 'a decimal string', v);
    const d = readDecimal(v);
    if (!(d instanceof Dec)) return this.fail(d.code, field, d.expected, v);
    return d;
  }

  positive(field: string, required: boolean, code: 'QUANTITY_NOT_POSITIVE' | 'PRICE_NOT_POSITIVE'): Dec | undefined {
    const d = this.decimal(field, required);
    if (d === undefined) return undefined;
    if (!d.isPos()) return this.fail(code, field, 'a decimal greater than zero', this.o[field]);
    return d;
  }

  nonNegative(field: string, required: boolean): Dec | undefined {
    const d = this.decimal(field, required);
    if (d === undefined) return undefined;
    if (d.isNeg()) return this.fail('QUANTITY_NOT_POSITIVE', field, 'a decimal of zero or more', this.o[field]);
    return d;
  }

  side(field: string, required: boolean): Side | undefined {
    const v = this.raw(field, required);
    if (v === undefined) return undefined;
    if (v !== 'buy' && v !== 'sell') return this.fail('UNKNOWN_SIDE', field, '"buy" or "sell"', v);
    return v;
  }

  fees(): Fee[] | undefined {
    const fee = this.o.fee;
    const fees = this.o.fees;
    if (fee != null && fees != null) {
      this.fail('INVALID_COMBINATION', 'fees', 'either "fee" or "fees", not both', fees);
      return undefined;
    }
    if (fee != null) {
      const one = this.feeObject(fee, 'fee');
      return one === undefined ? undefined : [one];
    }
    if (fees == null) return [];
    if (!Array.isArray(fees)) return this.fail('WRONG_TYPE', 'fees', 'a list of {"asset","amount"}', fees);
    const out: Fee[] = [];
    fees.forEach((f, i) => {
      const one = this.feeObject(f, `fees[${i}]`);
      if (one !== undefined) out.push(one);
    });
    return out.length === fees.length ? out : undefined;
  }

  private feeObject(v: unknown, path: string): Fee | undefined {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return this.fail('WRONG_TYPE', path, 'an object {"asset","amount"}', v);
    const r = new Reader(v as Obj, `${this.prefix}${path}.`);
    r.unknownFields(new Set(['asset', 'amount']));
    const asset = r.asset('asset', true);
    const amount = r.decimal('amount', true);
    this.issues.push(...r.issues);
    return asset === undefined || amount === undefined ? undefined : { asset, amount };
  }

  unknownFields(allowed: Set<string>, topLevel = false): void {
    for (const k of Object.keys(this.o)) {
      if (!(topLevel && k === 'type') && !allowed.has(k)) this.fail('UNKNOWN_FIELD', k, `only ${[...allowed].join(', ')}`, k);
    }
  }
}

function kindOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v;
}

/**
 * Validates one parsed JSON value. `instruments` resolves trade and funding instruments (an
 * unknown derivative is an error here, not later); `instrument` events are checked but their
 * terms are registered by the ledger.
 */
export function validateEvent(value: unknown, instruments: InstrumentRegistry): Validated {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, id: undefined, issues: [{ code: 'NOT_AN_OBJECT', path: '', expected: 'a JSON object', received: kindOf(value) }] };
  }
  const o = value as Obj;
  const rawId = typeof o.id === 'string' ? o.id : undefined;
  const type = o.type;
  if (typeof type !== 'string' || !(type in FIELDS)) {
    return {
      ok: false,
      id: rawId,
      issues: [{ code: type == null ? 'MISSING_FIELD' : 'UNKNOWN_TYPE', path: 'type', expected: `one of ${Object.keys(FIELDS).join(', ')}`, received: show(type) }],
    };
  }
  const r = new Reader(o, '');
  r.unknownFields(FIELD_SETS[type as LedgerEvent['type']], true);
  const event = readByType(type as LedgerEvent['type'], r, o, instruments);
  if (r.issues.length > 0 || event === undefined) return { ok: false, id: rawId, issues: r.issues };
  return { ok: true, event };
}

function readByType(type: LedgerEvent['type'], r: Reader, o: Obj, instruments: InstrumentRegistry): LedgerEvent | undefined {
  switch (type) {
    case 'trade': {
      const { id, ts, book, venue, account } = r.located();
      const instrument = readInstrument(r, o, venue, instruments);
      const side = r.side('side', true);
      const qty = r.positive('qty', true, 'QUANTITY_NOT_POSITIVE');
      const price = r.positive('price', true, 'PRICE_NOT_POSITIVE');
      const fees = r.fees();
      if (r.issues.length > 0) return undefined;
      return { type, id: id!, ts: ts!, book: book!, venue: venue!, account: account!, instrument: instrument!, side: side!, qty: qty!, price: price!, fees: fees! };
    }
    case 'price': {
      const ts = r.ts('ts', true);
      const asset = r.name('asset', true);
      const quote = r.asset('quote', true);
      const price = r.positive('price', true, 'PRICE_NOT_POSITIVE');
      let id = r.id('id', false);
      if (r.issues.length > 0) return undefined;
      if (asset === quote) {
        r.issues.push({ code: 'INVALID_COMBINATION', path: 'quote', expected: 'a quote other than the asset', received: show(quote) });
        return undefined;
      }
      // A mark without an id is identified by what it prices and when: two different marks for
      // the same pair at the same instant are a conflict, the same one twice a duplicate.
      id ??= `price:${asset}/${quote}@${formatTimestamp(ts!)}`;
      return { type, id, ts: ts!, asset: asset!, quote: quote!, price: price! };
    }
    case 'transfer': {
      const id = r.id('id', true);
      const ts = r.ts('ts', true);
      const book = r.name('book', true);
      const asset = r.asset('asset', true);
      const qty = r.positive('qty', true, 'QUANTITY_NOT_POSITIVE');
      const from = r.name('from', true);
      const to = r.name('to', true);
      const fromAccount = r.name('fromAccount', false, 'default');
      const toAccount = r.name('toAccount', false, 'default');
      const fee = r.nonNegative('fee', false);
      if (r.issues.length > 0) return undefined;
      if (from === to && fromAccount === toAccount) {
        r.issues.push({ code: 'INVALID_COMBINATION', path: 'to', expected: 'a venue or account other than the source', received: show(to) });
        return undefined;
      }
      return { type, id: id!, ts: ts!, book: book!, asset: asset!, qty: qty!, from: from!, to: to!, fromAccount: fromAccount!, toAccount: toAccount!, fee };
    }
    case 'deposit': {
      const { id, ts, book, venue, account } = r.located();
      const asset = r.asset('asset', true);
      const qty = r.positive('qty', true, 'QUANTITY_NOT_POSITIVE');
      const cost = r.nonNegative('cost', false);
      if (r.issues.length > 0) return undefined;
      return { type, id: id!, ts: ts!, book: book!, venue: venue!, account: account!, asset: asset!, qty: qty!, cost };
    }
    case 'withdrawal': {
      const { id, ts, book, venue, account } = r.located();
      const asset = r.asset('asset', true);
      const qty = r.positive('qty', true, 'QUANTITY_NOT_POSITIVE');
      const cost = r.nonNegative('cost', false);
      const fee = r.nonNegative('fee', false);
      if (r.issues.length > 0) return undefined;
      return { type, id: id!, ts: ts!, book: book!, venue: venue!, account: account!, asset: asset!, qty: qty!, cost, fee };
    }
    case 'funding': {
      const { id, ts, book, venue, account } = r.located();
      const instrument = readInstrument(r, o, venue, instruments);
      const amount = r.decimal('amount', false);
      const rate = r.decimal('rate', false);
      const asset = r.asset('asset', false);
      if (r.issues.length > 0) return undefined;
      if ((amount === undefined) === (rate === undefined)) {
        r.issues.push({ code: 'INVALID_COMBINATION', path: 'amount', expected: 'exactly one of "amount" (paid or received) and "rate"', received: show(o.amount ?? o.rate) });
        return undefined;
      }
      const inst = instruments.lookup(instrument!, venue!);
      if (inst.ok && inst.instrument.kind === 'spot') {
        r.issues.push({ code: 'UNKNOWN_INSTRUMENT', path: 'instrument', expected: 'a perpetual or future (spot has no funding)', received: show(instrument) });
        return undefined;
      }
      if (asset !== undefined && inst.ok && inst.instrument.kind !== 'spot' && asset !== inst.instrument.settle) {
        r.issues.push({ code: 'INVALID_COMBINATION', path: 'asset', expected: `${inst.instrument.settle}, the settlement asset of ${instrument}`, received: show(asset) });
        return undefined;
      }
      return { type, id: id!, ts: ts!, book: book!, venue: venue!, account: account!, instrument: instrument!, amount, rate };
    }
    case 'balance': {
      const ts = r.ts('ts', true);
      const book = r.name('book', false);
      const venue = r.name('venue', true);
      const account = r.name('account', false, 'default');
      const asset = r.asset('asset', true);
      const total = r.decimal('total', true);
      const free = r.decimal('free', false);
      const used = r.decimal('used', false);
      let id = r.id('id', false);
      if (r.issues.length > 0) return undefined;
      id ??= `balance:${venue}:${account}:${asset}@${formatTimestamp(ts!)}`;
      return { type, id, ts: ts!, book, venue: venue!, account: account!, asset: asset!, total: total!, free, used };
    }
    case 'cancel': {
      const id = r.id('id', true);
      const ts = r.ts('ts', true);
      const target = r.id('target', true);
      if (r.issues.length > 0) return undefined;
      if (target === id) {
        r.issues.push({ code: 'INVALID_COMBINATION', path: 'target', expected: 'the id of another event', received: show(target) });
        return undefined;
      }
      return { type, id: id!, ts: ts!, target: target! };
    }
    case 'amend': {
      const id = r.id('id', true);
      const ts = r.ts('ts', true);
      const target = r.id('target', true);
      const fields = readAmendment(r, o.fields);
      if (r.issues.length > 0 || fields === undefined) return undefined;
      return { type, id: id!, ts: ts!, target: target!, fields };
    }
    case 'instrument': {
      const symbol = r.name('symbol', true);
      const venue = r.name('venue', false);
      const multiplier = r.positive('multiplier', true, 'PRICE_NOT_POSITIVE');
      const ts = r.ts('ts', false) ?? 0;
      let id = r.id('id', false);
      if (r.issues.length > 0) return undefined;
      const parts = parseSymbol(symbol!);
      if (parts?.settle === undefined || (parts.settle !== parts.base && parts.settle !== parts.quote)) {
        r.issues.push({ code: 'UNKNOWN_INSTRUMENT', path: 'symbol', expected: 'a derivative symbol BASE/QUOTE:SETTLE[-YYMMDD] settling in QUOTE (linear) or BASE (inverse); spot pairs need no terms', received: show(symbol) });
        return undefined;
      }
      id ??= `instrument:${symbol}@${venue ?? '*'}`;
      return { type, id, ts, symbol: symbol!, venue, multiplier: multiplier! };
    }
  }
}

function readInstrument(r: Reader, o: Obj, venue: string | undefined, instruments: InstrumentRegistry): string | undefined {
  const symbol = o.instrument;
  if (symbol == null) {
    r.issues.push({ code: 'MISSING_FIELD', path: 'instrument', expected: 'a value', received: show(symbol) });
    return undefined;
  }
  if (typeof symbol !== 'string') {
    r.issues.push({ code: 'WRONG_TYPE', path: 'instrument', expected: 'a string', received: show(symbol) });
    return undefined;
  }
  if (venue === undefined) return symbol; // the missing venue is already reported
  const found = instruments.lookup(symbol, venue);
  if (!found.ok) {
    r.issues.push({ code: 'UNKNOWN_INSTRUMENT', path: 'instrument', expected: found.reason, received: show(symbol) });
    return undefined;
  }
  return symbol;
}

function readAmendment(r: Reader, v: unknown): TradeAmendment | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    r.issues.push({ code: v == null ? 'MISSING_FIELD' : 'WRONG_TYPE', path: 'fields', expected: 'an object of trade fields to replace', received: show(v) });
    return undefined;
  }
  const o = v as Obj;
  const f = new Reader(o, 'fields.');
  f.unknownFields(AMENDABLE);
  const out: { -readonly [K in keyof TradeAmendment]: TradeAmendment[K] } = {};
  if (o.ts != null) out.ts = f.ts('ts', true);
  if (o.venue != null) out.venue = f.name('venue', true);
  if (o.account != null) out.account = f.name('account', true);
  if (o.side != null) out.side = f.side('side', true);
  if (o.qty != null) out.qty = f.positive('qty', true, 'QUANTITY_NOT_POSITIVE');
  if (o.price != null) out.price = f.positive('price', true, 'PRICE_NOT_POSITIVE');
  if (o.fee != null || o.fees != null) out.fees = f.fees();
  if (o.instrument != null) {
    // Only the syntax is checked here: the amended trade's venue decides its terms when booked.
    if (typeof o.instrument !== 'string' || parseSymbol(o.instrument) === undefined) {
      f.issues.push({ code: 'UNKNOWN_INSTRUMENT', path: 'fields.instrument', expected: 'an instrument symbol', received: show(o.instrument) });
    } else out.instrument = o.instrument;
  }
  r.issues.push(...f.issues);
  if (Object.keys(out).length === 0 && f.issues.length === 0) {
    r.issues.push({ code: 'MISSING_FIELD', path: 'fields', expected: 'at least one trade field to replace', received: '{}' });
  }
  return r.issues.length > 0 ? undefined : out;
}
