/**
 * One book's state and how each event changes it (DOMAIN.md §1-§5): positions with their lots,
 * balances per (venue, account, asset), and the events the book could not book, with why.
 *
 * Booking an event is atomic: every rate it needs is looked up before any figure changes, so a
 * rejected event leaves no trace but its rejection (at most an empty position or balance cell,
 * which no report shows). Which marks a book consulted is recorded so
 * that a late mark rebooks only the books it can change.
 */
import { Dec, DIVISION_SCALE, pow10 } from './decimal.js';
import type { BookingCode } from './errors.js';
import type { BookEvent, DepositEvent, FundingEvent, TradeEvent, TransferEvent, TsUs, WithdrawalEvent } from './events.js';
import { derivativeKey, type DerivativeInstrument, type InstrumentRegistry, type SpotInstrument } from './instrument.js';
import { addS, addU, newLotBook, type CostMethod, type LotBook, type RealizedSink } from './lots.js';
import type { Marks } from './marks.js';
import { formatTimestamp } from './time.js';

export type FeeConvention = 'separate' | 'capitalise';
export type Pooling = 'book' | 'venue';

export interface BookSettings {
  readonly method: CostMethod;
  readonly fees: FeeConvention;
  readonly pool: Pooling;
}

export const DEFAULT_SETTINGS: BookSettings = { method: 'fifo', fees: 'separate', pool: 'book' };

/**
 * A spot position: its lots, and its realized PnL and fees kept as raw units and scale, so that a
 * fill adds to them without building a Dec each time; `realized` and `fees` build one when read
 * (and keep it until the next change: the same Dec while nothing changed). Adding gives exactly
 * the units and scale `Dec.add` would.
 */
export class SpotPosition implements RealizedSink {
  readonly kind = 'spot' as const;
  private ru: bigint;
  private rs: number;
  private rd: Dec | undefined;
  private fu: bigint;
  private fs: number;
  private fd: Dec | undefined;

  constructor(
    readonly asset: string,
    /** The venue of the lots under `pool: venue`; undefined when lots are pooled per book. */
    readonly venue: string | undefined,
    public lots: LotBook,
    realized: Dec = Dec.ZERO,
    fees: Dec = Dec.ZERO,
  ) {
    this.ru = realized.u;
    this.rs = realized.s;
    this.rd = realized;
    this.fu = fees.u;
    this.fs = fees.s;
    this.fd = fees;
  }

  get realized(): Dec {
    return (this.rd ??= new Dec(this.ru, this.rs));
  }

  set realized(v: Dec) {
    this.ru = v.u;
    this.rs = v.s;
    this.rd = v;
  }

  get fees(): Dec {
    return (this.fd ??= new Dec(this.fu, this.fs));
  }

  set fees(v: Dec) {
    this.fu = v.u;
    this.fs = v.s;
    this.fd = v;
  }

  /** realized = realized + (u, s), as Dec.add. */
  addRealized(u: bigint, s: number): void {
    if (u === 0n) return;
    const rs = addS(this.ru, this.rs, u, s);
    this.ru = addU(this.ru, this.rs, u, s);
    this.rs = rs;
    this.rd = undefined;
  }

  /** fees = fees + (u, s), as Dec.add. */
  addFees(u: bigint, s: number): void {
    if (u === 0n) return;
    const fs = addS(this.fu, this.fs, u, s);
    this.fu = addU(this.fu, this.fs, u, s);
    this.fs = fs;
    this.fd = undefined;
  }

  /** A copy whose lots are a clone (copy on write). */
  clone(): SpotPosition {
    return new SpotPosition(this.asset, this.venue, this.lots.clone(), this.realized, this.fees);
  }
}

export interface DerivativePosition {
  readonly kind: 'derivative';
  readonly instrument: string;
  readonly venue: string;
  /** Signed contracts. */
  qty: Dec;
  /**
   * Signed entry value of the open side: Σ contracts × m × price (quote units) when linear,
   * Σ contracts × m / price (settlement coin) when inverse. The average entry derives from it.
   */
  entry: Dec;
  realized: Dec;
  /** Realized PnL in the settlement asset (what the venue paid or charged). */
  realizedSettle: Dec;
  fees: Dec;
  funding: Dec;
  fundingSettle: Dec;
}

export type Position = SpotPosition | DerivativePosition;

/** A balance, mutable in place so that routes can hold it. */
export interface BalanceCell {
  qty: Dec;
}

/**
 * The book's balance cells: the quantity kept as raw units and scale, so that booking a fill adds
 * to its two cells without building a Dec each time; `qty` builds one when read (and keeps it until
 * the next change). `add` gives exactly the units and scale `qty.add(delta)` would.
 */
class Cell implements BalanceCell {
  private u = 0n;
  private s = 0;
  private d: Dec | undefined = Dec.ZERO;

  get qty(): Dec {
    return (this.d ??= new Dec(this.u, this.s));
  }

  set qty(v: Dec) {
    this.u = v.u;
    this.s = v.s;
    this.d = v;
  }

