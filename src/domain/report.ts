/**
 * Valuation and reporting: positions with their PnL, balances, and exposure, from the ledger's
 * state and the marks known at the report's instant (DOMAIN.md §6). Pure and deterministic:
 * everything is sorted, every decimal is canonical text, so the same state prints byte-identically.
 *
 * A position with open quantity and no mark is unpriced: its unrealized PnL, value and total are
 * null, never 0, and the exposure lists it under `unpriced`.
 */
import { type BalanceCell, type BookState, type DerivativePosition, type Position, type SpotPosition } from './book.js';
import { Dec, DIVISION_SCALE } from './decimal.js';
import { compareEvents, type BalanceEvent } from './events.js';
import type { DerivativeInstrument } from './instrument.js';
import type { Ledger } from './ledger.js';
import { END_TS } from './marks.js';
import { formatTimestamp } from './time.js';

export interface LotReport {
  readonly qty: string;
  readonly cost: string;
  readonly acquired: string;
  readonly seq: number;
}

export interface PositionReport {
  readonly book: string;
  readonly asset: string;
  readonly kind: 'spot' | 'perpetual' | 'future';
  /** Derivatives, and spot lots pooled by venue: the venue of the position. */
  readonly venue?: string;
  readonly method: string;
  readonly qty: string;
  /** Null only for a derivative whose value in R is unknown (no mark, or no rate for its quote). */
  readonly costBasis: string | null;
  /** Cost basis per unit (spot) or average entry price (derivatives); display only, rounded. */
  readonly avgPrice: string | null;
  readonly mark: string | null;
  readonly value: string | null;
  readonly realizedPnl: string;
  readonly unrealizedPnl: string | null;
  readonly fees: string;
  readonly funding: string;
  readonly totalPnl: string | null;
  readonly byVenue: Record<string, string>;
  readonly lots?: LotReport[];
}

export interface BalanceReport {
  readonly book: string;
  readonly venue: string;
  readonly account: string;
  readonly asset: string;
  readonly qty: string;
}

export interface BookSummary {
  readonly book: string;
  readonly method: string;
  readonly fees: string;
  readonly realizedPnl: string;
  readonly unrealizedPnl: string | null;
  readonly feesPaid: string;
  readonly funding: string;
  readonly totalPnl: string | null;
  readonly unpriced: string[];
  readonly booked: number;
}

export interface ExposureLine {
  readonly net: string;
  readonly gross: string;
}

export interface Exposure {
  readonly reporting: string;
  readonly firm: ExposureLine & { readonly unpriced: string[] };
  readonly byAsset: { asset: string; qty: string; value: string | null }[];
  readonly byBook: ({ book: string } & ExposureLine)[];
  /** `held`: value of what sits at the venue (cash included; counterparty risk). `net`/`gross`: price exposure there. */
  readonly byVenue: ({ venue: string; held: string } & ExposureLine)[];
}

/** The latest balance a venue reported per (venue, account, asset): what reconciliation will hold UTL's balances against. */
export interface VenueBalanceReport {
  readonly venue: string;
  readonly account: string;
  readonly asset: string;
  readonly book: string | null;
  readonly ts: string;
  readonly total: string;
  readonly free: string | null;
  readonly used: string | null;
}

export interface Report {
  readonly asOf: string | null;
  readonly reporting: string;
  readonly positions: PositionReport[];
  readonly balances: BalanceReport[];
  readonly venueBalances: VenueBalanceReport[];
  readonly books: BookSummary[];
  readonly exposure: Exposure;
}

export interface ReportOptions {
  /** Include each position's open lots. */
  readonly lots?: boolean;
  /** Keep positions that are flat with no PnL at all. */
  readonly includeFlat?: boolean;
  /** Only these books (exposure then covers only them too). */
  readonly books?: readonly string[];
}

const DISPLAY_SCALE = 8;

/** A running net/gross per group, with the unpriced contributors. */
class Acc {
  net = Dec.ZERO;
  gross = Dec.ZERO;
  held = Dec.ZERO;
  readonly unpriced = new Set<string>();
}

function accOf(m: Map<string, Acc>, key: string): Acc {
  let a = m.get(key);
  if (a === undefined) {
    a = new Acc();
    m.set(key, a);
  }
  return a;
}

