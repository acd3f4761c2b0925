/**
 * Balance breaks: the life of a disagreement between a venue's report and UTL's own balance for
 * one (venue, account, asset[, book]) cell.
 *
 *   report disagrees, no break open  → a break opens (status `open`)
 *   report disagrees, break open     → the break is updated (amount, value, explanation)
 *   report agrees, break open        → `auto_resolved` (a later report agrees)
 *   someone acknowledges it          → `acknowledged` (still open for the alert rules' purposes)
 *   someone resolves it              → `resolved`, with who and why (and the adjusting entry, if any)
 * A resolved break stays closed: a later disagreement opens a new break. Reports are taken in their
 * own time order per cell; an older report than the last one taken is noted in history only.
 *
 * Pure: the wall clock (`atMs`) comes from the caller; the state serializes to JSON and back.
 */
import { Dec } from '../decimal.js';
import { compareEvents, type BalanceEvent, type TsUs } from '../events.js';
import { formatTimestamp } from '../time.js';
import { within, type Tolerance } from './tolerance.js';

export type BreakStatus = 'open' | 'acknowledged' | 'resolved' | 'auto_resolved';

export type BreakAction = 'opened' | 'updated' | 'acknowledged' | 'resolved' | 'auto_resolved' | 'late_report' | 'adjustment_refused';

export interface BreakHistoryEntry {
  readonly atMs: number;
  readonly action: BreakAction;
  readonly reportId?: string;
  readonly reportTs?: string;
  readonly venueQty?: string;
  readonly utlQty?: string;
  readonly diff?: string;
  readonly by?: string;
  readonly note?: string;
  /** The id of the adjusting event a resolution booked. */
  readonly adjustment?: string;
}

export type SuggestedCause = 'missing_at_venue' | 'missing_in_utl' | 'fee_in_other_asset' | 'transfer_in_transit' | 'funding_not_booked' | 'stale_snapshot';

export interface Suggestion {
  readonly cause: SuggestedCause;
  readonly message: string;
  /** The events (or venue trades) the suggestion rests on. */
  readonly events: readonly string[];
}

export interface ExplainedMovement {
  readonly id: string;
  readonly type: string;
  readonly ts: string;
  readonly book: string;
  readonly delta: string;
}

/** What helps a person explain a break: what moved since the last matched report, and guesses. */
export interface Explanation {
  /** The last report of this cell that agreed (movements are listed after it); null: none. */
  readonly sinceTs: string | null;
  /** False when the books' windows start later than `sinceTs` (older movements are not listed). */
  readonly complete: boolean;
  /** The latest movements (at most `MAX_LISTED_MOVEMENTS`); `count` says how many there were. */
  readonly movements: readonly ExplainedMovement[];
  readonly count: number;
  /** Σ of every movement, listed or not. */
  readonly net: string;
  readonly suggestions: readonly Suggestion[];
}

export interface Break {
  readonly id: string;
  readonly venue: string;
  readonly account: string;
  readonly asset: string;
  readonly book: string | null;
  status: BreakStatus;
  /** Wall clock when UTL first saw the disagreement: the break's age counts from here. */
  readonly firstSeenMs: number;
  /** The report that opened it (its own timestamp). */
  readonly firstReportTs: string;
  lastReportId: string;
  lastReportTs: string;
  updatedMs: number;
  /** What the venue reported, what UTL held as of the report's instant, venue − UTL. */
  venueQty: string;
  utlQty: string;
  diff: string;
  /** |diff| valued in the reporting currency at the latest mark; null when unpriced. */
  value: string | null;
  readonly reporting: string;
  tolerance: { readonly abs: string; readonly rel: string };
  explanation: Explanation;
  history: BreakHistoryEntry[];
  resolution: { readonly by: string; readonly reason: string; readonly atMs: number; readonly adjustment: string | null } | null;
}

/** A report held against UTL's balance as of the report's instant. */
export interface BalanceCheck {
  readonly report: BalanceEvent;
  readonly utlQty: Dec;
  /** Whether the two agree within the tolerance, when the caller knows it already. */
  readonly agrees?: boolean;
}

export interface CheckContext {
  readonly atMs: number;
  readonly tolerance: Tolerance;
  readonly reporting: string;
  /** |diff| in the reporting currency, if the asset has a rate. */
  readonly value: (absDiff: Dec) => Dec | undefined;
  /** Called only when the check disagrees: movements since `sinceTs` and suggestions. */
  readonly explain: (diff: Dec, sinceTs: TsUs | undefined) => Explanation;
}

