/**
 * PnL over periods (DOMAIN.md §6): the PnL of a period is the change of each cumulative figure
 * (realized, unrealized, fees, funding, total) between the state at its start and the state at
 * its end. The start is the state at the last instant before the period (for `today`, the
 * end-of-day snapshot of the day before: the start-of-day state), so an event stamped exactly on
 * a boundary belongs to the period it opens. Pure: the two states come in as reports.
 *
 * Unrealized PnL is valued with the marks of each instant, so the period's PnL includes the
 * revaluation of what was held through it. A figure that is unpriced (null) at either end leaves
 * the period's unrealized and total unpriced too: never a guess.
 *
 * Calendar periods are UTC: today from 00:00Z, MTD from the 1st, YTD from 1 January.
 */
import { Dec } from './decimal.js';
import type { TsUs } from './events.js';
import type { BookSummary, PositionReport } from './report.js';
import { dayStart, monthStart, yearStart } from './time.js';

export const PERIODS = ['today', 'mtd', 'ytd', 'inception'] as const;
export type Period = (typeof PERIODS)[number];

/** The first instant of each period that ends at `at`; inception has none. */
export function periodStarts(at: TsUs): Record<Exclude<Period, 'inception'>, TsUs> {
  return { today: dayStart(at), mtd: monthStart(at), ytd: yearStart(at) };
}

/** The cumulative PnL figures of a position or a book, as decimal text (null: unpriced). */
export interface PnlFigures {
  readonly realized: string;
  readonly unrealized: string | null;
  readonly fees: string;
  readonly funding: string;
  readonly total: string | null;
}

export const ZERO_PNL: PnlFigures = { realized: '0', unrealized: '0', fees: '0', funding: '0', total: '0' };

export function positionFigures(p: PositionReport): PnlFigures {
  return { realized: p.realizedPnl, unrealized: p.unrealizedPnl, fees: p.fees, funding: p.funding, total: p.totalPnl };
}

export function bookFigures(b: BookSummary): PnlFigures {
  return { realized: b.realizedPnl, unrealized: b.unrealizedPnl, fees: b.feesPaid, funding: b.funding, total: b.totalPnl };
}

function minus(a: string, b: string): string {
  return Dec.of(a).sub(Dec.of(b)).toString();
}

function minusOrNull(a: string | null, b: string | null): string | null {
  return a === null || b === null ? null : minus(a, b);
}

/** `end - start`, figure by figure; unpriced at either end stays unpriced. */
export function pnlChange(end: PnlFigures, start: PnlFigures): PnlFigures {
  return {
    realized: minus(end.realized, start.realized),
    unrealized: minusOrNull(end.unrealized, start.unrealized),
    fees: minus(end.fees, start.fees),
    funding: minus(end.funding, start.funding),
    total: minusOrNull(end.total, start.total),
  };
}

/** What names one position across two states: book, kind, asset and (derivatives, pooled spot) venue. */
export function positionKey(p: Pick<PositionReport, 'book' | 'kind' | 'asset' | 'venue'>): string {
  return `${p.book}\u0000${p.kind}\u0000${p.asset}\u0000${p.venue ?? ''}`;
}

/** The part of a report a period's PnL reads. */
export interface PnlState {
  readonly books: readonly BookSummary[];
  readonly positions: readonly PositionReport[];
}

export interface PositionPnl<P extends string = Period> {
  readonly book: string;
  readonly asset: string;
  readonly kind: PositionReport['kind'];
  readonly venue?: string;
  readonly qty: string;
  readonly periods: Record<P, PnlFigures>;
}

export interface BookPnl<P extends string = Period> {
  readonly book: string;
  readonly periods: Record<P, PnlFigures>;
}

/** The PnL of today, MTD, YTD and inception, from the end state and the state before each start. */
export function periodPnl(end: PnlState, starts: Record<Exclude<Period, 'inception'>, PnlState | undefined>): { books: BookPnl[]; positions: PositionPnl[] } {
  return pnlSince(end, { ...starts, inception: undefined });
}

/**
 * The PnL of every book and position over each named period, from the state at the end and the
 * state before each period's start (undefined: nothing was booked before it, every figure was
 * zero). A position that existed at a start but not at the end (or the reverse) counts as zero there.
 */
export function pnlSince<P extends string>(end: PnlState, starts: Record<P, PnlState | undefined>): { books: BookPnl<P>[]; positions: PositionPnl<P>[] } {
  const names = Object.keys(starts) as P[];
  const startBooks = names.map((n) => new Map((starts[n]?.books ?? []).map((b) => [b.book, bookFigures(b)])));
  const startPositions = names.map((n) => new Map((starts[n]?.positions ?? []).map((p) => [positionKey(p), p])));
  const rows = new Map<string, Pick<PositionReport, 'book' | 'kind' | 'asset' | 'venue' | 'qty'>>();
  const endFigures = new Map<string, PnlFigures>();
  for (const p of end.positions) {
    const k = positionKey(p);
    rows.set(k, p);
    endFigures.set(k, positionFigures(p));
  }
  // Positions only at a start: closed and gone from the end state (a report may leave flat ones out).
  for (const m of startPositions) for (const [k, p] of m) if (!rows.has(k)) rows.set(k, { book: p.book, kind: p.kind, asset: p.asset, ...(p.venue === undefined ? {} : { venue: p.venue }), qty: '0' });
  const over = (endF: PnlFigures, at: (i: number) => PnlFigures | undefined): Record<P, PnlFigures> => {
    const out = {} as Record<P, PnlFigures>;
    names.forEach((n, i) => (out[n] = pnlChange(endF, at(i) ?? ZERO_PNL)));
    return out;
  };
  const positions: PositionPnl<P>[] = [];
  for (const [k, p] of [...rows].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    const endF = endFigures.get(k) ?? ZERO_PNL;
    const at = (i: number): PnlFigures | undefined => {
      const s = startPositions[i]!.get(k);
      return s === undefined ? undefined : positionFigures(s);
    };
    positions.push({ book: p.book, asset: p.asset, kind: p.kind, ...(p.venue === undefined ? {} : { venue: p.venue }), qty: p.qty, periods: over(endF, at) });
  }
  const bookNames = new Set(end.books.map((b) => b.book));
  for (const m of startBooks) for (const b of m.keys()) bookNames.add(b);
  const endBooks = new Map(end.books.map((b) => [b.book, bookFigures(b)]));
  const books = [...bookNames].sort().map((book) => ({ book, periods: over(endBooks.get(book) ?? ZERO_PNL, (i) => startBooks[i]!.get(book)) }));
  return { books, positions };
}
