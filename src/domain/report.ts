/**
 * Valuation and reporting: positions with their PnL, balances, and exposure, from the ledger's
 * state and the marks known at the report's instant (DOMAIN.md §6). Pure and deterministic:
 * everything is sorted, every decimal is canonical text, so the same state prints byte-identically.
 *
 * A position with open quantity and no mark is unpriced: its unrealized PnL, value and total are
 * null, never 0, and the exposure lists it under `unpriced`.
 */
import { type BookState, type DerivativePosition, type SpotPosition } from './book.js';
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

export function buildReport(ledger: Ledger, options: ReportOptions = {}): Report {
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
    const byVenueQty = venueQuantities(s);
    let realized = Dec.ZERO;
    let unrealized: Dec | undefined = Dec.ZERO;
    let fees = s.cashFees;
    let funding = Dec.ZERO;
    const unpriced: string[] = [];
    const bookAssets = new Map<string, { qty: Dec; value: Dec | undefined }>();
    for (const [, p] of byKey(s.positions)) {
      const v = p.kind === 'spot' ? valueSpot(ledger, s, p, key, byVenueQty, options) : valueDerivative(ledger, s, p, key, options);
      realized = realized.add(v.realized);
      fees = fees.add(v.fees);
      funding = funding.add(v.funding);
      if (v.unrealized === undefined) unpriced.push(v.report.asset);
      else if (unrealized !== undefined) unrealized = unrealized.add(v.unrealized);
      // An unpriced inverse contract has no known delta, but its asset is still unpriced.
      if (!v.deltaQty.isZero() || v.value === undefined) {
        addAsset(bookAssets, v.underlying, v.deltaQty, v.value);
        addAsset(assetQty, v.underlying, v.deltaQty, v.value);
        if (v.venue !== undefined && v.report.kind !== 'spot') addExposure(accOf(venueAcc, v.venue), v.report.asset, v.value);
      }
      if (options.includeFlat === true || !isEmpty(v)) positions.push(v.report);
    }
    if (unpriced.length > 0) unrealized = undefined;
    const acc = accOf(bookAcc, book);
    for (const [asset, a] of bookAssets) addExposure(acc, asset, a.value);
    // Spot holdings at each venue: price exposure and what is held there (cash included).
    for (const { venue, account, asset, qty } of s.balanceList()) {
      if (!qty.isZero()) balances.push({ book, venue, account, asset, qty: qty.toString() });
      const r = marks.rate(asset, key);
      const va = accOf(venueAcc, venue);
      const value = r === undefined ? undefined : qty.mul(r);
      if (value === undefined) va.unpriced.add(asset);
      else va.held = va.held.add(value);
      if (!marks.isCash(asset)) addExposure(va, asset, value);
    }
    // Fees paid in cash can sit in no lot: they count against the total under either convention.
    const capitalisedCashFees = s.settings.fees === 'capitalise' ? s.cashFees : Dec.ZERO;
    const total = unrealized === undefined ? undefined : totalPnl(s.settings.fees, realized, unrealized, fees, funding).sub(capitalisedCashFees);
    books.push({
      book,
      method: s.settings.method,
      fees: s.settings.fees,
      realizedPnl: realized.toString(),
      unrealizedPnl: unrealized?.toString() ?? null,
      feesPaid: fees.toString(),
      funding: funding.toString(),
      totalPnl: total?.toString() ?? null,
      unpriced,
      booked: s.booked,
    });
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

/** Quantity per (asset, venue) in a book, summed over accounts. */
function venueQuantities(s: BookState): Map<string, Map<string, Dec>> {
  const out = new Map<string, Map<string, Dec>>();
  for (const { venue, asset, qty } of s.balanceList()) {
    let m = out.get(asset);
    if (m === undefined) {
      m = new Map();
      out.set(asset, m);
    }
    m.set(venue, (m.get(venue) ?? Dec.ZERO).add(qty));
  }
  return out;
}

function venueRecord(m: Map<string, Dec> | undefined, only: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (m === undefined) return out;
  for (const [venue, q] of byKey(m)) if (!q.isZero() && (only === undefined || only === venue)) out[venue] = q.toString();
  return out;
}

function valueSpot(ledger: Ledger, s: BookState, p: SpotPosition, key: number, byVenueQty: Map<string, Map<string, Dec>>, options: ReportOptions): Valued {
  const qty = p.lots.qty();
  const cost = p.lots.cost();
  const mark = qty.isZero() ? ledger.marks.rate(p.asset, key) ?? undefined : ledger.marks.rate(p.asset, key);
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
    byVenue: venueRecord(byVenueQty.get(p.asset), p.venue),
    ...(options.lots === true
      ? { lots: p.lots.lots().map((l) => ({ qty: l.qty.toString(), cost: l.cost.toString(), acquired: formatTimestamp(l.ts), seq: l.seq })) }
      : {}),
  };
  return { report, underlying: p.asset, deltaQty: qty, value, venue: p.venue, realized: p.realized, unrealized, fees: p.fees, funding: Dec.ZERO, total };
}

function valueDerivative(ledger: Ledger, s: BookState, p: DerivativePosition, key: number, options: ReportOptions): Valued {
  const found = ledger.instruments.lookup(p.instrument, p.venue);
  if (!found.ok || found.instrument.kind === 'spot') throw new Error(`report invariant: booked derivative ${p.instrument} has terms`);
  const inst: DerivativeInstrument = found.instrument;
  const marks = ledger.marks;
  const m = inst.multiplier;
  const rQ = marks.rate(inst.quote, key);
  const mark = marks.instrumentMark(inst.symbol, inst.base, inst.quote, key);
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