function byKey<T>(m: Map<string, T>): [string, T][] {
  return [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

interface Valued {
  report: PositionReport;
  /** Delta exposure: underlying asset, its quantity and R value (null when unpriced). */
  underlying: string;
  deltaQty: Dec;
  value: Dec | undefined;
  venue: string | undefined;
  realized: Dec;
  unrealized: Dec | undefined;
  fees: Dec;
  funding: Dec;
  total: Dec | undefined;
}

/** Positions (or balance cells) valued between two yields of the report's steps. */
export const REPORT_STEP = 256;

/** Runs a report's steps to the end: the synchronous report. */
export function runSteps<T>(steps: Generator<void, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done === true) return r.value;
  }
}

export function buildReport(ledger: Ledger, options: ReportOptions = {}): Report {
  return runSteps(reportSteps(ledger, options));
}

/**
 * `buildReport` in steps: the generator yields after every REPORT_STEP positions or balance cells
 * valued, so that a caller can spread a large report over several turns of its event loop
 * (src/app: `runSliced`). The state must not change between the steps for the report to be of one
 * instant (the service runs them in its booking lane, or accepts a report of several instants).
 */
export function* reportSteps(ledger: Ledger, options: ReportOptions = {}): Generator<void, Report> {
  const until = ledger.config.until;
  const key = until ?? END_TS;
  const marks = ledger.marks;
  const positions: PositionReport[] = [];
  const balances: BalanceReport[] = [];
  const books: BookSummary[] = [];
  const assetQty = new Map<string, { qty: Dec; value: Dec | undefined }>();
  const bookAcc = new Map<string, Acc>();
  const venueAcc = new Map<string, Acc>();

  const only = options.books === undefined ? undefined : new Set(options.books);
  for (const book of ledger.bookNames()) {
    if (only !== undefined && !only.has(book)) continue;
    const s = ledger.bookState(book)!;
    const bookAssets = new Map<string, { qty: Dec; value: Dec | undefined }>();
    const totals = new BookTotals(s);
    yield* valueBookSteps(ledger, s, key, options, positions, (v) => {
      totals.add(v);
      // An unpriced inverse contract has no known delta, but its asset is still unpriced.
      if (!v.deltaQty.isZero() || v.value === undefined) {
        addAsset(bookAssets, v.underlying, v.deltaQty, v.value);
        addAsset(assetQty, v.underlying, v.deltaQty, v.value);
        if (v.venue !== undefined && v.report.kind !== 'spot') addExposure(accOf(venueAcc, v.venue), v.report.asset, v.value);
      }
    });
    const acc = accOf(bookAcc, book);
    for (const [asset, a] of bookAssets) addExposure(acc, asset, a.value);
    // Spot holdings at each venue: price exposure and what is held there (cash included).
    let cells = 0;
    for (const { venue, account, asset, qty } of s.balanceList()) {
      if (++cells % REPORT_STEP === 0) yield;
      if (!qty.isZero()) balances.push({ book, venue, account, asset, qty: qty.toString() });
      const r = marks.rate(asset, key);
      const va = accOf(venueAcc, venue);
      const value = r === undefined ? undefined : qty.mul(r);
      if (value === undefined) va.unpriced.add(asset);
      else va.held = va.held.add(value);
      if (!marks.isCash(asset)) addExposure(va, asset, value);
    }
    books.push(totals.summary());
  }
  const firm = new Acc();
  const byAsset: Exposure['byAsset'] = [];
  for (const [asset, a] of byKey(assetQty)) {
    byAsset.push({ asset, qty: a.qty.toString(), value: a.value?.toString() ?? null });
    addExposure(firm, asset, a.value);
  }
  return {
    asOf: until === undefined ? null : formatTimestamp(until),
    reporting: ledger.config.reporting,
    positions,
    balances,
    venueBalances: venueBalances(ledger, key),
    books,
    exposure: {
      reporting: ledger.config.reporting,
      firm: { net: firm.net.toString(), gross: firm.gross.toString(), unpriced: [...firm.unpriced].sort() },
      byAsset,
      byBook: byKey(bookAcc).map(([book, a]) => ({ book, net: a.net.toString(), gross: a.gross.toString() })),
      byVenue: byKey(venueAcc).map(([venue, a]) => ({ venue, held: a.held.toString(), net: a.net.toString(), gross: a.gross.toString() })),
    },
  };
}

/**
 * Values a book's positions in key order: appends the reported ones to `positions`, and tells
 * `each` of every one (flat ones too).
 */