  /** qty = qty + delta (as Dec.add). */
  add(b: Dec): void {
    if (b.u === 0n) return;
    if (this.u === 0n) {
      this.qty = b;
      return;
    }
    if (this.s === b.s) this.u += b.u;
    else if (this.s > b.s) this.u += b.u * pow10(this.s - b.s);
    else {
      this.u = this.u * pow10(b.s - this.s) + b.u;
      this.s = b.s;
    }
    this.d = undefined;
  }

  /** qty = qty + (bu, bs), as Dec.add: a cash or quote cell's amount (often wider than 64 bits). */
  addUnits(bu: bigint, bs: number): void {
    if (bu === 0n) return;
    if (this.u === 0n) {
      this.u = bu;
      this.s = bs;
    } else if (this.s === bs) this.u += bu;
    else if (this.s > bs) this.u += bu * pow10(this.s - bs);
    else {
      this.u = this.u * pow10(bs - this.s) + bu;
      this.s = bs;
    }
    this.d = undefined;
  }

  /**
   * As `addUnits`, for a fill's base quantity: the same code kept apart so that V8's record of
   * the operands (quantities fit in 64 bits) keeps these bigint operations inline (see lots.ts).
   */
  addQty(bu: bigint, bs: number): void {
    if (bu === 0n) return;
    if (this.u === 0n) {
      this.u = bu;
      this.s = bs;
    } else if (this.s === bs) this.u += bu;
    else if (this.s > bs) this.u += bu * pow10(this.s - bs);
    else {
      this.u = this.u * pow10(bs - this.s) + bu;
      this.s = bs;
    }
    this.d = undefined;
  }
}

/** One asset's change stamp (see BookState.stamps), held by the routes that change it. */
export interface StampSlot {
  n: number;
}

/**
 * Per asset, the change count at its last change: read as a map (`get`, `forEach`), written
 * through slots that a spot route keeps for its two assets, so that a fill stamps them without a
 * lookup. An asset with a slot but no change yet reads 0, as an unstamped asset does (`?? 0`).
 */
export class Stamps {
  private readonly slots = new Map<string, StampSlot>();

  get(asset: string): number | undefined {
    return this.slots.get(asset)?.n;
  }

  forEach(f: (stamp: number, asset: string) => void): void {
    this.slots.forEach((slot, asset) => f(slot.n, asset));
  }

  /** The asset's slot, made on first use. */
  slot(asset: string): StampSlot {
    let slot = this.slots.get(asset);
    if (slot === undefined) {
      slot = { n: 0 };
      this.slots.set(asset, slot);
    }
    return slot;
  }
}

/** The positions and balances a spot fill touches (base and quote positions undefined when cash). */
export interface SpotRoute {
  readonly inst: SpotInstrument;
  /** The quote's direct marks in R, once they exist (a cache; see quoteRate). */
  quoteSeries: ReturnType<Marks['directSeries']>;
  /** The quote's text as a fill last gave it (see isQuote). */
  quoteText: string;
  /** The set of consulted assets quoteRate last added the quote to (it never loses it). */
  consultedIn: Set<string> | undefined;
  readonly base: SpotPosition | undefined;
  readonly quote: SpotPosition | undefined;
  readonly quoteIsCash: boolean;
  readonly baseBalance: Cell;
  readonly quoteBalance: Cell;
  /** The base's and the quote's change stamps. */
  readonly baseStamp: StampSlot;
  readonly quoteStamp: StampSlot;
}

export interface Unbooked {
  readonly code: BookingCode | 'UNKNOWN_INSTRUMENT';
  readonly message: string;
  readonly ts: TsUs;
}

export interface BookingContext {
  readonly marks: Marks;
  readonly instruments: InstrumentRegistry;
}

export class BookState {
  readonly positions = new Map<string, Position>();
  /** Quantity by venue, then account, then asset, cash included (nested: no key strings to build on the hot path). */
  readonly balances = new Map<string, Map<string, Map<string, Cell>>>();
  /** Spot trade routes by venue, account, instrument: a cache of what a fill touches (not state). */
  private readonly routes = new Map<string, Map<string, Map<string, SpotRoute>>>();
  /** Events of this book that could not be booked, by id. */
  readonly unbooked = new Map<string, Unbooked>();
  /** Fees paid in the reporting currency (or an equivalent) on movements of cash itself. */
  cashFees = Dec.ZERO;
  /** Next lot sequence number. */
  lotSeq = 0;
  /** Events booked (not rejected). */
  booked = 0;
  /**
   * Change stamps for the reports' kept valuations (report.ts): `changes` counts the changes,
   * `stamps` holds, per asset, the count at its last change (a spot position of it, a balance
   * cell of it: whatever a position of the asset is valued from). A valuation made at count c is
   * current while its asset's stamp is at most c. Conservative: an asset is stamped when the
   * booking takes its position or cell, whether or not the figures then move. Not copied by
   * `clone`: a kept valuation is of one state object.
   */
  changes = 0;
  readonly stamps = new Stamps();

  /** settings.fees is 'separate', decided once (a setting given as text is compared by its characters). */
  readonly separateFees: boolean;

  constructor(
    readonly book: string,
    readonly settings: BookSettings,
  ) {
    this.separateFees = settings.fees === 'separate';
  }