export type CheckOutcome =
  | { readonly kind: 'matched' }
  | { readonly kind: 'stale' }
  | { readonly kind: 'opened' | 'updated' | 'auto_resolved'; readonly brk: Break };

/** Per cell: the last report taken, and the last one that agreed. */
interface CellState {
  lastReport: { ts: TsUs; id: string };
  lastMatchedTs: TsUs | undefined;
  /** The open (or acknowledged) break of this cell. */
  current: string | undefined;
}

export interface ReconSnapshot {
  readonly breaks: Break[];
  readonly cells: [string, CellState][];
}

const MATCHED: CheckOutcome = { kind: 'matched' };

/** The key of a (venue, account, asset, book) cell; the separator (US, 0x1f) is in no name and is valid text in PostgreSQL. */
export function cellKey(r: { venue: string; account: string; asset: string; book: string | undefined | null }): string {
  return `${r.venue}\u001f${r.account}\u001f${r.asset}\u001f${r.book ?? ''}`;
}

export function isActive(b: Break): boolean {
  return b.status === 'open' || b.status === 'acknowledged';
}

export class BreakBook {
  private readonly breaks = new Map<string, Break>();
  private readonly cells = new Map<string, CellState>();

  /** Holds one report against UTL's balance (see the module comment for the transitions). */
  check(c: BalanceCheck, ctx: CheckContext, recheck = false): CheckOutcome {
    const r = c.report;
    const key = cellKey(r);
    const cell = this.cells.get(key);
    if (cell !== undefined) {
      const order = compareEvents(r, cell.lastReport);
      if (order < 0 || (order === 0 && !recheck)) {
        const cur = cell.current === undefined ? undefined : this.breaks.get(cell.current);
        if (cur !== undefined && order < 0) cur.history.push({ atMs: ctx.atMs, action: 'late_report', reportId: r.id, reportTs: formatTimestamp(r.ts) });
        return { kind: 'stale' };
      }
    }
    const diff = r.total.sub(c.utlQty);
    const state: CellState = cell ?? { lastReport: { ts: r.ts, id: r.id }, lastMatchedTs: undefined, current: undefined };
    const sinceTs = state.lastMatchedTs;
    state.lastReport = { ts: r.ts, id: r.id };
    this.cells.set(key, state);
    const current = state.current === undefined ? undefined : this.breaks.get(state.current);
    const agrees = c.agrees ?? within(ctx.tolerance, diff, r.total);
    if (agrees && current === undefined) {
      state.lastMatchedTs = r.ts;
      return MATCHED; // the common case: nothing to record
    }
    const figures = { reportId: r.id, reportTs: formatTimestamp(r.ts), venueQty: r.total.toString(), utlQty: c.utlQty.toString(), diff: diff.toString() };

    if (agrees) {
      state.lastMatchedTs = r.ts;
      if (current === undefined) return MATCHED;
      state.current = undefined;
      current.status = 'auto_resolved';
      Object.assign(current, { lastReportId: r.id, lastReportTs: figures.reportTs, venueQty: figures.venueQty, utlQty: figures.utlQty, diff: figures.diff, updatedMs: ctx.atMs });
      current.history.push({ atMs: ctx.atMs, action: 'auto_resolved', ...figures });
      return { kind: 'auto_resolved', brk: current };
    }

    const value = ctx.value(diff.abs());
    const explanation = ctx.explain(diff, sinceTs);
    const tolerance = { abs: ctx.tolerance.abs.toString(), rel: ctx.tolerance.rel.toString() };
    if (current !== undefined) {
      const changed = current.diff !== figures.diff || current.utlQty !== figures.utlQty;
      Object.assign(current, { lastReportId: r.id, lastReportTs: figures.reportTs, venueQty: figures.venueQty, utlQty: figures.utlQty, diff: figures.diff, value: value?.toString() ?? null, tolerance, explanation, updatedMs: ctx.atMs });
      if (changed) current.history.push({ atMs: ctx.atMs, action: 'updated', ...figures });
      return { kind: 'updated', brk: current };
    }
    const id = `brk:${r.id}`;
    const existing = this.breaks.get(id);
    if (existing !== undefined) return { kind: 'updated', brk: existing }; // the same report again after it was resolved by hand
    const brk: Break = {
      id,
      venue: r.venue,
      account: r.account,
      asset: r.asset,
      book: r.book ?? null,
      status: 'open',
      firstSeenMs: ctx.atMs,
      firstReportTs: figures.reportTs,
      lastReportId: r.id,
      lastReportTs: figures.reportTs,
      updatedMs: ctx.atMs,
      venueQty: figures.venueQty,
      utlQty: figures.utlQty,
      diff: figures.diff,
      value: value?.toString() ?? null,
      reporting: ctx.reporting,
      tolerance,
      explanation,
      history: [{ atMs: ctx.atMs, action: 'opened', ...figures }],
      resolution: null,
    };
    this.breaks.set(id, brk);
    state.current = id;
    return { kind: 'opened', brk };
  }