function valueBook(ledger: Ledger, s: BookState, key: number, options: ReportOptions, positions: PositionReport[], each?: (v: Valued) => void): void {
  runSteps(valueBookSteps(ledger, s, key, options, positions, each));
}

/** `valueBook` in steps of REPORT_STEP positions (valued again) or REPORT_STEP × 16 (told `each`). */
function* valueBookSteps(ledger: Ledger, s: BookState, key: number, options: ReportOptions, positions: PositionReport[], each?: (v: Valued) => void): Generator<void, BookView | undefined> {
  if (options.lots === true) {
    // With lots: nothing is kept (the lots are not among a valuation's inputs).
    const cells = cellMaps(s);
    let n = 0;
    for (const [, p] of byKey(s.positions)) {
      if (++n % REPORT_STEP === 0) yield;
      const v = valuePosition(ledger, s, p, key, options, cells);
      each?.(v);
      if (options.includeFlat === true || !isEmpty(v)) positions.push(v.report);
    }
    return undefined;
  }
  const view = yield* syncView(ledger, s, key);
  const step = REPORT_STEP * 16;
  const all = options.includeFlat === true;
  // Sized once (a book of 5,000 positions: no array grown by doubling, per report).
  let count = 0;
  if (all) count = view.valued.length;
  else for (let i = 0; i < view.empty.length; i++) if (!view.empty[i]!) count++;
  let at = positions.length;
  positions.length = at + count;
  for (let i = 0; i < view.valued.length; i++) {
    if (each !== undefined && (i + 1) % step === 0) yield;
    const v = view.valued[i]!;
    each?.(v);
    if (all || !view.empty[i]!) positions[at++] = v.report;
  }
  // A sync between the slices above (another report) may have emptied or filled some since.
  positions.length = at;
  return view;
}

/**
 * A book's positions valued, in key order, kept from one report to the next and brought up to
 * date by what changed since: the positions of the assets the book touched (BookState.stamps),
 * the positions whose mark lookups read an asset whose marks changed (Marks.changedSince, and
 * each valuation's `deps`), every derivative (checked input by input), and everything when the
 * book gained a position or changed its settings. The rest are not looked at: a report of a
 * large book costs what changed, plus a pass over its assets' stamps. With the book's totals,
 * kept the same way (a change subtracts the old valuation's figures and adds the new one's).
 */
class BookView {
  /**
   * Indices to value again. Shared by the syncs in progress: a report sliced over several turns
   * can be overtaken by another (a GET between the slices of an update), which then values
   * what is left before it answers; each index is valued, then taken out.
   */
  readonly pending = new Set<number>();
  sorted: [string, Position][] = [];
  valued: Valued[] = [];
  empty: boolean[] = [];
  /** Indices of the spot positions of each asset; of the derivatives. */
  readonly byAsset = new Map<string, number[]>();
  derivatives: number[] = [];
  /** Per index, the assets its mark lookup read (spot); by asset, the indices that read it. */
  deps: (readonly string[])[] = [];
  readonly readers = new Map<string, Set<number>>();
  changes = -1;
  marksClock = -1;
  settings: BookState['settings'] | undefined;
  /** Σ realized, Σ fees, Σ funding, Σ unrealized of the priced ones, and how many are unpriced. */
  realized = Dec.ZERO;
  fees = Dec.ZERO;
  funding = Dec.ZERO;
  unrealized = Dec.ZERO;
  unpriced = 0;

  constructor(readonly key: number) {}

  /** Empty, for `s` as it is now: every position to value (a sync in progress goes on with these). */
  reset(s: BookState): void {
    this.sorted = byKey(s.positions);
    const n = this.sorted.length;
    this.valued = new Array<Valued>(n);
    this.empty = new Array<boolean>(n);
    this.deps = new Array<readonly string[]>(n);
    this.byAsset.clear();
    this.derivatives = [];
    this.readers.clear();
    this.settings = s.settings;
    this.realized = Dec.ZERO;
    this.fees = Dec.ZERO;
    this.funding = Dec.ZERO;
    this.unrealized = Dec.ZERO;
    this.unpriced = 0;
    this.pending.clear();
    for (const [i, [, p]] of this.sorted.entries()) {
      this.pending.add(i);
      if (p.kind !== 'spot') this.derivatives.push(i);
      else {
        const at = this.byAsset.get(p.asset);
        if (at === undefined) this.byAsset.set(p.asset, [i]);
        else at.push(i);
      }
    }
  }

