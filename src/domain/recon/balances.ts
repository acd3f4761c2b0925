/**
 * Balance reconciliation: venue reports (balance events) held against UTL's own balances as of
 * each report's instant, with breaks opened, updated and auto-resolved in a `BreakBook`, and
 * explained when they open or change. Pure: the caller brings the wall clock and, for reports
 * older than the books' windows, a ledger rebased on the store's history.
 */
import type { Dec } from '../decimal.js';
import { compareEvents, type BalanceEvent, type TsUs } from '../events.js';
import type { HistoryNeed, Ledger } from '../ledger.js';
import { END_TS } from '../marks.js';
import { balancesAsOf, movementsForCells, movementsOf, type MovementRequest, type Movements } from './asof.js';
import { BreakBook, cellKey, type CheckOutcome } from './breaks.js';
import { explain, type ExplainInput } from './explain.js';
import { allowance, toleranceFor, within, type Tolerances } from './tolerance.js';

export interface BalanceReconOptions {
  readonly tolerances: Tolerances;
  /** Wall clock (ms) of this pass. */
  readonly atMs: number;
  /** Perpetual funding interval: no funding booked within it is a suggested cause. */
  readonly fundingIntervalUs: TsUs;
  /** Evidence from the other reconciliations, keyed by venue and asset (see ExplainInput). */
  readonly unbookedVenueTrades?: (venue: string, asset: string) => ExplainInput['unbookedVenueTrades'];
  readonly unmatchedWithdrawals?: (asset: string) => ExplainInput['unmatchedWithdrawals'];
  /** Take again a report already taken (UTL's side changed since: a late fill, a correction). */
  readonly recheck?: boolean;
}

export interface BalanceReconResult {
  readonly outcomes: { readonly report: BalanceEvent; readonly outcome: CheckOutcome }[];
  /** Reports that could not be held yet: their books need history from the store first. */
  readonly deferred: BalanceEvent[];
  readonly needs: HistoryNeed[];
}

/** Holds `reports` against `ledger` (as of each report's instant) and records the outcome in `breaks`. */
export function reconcileBalances(ledger: Ledger, breaks: BreakBook, reports: readonly BalanceEvent[], o: BalanceReconOptions): BalanceReconResult {
  const sorted = [...reports].sort(compareEvents);
  const asOf = balancesAsOf(ledger, sorted.map((r) => ({ ts: r.ts, venue: r.venue, account: r.account, asset: r.asset, book: r.book })));
  const outcomes: BalanceReconResult['outcomes'] = [];
  const deferred: BalanceEvent[] = [];
  const reporting = ledger.config.reporting;
  const agrees = sorted.map((r, i) => {
    const utl = asOf.qty[i];
    return utl === undefined ? undefined : within(toleranceFor(o.tolerances, r.asset), r.total.sub(utl), r.total);
  });
  const movements = explainedMovements(breaks, sorted, agrees, o.recheck === true);
  const found = movementsForCells(ledger, movements.reqs);
  for (const [i, report] of sorted.entries()) {
    const utlQty = asOf.qty[i];
    if (utlQty === undefined) {
      deferred.push(report);
      continue;
    }
    const tolerance = toleranceFor(o.tolerances, report.asset);
    const rate = (asset: string): Dec | undefined => ledger.marks.rate(asset, END_TS);
    const outcome = breaks.check(
      { report, utlQty, agrees: agrees[i]! },
      {
        atMs: o.atMs,
        tolerance,
        reporting,
        value: (absDiff) => {
          const r = rate(report.asset);
          return r === undefined ? undefined : absDiff.mul(r);
        },
        explain: (diff, sinceTs) =>
          explain({
            venue: report.venue,
            asset: report.asset,
            reportTs: report.ts,
            diff,
            allowance: allowance(tolerance, report.total),
            sinceTs,
            movements: movementFor(movements.index.get(i), found) ?? movementsOf(ledger, report, sinceTs, report.ts),
            rate,
            unbookedVenueTrades: o.unbookedVenueTrades?.(report.venue, report.asset),
            unmatchedWithdrawals: o.unmatchedWithdrawals?.(report.asset),
            openPerpetuals: openPerpetuals(ledger, report.venue, report.asset, report.book),
            fundingIntervalUs: o.fundingIntervalUs,
          }),
      },
      o.recheck === true,
    );
    outcomes.push({ report, outcome });
  }
  return { outcomes, deferred, needs: asOf.needs };
}

/**
 * The movements each disagreeing report will be explained with, read in one pass per book: the
 * break book's transitions are followed ahead (a report matching earlier in the batch moves its
 * cell's "last matched" instant) so each gets the span `check` will ask for.
 */
function explainedMovements(breaks: BreakBook, sorted: readonly BalanceEvent[], agrees: readonly (boolean | undefined)[], recheck: boolean): { reqs: MovementRequest[]; index: Map<number, number> } {
  const lastReport = new Map<string, { ts: TsUs; id: string } | undefined>();
  const lastMatched = new Map<string, TsUs | undefined>();
  const reqs: MovementRequest[] = [];
  const index = new Map<number, number>();
  for (const [i, r] of sorted.entries()) {
    const agree = agrees[i];
    if (agree === undefined) continue;
    const key = cellKey(r);
    const lr = lastReport.has(key) ? lastReport.get(key) : breaks.lastReportOf(key);
    if (lr !== undefined) {
      const order = compareEvents(r, lr);
      if (order < 0 || (order === 0 && !recheck)) continue;
    }
    lastReport.set(key, r);
    if (agree) {
      lastMatched.set(key, r.ts);
      continue;
    }
    const since = lastMatched.has(key) ? lastMatched.get(key) : breaks.lastMatchedTs(key);
    index.set(i, reqs.length);
    reqs.push({ venue: r.venue, account: r.account, asset: r.asset, book: r.book, afterTs: since, toTs: r.ts });
  }
  return { reqs, index };
}

function movementFor(k: number | undefined, found: readonly Movements[]): Movements | undefined {
  return k === undefined ? undefined : found[k];
}

/** Perpetuals with open contracts at `venue` that settle in `asset`. */
export function openPerpetuals(ledger: Ledger, venue: string, asset: string, book: string | undefined): { instrument: string; book: string }[] {
  const out: { instrument: string; book: string }[] = [];
  for (const b of book === undefined ? ledger.bookNames() : [book]) {
    const s = ledger.bookState(b);
    if (s === undefined) continue;
    for (const p of s.positions.values()) {
      if (p.kind !== 'derivative' || p.venue !== venue || p.qty.isZero()) continue;
      const inst = ledger.instruments.lookup(p.instrument, venue);
      if (inst.ok && inst.instrument.kind === 'perpetual' && inst.instrument.settle === asset) out.push({ instrument: p.instrument, book: b });
    }
  }
  return out;
}

/** The key of a report's cell, as `BreakBook` keeps it. */
export function reportCell(r: BalanceEvent): string {
  return cellKey(r);
}
