/**
 * The canonical events UTL books, after validation (see validate.ts for the wire format and
 * docs/events.md for the schema). Every decimal is a Dec; every timestamp is integer epoch
 * microseconds (UTC), which orders events exactly and never holds money.
 */
import type { Dec } from './decimal.js';

/** Epoch microseconds, UTC, an integer (exact in a JS number until the year 2255). */
export type TsUs = number;

export type Side = 'buy' | 'sell';

export interface Fee {
  readonly asset: string;
  /** Positive: a charge; negative: a rebate. */
  readonly amount: Dec;
}

interface Base {
  readonly id: string;
  readonly ts: TsUs;
}

export interface TradeEvent extends Base {
  readonly type: 'trade';
  readonly book: string;
  readonly venue: string;
  readonly account: string;
  readonly instrument: string;
  readonly side: Side;
  readonly qty: Dec;
  readonly price: Dec;
  readonly fees: readonly Fee[];
}

/** A mark: the price of one unit of `asset` in `quote`. */
export interface PriceEvent extends Base {
  readonly type: 'price';
  readonly asset: string;
  readonly quote: string;
  readonly price: Dec;
}

/** Quantity moved between two venues (or accounts) of one book: no PnL, lots keep cost and date. */
export interface TransferEvent extends Base {
  readonly type: 'transfer';
  readonly book: string;
  readonly asset: string;
  readonly qty: Dec;
  readonly from: string;
  readonly to: string;
  readonly fromAccount: string;
  readonly toAccount: string;
  /** A network fee paid by the sender in `asset`, on top of `qty`. */
  readonly fee: Dec | undefined;
}

/** Quantity entering the book from outside, at `cost` (total, in the reporting currency) or at the mark. */
export interface DepositEvent extends Base {
  readonly type: 'deposit';
  readonly book: string;
  readonly venue: string;
  readonly account: string;
  readonly asset: string;
  readonly qty: Dec;
  readonly cost: Dec | undefined;
}

/**
 * Quantity leaving the book, at `cost` (the total R value that left) or at the mark: a disposal,
 * so the book keeps the PnL it made while holding it; `fee` (in `asset`) is a fee on top.
 */
export interface WithdrawalEvent extends Base {
  readonly type: 'withdrawal';
  readonly book: string;
  readonly venue: string;
  readonly account: string;
  readonly asset: string;
  readonly qty: Dec;
  readonly cost: Dec | undefined;
  readonly fee: Dec | undefined;
}

/**
 * A funding payment on a perpetual: either the venue's `amount` (signed, in the settlement asset,
 * positive = received) or a `rate` from which the payment follows (DOMAIN.md §5).
 */
export interface FundingEvent extends Base {
  readonly type: 'funding';
  readonly book: string;
  readonly venue: string;
  readonly account: string;
  readonly instrument: string;
  readonly amount: Dec | undefined;
  readonly rate: Dec | undefined;
}

/** What a venue reports holding; kept for reconciliation, never booked into positions. */
export interface BalanceEvent extends Base {
  readonly type: 'balance';
  readonly book: string | undefined;
  readonly venue: string;
  readonly account: string;
  readonly asset: string;
  readonly total: Dec;
  readonly free: Dec | undefined;
  readonly used: Dec | undefined;
}

/** Voids an earlier event by id. */
export interface CancelEvent extends Base {
  readonly type: 'cancel';
  readonly target: string;
}

/** The trade fields an amend may replace. */
export interface TradeAmendment {
  readonly ts?: TsUs;
  readonly venue?: string;
  readonly account?: string;
  readonly instrument?: string;
  readonly side?: Side;
  readonly qty?: Dec;
  readonly price?: Dec;
  readonly fees?: readonly Fee[];
}

/** Replaces some fields of an earlier trade. */
export interface AmendEvent extends Base {
  readonly type: 'amend';
  readonly target: string;
  readonly fields: TradeAmendment;
}

/** Reference data: a derivative instrument's contract terms (see instrument.ts). */
export interface InstrumentEvent extends Base {
  readonly type: 'instrument';
  readonly symbol: string;
  /** Undefined: the terms hold at every venue that has no terms of its own for this symbol. */
  readonly venue: string | undefined;
  readonly multiplier: Dec;
}

/** Events that move a book: they live on the book's timeline, in (ts, id) order. */
export type BookEvent = TradeEvent | TransferEvent | DepositEvent | WithdrawalEvent | FundingEvent;

export type CorrectionEvent = CancelEvent | AmendEvent;

export type LedgerEvent = BookEvent | PriceEvent | BalanceEvent | CorrectionEvent | InstrumentEvent;

export type EventType = LedgerEvent['type'];

export function isBookEvent(e: LedgerEvent): e is BookEvent {
  return e.type === 'trade' || e.type === 'transfer' || e.type === 'deposit' || e.type === 'withdrawal' || e.type === 'funding';
}

/** Events are booked in (ts, id) order: a total order that does not depend on arrival. */
export function compareEvents(a: { ts: TsUs; id: string }, b: { ts: TsUs; id: string }): number {
  if (a.ts !== b.ts) return a.ts - b.ts;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * The order of a clean replay of a whole log: by ts; at one instant marks first (a mark counts for
 * events at its own instant), then by id. Booking the log in this order never needs a rebook.
 */
export function compareLog(a: LedgerEvent, b: LedgerEvent): number {
  if (a.ts !== b.ts) return a.ts - b.ts;
  const pa = a.type === 'price' ? 0 : 1;
  const pb = b.type === 'price' ? 0 : 1;
  if (pa !== pb) return pa - pb;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