  add(v: Valued, sign: 1 | -1): void {
    this.realized = plus(this.realized, v.realized, sign);
    this.fees = plus(this.fees, v.fees, sign);
    this.funding = plus(this.funding, v.funding, sign);
    if (v.unrealized === undefined) this.unpriced += sign;
    else this.unrealized = plus(this.unrealized, v.unrealized, sign);
  }

  setDeps(i: number, deps: readonly string[]): void {
    const had = this.deps[i];
    if (had === deps) return;
    if (had !== undefined) for (const a of had) this.readers.get(a)?.delete(i);
    this.deps[i] = deps;
    for (const a of deps) {
      let r = this.readers.get(a);
      if (r === undefined) {
        r = new Set();
        this.readers.set(a, r);
      }
      r.add(i);
    }
  }
}

/** a + b, or a − b. */
function plus(a: Dec, b: Dec, sign: 1 | -1): Dec {
  return sign === 1 ? a.add(b) : a.sub(b);
}

const views = new WeakMap<BookState, BookView>();
const NO_INDICES: readonly number[] = [];

/** The book's view, brought up to date (see BookView); yields every REPORT_STEP positions valued again. */
function* syncView(ledger: Ledger, s: BookState, key: number): Generator<void, BookView> {
  const marks = ledger.marks;
  let view = views.get(s);
  if (view === undefined || view.key !== key) {
    view = new BookView(key);
    views.set(s, view);
  }
  // Positions are only ever added to a book's map (BookState.spot, .derivative), never replaced
  // or removed: the same size is the same positions.
  if (view.changes < 0 || view.settings !== s.settings || view.sorted.length !== s.positions.size) {
    view.reset(s);
  } else {
    const pending = view.pending;
    for (const i of view.derivatives) pending.add(i);
    if (s.changes !== view.changes) {
      const since = view.changes;
      const byAsset = view.byAsset;
      // forEach: no entry array per asset.
      s.stamps.forEach((stamp, asset) => {
        if (stamp > since) for (const i of byAsset.get(asset) ?? NO_INDICES) pending.add(i);
      });
    }
    for (const asset of marks.changedSince(view.marksClock)) for (const i of view.readers.get(asset) ?? NO_INDICES) pending.add(i);
  }
  // What changes from here on is after these counts: the next sync sees it.
  view.changes = s.changes;
  view.marksClock = marks.clock;
  const cells = cellMaps(s);
  let n = 0;
  for (const i of view.pending) {
    const p = view.sorted[i]![1];
    const v = valuePosition(ledger, s, p, key, {}, cells);
    const had = view.valued[i];
    if (had !== v) {
      if (had !== undefined) view.add(had, -1);
      view.add(v, 1);
      view.valued[i] = v;
      view.empty[i] = isEmpty(v);
    }
    // The assets its mark lookup read, even when the valuation is the one kept: a lookup that
    // found no mark can read more assets than before (a new cross) without changing the answer.
    if (p.kind === 'spot') {
      const kept = valuations.get(p);
      view.setDeps(i, kept !== undefined && 'deps' in kept ? kept.deps : [p.asset]);
    }
    // Valued, then taken out, then a pause: a sync that runs in the pause never skips an index.
    view.pending.delete(i);
    if (++n % REPORT_STEP === 0) yield;
  }
  return view;
}

/** A book's summary, from its valued positions (`add` each, then `summary()`). */
class BookTotals {
  private realized = Dec.ZERO;
  private unrealized: Dec | undefined = Dec.ZERO;
  /** The positions' fees (the book's cash fees are added in the summary). */
  private fees = Dec.ZERO;
  private funding = Dec.ZERO;
  private readonly unpriced: string[] = [];

  constructor(private readonly s: BookState) {}

  add(v: Valued): void {
    this.realized = this.realized.add(v.realized);
    this.fees = this.fees.add(v.fees);
    this.funding = this.funding.add(v.funding);
    if (v.unrealized === undefined) this.unpriced.push(v.report.asset);
    else if (this.unrealized !== undefined) this.unrealized = this.unrealized.add(v.unrealized);
  }

  summary(): BookSummary {
    return bookSummary(this.s, this.realized, this.fees, this.funding, this.unpriced.length > 0 ? undefined : this.unrealized, this.unpriced);
  }
}

