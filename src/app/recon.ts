/**
 * Reconciliation in the service: every venue balance report that is booked is held against UTL's
 * balance as of the report's instant (domain/recon), breaks are kept in PostgreSQL with their
 * history, people acknowledge and resolve them (an adjusting entry goes through the service's one
 * door, as an event with who and why), and the consistency checks run on a timer.
 *
 * Runs in the booking lane: `onBooked` is called synchronously after each batch is booked, so it
 * sees a ledger that holds still. The writes to PostgreSQL go beside it, one at a time; what a
 * crash loses of them is rebuilt at start by taking the reports the ledger holds again.
 *
 * UTL's side of a report can change after it was taken: a late fill, a correction. A book event
 * at or before the latest report of its venue marks that venue for a recheck, which holds its
 * latest reports again (at most once per `recheckIntervalMs`).
 */
import type { Dec } from '../domain/decimal.js';
import { compareEvents, isBookEvent, type BalanceEvent, type DepositEvent, type LedgerEvent, type TradeEvent, type TsUs, type WithdrawalEvent } from '../domain/events.js';
import type { Ledger } from '../domain/ledger.js';
import { reconcileBalances, type BalanceReconOptions } from '../domain/recon/balances.js';
import { adjustingEvent, BreakBook, cellKey, isRefusal, type Break, type BreakRefusal } from '../domain/recon/breaks.js';
import { checkFlows, checkNegativeBalances, checkPositions, FlowsCheck, type CheckResult } from '../domain/recon/checks.js';
import { reconcileTrades, spotTradeDeltas, type TradeReconResult } from '../domain/recon/trades.js';
import { matchTransfers, type TransferReconResult } from '../domain/recon/transfers.js';
import type { ReconStore } from '../adapters/pg/recon-store.js';
import type { ReconConfig } from './recon-config.js';
import type { Logger, Service } from './service.js';

export interface ResolveRequest {
  readonly by: string;
  readonly reason: string;
  /** Book an adjusting entry (a deposit or withdrawal of the difference) before closing. */
  readonly adjust?: { readonly book?: string; readonly cost?: string };
}

export type ResolveRefusal = BreakRefusal | { readonly code: 'ADJUSTMENT_REFUSED' | 'ADJUSTMENT_NEEDS_BOOK' | 'BREAK_BUSY'; readonly message: string };

/** Events the flows check replays per slice, between which booking goes on (about 1-5 ms). */
const FLOWS_SLICE_EVENTS = 500;

export class Reconciler {
  breaks = new BreakBook();
  /** The latest report taken per cell: what a recheck holds again. */
  private readonly latest = new Map<string, BalanceEvent>();
  /** Per venue: the latest report's instant (a book event at or before it changes UTL's side). */
  private readonly latestTsByVenue = new Map<string, TsUs>();
  /** Per venue: when (wall clock) its last report arrived. */
  readonly lastReportMs = new Map<string, number>();
  private readonly dirtyVenues = new Set<string>();
  private recheckTimer: NodeJS.Timeout | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private firstCheck: NodeJS.Timeout | undefined;
  private readonly changedBreaks = new Set<string>();
  private readonly changedCells = new Set<string>();
  private writing: Promise<void> | undefined;
  /** Consecutive failed writes: the pause before the next grows with them. */
  private failures = 0;
  private deferred: BalanceEvent[] = [];
  private historyPass: Promise<void> | undefined;
  /** The latest consistency checks, and from when the next flows check starts. */
  checks: CheckResult[] = [];
  checkedAtMs: number | undefined;
  private flowsFrom: TsUs | undefined;
  /** The seq up to which the log was found accounted for (0: from the start). */
  private accountedFrom = 0;
  private maxTs: TsUs | undefined;
  /** The latest trade and transfer reconciliations: evidence for explaining balance breaks. */
  readonly trades = new Map<string, { result: TradeReconResult; missing: TradeEvent[] }>();
  transfers: { result: TransferReconResult; unmatched: WithdrawalEvent[] } | undefined;
  private stopped = false;