  clone(): BookState {
    const c = new BookState(this.book, this.settings);
    for (const [k, p] of this.positions) {
      c.positions.set(k, p.kind === 'spot' ? p.clone() : { ...p });
    }
    for (const [venue, accounts] of this.balances) {
      const copy = new Map<string, Map<string, Cell>>();
      for (const [account, assets] of accounts) {
        const cells = new Map<string, Cell>();
        for (const [asset, cell] of assets) {
          const c2 = new Cell();
          c2.qty = cell.qty;
          cells.set(asset, c2);
        }
        copy.set(account, cells);
      }
      c.balances.set(venue, copy);
    }
    for (const [k, v] of this.unbooked) c.unbooked.set(k, v);
    c.cashFees = this.cashFees;
    c.lotSeq = this.lotSeq;
    c.booked = this.booked;
    return c;
  }

  /** Records that what `asset`'s positions are valued from may change (see `stamps`). */
  touch(asset: string): void {
    this.stamps.slot(asset).n = ++this.changes;
  }

  spot(asset: string, venue: string): SpotPosition {
    this.touch(asset);
    const pooled = this.settings.pool === 'venue';
    const key = pooled ? `${asset}@${venue}` : asset;
    let p = this.positions.get(key);
    if (p === undefined) {
      p = new SpotPosition(asset, pooled ? venue : undefined, newLotBook(this.settings.method));
      this.positions.set(key, p);
    }
    return p as SpotPosition;
  }

  derivative(instrument: string, venue: string): DerivativePosition {
    const key = derivativeKey(instrument, venue);
    let p = this.positions.get(key);
    if (p === undefined) {
      p = {
        kind: 'derivative',
        instrument,
        venue,
        qty: Dec.ZERO,
        entry: Dec.ZERO,
        realized: Dec.ZERO,
        realizedSettle: Dec.ZERO,
        fees: Dec.ZERO,
        funding: Dec.ZERO,
        fundingSettle: Dec.ZERO,
      };
      this.positions.set(key, p);
    }
    return p as DerivativePosition;
  }

  addBalance(venue: string, account: string, asset: string, delta: Dec): void {
    if (delta.isZero()) return;
    this.touch(asset);
    this.balanceCell(venue, account, asset).add(delta);
  }

  balanceCell(venue: string, account: string, asset: string): Cell {
    let accounts = this.balances.get(venue);
    if (accounts === undefined) {
      accounts = new Map();
      this.balances.set(venue, accounts);
    }
    let assets = accounts.get(account);
    if (assets === undefined) {
      assets = new Map();
      accounts.set(account, assets);
    }
    let cell = assets.get(asset);
    if (cell === undefined) {
      cell = new Cell();
      assets.set(asset, cell);
    }
    return cell;
  }

  /** The route of a spot fill already seen at (venue, account), if any. */
  cachedRoute(venue: string, account: string, symbol: string): SpotRoute | undefined {
    return this.routes.get(venue)?.get(account)?.get(symbol);
  }

  /**
   * What a spot fill of `inst` at (venue, account) touches, resolved once per book state; kept
   * under `symbol`, the text `cachedRoute` is asked with (a fill's own, most often the very string
   * the next fills give: a lookup then compares no characters).
   */
  spotRoute(venue: string, account: string, symbol: string, inst: SpotInstrument, marks: Marks): SpotRoute {
    let accounts = this.routes.get(venue);
    if (accounts === undefined) {
      accounts = new Map();
      this.routes.set(venue, accounts);
    }
    let byInst = accounts.get(account);
    if (byInst === undefined) {
      byInst = new Map();
      accounts.set(account, byInst);
    }
    let r = byInst.get(symbol);
    if (r === undefined) {
      r = {
        inst,
        quoteSeries: undefined,
        consultedIn: undefined,
        quoteText: inst.quote,
        base: marks.isCash(inst.base) ? undefined : this.spot(inst.base, venue),
        quote: marks.isCash(inst.quote) ? undefined : this.spot(inst.quote, venue),
        quoteIsCash: marks.isCash(inst.quote),
        baseBalance: this.balanceCell(venue, account, inst.base),
        quoteBalance: this.balanceCell(venue, account, inst.quote),
        baseStamp: this.stamps.slot(inst.base),
        quoteStamp: this.stamps.slot(inst.quote),
      };
      byInst.set(symbol, r);
    }
    return r;
  }

  /** Every balance, sorted by venue, account, asset. */
  balanceList(): { venue: string; account: string; asset: string; qty: Dec }[] {
    const out: { venue: string; account: string; asset: string; qty: Dec }[] = [];
    for (const [venue, accounts] of this.balances) {
      for (const [account, assets] of accounts) for (const [asset, cell] of assets) if (!cell.qty.isZero()) out.push({ venue, account, asset, qty: cell.qty });
    }
    const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
    return out.sort((a, b) => cmp(a.venue, b.venue) || cmp(a.account, b.account) || cmp(a.asset, b.asset));
  }
}

type Refusal = { code: BookingCode | 'UNKNOWN_INSTRUMENT'; message: string };
type Outcome = Refusal | undefined;

