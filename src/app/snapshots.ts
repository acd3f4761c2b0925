/**
 * End-of-day (EOD) snapshots and PnL over periods.
 *
 * The EOD snapshot of day D is the state as of D's last instant (23:59:59.999999Z): every book's
 * positions with their lots, balances and PnL figures, valued at the marks of that instant. It is
 * taken once D has closed (by default one minute after midnight UTC, so that events stamped just
 * before midnight have arrived) and then frozen: the start-of-day (SOD) state of D+1 is D's EOD.
 * An event for D that arrives after D's snapshot does not change it; it shows in the PnL of the
 * period that is open when it is booked (as a prior-period adjustment does on a desk), until an
 * admin retakes the day (`POST /snapshots`, audited). Snapshots live in PostgreSQL, so the PnL of
 * today stays measured against the same official SOD across restarts.
 *
 * PnL of a period (today, MTD, YTD; inception is the state itself) is the end state minus the
 * state before the period starts (src/domain/periods.ts). The state before a start is the stored
 * EOD snapshot of the day before it, or, when there is none (days before the service ran, or a
 * snapshot not yet taken), the as-of state rebuilt from the stored bases and the log
 * (`Service.reportAt`); the answer says which (`baseline.source`).
 */
import type { TsUs } from '../domain/events.js';
import { periodPnl, periodStarts, type BookPnl, type PnlState, type PositionPnl } from '../domain/periods.js';
import type { BalanceReport, BookSummary, Exposure, ExposureLine, PositionReport, Report, VenueBalanceReport } from '../domain/report.js';
import { dayStart, formatDay, formatTimestamp, parseDay, US_PER_DAY } from '../domain/time.js';
import type { Logger, Service } from './service.js';

/** One stored day: its last instant, when it was taken, how many books it holds. */
export interface SnapshotDay {
  readonly day: string;
  readonly asOfUs: number;
  readonly takenAt: string;
  readonly books: number;
}

export interface SnapshotRows extends SnapshotDay {
  /** The stored parts: book '' is the firm-wide one. */
  readonly rows: readonly { book: string; doc: string }[];
}

export interface SnapshotStore {
  /** Writes day `day` whole (replacing what was there), in one transaction. */
  put(day: string, asOfUs: number, parts: readonly { book: string; doc: string }[]): Promise<SnapshotDay>;
  day(day: string): Promise<SnapshotDay | undefined>;
  /** Newest first, days before `before` when given. */
  days(limit: number, before: string | undefined): Promise<SnapshotDay[]>;
  /** The parts of `books` (every book when undefined) and the firm part; undefined when the day was never taken. */
  read(day: string, books: readonly string[] | undefined): Promise<SnapshotRows | undefined>;
}

/** A book's part of a day's snapshot. */
interface BookDoc {
  readonly reporting: string;
  readonly summary: BookSummary;
  readonly positions: PositionReport[];
  readonly balances: BalanceReport[];
  readonly exposure: ExposureLine | undefined;
}

/** The firm-wide part: exposure over every book, and what the venues reported. */
interface FirmDoc {
  readonly reporting: string;
  readonly exposure: Exposure;
  readonly venueBalances: VenueBalanceReport[];
}

/** A day's snapshot as the API shows it. `exposure` and `venueBalances` only to who sees every book. */
export interface DaySnapshot {
  readonly day: string;
  readonly asOf: string;
  readonly takenAt: string;
  readonly reporting: string;
  readonly books: BookSummary[];
  readonly positions: PositionReport[];
  readonly balances: BalanceReport[];
  readonly exposure?: Exposure;
  readonly venueBalances?: VenueBalanceReport[];
}

export interface SnapshotOptions {
  /** After midnight UTC, how long to wait before taking the closed day (late events). */
  readonly delayMs: number;
  /** How often to look whether a day has closed. */
  readonly checkEveryMs: number;
}

export const DEFAULT_SNAPSHOTS: SnapshotOptions = { delayMs: 60_000, checkEveryMs: 30_000 };