  constructor(
    readonly service: Service,
    private readonly store: ReconStore,
    readonly config: ReconConfig,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Restores breaks and cells, then takes the reports the ledger holds that were not taken yet. */
  async start(): Promise<void> {
    const saved = await this.store.load();
    const reports = await this.service.store.eventsById(saved.cells.map((c) => c.report));
    const byId = new Map(reports.map((r) => [r.id, r]));
    this.breaks = BreakBook.restore({ breaks: saved.breaks, cells: saved.cells.map((c) => [c.key, c.state]) });
    for (const c of saved.cells) {
      const r = byId.get(c.report);
      if (r?.type === 'balance') {
        this.remember(r);
        // When a venue last reported is not kept: its silence counts from the restart.
        if (!this.lastReportMs.has(r.venue)) this.lastReportMs.set(r.venue, this.clock());
      }
    }
    await this.service.withLedger(async () => {
      this.service.onBooked = (events) => this.onBooked(events);
      this.take(this.service.ledger.reports, false);
      await Promise.resolve();
    });
    if (this.config.checkIntervalMs > 0) {
      // A first run soon after start, then on the interval.
      this.firstCheck = setTimeout(() => void this.runChecks().catch((err: unknown) => this.log.error({ err: String(err) }, 'consistency checks failed to run')), Math.min(5_000, this.config.checkIntervalMs));
      this.firstCheck.unref();
      this.checkTimer = setInterval(() => void this.runChecks().catch((err: unknown) => this.log.error({ err: String(err) }, 'consistency checks failed to run')), this.config.checkIntervalMs);
      this.checkTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.recheckTimer !== undefined) clearTimeout(this.recheckTimer);
    if (this.checkTimer !== undefined) clearInterval(this.checkTimer);
    if (this.firstCheck !== undefined) clearTimeout(this.firstCheck);
    this.service.onBooked = undefined;
    await this.historyPass;
    await this.flush();
  }

  // ---- booking side (synchronous, in the booking lane) ----

  private onBooked(events: readonly LedgerEvent[]): void {
    const reports: BalanceEvent[] = [];
    for (const e of events) {
      if (e.type === 'balance') {
        reports.push(e);
        this.lastReportMs.set(e.venue, this.clock());
      } else if (isBookEvent(e)) {
        if (this.maxTs === undefined || e.ts > this.maxTs) this.maxTs = e.ts;
        for (const venue of venuesOf(e)) {
          const t = this.latestTsByVenue.get(venue);
          if (t !== undefined && e.ts <= t) this.dirtyVenues.add(venue);
        }
      } else if (e.type === 'cancel' || e.type === 'amend') {
        for (const v of this.latestTsByVenue.keys()) this.dirtyVenues.add(v);
      } else if (e.type === 'price' && this.latestTsByVenue.size > 0 && e.ts <= Math.max(...this.latestTsByVenue.values()) && this.service.unbooked().length > 0) {
        // A late mark can make an event that could not be booked bookable: UTL's side moves.
        for (const v of this.latestTsByVenue.keys()) this.dirtyVenues.add(v);
      }
    }
    if (reports.length > 0) this.take(reports, false);
    if (this.dirtyVenues.size > 0 && this.recheckTimer === undefined && !this.stopped) {
      this.recheckTimer = setTimeout(() => {
        this.recheckTimer = undefined;
        void this.service.withLedger(() => {
          this.recheck();
          return Promise.resolve();
        });
      }, this.config.recheckIntervalMs);
      this.recheckTimer.unref();
    }
  }

  private options(recheck: boolean): BalanceReconOptions {
    return {
      tolerances: this.config.tolerances,
      atMs: this.clock(),
      fundingIntervalUs: this.config.fundingIntervalMs * 1000,
      recheck,
      unbookedVenueTrades: (venue, asset) => {
        const missing = this.trades.get(venue)?.missing ?? [];
        return missing.flatMap((t) => {
          const d = spotTradeDeltas(t)?.get(asset);
          return d === undefined ? [] : [{ id: t.id, delta: d }];
        });
      },
      unmatchedWithdrawals: (asset) => (this.transfers?.unmatched ?? []).filter((w) => w.asset === asset).map((w) => ({ id: w.id, venue: w.venue, qty: w.qty })),
    };
  }

  /** Holds reports against `ledger` (the live one unless given) and keeps what changed. */
  private take(reports: readonly BalanceEvent[], recheck: boolean, ledger: Ledger = this.service.ledger): void {
    if (reports.length === 0) return;
    const r = reconcileBalances(ledger, this.breaks, reports, this.options(recheck));
    for (const { report, outcome } of r.outcomes) {
      if (outcome.kind === 'stale') continue;
      this.remember(report);
      this.changedCells.add(cellKey(report));
      if (outcome.kind !== 'matched') this.changedBreaks.add(outcome.brk.id);
    }
    if (r.deferred.length > 0) {
      this.deferred.push(...r.deferred);
      this.scheduleHistoryPass();
    }
    this.persist();
  }

  private remember(r: BalanceEvent): void {
    const k = cellKey(r);
    const had = this.latest.get(k);
    if (had !== undefined && compareEvents(had, r) > 0) return;
    this.latest.set(k, r);
    if ((this.latestTsByVenue.get(r.venue) ?? Number.MIN_SAFE_INTEGER) < r.ts) this.latestTsByVenue.set(r.venue, r.ts);
  }

  /** Holds the latest reports of the venues whose side changed again. */
  private recheck(): void {
    if (this.dirtyVenues.size === 0) return;
    const venues = new Set(this.dirtyVenues);
    this.dirtyVenues.clear();
    const reports = [...this.latest.values()].filter((r) => venues.has(r.venue));
    this.take(reports, true);
  }

  /** Reports older than the books' windows: held against a ledger rebuilt from the store. */
  private scheduleHistoryPass(): void {
    if (this.historyPass !== undefined || this.stopped) return;
    this.historyPass = (async () => {
      while (this.deferred.length > 0 && !this.stopped) {
        const batch = this.deferred.splice(0, this.deferred.length);
        await this.service.withLedger(async () => {
          const from = Math.min(...batch.map((r) => r.ts));
          const until = Math.max(...batch.map((r) => r.ts));
          const books = new Set<string>();
          for (const r of batch) for (const b of r.book === undefined ? this.service.ledger.bookNames() : [r.book]) books.add(b);
          const past = await this.service.historyLedger([...books], from + 1, until);
          const before = this.deferred.length;
          this.take(batch, false, past);
          // Whatever the rebuilt ledger still cannot answer is given up on, with a log line.
          if (this.deferred.length > before) {
            const lost = this.deferred.splice(before);
            this.log.warn({ reports: lost.map((r) => r.id).slice(0, 10), count: lost.length }, 'reports older than every stored base: not reconciled');
          }
        });
      }
    })()
      .catch((err: unknown) => this.log.error({ err: String(err) }, 'reconciling old reports failed'))
      .finally(() => {
        this.historyPass = undefined;
      });
  }

  // ---- persistence (beside the booking, one write at a time) ----

  private persist(): void {
    if (this.writing !== undefined || (this.changedBreaks.size === 0 && this.changedCells.size === 0)) return;
    const breaks = [...this.changedBreaks].map((id) => this.breaks.get(id)!).map((b) => JSON.parse(JSON.stringify(b)) as Break);
    // Only the changed cells are read: a round of 50,000 reports must not copy every cell per write.
    const cells = [...this.changedCells].flatMap((key) => {
      const state = this.breaks.cellState(key);
      const report = this.latest.get(key);
      return state === undefined || report === undefined ? [] : [{ key, state, report }];
    });
    this.changedBreaks.clear();
    this.changedCells.clear();
    this.writing = (async () => {
      try {
        await this.store.saveBreaks(breaks);
        await this.store.saveCells(cells);
        this.failures = 0;
      } catch (err) {
        // Not written: retried after a pause (never in a tight loop), or rebuilt from the ledger's reports at start.
        for (const b of breaks) this.changedBreaks.add(b.id);
        for (const c of cells) this.changedCells.add(c.key);
        this.failures++;
        this.log.warn({ err: String(err), attempt: this.failures }, 'saving breaks failed: will retry');
        await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** Math.min(this.failures, 6))).unref());
      }
    })().finally(() => {
      this.writing = undefined;
      if (!this.stopped) this.persist();
    });
  }

  /** Waits until every change is written. */
  async flush(): Promise<void> {
    for (let i = 0; i < 5; i++) {
      await this.writing;
      if (this.changedBreaks.size === 0 && this.changedCells.size === 0) return;
      this.persist();
    }
  }

  // ---- people ----

  async acknowledge(id: string, by: string, note: string): Promise<Break | BreakRefusal> {
    const r = this.breaks.acknowledge(id, by, note, this.clock());
    if (isRefusal(r)) return r;
    this.changedBreaks.add(id);
    this.persist();
    await this.flush();
    await this.store.audit(by, 'break.acknowledge', id, { note });
    return r;
  }

  /** Breaks being resolved right now: a second resolve of one waits for nothing, it is refused. */
  private readonly resolving = new Set<string>();

  async resolve(id: string, req: ResolveRequest): Promise<Break | ResolveRefusal> {
    const b = this.breaks.get(id);
    if (b === undefined) return { code: 'BREAK_NOT_FOUND', message: `no break ${id}` };
    if (b.status !== 'open' && b.status !== 'acknowledged') return { code: 'BREAK_CLOSED', message: `break ${id} is ${b.status}` };
    if (this.resolving.has(id)) return { code: 'BREAK_BUSY', message: `break ${id} is being resolved by another request` };
    this.resolving.add(id);
    try {
      return await this.resolveNow(b, req);
    } finally {
      this.resolving.delete(id);
    }
  }

  private async resolveNow(b: Break, req: ResolveRequest): Promise<Break | ResolveRefusal> {
    const id = b.id;
    let adjustment: string | null = null;
    if (req.adjust !== undefined) {
      const book = req.adjust.book ?? b.book ?? undefined;
      if (book === undefined) return { code: 'ADJUSTMENT_NEEDS_BOOK', message: `break ${id} is on a venue account shared by books: say which book takes the adjusting entry` };
      // One id per attempt: the first is `adj:<break>` (a repeat of it is a duplicate, never a second
      // adjustment); after a refused attempt (cancelled below) the next is `adj:<break>#<n>`.
      const attempt = 1 + b.history.filter((h) => h.action === 'adjustment_refused').length;
      const adj = attempt === 1 ? `adj:${id}` : `adj:${id}#${attempt}`;
      adjustment = adj;
      const event = adjustingEvent(b, { id: adj, book, by: req.by, reason: req.reason, ...(req.adjust.cost === undefined ? {} : { cost: req.adjust.cost }) });
      const r = await this.service.submit([event], 'recon');
      const result = r.results[0];
      if (result === undefined || result.status === 'rejected') return { code: 'ADJUSTMENT_REFUSED', message: result?.message ?? 'the adjusting entry was refused' };
      const unbooked = this.service.unbooked().find((u) => u.id === adj);
      if (unbooked !== undefined) {
        // Committed but not bookable (no mark, no cost): cancelled at once, so a later mark can
        // never book it behind anyone's back; the refusal is kept in the break's history.
        await this.service.submit([{ type: 'cancel', id: `${adj}:cancel`, ts: b.lastReportTs, target: adj, reason: `adjusting entry refused: ${unbooked.message}` }], 'recon');
        this.breaks.adjustmentRefused(id, req.by, adj, unbooked.message, this.clock());
        this.changedBreaks.add(id);
        this.persist();
        await this.flush();
        return { code: 'ADJUSTMENT_REFUSED', message: `the adjusting entry ${adj} could not be booked (${unbooked.message}); it was cancelled: give a cost, or send a mark first, and resolve again` };
      }
    }
    const r = this.breaks.resolve(id, req.by, req.reason, this.clock(), adjustment);
    if (isRefusal(r)) return r;
    this.changedBreaks.add(id);
    this.persist();
    await this.flush();
    await this.store.audit(req.by, 'break.resolve', id, { reason: req.reason, adjustment });
    return r;
  }

  // ---- checks, trades, transfers ----

  /**
   * Runs the consistency checks: flows since the last run (`full`: over every event the ledger
   * holds) and the positions' invariants, in the booking lane (they read the ledger, briefly);
   * then, outside it, that every event committed since the last run (`full`: ever) is logged
   * once and booked, which reads the store and must not hold booking up.
   */
  async runChecks(options: { full?: boolean } = {}): Promise<CheckResult[]> {
    const full = options.full === true;
    const sinceTs = full ? undefined : this.flowsFrom;
    // In the booking lane: the positions' invariants, and the flows check prepared (each book's
    // replay on its own copy of the events, and the balances it must arrive at).
    const { flows, rest, lastSeq } = await this.service.withLedger(() => {
      const ledger = this.service.ledger;
      return Promise.resolve({
        flows: FlowsCheck.prepare(ledger, sinceTs),
        rest: [...checkPositions(ledger), checkNegativeBalances(ledger, this.config.lendingVenues)],
        lastSeq: this.service.stats.lastSeq,
      });
    });
    // Outside it, in slices between batches: the replay of what came since (up to a book's whole
    // window) would otherwise hold booking up for as long as it takes.
    while (!flows.step(FLOWS_SLICE_EVENTS)) await new Promise((r) => setImmediate(r));
    let flowsResult = flows.result();
    // A failure is confirmed on the ledger itself, all at once (a late mark booked meanwhile could
    // have made the copies' replay differ), before it is reported.
    if (!flowsResult.ok) flowsResult = await this.service.withLedger(() => Promise.resolve(checkFlows(this.service.ledger, sinceTs)));
    const results: CheckResult[] = [flowsResult, ...rest];
    const from = full ? 0 : this.accountedFrom;
    const accounted = await this.store.accounted(Math.min(from, lastSeq), lastSeq, 60);
    results.push(accounted);
    // The next run covers what came since (a failed range is looked at again).
    if (accounted.ok && !full) this.accountedFrom = lastSeq;
    // The next flows check covers what came since (by event time, with five minutes of slack for
    // slightly late events): each run replays only that, not the whole window.
    if (this.maxTs !== undefined) this.flowsFrom = this.maxTs - 300_000_000;
    this.checks = results;
    this.checkedAtMs = this.clock();
    // Transfers of the last day (and the matching window before it): overdue ones become alert facts.
    const t = this.config.transfers;
    await this.reconcileTransfers((this.clock() - 86_400_000 - t.windowMs) * 1000, undefined);
    for (const c of results) if (!c.ok) this.log.error({ check: c.name, detail: c.detail }, 'consistency check failed');
    return results;
  }

  /** A venue's trade history held against the fills booked there (and kept as evidence). */
  async reconcileTrades(venue: string, venueTrades: readonly TradeEvent[], window: { from?: TsUs; to?: TsUs }): Promise<TradeReconResult> {
    const atVenue = venueTrades.filter((t) => t.venue === venue);
    const from = window.from ?? (atVenue.length === 0 ? undefined : Math.min(...atVenue.map((t) => t.ts)));
    const to = window.to ?? (atVenue.length === 0 ? undefined : Math.max(...atVenue.map((t) => t.ts)));
    const booked = (await this.store.effective(['trade'], from, to, this.service.store.horizon)).filter((e): e is TradeEvent => e.type === 'trade');
    const result = reconcileTrades(venueTrades, booked, { venue, ...(from === undefined ? {} : { fromTs: from }), ...(to === undefined ? {} : { toTs: to }) });
    const missingIds = new Set(result.missingInUtl.map((l) => l.id));
    this.trades.set(venue, { result, missing: atVenue.filter((t) => missingIds.has(t.id)) });
    return result;
  }

  /** Withdrawals matched to deposits over `[from, until]` (and kept as evidence). */
  async reconcileTransfers(from: TsUs | undefined, until: TsUs | undefined): Promise<TransferReconResult> {
    const flows = await this.store.effective(['deposit', 'withdrawal'], from, until, this.service.store.horizon);
    const t = this.config.transfers;
    const result = matchTransfers(
      flows.filter((e): e is WithdrawalEvent => e.type === 'withdrawal'),
      flows.filter((e): e is DepositEvent => e.type === 'deposit'),
      { windowUs: t.windowMs * 1000, skewUs: t.skewMs * 1000, maxTransitUs: t.maxTransitMs * 1000, feeTolerance: t.feeTolerance, nowUs: this.clock() * 1000 },
    );
    const open = new Set([...result.inTransit, ...result.breaks].map((f) => f.id));
    this.transfers = { result, unmatched: flows.filter((e): e is WithdrawalEvent => e.type === 'withdrawal' && open.has(e.id)) };
    return result;
  }

  /**
   * Withdrawals overdue for their deposit (the latest transfer reconciliation), shaped as breaks
   * for the alert rules: `xfer:<withdrawal id>`, first seen when the transit allowance ran out.
   */
  overdueTransfers(): { id: string; venue: string; account: string; asset: string; status: 'open'; firstSeenMs: number; diff: string; value: string | null }[] {
    const r = this.transfers;
    if (r === undefined) return [];
    const byId = new Map(r.unmatched.map((w) => [w.id, w]));
    return r.result.breaks.flatMap((f) => {
      const w = byId.get(f.id);
      if (w === undefined) return [];
      const rate = this.rate(w.asset);
      return [{ id: `xfer:${w.id}`, venue: w.venue, account: w.account, asset: w.asset, status: 'open' as const, firstSeenMs: Math.floor(w.ts / 1000) + this.config.transfers.maxTransitMs, diff: w.qty.neg().toString(), value: rate === undefined ? null : w.qty.mul(rate).toString() }];
    });
  }

  /** The rate of an asset now (for valuing breaks in reports). */
  rate(asset: string): Dec | undefined {
    return this.service.ledger.marks.rate(asset, Number.MAX_SAFE_INTEGER);
  }
}

function venuesOf(e: LedgerEvent): string[] {
  switch (e.type) {
    case 'transfer':
      return [e.from, e.to];
    case 'trade':
    case 'deposit':
    case 'withdrawal':
    case 'funding':
      return [e.venue];
    default:
      return [];
  }
}
