/**
 * UTL's own balances as of past instants: what a venue's report is held against. A venue says
 * "at 10:00:00 you held 3 BTC"; fills booked after 10:00:00 must not count, or every busy
 * venue would show false breaks. Each book involved is replayed once, on a copy (see
 * `Ledger.cursor`), stopping at every instant asked for, so N reports at K distinct instants
 * cost one pass over each book's window, not N.
 *
 * A report names a book, or none: then UTL's balance is the sum over every book of the
 * (venue, account, asset) cell, since a venue account is often shared by books.
 */
import { Dec } from '../decimal.js';
import { compareEvents, type BookEvent, type TradeEvent, type TsUs } from '../events.js';
import type { BookState } from '../book.js';
import { BookCursor, type HistoryNeed, type Ledger } from '../ledger.js';

export interface BalanceQuery {
  readonly ts: TsUs;
  readonly venue: string;
  readonly account: string;
  readonly asset: string;
  /** Undefined: every book. */
  readonly book: string | undefined;
}

export interface AsOfBalances {
  /** Per query, in order: UTL's quantity as of its instant, or undefined when a book it covers needs history. */
  readonly qty: (Dec | undefined)[];
  /** The books (and from when) that need history from the store before their queries can be answered. */
  readonly needs: HistoryNeed[];
}

/** A balance cell's quantity in one book state (0 when the book never touched it). */
export function cellQty(s: BookState, venue: string, account: string, asset: string): Dec {
  return s.balances.get(venue)?.get(account)?.get(asset)?.qty ?? Dec.ZERO;
}

/** UTL's balance for each query as of the query's own instant. */
export function balancesAsOf(ledger: Ledger, queries: readonly BalanceQuery[]): AsOfBalances {
  const times = [...new Set(queries.map((q) => q.ts))].sort((a, b) => a - b);
  const timeIndex = new Map(times.map((t, i) => [t, i]));
  const atTime: number[][] = times.map(() => []);
  queries.forEach((q, i) => atTime[timeIndex.get(q.ts)!]!.push(i));
  const anyBook = queries.some((q) => q.book === undefined);
  const named = new Set(queries.flatMap((q) => (q.book === undefined ? [] : [q.book])));
  const books = anyBook ? ledger.bookNames() : [...named].filter((b) => ledger.bookState(b) !== undefined);

  const sums: Dec[] = queries.map(() => Dec.ZERO);
  const unknown = new Set<number>();
  const needs: HistoryNeed[] = [];
  for (const book of books) {
    const c = ledger.cursor(book, times[0]! + 1);
    if (c === undefined) continue;
    if (!(c instanceof BookCursor)) {
      needs.push(c);
      queries.forEach((q, i) => {
        if (q.book === undefined || q.book === book) unknown.add(i);
      });
      continue;
    }
    for (const [ti, t] of times.entries()) {
      c.advanceTo(t);
      for (const i of atTime[ti]!) {
        const q = queries[i]!;
        if (q.book !== undefined && q.book !== book) continue;
        const v = cellQty(c.state, q.venue, q.account, q.asset);
        if (!v.isZero()) sums[i] = sums[i]!.add(v);
      }
    }
  }
  return { qty: sums.map((s, i) => (unknown.has(i) ? undefined : s)), needs };
}

/** One book event's change to a balance cell. */
export interface Movement {
  readonly id: string;
  readonly type: BookEvent['type'];
  readonly ts: TsUs;
  readonly book: string;
  readonly delta: Dec;
  readonly event: BookEvent;
}

export interface Movements {
  readonly movements: Movement[];
  /** Trades at the cell's venue and account in the same span that did not move the cell (a fee charged elsewhere). */
  readonly nearby: TradeEvent[];
  /** False when some book's window starts after `afterTs`: movements before it are not listed. */
  readonly complete: boolean;
}

/**
 * The movements of a (venue, account, asset) cell in `(afterTs, toTs]` (afterTs undefined: from
 * the start of what is held), in booking order, each with its exact change to the cell, derived by
 * booking the events again on a copy: derivative settlements and funding by rate included.
 */
export function movementsOf(
  ledger: Ledger,
  cell: { readonly venue: string; readonly account: string; readonly asset: string; readonly book: string | undefined },
  afterTs: TsUs | undefined,
  toTs: TsUs,
): Movements {
  const books = cell.book === undefined ? ledger.bookNames() : [cell.book];
  const out: Movement[] = [];
  const nearby: TradeEvent[] = [];
  let complete = true;
  for (const book of books) {
    let c = ledger.cursor(book, afterTs === undefined ? Number.MIN_SAFE_INTEGER : afterTs + 1);
    if (c !== undefined && !(c instanceof BookCursor)) {
      complete = false;
      const start = ledger.windowStart(book);
      c = start === undefined ? undefined : ledger.cursor(book, start);
      if (c !== undefined && !(c instanceof BookCursor)) c = undefined;
    }
    if (c === undefined) continue;
    for (let e = c.peek(); e !== undefined && e.ts <= toTs; e = c.peek()) {
      const before = cellQty(c.state, cell.venue, cell.account, cell.asset);
      c.next();
      const delta = cellQty(c.state, cell.venue, cell.account, cell.asset).sub(before);
      if (!delta.isZero()) out.push({ id: e.id, type: e.type, ts: e.ts, book, delta, event: e });
      else if (e.type === 'trade' && e.venue === cell.venue && e.account === cell.account) nearby.push(e);
    }
  }
  out.sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  nearby.sort(compareEvents);
  return { movements: out, nearby, complete };
}