/** Looks up rates for one event, remembering which assets the book consulted. */
class Rates {
  constructor(
    public ctx: BookingContext,
    public consulted: Set<string>,
    public ts: TsUs,
  ) {}

  rate(asset: string): Dec | undefined {
    return this.ctx.marks.rate(asset, this.ts, this.consulted);
  }

  /** Records that the booking read `asset`'s rate (a late mark of it must rebook). */
  touch(asset: string): void {
    this.consulted.add(asset);
  }

  /** A derivative's own mark in its quote (see Marks.instrumentMark). */
  derivativeMark(inst: DerivativeInstrument): Dec | undefined {
    return this.ctx.marks.instrumentMark(inst.symbol, inst.base, inst.quote, this.ts, this.consulted);
  }

  missing(asset: string): Refusal {
    return {
      code: 'UNVALUED',
      message: `no mark for ${asset} in ${this.ctx.marks.reporting} at ${formatTimestamp(this.ts)}: send a price event for it first`,
    };
  }
}

const RATES = new Rates({ marks: undefined as unknown as Marks, instruments: undefined as unknown as InstrumentRegistry }, new Set(), 0);

/**
 * Books one event into its book. Returns undefined when booked, or why it could not be (the
 * state is then unchanged). `consulted` collects the assets whose marks the booking read.
 */
export function bookEvent(s: BookState, e: BookEvent, ctx: BookingContext, consulted: Set<string>): Outcome {
  // One Rates for every booking (no allocation per event): booking is synchronous, never nested.
  const rates = RATES;
  rates.ctx = ctx;
  rates.consulted = consulted;
  rates.ts = e.ts;
  let out: Outcome;
  switch (e.type) {
    case 'trade':
      out = bookTrade(s, e, ctx, rates);
      break;
    case 'transfer':
      out = bookTransfer(s, e, ctx, rates);
      break;
    case 'deposit':
      out = bookDeposit(s, e, ctx, rates);
      break;
    case 'withdrawal':
      out = bookWithdrawal(s, e, ctx, rates);
      break;
    case 'funding':
      out = bookFunding(s, e, ctx, rates);
      break;
  }
  if (out === undefined) s.booked++;
  else s.unbooked.set(e.id, { ...out, ts: e.ts });
  return out;
}

/**
 * Applies a leg (Δ, cash) to a spot position (DOMAIN.md §3). `unit`, when given, is exact:
 * cash = −Δ × unit, so a split needs no division.
 */
function applyLeg(s: BookState, pos: SpotPosition, delta: Dec, cash: Dec, unit: Dec | undefined, ts: TsUs): void {
  if (delta.isZero()) {
    // A zero-quantity leg can still carry cash (a fee valued on nothing): it is realized.
    pos.realized = pos.realized.add(cash);
    return;
  }
  const lots = pos.lots;
  if (unit !== undefined && lots.legAtUnit !== undefined) {
    // FIFO and LIFO at an exact unit: the same figures on raw units (property-tested).
    if (lots.legAtUnit(delta.u, delta.s, cash.u, cash.s, unit.u, unit.s, ts, s.lotSeq, pos)) s.lotSeq++;
    return;
  }
  const q = lots.qty();
  if (q.isZero() || q.sign() === delta.sign()) {
    lots.open(delta, cash.neg(), unit, ts, s.lotSeq++);
    return;
  }
  if (delta.cmpAbs(q) <= 0) {
    pos.realized = pos.realized.add(cash.sub(lots.close(delta.abs())));
    return;
  }
  // A flip: close exactly |q| with its pro-rata share of the cash, open the rest at the fill.
  const absQ = q.abs();
  const closeCash = unit !== undefined ? q.mul(unit) : cash.mul(absQ).div(delta.abs(), DIVISION_SCALE);
  const openCash = cash.sub(closeCash);
  pos.realized = pos.realized.add(closeCash.sub(lots.close(absQ)));
  lots.open(delta.add(q), openCash.neg(), unit, ts, s.lotSeq++);
}

interface FeeSplit {
  /** Fee quantity in the base (spot) or settlement asset (derivatives): withheld from that leg. */
  own: Dec;
  /** Fee quantity in the quote asset (spot). */
  quote: Dec;
  /** R value of every fee (rebates negative). */
  value: Dec;
  /** Fees in other assets: each a disposal of that asset at its mark. */
  other: { asset: string; amount: Dec; rate: Dec }[];
}

function splitFees(e: TradeEvent, own: string, ownRate: Dec, quote: string | undefined, quoteRate: Dec, rates: Rates): FeeSplit | Refusal {
  const split: FeeSplit = { own: Dec.ZERO, quote: Dec.ZERO, value: Dec.ZERO, other: [] };
  for (const f of e.fees) {
    if (f.asset === own) {
      split.own = split.own.add(f.amount);
      split.value = split.value.add(f.amount.mul(ownRate));
    } else if (f.asset === quote) {
      split.quote = split.quote.add(f.amount);
      split.value = split.value.add(f.amount.mul(quoteRate));
    } else {
      const r = rates.rate(f.asset);
      if (r === undefined) return rates.missing(f.asset);
      split.value = split.value.add(f.amount.mul(r));
      split.other.push({ asset: f.asset, amount: f.amount, rate: r });
    }
  }
  return split;
}