/** A book's summary from the sums over its positions (`fees`: the positions' fees, without the book's cash fees). */
function bookSummary(s: BookState, realized: Dec, positionFees: Dec, funding: Dec, unrealized: Dec | undefined, unpriced: string[]): BookSummary {
  const fees = s.cashFees.add(positionFees);
  // Fees paid in cash can sit in no lot: they count against the total under either convention.
  const capitalisedCashFees = s.settings.fees === 'capitalise' ? s.cashFees : Dec.ZERO;
  const total = unrealized === undefined ? undefined : totalPnl(s.settings.fees, realized, unrealized, fees, funding).sub(capitalisedCashFees);
  return {
    book: s.book,
    method: s.settings.method,
    fees: s.settings.fees,
    realizedPnl: realized.toString(),
    unrealizedPnl: unrealized?.toString() ?? null,
    feesPaid: fees.toString(),
    funding: funding.toString(),
    totalPnl: total?.toString() ?? null,
    unpriced,
    booked: s.booked,
  };
}

/**
 * The positions of `buildReport` (the same objects, in the same order) without what takes a pass
 * over every balance (balances, venue balances, exposure) or a sum over every position (book
 * summaries): what `GET /positions` shows.
 */
export function buildPositions(ledger: Ledger, options: ReportOptions = {}): Pick<Report, 'asOf' | 'reporting' | 'positions'> {
  const until = ledger.config.until;
  const key = until ?? END_TS;
  const positions: PositionReport[] = [];
  const only = options.books === undefined ? undefined : new Set(options.books);
  for (const book of ledger.bookNames()) {
    if (only === undefined || only.has(book)) valueBook(ledger, ledger.bookState(book)!, key, options, positions);
  }
  return { asOf: until === undefined ? null : formatTimestamp(until), reporting: ledger.config.reporting, positions };
}

/** One book's summary and positions as `buildReport` gives them (undefined: no such book): a book update. */
export function buildBookUpdate(ledger: Ledger, book: string): { summary: BookSummary; positions: PositionReport[] } | undefined {
  return runSteps(bookUpdateSteps(ledger, book));
}

/** `buildBookUpdate` in steps (see `reportSteps`). */
export function* bookUpdateSteps(ledger: Ledger, book: string): Generator<void, { summary: BookSummary; positions: PositionReport[] } | undefined> {
  const s = ledger.bookState(book);
  if (s === undefined) return undefined;
  const positions: PositionReport[] = [];
  const view = (yield* valueBookSteps(ledger, s, ledger.config.until ?? END_TS, {}, positions))!;
  const unpriced: string[] = [];
  if (view.unpriced > 0) for (const v of view.valued) if (v.unrealized === undefined) unpriced.push(v.report.asset);
  return { summary: bookSummary(s, view.realized, view.fees, view.funding, view.unpriced > 0 ? undefined : view.unrealized, unpriced), positions };
}

/**
 * A position's valuation, kept with everything it was computed from: the book, the position's
 * figures, the mark and (spot) the balance cells of its asset. When all of them are the same
 * objects, or equal decimals, as at the last report, the last valuation is the answer (Decs are
 * immutable, and the valuation reads nothing else), so a report of a large book values again only
 * the positions that changed. Reports with lots are not kept: the lots are not among the inputs.
 */
interface KeptSpot {
  readonly s: BookState;
  readonly settings: BookState['settings'];
  /** `s.changes` and the marks' clock when last found current, and the assets the mark's lookup read. */
  changes: number;
  marksClock: number;
  deps: readonly string[];
  readonly qty: Dec;
  readonly cost: Dec;
  readonly mark: Dec | undefined;
  readonly realized: Dec;
  readonly fees: Dec;
  /** (venue, quantity) of every balance cell of the asset in the book, as `assetCells` lists them. */
  readonly cells: readonly (string | Dec)[];
  readonly valued: Valued;
}

interface KeptDerivative {
  readonly s: BookState;
  readonly settings: BookState['settings'];
  readonly inst: DerivativeInstrument;
  readonly rQ: Dec | undefined;
  readonly mark: Dec | undefined;
  readonly figures: readonly Dec[];
  readonly valued: Valued;
}

const valuations = new WeakMap<Position, KeptSpot | KeptDerivative>();

/** The same decimal: the same object, or the same units at the same scale (so the same text). */
function same(a: Dec | undefined, b: Dec | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.u === b.u && a.s === b.s);
}

/** The assets a mark lookup read (reused: valuation is synchronous). */
const TOUCHED = new Set<string>();