  /** The latest report taken for each cell with an active break, and for every cell (rechecks). */
  lastReportOf(key: string): { ts: TsUs; id: string } | undefined {
    return this.cells.get(key)?.lastReport;
  }

  /** A copy of one cell's state (what the store keeps per cell). */
  cellState(key: string): CellState | undefined {
    const c = this.cells.get(key);
    return c === undefined ? undefined : { ...c };
  }

  lastMatchedTs(key: string): TsUs | undefined {
    return this.cells.get(key)?.lastMatchedTs;
  }

  get(id: string): Break | undefined {
    return this.breaks.get(id);
  }

  list(): Break[] {
    return [...this.breaks.values()];
  }

  active(): Break[] {
    return this.list().filter(isActive);
  }

  acknowledge(id: string, by: string, note: string, atMs: number): Break | BreakRefusal {
    const b = this.breaks.get(id);
    if (b === undefined) return { code: 'BREAK_NOT_FOUND', message: `no break ${id}` };
    if (!isActive(b)) return { code: 'BREAK_CLOSED', message: `break ${id} is ${b.status}` };
    b.status = 'acknowledged';
    b.updatedMs = atMs;
    b.history.push({ atMs, action: 'acknowledged', by, note });
    return b;
  }

  /** Closes a break by hand; `adjustment` is the id of the adjusting event booked for it, if any. */
  resolve(id: string, by: string, reason: string, atMs: number, adjustment: string | null): Break | BreakRefusal {
    const b = this.breaks.get(id);
    if (b === undefined) return { code: 'BREAK_NOT_FOUND', message: `no break ${id}` };
    if (!isActive(b)) return { code: 'BREAK_CLOSED', message: `break ${id} is ${b.status}` };
    b.status = 'resolved';
    b.updatedMs = atMs;
    b.resolution = { by, reason, atMs, adjustment };
    b.history.push({ atMs, action: 'resolved', by, note: reason, ...(adjustment === null ? {} : { adjustment }) });
    const cell = this.cells.get(cellKey(b));
    if (cell?.current === id) cell.current = undefined;
    return b;
  }

  snapshot(): ReconSnapshot {
    return { breaks: this.list(), cells: [...this.cells.entries()] };
  }

  static restore(s: ReconSnapshot): BreakBook {
    const bb = new BreakBook();
    for (const b of s.breaks) bb.breaks.set(b.id, b);
    for (const [k, c] of s.cells) bb.cells.set(k, c);
    return bb;
  }

  /** Notes an adjusting entry that could not be booked (and was cancelled): the next attempt takes another id. */
  adjustmentRefused(id: string, by: string, adjustment: string, why: string, atMs: number): void {
    const b = this.breaks.get(id);
    if (b === undefined) return;
    b.updatedMs = atMs;
    b.history.push({ atMs, action: 'adjustment_refused', by, adjustment, note: why });
  }

  /** Restores one break (the store keeps breaks one row each). */
  put(b: Break): void {
    this.breaks.set(b.id, b);
  }
}

export interface BreakRefusal {
  readonly code: 'BREAK_NOT_FOUND' | 'BREAK_CLOSED';
  readonly message: string;
}

export function isRefusal(x: Break | BreakRefusal): x is BreakRefusal {
  return 'code' in x && !('id' in x);
}

/**
 * The adjusting entry that makes UTL agree with the venue as of the break's last report: a
 * deposit (UTL held less) or a withdrawal (UTL held more) of |diff|, stamped at the report's
 * instant, carrying who and why in `meta`. Returned as a wire event: it is booked through the
 * same door as every other event, never written into the state behind the log's back.
 */
export function adjustingEvent(b: Break, o: { id: string; book: string; by: string; reason: string; cost?: string }): Record<string, unknown> {
  const diff = Dec.of(b.diff);
  return {
    type: diff.isNeg() ? 'withdrawal' : 'deposit',
    id: o.id,
    ts: b.lastReportTs,
    book: o.book,
    venue: b.venue,
    account: b.account,
    asset: b.asset,
    qty: diff.abs().toString(),
    ...(o.cost === undefined ? {} : { cost: o.cost }),
    meta: { adjustment: { break: b.id, by: o.by, reason: o.reason } },
  };
}