function isOutcome(x: FeeSplit | Refusal): x is Refusal {
  return 'code' in x;
}

function bookTrade(s: BookState, e: TradeEvent, ctx: BookingContext, rates: Rates): Outcome {
  // A spot pair always resolves the same way: once routed, no registry lookup.
  const cached = s.cachedRoute(e.venue, e.account, e.instrument);
  if (cached !== undefined) return bookSpotTrade(s, e, cached, ctx, rates);
  const found = ctx.instruments.lookup(e.instrument, e.venue);
  if (!found.ok) return { code: 'UNKNOWN_INSTRUMENT', message: `instrument ${e.instrument}: ${found.reason}` };
  if (found.instrument.kind !== 'spot') return bookDerivativeTrade(s, e, found.instrument, ctx, rates);
  return bookSpotTrade(s, e, s.spotRoute(e.venue, e.account, e.instrument, found.instrument, ctx.marks), ctx, rates);
}

/**
 * Whether spot fills take `spotTradeRaw` when they can (always, but for the property test that
 * holds it to the Dec path).
 */
export const SPOT_FAST_PATH = { on: true };

function bookSpotTrade(s: BookState, e: TradeEvent, route: SpotRoute, ctx: BookingContext, rates: Rates): Outcome {
  const marks = ctx.marks;
  const inst = route.inst;
  const rQ = route.quoteIsCash ? Dec.ONE : quoteRate(route, marks, rates);
  if (rQ === undefined) return rates.missing(inst.quote);
  // The common case: no fee, or one fee in the quote, and every fee beside the lots' cost.
  const fees = e.fees;
  if (SPOT_FAST_PATH.on && (fees.length === 0 || (fees.length === 1 && isQuote(route, fees[0]!.asset) && (s.separateFees || fees[0]!.amount.u === 0n)))) {
    spotTradeRaw(s, e, route, rQ);
    return undefined;
  }
  const u = e.price.mul(rQ);
  const d = e.side === 'buy' ? e.qty : e.qty.neg();
  // The common case, one fee in the quote (or none), needs no fee split (no allocation).
  const fee = e.fees.length === 1 ? e.fees[0]! : undefined;
  let feeOwn = Dec.ZERO;
  let feeQuote = Dec.ZERO;
  let feeValue = Dec.ZERO;
  let other = NO_OTHER_FEES;
  if (fee !== undefined && fee.asset === inst.quote && inst.quote !== inst.base) {
    feeQuote = fee.amount;
    feeValue = fee.amount.mul(rQ);
  } else if (e.fees.length > 0) {
    const split = splitFees(e, inst.base, u, inst.quote, rQ, rates);
    if (isOutcome(split)) return split;
    feeOwn = split.own;
    feeQuote = split.quote;
    feeValue = split.value;
    other = split.other;
  }
  // Everything is valued: from here on the booking cannot fail. The route's positions and cells
  // change without `spot`/`addBalance`: stamped here.
  s.touch(inst.base);
  s.touch(inst.quote);
  const baseDelta = feeOwn.isZero() ? d : d.sub(feeOwn);
  // −Δ × price: the quote's leg, and the base's cash too when the quote is R (u is the price).
  const notional = d.mulNeg(e.price);
  const quoteDelta = feeQuote.isZero() ? notional : notional.sub(feeQuote);
  if (route.base !== undefined) {
    const pos = route.base;
    // Separate: the lot is valued at the fill (cash = −Δ × u) and every fee goes to `fees`.
    // Capitalise: the lot (or the proceeds) carries every fee.
    const dU = u === e.price ? notional : d.mulNeg(u);
    let cash = feeOwn.isZero() ? dU : dU.add(feeOwn.mul(u));
    let unit: Dec | undefined = u;
    if (s.settings.fees === 'capitalise' && !feeValue.isZero()) {
      cash = cash.sub(feeValue);
      unit = undefined;
    }
    applyLeg(s, pos, baseDelta, cash, unit, e.ts);
    pos.fees = pos.fees.add(feeValue);
  } else {
    s.cashFees = s.cashFees.add(feeValue);
  }
  if (route.quote !== undefined) applyLeg(s, route.quote, quoteDelta, quoteDelta.mulNeg(rQ), rQ, e.ts);
  // Indexed: an iterator over the (usually empty, frozen) list allocated a result per fill.
  for (let i = 0; i < other.length; i++) {
    const o = other[i]!;
    if (!marks.isCash(o.asset)) applyLeg(s, s.spot(o.asset, e.venue), o.amount.neg(), o.amount.mul(o.rate), o.rate, e.ts);
    s.addBalance(e.venue, e.account, o.asset, o.amount.neg());
  }
  route.baseBalance.add(baseDelta);
  route.quoteBalance.add(quoteDelta);
  return undefined;
}

/**
 * A spot fill with no fee or one fee in the quote, fees beside the cost: what the Dec path below
 * does, on raw units, with no Dec made (property-tested to give the same state to the unit and
 * scale). The base's leg is Δ = ±qty at the unit u = price × r(QUOTE), its cash −Δ × u; the
 * quote's leg is −Δ × price − fee at r(QUOTE); the fee's value goes to the base's `fees` (or the
 * book's cash fees).
 */
