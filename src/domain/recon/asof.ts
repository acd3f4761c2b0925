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
import { eventFlows } from './flows.js';
import { parseSymbol } from '../instrument.js';

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
  /** Trades with fees at the cell's venue and account in the same span that did not move the cell (a fee charged elsewhere). */
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
      else if (e.type === 'trade' && e.fees.length > 0 && e.venue === cell.venue && e.account === cell.account) nearby.push(e);
    }
  }
  out.sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  nearby.sort(compareEvents);
  return { movements: out, nearby, complete };
}

export interface MovementRequest {
  readonly venue: string;
  readonly account: string;
  readonly asset: string;
  readonly book: string | undefined;
  /** Movements after this instant (undefined: from the start of what is held)… */
  readonly afterTs: TsUs | undefined;
  /** …up to and including this one. */
  readonly toTs: TsUs;
}

/**
 * `movementsOf` for many cells at once, without booking anything again where it can: one read of
 * each book's timeline over the span of every request, each event's changes taken from its own
 * fields (flows.ts; refused events change nothing). A cell that a derivative fill or funding may
 * have moved (its settlement depends on the position) is replayed instead, for that book alone.
 * Property-tested to equal `movementsOf`.
 */
export function movementsForCells(ledger: Ledger, reqs: readonly MovementRequest[]): Movements[] {
  const out = reqs.map(() => ({ movements: [] as Movement[], nearby: [] as TradeEvent[], complete: true }));
  if (reqs.length === 0) return out;
  for (const book of ledger.bookNames()) {
    const mine = [...reqs.keys()].filter((i) => reqs[i]!.book === undefined || reqs[i]!.book === book);
    if (mine.length === 0) continue;
    const state = ledger.bookState(book)!;
    const from = Math.min(...mine.map((i) => (reqs[i]!.afterTs === undefined ? Number.MIN_SAFE_INTEGER : reqs[i]!.afterTs + 1)));
    const to = Math.max(...mine.map((i) => reqs[i]!.toTs));
    const slice = ledger.timelineSlice(book, from, to);
    const byVenue = new Map<string, Map<string, number[]>>(); // venue → account → requests there
    for (const i of mine) {
      const r = reqs[i]!;
      const accounts = byVenue.get(r.venue) ?? byVenue.set(r.venue, new Map()).get(r.venue)!;
      (accounts.get(r.account) ?? accounts.set(r.account, []).get(r.account)!).push(i);
    }
    const NONE: number[] = [];
    const at = (venue: string, account: string): number[] => byVenue.get(venue)?.get(account) ?? NONE;
    const assets = new Set(mine.map((i) => reqs[i]!.asset));
    const parts = new Map<string, readonly string[]>(); // instrument → the assets it can move (base, quote, settlement)
    const assetsOf = (instrument: string): readonly string[] => {
      let p = parts.get(instrument);
      if (p === undefined) {
        const x = parseSymbol(instrument);
        p = x === undefined ? [] : [x.base, x.quote, ...(x.settle === undefined ? [] : [x.settle])];
        parts.set(instrument, p);
      }
      return p;
    };
    /** Whether a trade could move a requested asset at all (most fills at a busy venue cannot). */
    const relevant = (e: TradeEvent): boolean => assetsOf(e.instrument).some((a) => assets.has(a)) || e.fees.some((f) => assets.has(f.asset));
    const replay = new Set<number>();
    const found = new Map<number, Movement[]>();
    const nearby = new Map<number, TradeEvent[]>();
    for (const e of slice.events) {
      // Only events at a requested (venue, account) can move a requested cell.
      if (e.type === 'transfer' ? at(e.from, e.fromAccount) === NONE && at(e.to, e.toAccount) === NONE : at(e.venue, e.account) === NONE) continue;
      if (e.type === 'trade' && !relevant(e)) {
        if (e.fees.length === 0) continue;
        for (const i of at(e.venue, e.account)) {
          const r = reqs[i]!;
          if ((r.afterTs === undefined || e.ts > r.afterTs) && e.ts <= r.toTs) (nearby.get(i) ?? nearby.set(i, []).get(i)!).push(e);
        }
        continue;
      }
      if (state.unbooked.has(e.id)) continue; // refused: it moved nothing
      const flows = eventFlows(e);
      if (flows === undefined) {
        // A derivative settles in an asset the fill alone does not say (and its fees): replay the cells there.
        const venue = (e as { venue: string }).venue;
        for (const i of at(venue, (e as { account: string }).account)) replay.add(i);
        continue;
      }
      const touched = new Set<number>();
      for (const f of flows) {
        for (const i of at(f.venue, f.account)) {
          const r = reqs[i]!;
          if (r.asset !== f.asset || f.delta.isZero() || (r.afterTs !== undefined && e.ts <= r.afterTs) || e.ts > r.toTs) continue;
          touched.add(i);
          const list = found.get(i) ?? found.set(i, []).get(i)!;
          const last = list[list.length - 1];
          // One event, one movement per cell (a fee in the asset traded nets with the fill).
          if (last?.id === e.id) list[list.length - 1] = { ...last, delta: last.delta.add(f.delta) };
          else list.push({ id: e.id, type: e.type, ts: e.ts, book, delta: f.delta, event: e });
        }
      }
      if (e.type === 'trade' && e.fees.length > 0) {
        for (const i of at(e.venue, e.account)) {
          const r = reqs[i]!;
          if (touched.has(i) || (r.afterTs !== undefined && e.ts <= r.afterTs) || e.ts > r.toTs) continue;
          (nearby.get(i) ?? nearby.set(i, []).get(i)!).push(e);
        }
      }
    }
    for (const i of mine) {
      const r = reqs[i]!;
      const o = out[i]!;
      if (replay.has(i)) {
        const m = movementsOf(ledger, { ...r, book }, r.afterTs, r.toTs);
        o.movements.push(...m.movements);
        o.nearby.push(...m.nearby);
        o.complete &&= m.complete;
        continue;
      }
      o.movements.push(...(found.get(i) ?? []).filter((m) => !m.delta.isZero()));
      o.nearby.push(...(nearby.get(i) ?? []));
      o.complete &&= slice.complete;
    }
  }
  for (const o of out) {
    o.movements.sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    o.nearby.sort(compareEvents);
  }
  return out;
}