/** The state before a period starts, and where it came from. */
export interface Baseline {
  readonly from: string;
  readonly source: 'snapshot' | 'replay' | 'none';
  /** The EOD snapshot used (source `snapshot`): its day and when it was taken. */
  readonly day?: string;
  readonly takenAt?: string;
}

export interface PeriodPnlAnswer {
  readonly at: string;
  readonly reporting: string;
  readonly periods: { today: Baseline; mtd: Baseline; ytd: Baseline; inception: { from: null } };
  readonly books: BookPnl[];
  readonly positions: PositionPnl[];
}

export class DayNotClosedError extends Error {
  override readonly name = 'DayNotClosedError';
}

/** Splits a report into the stored parts: one per book, and the firm-wide one (book ''). */
export function snapshotParts(report: Report): { book: string; doc: string }[] {
  const parts: { book: string; doc: string }[] = [];
  const firm: FirmDoc = { reporting: report.reporting, exposure: report.exposure, venueBalances: report.venueBalances };
  parts.push({ book: '', doc: JSON.stringify(firm) });
  const byBook = <T extends { book: string }>(xs: readonly T[]): Map<string, T[]> => {
    const m = new Map<string, T[]>();
    for (const x of xs) {
      let l = m.get(x.book);
      if (l === undefined) m.set(x.book, (l = []));
      l.push(x);
    }
    return m;
  };
  const positions = byBook(report.positions);
  const balances = byBook(report.balances);
  const exposure = new Map(report.exposure.byBook.map((e) => [e.book, { net: e.net, gross: e.gross }]));
  for (const summary of report.books) {
    const doc: BookDoc = { reporting: report.reporting, summary, positions: positions.get(summary.book) ?? [], balances: balances.get(summary.book) ?? [], exposure: exposure.get(summary.book) };
    parts.push({ book: summary.book, doc: JSON.stringify(doc) });
  }
  return parts;
}