function spotTradeRaw(s: BookState, e: TradeEvent, route: SpotRoute, rQ: Dec): void {
  const qty = e.qty;
  const price = e.price;
  const buy = e.side === 'buy';
  const du = buy ? qty.u : -qty.u;
  const ds = qty.s;
  // −Δ × price (Dec.mulNeg).
  const product = qty.u * price.u;
  const nu = buy ? -product : product;
  const ns = ds + price.s;
  // The quote's Δ: notional − fee (Dec.sub).
  let qu = nu;
  let qs = ns;
  let fu = 0n;
  let fs = 0;
  if (e.fees.length === 1) {
    const f = e.fees[0]!.amount;
    fu = f.u;
    fs = f.s;
    if (fu !== 0n) {
      if (qs === fs) qu -= fu;
      else if (qs > fs) qu -= fu * pow10(qs - fs);
      else {
        qu = qu * pow10(fs - qs) - fu;
        qs = fs;
      }
    }
  }
  route.baseStamp.n = ++s.changes;
  route.quoteStamp.n = ++s.changes;
  const cash = rQ === Dec.ONE;
  const base = route.base;
  if (base !== undefined) {
    // u = price × r(QUOTE); the base's cash −Δ × u is the notional when r(QUOTE) is one.
    if (cash) legRaw(s, base, du, ds, nu, ns, price.u, price.s, e.ts);
    else {
      const uu = price.u * rQ.u;
      const us = price.s + rQ.s;
      const p = qty.u * uu;
      legRaw(s, base, du, ds, buy ? -p : p, ds + us, uu, us, e.ts);
    }
    // The fee's value: fee × r(QUOTE) (Dec.mul, which keeps the fee itself at a rate of one).
    if (cash) base.addFees(fu, fs);
    else base.addFees(fu * rQ.u, fs + rQ.s);
  } else if (fu !== 0n) {
    s.cashFees = s.cashFees.add(cash ? new Dec(fu, fs) : new Dec(fu * rQ.u, fs + rQ.s));
  }
  const quote = route.quote;
  // A zero leg on the quote would realize its cash, −0 × r: nothing.
  if (quote !== undefined && qu !== 0n) {
    const p = qu * rQ.u;
    legRaw(s, quote, qu, qs, -p, qs + rQ.s, rQ.u, rQ.s, e.ts);
  }
  route.baseBalance.addQty(du, ds);
  route.quoteBalance.addUnits(qu, qs);
}

/** applyLeg for a leg at an exact unit, from raw units (Decs made only for a HIFO or WAC book). */
function legRaw(s: BookState, pos: SpotPosition, du: bigint, ds: number, cu: bigint, cs: number, uu: bigint, us: number, ts: TsUs): void {
  const lots = pos.lots;
  if (lots.legAtUnit !== undefined) {
    if (lots.legAtUnit(du, ds, cu, cs, uu, us, ts, s.lotSeq, pos)) s.lotSeq++;
  } else applyLeg(s, pos, new Dec(du, ds), new Dec(cu, cs), new Dec(uu, us), ts);
}

/**
 * Whether `asset` is the route's quote (never its base: a spot pair's two assets differ). The
 * quote's text last seen in a fill is kept: a log's texts are mostly one string object each (JSON
 * texts are internalized, the line decoder hands out remembered ones), so that the test is most
 * often one pointer comparison, not a comparison of characters with the instrument's own text.
 */
function isQuote(route: SpotRoute, asset: string): boolean {
  if (asset === route.quoteText) return true;
  if (asset !== route.inst.quote) return false;
  route.quoteText = asset;
  return true;
}

/**
 * r(QUOTE) for a fill on a route: straight from the quote's direct series when it has a mark by
 * then (what Marks.rate would answer first), else the full lookup. Either way the book records
 * that it read the quote's rate.
 */
function quoteRate(route: SpotRoute, marks: Marks, rates: Rates): Dec | undefined {
  route.quoteSeries ??= marks.directSeries(route.inst.quote);
  const p = route.quoteSeries?.at(rates.ts);
  if (p === undefined) return rates.rate(route.inst.quote);
  // A book's set of consulted assets only grows: once the quote is in it, no need to add it again.
  if (route.consultedIn !== rates.consulted) {
    rates.touch(route.inst.quote);
    route.consultedIn = rates.consulted;
  }
  return p.price;
}

const NO_OTHER_FEES = Object.freeze([]) as unknown as FeeSplit['other'];

/** The R value of one unit of a derivative's settlement asset at a fill at `price`. */
function settleRate(inst: DerivativeInstrument, price: Dec | undefined, rates: Rates): Dec | undefined {
  const rQ = rates.rate(inst.quote);
  if (rQ === undefined) return undefined;
  if (inst.settlement === 'linear') return rQ;
  // Inverse: the coin is valued at the instrument's own price (DOMAIN.md §5).
  const p = price ?? rates.derivativeMark(inst);
  return p === undefined ? undefined : p.mul(rQ);
}