function sameMembers(a: readonly string[], b: ReadonlySet<string>): boolean {
  if (a.length !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

function valuePosition(ledger: Ledger, s: BookState, p: Position, key: number, options: ReportOptions, cellsOf: readonly CellMap[]): Valued {
  const keep = options.lots !== true;
  const kept = keep ? valuations.get(p) : undefined;
  if (p.kind === 'spot') {
    const marks = ledger.marks;
    const fresh = kept !== undefined && 'cells' in kept && kept.s === s && kept.settings === s.settings;
    // Nothing the valuation reads has been touched since it was last found current: no lookups.
    if (fresh && (s.stamps.get(p.asset) ?? 0) <= kept.changes && marks.unchangedSince(kept.marksClock, kept.deps)) return kept.valued;
    const qty = p.lots.qty();
    const cost = p.lots.cost();
    const touched = TOUCHED;
    touched.clear();
    const mark = marks.rate(p.asset, key, touched);
    const deps = kept !== undefined && 'deps' in kept && sameMembers(kept.deps, touched) ? kept.deps : [...touched];
    if (fresh && same(kept.qty, qty) && same(kept.cost, cost) && same(kept.mark, mark) && same(kept.realized, p.realized) && same(kept.fees, p.fees) && sameCells(kept.cells, cellsOf, p.asset)) {
      kept.changes = s.changes;
      kept.marksClock = marks.clock;
      kept.deps = deps;
      return kept.valued;
    }
    const cells = assetCells(cellsOf, p.asset);
    const valued = valueSpot(s, p, qty, cost, mark, cells, options);
    if (keep) valuations.set(p, { s, settings: s.settings, changes: s.changes, marksClock: marks.clock, deps, qty, cost, mark, realized: p.realized, fees: p.fees, cells, valued });
    return valued;
  }
  const found = ledger.instruments.lookup(p.instrument, p.venue);
  if (!found.ok || found.instrument.kind === 'spot') throw new Error(`report invariant: booked derivative ${p.instrument} has terms`);
  const inst = found.instrument;
  const rQ = ledger.marks.rate(inst.quote, key);
  const mark = ledger.marks.instrumentMark(inst.symbol, inst.base, inst.quote, key);
  const figures = [p.qty, p.entry, p.realized, p.fees, p.funding];
  if (kept !== undefined && 'inst' in kept && kept.s === s && kept.settings === s.settings && kept.inst === inst && same(kept.rQ, rQ) && same(kept.mark, mark) &&
    figures.every((f, i) => same(f, kept.figures[i]))) {
    return kept.valued;
  }
  const valued = valueDerivative(s, p, inst, rQ, mark, options);
  if (keep) valuations.set(p, { s, settings: s.settings, inst, rQ, mark, figures, valued });
  return valued;
}

/** A book's balance cells at one (venue, account), by asset. */
interface CellMap {
  readonly venue: string;
  readonly assets: ReadonlyMap<string, BalanceCell>;
}

function cellMaps(s: BookState): CellMap[] {
  const out: CellMap[] = [];
  for (const [venue, accounts] of s.balances) for (const assets of accounts.values()) out.push({ venue, assets });
  return out;
}

/** (venue, quantity) for each (venue, account) of the book that has a balance cell of `asset`. */
function assetCells(cellsOf: readonly CellMap[], asset: string): (string | Dec)[] {
  const out: (string | Dec)[] = [];
  for (const { venue, assets } of cellsOf) {
    const cell = assets.get(asset);
    if (cell !== undefined) out.push(venue, cell.qty);
  }
  return out;
}

/** Whether `assetCells(cellsOf, asset)` would list `kept` again (without building the list). */
function sameCells(kept: readonly (string | Dec)[], cellsOf: readonly CellMap[], asset: string): boolean {
  let i = 0;
  for (let m = 0; m < cellsOf.length; m++) {
    const cell = cellsOf[m]!.assets.get(asset);
    if (cell === undefined) continue;
    if (kept[i] !== cellsOf[m]!.venue || !same(kept[i + 1] as Dec | undefined, cell.qty)) return false;
    i += 2;
  }
  return i === kept.length;
}

function venueBalances(ledger: Ledger, ts: number): VenueBalanceReport[] {
  const latest = new Map<string, BalanceEvent>();
  for (const r of ledger.reports) {
    if (r.ts > ts) continue;
    const k = `${r.venue}\u0000${r.account}\u0000${r.asset}`;
    const had = latest.get(k);
    if (had === undefined || compareEvents(had, r) < 0) latest.set(k, r);
  }
  return byKey(latest).map(([, r]) => ({
    venue: r.venue,
    account: r.account,
    asset: r.asset,
    book: r.book ?? null,
    ts: formatTimestamp(r.ts),
    total: r.total.toString(),
    free: r.free?.toString() ?? null,
    used: r.used?.toString() ?? null,
  }));
}

function isEmpty(v: Valued): boolean {
  return v.deltaQty.isZero() && v.realized.isZero() && v.fees.isZero() && v.funding.isZero();
}

function addAsset(m: Map<string, { qty: Dec; value: Dec | undefined }>, asset: string, qty: Dec, value: Dec | undefined): void {
  const a = m.get(asset);
  if (a === undefined) m.set(asset, { qty, value });
  else m.set(asset, { qty: a.qty.add(qty), value: a.value === undefined || value === undefined ? undefined : a.value.add(value) });
}

function addExposure(acc: Acc, asset: string, value: Dec | undefined): void {
  if (value === undefined) {
    acc.unpriced.add(asset);
    return;
  }
  acc.net = acc.net.add(value);
  acc.gross = acc.gross.add(value.abs());
}

/** DOMAIN.md §6: realized + unrealized − fees (separate) + funding; capitalised fees are in cost already. */
function totalPnl(convention: string, realized: Dec, unrealized: Dec, fees: Dec, funding: Dec): Dec {
  const t = realized.add(unrealized).add(funding);
  return convention === 'separate' ? t.sub(fees) : t;
}

/** The quantity per venue (summed over accounts, zeros left out, venues sorted) from `assetCells`' (venue, quantity) pairs. */
function venueRecord(cells: readonly (string | Dec)[], only: string | undefined): Record<string, string> {
  // A few venues: summed per venue in two small arrays, then in name order (no Map, no entries).
  const venues: string[] = [];
  const sums: Dec[] = [];
  for (let i = 0; i < cells.length; i += 2) {
    const venue = cells[i] as string;
    if (only !== undefined && venue !== only) continue;
    const at = venues.indexOf(venue);
    if (at < 0) {
      venues.push(venue);
      sums.push(cells[i + 1] as Dec);
    } else sums[at] = sums[at]!.add(cells[i + 1] as Dec);
  }
  // In name order: an insertion sort of the few (sort() would copy them and call back per pair).
  for (let i = 1; i < venues.length; i++) {
    const v = venues[i]!;
    const q = sums[i]!;
    let j = i - 1;
    for (; j >= 0 && venues[j]! > v; j--) {
      venues[j + 1] = venues[j]!;
      sums[j + 1] = sums[j]!;
    }
    venues[j + 1] = v;
    sums[j + 1] = q;
  }
  const out: Record<string, string> = {};
  for (let i = 0; i < venues.length; i++) {
    const q = sums[i]!;
    if (!q.isZero()) out[venues[i]!] = q.toString();
  }
  return out;
}

function valueSpot(s: BookState, p: SpotPosition, qty: Dec, cost: Dec, mark: Dec | undefined, cells: readonly (string | Dec)[], options: ReportOptions): Valued {
  const value = qty.isZero() ? Dec.ZERO : mark === undefined ? undefined : qty.mul(mark);
  const unrealized = value === undefined ? undefined : value.sub(cost);
  const total = unrealized === undefined ? undefined : totalPnl(s.settings.fees, p.realized, unrealized, p.fees, Dec.ZERO);
  const report: PositionReport = {
    book: s.book,
    asset: p.asset,
    kind: 'spot',
    ...(p.venue === undefined ? {} : { venue: p.venue }),
    method: s.settings.method,
    qty: qty.toString(),
    costBasis: cost.toString(),
    avgPrice: qty.isZero() ? null : cost.div(qty, DIVISION_SCALE).round(DISPLAY_SCALE).toString(),
    mark: mark?.toString() ?? null,
    value: value?.toString() ?? null,
    realizedPnl: p.realized.toString(),
    unrealizedPnl: unrealized?.toString() ?? null,
    fees: p.fees.toString(),
    funding: '0',
    totalPnl: total?.toString() ?? null,
    byVenue: venueRecord(cells, p.venue),
    ...(options.lots === true
      ? { lots: p.lots.lots().map((l) => ({ qty: l.qty.toString(), cost: l.cost.toString(), acquired: formatTimestamp(l.ts), seq: l.seq })) }
      : {}),
  };
  return { report, underlying: p.asset, deltaQty: qty, value, venue: p.venue, realized: p.realized, unrealized, fees: p.fees, funding: Dec.ZERO, total };
}

function valueDerivative(s: BookState, p: DerivativePosition, inst: DerivativeInstrument, rQ: Dec | undefined, mark: Dec | undefined, options: ReportOptions): Valued {
  const m = inst.multiplier;
  const flat = p.qty.isZero();
  let value: Dec | undefined;
  let cost: Dec | undefined;
  let unrealized: Dec | undefined;
  let deltaQty = Dec.ZERO;
  let avg: Dec | null = null;
  if (flat) {
    value = Dec.ZERO;
    cost = Dec.ZERO;
    unrealized = Dec.ZERO;
  } else if (inst.settlement === 'linear') {
    avg = p.entry.div(p.qty.mul(m), DIVISION_SCALE);
    deltaQty = p.qty.mul(m);
    if (rQ !== undefined) cost = p.entry.mul(rQ);
    if (mark !== undefined && rQ !== undefined) {
      value = deltaQty.mul(mark).mul(rQ);
      unrealized = value.sub(cost!);
    }
  } else {
    avg = p.qty.mul(m).div(p.entry, DIVISION_SCALE);
    if (mark !== undefined && rQ !== undefined) {
      // Inverse: value is the quote notional; PnL accrues in the coin, converted at the instrument's mark.
      deltaQty = p.qty.mul(m).div(mark, DIVISION_SCALE);
      value = p.qty.mul(m).mul(rQ);
      unrealized = p.entry.sub(deltaQty).mul(mark).mul(rQ);
      cost = value.sub(unrealized);
    }
  }
  const total = unrealized === undefined ? undefined : totalPnl(s.settings.fees, p.realized, unrealized, p.fees, p.funding);
  const report: PositionReport = {
    book: s.book,
    asset: inst.symbol,
    kind: inst.kind,
    venue: p.venue,
    method: 'wac',
    qty: p.qty.toString(),
    costBasis: cost?.toString() ?? null,
    avgPrice: avg === null ? null : avg.round(DISPLAY_SCALE).toString(),
    mark: mark?.toString() ?? null,
    value: value?.toString() ?? null,
    realizedPnl: p.realized.toString(),
    unrealizedPnl: unrealized?.toString() ?? null,
    fees: p.fees.toString(),
    funding: p.funding.toString(),
    totalPnl: total?.toString() ?? null,
    byVenue: flat ? {} : { [p.venue]: p.qty.toString() },
    ...(options.lots === true && !flat ? { lots: [{ qty: p.qty.toString(), cost: p.entry.toString(), acquired: '', seq: 0 }] } : {}),
  };
  return {
    report,
    underlying: inst.base,
    deltaQty,
    value,
    venue: p.venue,
    realized: p.realized,
    unrealized,
    fees: p.fees,
    funding: p.funding,
    total,
  };
}

export interface UnbookedReport {
  readonly book: string;
  readonly id: string;
  readonly ts: string;
  readonly code: string;
  readonly message: string;
}

/** Events that reached a book but could not be booked, and corrections that correct nothing. */
export function unbookedEvents(ledger: Ledger): UnbookedReport[] {
  const out: UnbookedReport[] = [];
  for (const book of ledger.bookNames()) {
    for (const [id, u] of ledger.bookState(book)!.unbooked) out.push({ book, id, ts: formatTimestamp(u.ts), code: u.code, message: u.message });
  }
  for (const c of ledger.invalidCorrections()) out.push({ book: '', id: c.id, ts: '', code: c.code, message: c.message });
  return out.sort((a, b) => (a.book < b.book ? -1 : a.book > b.book ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Everything the state holds, canonically: the report with every lot, the unbooked events and
 * the latest marks. Two ledgers with equal documents are in the same state; the digest hashes it.
 */
export function stateDocument(ledger: Ledger): unknown {
  return {
    report: buildReport(ledger, { lots: true }),
    unbooked: unbookedEvents(ledger),
    marks: ledger.marks.latest().map((m) => ({ pair: m.pair, ts: formatTimestamp(m.ts), price: m.price.toString() })),
    instruments: ledger.instruments.entries().map((i) => ({ symbol: i.symbol, venue: i.venue, multiplier: i.multiplier.toString() })),
  };
}