export class Snapshots {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly service: Service,
    private readonly store: SnapshotStore,
    private readonly opts: SnapshotOptions = DEFAULT_SNAPSHOTS,
    private readonly log?: Logger,
    /** The wall clock (ms); tests set it. */
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.tick(), this.opts.checkEveryMs);
    this.timer.unref();
    void this.tick();
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.running.catch(() => undefined);
  }

  /** The latest day that has closed (its delay passed) by the wall clock. */
  lastClosedDay(): string {
    return formatDay(dayStart((this.now() - this.opts.delayMs) * 1000) - US_PER_DAY);
  }

  /**
   * Takes the last closed day when it was not taken yet (and the service holds any book);
   * answers the day taken. Errors are logged: the next tick tries again.
   */
  async tick(): Promise<string | undefined> {
    const run = this.running.then(async () => {
      const day = this.lastClosedDay();
      if (!this.service.ready || this.service.ledger.bookNames().length === 0) return undefined;
      if ((await this.store.day(day)) !== undefined) return undefined;
      await this.take(day);
      this.log?.info({ day }, 'end-of-day snapshot taken');
      return day;
    });
    this.running = run.catch(() => undefined);
    try {
      return await run;
    } catch (err) {
      this.log?.error({ err: String(err) }, 'end-of-day snapshot failed; will retry');
      return undefined;
    }
  }

  /** Takes (or retakes) the EOD snapshot of `day` (YYYY-MM-DD), which must have closed. */
  async take(day: string): Promise<SnapshotDay> {
    const start = parseDay(day);
    if (start === undefined) throw new RangeError(`not a day: ${JSON.stringify(day)} (expected YYYY-MM-DD)`);
    const asOf = start + US_PER_DAY - 1;
    if (asOf >= this.now() * 1000) throw new DayNotClosedError(`${day} has not closed yet (it ends at ${formatTimestamp(asOf)})`);
    const report = await this.service.reportAt(asOf, { lots: true, includeFlat: true });
    return this.store.put(day, asOf, snapshotParts(report));
  }

  /** The stored day, if it was taken. */
  info(day: string): Promise<SnapshotDay | undefined> {
    return this.store.day(day);
  }

  days(limit: number, before?: string): Promise<SnapshotDay[]> {
    return this.store.days(limit, before);
  }

  /**
   * A day's snapshot for `books` (every book when undefined). The firm-wide exposure and venue
   * balances come only with `firm` (a caller who sees every book and asked for no subset).
   */
  async read(day: string, books: readonly string[] | undefined, firm: boolean): Promise<DaySnapshot | undefined> {
    const stored = await this.store.read(day, books);
    if (stored === undefined) return undefined;
    const out: { books: BookSummary[]; positions: PositionReport[]; balances: BalanceReport[] } = { books: [], positions: [], balances: [] };
    let reporting = this.service.ledger.config.reporting;
    let firmDoc: FirmDoc | undefined;
    for (const r of stored.rows) {
      if (r.book === '') {
        firmDoc = JSON.parse(r.doc) as FirmDoc;
        reporting = firmDoc.reporting;
        continue;
      }
      const d = JSON.parse(r.doc) as BookDoc;
      out.books.push(d.summary);
      out.positions.push(...d.positions);
      out.balances.push(...d.balances);
    }
    const base = { day: stored.day, asOf: formatTimestamp(stored.asOfUs), takenAt: stored.takenAt, reporting, ...out };
    return firm && firmDoc !== undefined ? { ...base, exposure: firmDoc.exposure, venueBalances: firmDoc.venueBalances } : base;
  }

  /** The state at the last instant before `start`: the EOD snapshot of the day before when it is a day boundary and was taken, else rebuilt. */
  async stateBefore(start: TsUs, books: readonly string[] | undefined): Promise<{ state: PnlState | undefined; baseline: Baseline }> {
    const from = formatTimestamp(start);
    if (start === dayStart(start)) {
      const day = formatDay(start - 1);
      const snap = await this.read(day, books, false);
      if (snap !== undefined) return { state: snap, baseline: { from, source: 'snapshot', day: snap.day, takenAt: snap.takenAt } };
    }
    const report = await this.service.reportAt(start - 1, { ...(books === undefined ? {} : { books }), includeFlat: true });
    if (report.books.length === 0) return { state: undefined, baseline: { from, source: 'none' } };
    return { state: report, baseline: { from, source: 'replay' } };
  }

  /**
   * Today, MTD, YTD and inception PnL of `books` (every book when undefined) as of `at` (now
   * when undefined): per book, and per position (of `asset` only, when given).
   */
  async pnl(at: TsUs | undefined, books: readonly string[] | undefined, asset?: string): Promise<PeriodPnlAnswer> {
    const atUs = at ?? this.now() * 1000;
    const options = { ...(books === undefined ? {} : { books }), includeFlat: true };
    const end = at === undefined ? this.service.report(options) : await this.service.reportAt(at, options);
    const starts = periodStarts(atUs);
    const memo = new Map<TsUs, Promise<{ state: PnlState | undefined; baseline: Baseline }>>();
    const before = (t: TsUs): Promise<{ state: PnlState | undefined; baseline: Baseline }> => {
      let p = memo.get(t);
      if (p === undefined) memo.set(t, (p = this.stateBefore(t, books)));
      return p;
    };
    const [today, mtd, ytd] = await Promise.all([before(starts.today), before(starts.mtd), before(starts.ytd)]);
    const pnl = periodPnl(end, { today: today.state, mtd: mtd.state, ytd: ytd.state });
    return {
      at: formatTimestamp(atUs),
      reporting: end.reporting,
      periods: { today: today.baseline, mtd: mtd.baseline, ytd: ytd.baseline, inception: { from: null } },
      books: pnl.books,
      positions: asset === undefined ? pnl.positions : pnl.positions.filter((p) => p.asset === asset),
    };
  }
}