/** Books the settlement asset's flow (PnL, fees, funding) at the venue, and as a leg on its position. */
function settle(s: BookState, inst: DerivativeInstrument, venue: string, account: string, amount: Dec, rS: Dec, marks: Marks, ts: TsUs): void {
  if (amount.isZero()) return;
  if (!marks.isCash(inst.settle)) applyLeg(s, s.spot(inst.settle, venue), amount, amount.mul(rS).neg(), rS, ts);
  s.addBalance(venue, account, inst.settle, amount);
}

function bookDerivativeTrade(s: BookState, e: TradeEvent, inst: DerivativeInstrument, ctx: BookingContext, rates: Rates): Outcome {
  const rS = settleRate(inst, e.price, rates);
  if (rS === undefined) return rates.missing(inst.quote);
  const rQ = rates.rate(inst.quote)!;
  const fees = splitFees(e, inst.settle, rS, inst.quote === inst.settle ? undefined : inst.quote, rQ, rates);
  if (isOutcome(fees)) return fees;
  const pos = s.derivative(inst.symbol, e.venue);
  const d = e.side === 'buy' ? e.qty : e.qty.neg();
  const pnl = applyDerivativeFill(pos, d, e.price, inst);
  pos.realizedSettle = pos.realizedSettle.add(pnl);
  pos.realized = pos.realized.add(pnl.mul(rS));
  pos.fees = pos.fees.add(fees.value);
  // Derivatives keep the venue's average entry, so capitalised fees go to realized, not to cost.
  if (s.settings.fees === 'capitalise') pos.realized = pos.realized.sub(fees.value);
  settle(s, inst, e.venue, e.account, pnl.sub(fees.own), rS, ctx.marks, e.ts);
  if (!fees.quote.isZero()) {
    if (!ctx.marks.isCash(inst.quote)) applyLeg(s, s.spot(inst.quote, e.venue), fees.quote.neg(), fees.quote.mul(rQ), rQ, e.ts);
    s.addBalance(e.venue, e.account, inst.quote, fees.quote.neg());
  }
  for (const o of fees.other) {
    if (!ctx.marks.isCash(o.asset)) applyLeg(s, s.spot(o.asset, e.venue), o.amount.neg(), o.amount.mul(o.rate), o.rate, e.ts);
    s.addBalance(e.venue, e.account, o.asset, o.amount.neg());
  }
  return undefined;
}

/** Entry value of `contracts` at `price`: quote notional (linear) or coin value (inverse). */
function entryValue(contracts: Dec, price: Dec, inst: DerivativeInstrument): Dec {
  return inst.settlement === 'linear' ? contracts.mul(inst.multiplier).mul(price) : contracts.mul(inst.multiplier).div(price, DIVISION_SCALE);
}

/**
 * Applies a fill of `d` contracts at `price` to a derivative position, returning the realized PnL
 * in the settlement asset. The open side's entry is a weighted average whatever the book's spot
 * method (what venues show); a flip closes at the fill and opens the rest at the fill.
 */
export function applyDerivativeFill(pos: DerivativePosition, d: Dec, price: Dec, inst: DerivativeInstrument): Dec {
  const q = pos.qty;
  if (q.isZero() || q.sign() === d.sign()) {
    pos.qty = q.add(d);
    pos.entry = pos.entry.add(entryValue(d, price, inst));
    return Dec.ZERO;
  }
  const absD = d.abs();
  const absQ = q.abs();
  const closing = absD.lte(absQ) ? d : q.neg();
  const released = closing.abs().eq(absQ) ? pos.entry : pos.entry.mul(closing.abs()).div(absQ, DIVISION_SCALE);
  // Linear: closing at `price` is worth −closing × m × price in quote; PnL = that − released entry.
  // Inverse: coin PnL = released coin value + closing × m / price (DOMAIN.md §5).
  const pnl = inst.settlement === 'linear' ? entryValue(closing, price, inst).neg().sub(released) : released.add(entryValue(closing, price, inst));
  pos.qty = q.add(closing);
  pos.entry = pos.entry.sub(released);
  const rest = d.sub(closing);
  if (!rest.isZero()) {
    pos.qty = pos.qty.add(rest);
    pos.entry = pos.entry.add(entryValue(rest, price, inst));
  }
  return pnl;
}

function bookTransfer(s: BookState, e: TransferEvent, ctx: BookingContext, rates: Rates): Outcome {
  const fee = e.fee ?? Dec.ZERO;
  const cash = ctx.marks.isCash(e.asset);
  let r: Dec | undefined;
  if (!fee.isZero() && !cash) {
    r = rates.rate(e.asset);
    if (r === undefined) return rates.missing(e.asset);
  }
  if (!cash && s.settings.pool === 'venue') {
    const src = s.spot(e.asset, e.from);
    const held = src.lots.qty();
    if (held.lt(e.qty.add(fee))) {
      return { code: 'INSUFFICIENT_QUANTITY', message: `transfer of ${e.qty.toString()} ${e.asset} (fee ${fee.toString()}) from ${e.from}: only ${held.toString()} held there under venue pooling` };
    }
    const moved = src.lots.release(e.qty);
    const dst = s.spot(e.asset, e.to);
    if (!dst.lots.qty().isNeg()) dst.lots.restore(moved);
    else {
      // Inventory arriving where the book is short covers the short at the inventory's cost:
      // that realizes the short's PnL; any excess opens a long lot at its pro-rata cost.
      let cost = Dec.ZERO;
      for (const l of moved) cost = cost.add(l.cost);
      applyLeg(s, dst, e.qty, cost.neg(), undefined, e.ts);
    }
  }
  if (!fee.isZero()) {
    if (cash) s.cashFees = s.cashFees.add(fee);
    else payFeeInKind(s, s.spot(e.asset, e.from), fee, r!, e.ts);
  }
  s.addBalance(e.from, e.fromAccount, e.asset, e.qty.add(fee).neg());
  s.addBalance(e.to, e.toAccount, e.asset, e.qty);
  return undefined;
}

/**
 * A fee paid in the asset itself (a network fee): a disposal of `fee`. Separate: at its value
 * `fee × r`, which goes to `fees`. Capitalise: for nothing, so the lots' cost leaves as a loss in
 * realized (the fee is in the cost, not beside it); `fees` still reports its value.
 */
function payFeeInKind(s: BookState, pos: SpotPosition, fee: Dec, r: Dec, ts: TsUs): void {
  const value = fee.mul(r);
  if (s.settings.fees === 'capitalise') applyLeg(s, pos, fee.neg(), Dec.ZERO, undefined, ts);
  else applyLeg(s, pos, fee.neg(), value, r, ts);
  pos.fees = pos.fees.add(value);
}

function bookDeposit(s: BookState, e: DepositEvent, ctx: BookingContext, rates: Rates): Outcome {
  if (!ctx.marks.isCash(e.asset)) {
    let cash: Dec;
    let unit: Dec | undefined;
    if (e.cost !== undefined) {
      cash = e.cost.neg();
      unit = undefined;
    } else {
      const r = rates.rate(e.asset);
      if (r === undefined) {
        return { code: 'UNVALUED', message: `deposit of ${e.asset} has no cost and no mark for ${e.asset} before it: give the deposit a cost, or send a price first` };
      }
      cash = e.qty.mul(r).neg();
      unit = r;
    }
    applyLeg(s, s.spot(e.asset, e.venue), e.qty, cash, unit, e.ts);
  }
  s.addBalance(e.venue, e.account, e.asset, e.qty);
  return undefined;
}

function bookWithdrawal(s: BookState, e: WithdrawalEvent, ctx: BookingContext, rates: Rates): Outcome {
  const fee = e.fee ?? Dec.ZERO;
  if (ctx.marks.isCash(e.asset)) {
    s.cashFees = s.cashFees.add(fee);
  } else {
    const r = rates.rate(e.asset);
    if (r === undefined && (e.cost === undefined || !fee.isZero())) {
      return { code: 'UNVALUED', message: `withdrawal of ${e.asset} has no cost and no mark for ${e.asset} before it: give it a cost (the value that left), or send a price first` };
    }
    // Quantity leaves the book at its value (given, or at the mark): the book keeps the PnL it
    // made while holding it, and the total PnL stays independent of the cost method.
    const pos = s.spot(e.asset, e.venue);
    if (e.cost !== undefined) applyLeg(s, pos, e.qty.neg(), e.cost, undefined, e.ts);
    else applyLeg(s, pos, e.qty.neg(), e.qty.mul(r!), r, e.ts);
    if (fee.isPos()) payFeeInKind(s, pos, fee, r!, e.ts);
  }
  s.addBalance(e.venue, e.account, e.asset, e.qty.add(fee).neg());
  return undefined;
}

function bookFunding(s: BookState, e: FundingEvent, ctx: BookingContext, rates: Rates): Outcome {
  const found = ctx.instruments.lookup(e.instrument, e.venue);
  if (!found.ok) return { code: 'UNKNOWN_INSTRUMENT', message: `instrument ${e.instrument}: ${found.reason}` };
  const inst = found.instrument;
  if (inst.kind === 'spot') return { code: 'UNKNOWN_INSTRUMENT', message: `instrument ${e.instrument}: spot has no funding` };
  const rS = settleRate(inst, undefined, rates);
  if (rS === undefined) return rates.missing(inst.settlement === 'inverse' ? inst.symbol : inst.quote);
  const pos = s.derivative(inst.symbol, e.venue);
  let payment: Dec;
  if (e.amount !== undefined) payment = e.amount;
  else {
    const mark = rates.derivativeMark(inst);
    if (mark === undefined) return rates.missing(inst.symbol);
    // payment = −sign(qty) × |qty| × m × mark × rate (positive rate: longs pay), in the settlement asset.
    const notional = inst.settlement === 'linear' ? pos.qty.mul(inst.multiplier).mul(mark) : pos.qty.mul(inst.multiplier).div(mark, DIVISION_SCALE);
    payment = notional.mul(e.rate!).neg();
  }
  pos.fundingSettle = pos.fundingSettle.add(payment);
  pos.funding = pos.funding.add(payment.mul(rS));
  settle(s, inst, e.venue, e.account, payment, rS, ctx.marks, e.ts);
  return undefined;
}
