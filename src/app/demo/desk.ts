/**
 * The demo's simulated trading desk: a pure generator of canonical wire events, deterministic
 * from a seed and driven by a clock its caller advances (`advance(toMs)`), with no I/O.
 *
 * What it simulates:
 * - a market maker (book `mm`) quoting spot (BTC/USDT, ETH/USDT, SOL/USDT) on five venues and
 *   linear perpetuals (BTC/USDT:USDT, ETH/USDT:USDT) on three, with maker rebates (negative fees)
 *   and taker fees (in USDT, sometimes in BNB at binance);
 * - OTC block trades in book `otc` with a counterparty (`cumberland`);
 * - funding on every open perpetual every `fundingEveryMs`;
 * - transfers between venues, as `transfer` events and as a withdrawal + deposit pair with a
 *   network fee (so transfer matching has something to match);
 * - marks as a random walk (every asset, USDT ≈ 1 USD included);
 * - venue balance reports every `reportEveryMs` per venue, computed from the simulator's own
 *   running balances, with an occasional injected disagreement (a report missing a fill, or a
 *   fee the venue charged in another asset), each recorded in `injections`.
 *
 * Invariants: the same seed and the same sequence of `advance` calls give the same events;
 * timestamps never go backwards; within one millisecond, reports come last, so a report at T
 * includes every event stamped at or before T (what reconciliation holds it against). Money is
 * `Dec` or scaled bigints, never a JS number.
 */
import { Dec } from '../../domain/decimal.js';
import { applyDerivativeFill, type DerivativePosition } from '../../domain/book.js';
import type { DerivativeInstrument } from '../../domain/instrument.js';
import { Rng } from './rng.js';

export type WireEvent = Record<string, unknown>;

export interface DeskOptions {
  readonly seed: number;
  /** Target events per second, all kinds together (fills take what marks and reports leave). */
  readonly ratePerSec: number;
  readonly markEveryMs: number;
  /** Each venue reports its balances this often (the venues are staggered). */
  readonly reportEveryMs: number;
  readonly fundingEveryMs: number;
  readonly transferEveryMs: number;
  readonly otcEveryMs: number;
  /** The first injected break comes at this offset from the start, then one every `breakEveryMs`. */
  readonly firstBreakMs: number;
  readonly breakEveryMs: number;
}

export const DEFAULT_DESK: DeskOptions = {
  seed: 1,
  ratePerSec: 300,
  markEveryMs: 250,
  reportEveryMs: 3_000,
  fundingEveryMs: 60_000,
  transferEveryMs: 8_000,
  otcEveryMs: 7_000,
  firstBreakMs: 4_000,
  breakEveryMs: 20_000,
};

export const VENUES = ['binance', 'okx', 'coinbase', 'kraken', 'bybit'] as const;
export const OTC_VENUE = 'cumberland';
const PERP_VENUES = ['binance', 'okx', 'bybit'] as const;

interface SpotSpec {
  readonly asset: string;
  /** Start price in USDT cents. */
  readonly startCents: bigint;
  /** Fill sizes: a whole number of 10^-qtyScale units in [min, max]. */
  readonly qtyScale: number;
  readonly qtyMin: number;
  readonly qtyMax: number;
  /** Deposited at each venue at the start. */
  readonly seed: string;
}

const SPOT: readonly SpotSpec[] = [
  { asset: 'BTC', startCents: 6_500_000n, qtyScale: 4, qtyMin: 10, qtyMax: 500, seed: '25' },
  { asset: 'ETH', startCents: 340_000n, qtyScale: 3, qtyMin: 10, qtyMax: 2_000, seed: '400' },
  { asset: 'SOL', startCents: 15_000n, qtyScale: 2, qtyMin: 10, qtyMax: 3_000, seed: '8000' },
];
const BNB_START_CENTS = 58_000n;
const USDT_SEED = '3000000';
const BNB_SEED = '1000';

interface PerpSpec {
  readonly symbol: string;
  readonly base: string;
  /** Contract size (base units per contract) per venue. */
  readonly multiplier: Readonly<Record<(typeof PERP_VENUES)[number], string>>;
  readonly contractsMax: number;
}

const PERPS: readonly PerpSpec[] = [
  { symbol: 'BTC/USDT:USDT', base: 'BTC', multiplier: { binance: '0.001', okx: '0.01', bybit: '0.001' }, contractsMax: 200 },
  { symbol: 'ETH/USDT:USDT', base: 'ETH', multiplier: { binance: '0.01', okx: '0.1', bybit: '0.01' }, contractsMax: 200 },
];

/** A report made to disagree with the simulator's balances, on purpose. */
export interface Injection {
  readonly id: string;
  readonly kind: 'missing_fill' | 'fee_in_other_asset';
  readonly venue: string;
  /** The trade the disagreement is about. */
  readonly trade: string;
  readonly ts: string;
  /** Reported − running, per asset, while the injection holds. */
  readonly deltas: readonly { readonly asset: string; readonly delta: string }[];
  /** How many of the venue's reports it holds for (then the venue catches up). */
  readonly reports: number;
  readonly description: string;
}

/** One balance report and what it was computed from. */
export interface ReportRecord {
  readonly id: string;
  readonly ts: string;
  readonly venue: string;
  readonly asset: string;
  /** The simulator's running balance at the report's instant. */
  readonly running: string;
  readonly reported: string;
  /** Injections that changed this report (empty: reported = running). */
  readonly injections: readonly string[];
}

export interface Advance {
  readonly events: WireEvent[];
  readonly reports: ReportRecord[];
}

interface LastFill {
  readonly id: string;
  readonly ms: number;
  /** The fill's change to each balance of its venue. */
  readonly deltas: ReadonlyMap<string, Dec>;
  readonly usdtFee: Dec;
}

interface ActiveInjection {
  readonly injection: Injection;
  remaining: number;
}

interface Transit {
  readonly dueMs: number;
  readonly event: WireEvent;
  readonly venue: string;
  readonly asset: string;
  readonly qty: Dec;
}

const cents = (c: bigint): Dec => new Dec(c, 2);
const iso = (ms: number): string => new Date(ms).toISOString();

export class DemoDesk {
  private readonly rng: Rng;
  private clockMs: number;
  private started = false;
  /** Prices in USDT cents per asset (BTC, ETH, SOL, BNB); USDT in USD at 4 places. */
  private readonly cents = new Map<string, bigint>();
  private usdtTicks = 10_000n;
  /** Running balances per book|venue, per asset. */
  private readonly balances = new Map<string, Map<string, Dec>>();
  private readonly perps = new Map<string, DerivativePosition>();
  private readonly terms = new Map<string, DerivativeInstrument>();
  private readonly tradeSeq = new Map<string, bigint>();
  /** Ids of this run start from its start time, so two runs into one store never share an id. */
  private readonly idBase: bigint;
  private readonly transits: Transit[] = [];
  private readonly lastFill = new Map<string, LastFill>();
  private readonly lastReportMs = new Map<string, number>();
  private readonly active = new Map<string, ActiveInjection>();
  private readonly fillsPerSec: number;
  private fillAcc = 0;
  private moveSeq = 0;
  private nextMarkMs: number;
  private nextFundingMs: number;
  private nextTransferMs: number;
  private nextOtcMs: number;
  private nextBreakMs: number;
  private readonly nextReportMs = new Map<string, number>();
  private nextKind: Injection['kind'] = 'missing_fill';
  private moveKind = 0;
  /** Every injection made so far, in order. */
  readonly injections: Injection[] = [];

  constructor(
    readonly options: DeskOptions,
    startMs: number,
  ) {
    this.rng = new Rng(options.seed);
    this.clockMs = startMs;
    this.idBase = BigInt(startMs) * 10_000n;
    for (const s of SPOT) this.cents.set(s.asset, s.startCents);
    this.cents.set('BNB', BNB_START_CENTS);
    this.nextMarkMs = startMs + options.markEveryMs;
    this.nextFundingMs = startMs + options.fundingEveryMs;
    this.nextTransferMs = startMs + options.transferEveryMs;
    this.nextOtcMs = startMs + options.otcEveryMs;
    this.nextBreakMs = startMs + options.firstBreakMs;
    VENUES.forEach((v, i) => this.nextReportMs.set(v, startMs + 500 + Math.floor((options.reportEveryMs * i) / VENUES.length)));
    const marksPerSec = Math.ceil((5 * 1000) / options.markEveryMs);
    const reportsPerSec = Math.ceil((VENUES.length * 4.2 * 1000) / options.reportEveryMs);
    this.fillsPerSec = Math.max(1, Math.floor(options.ratePerSec) - marksPerSec - reportsPerSec);
  }

  /** The simulator's running balance of `asset` at (book, venue). */
  balance(book: string, venue: string, asset: string): Dec {
    return this.balances.get(`${book}|${venue}`)?.get(asset) ?? Dec.ZERO;
  }

  /** Every event due after the last call and up to `toMs` (the first call also sets up the desk). */
  advance(toMs: number): Advance {
    const out: Advance = { events: [], reports: [] };
    if (!this.started) {
      this.started = true;
      this.setup(this.clockMs, out);
    }
    for (let ms = this.clockMs + 1; ms <= toMs; ms++) this.tick(ms, out);
    this.clockMs = Math.max(this.clockMs, toMs);
    return out;
  }

  // ── set-up ────────────────────────────────────────────────────────────────

  private setup(ms: number, out: Advance): void {
    const ts = iso(ms);
    for (const p of PERPS) {
      for (const v of PERP_VENUES) {
        const multiplier = p.multiplier[v];
        out.events.push({ type: 'instrument', id: `${v}:instrument:${p.symbol}`, ts, symbol: p.symbol, venue: v, multiplier });
        this.terms.set(`${v}|${p.symbol}`, { kind: 'perpetual', symbol: p.symbol, base: p.base, quote: 'USDT', settle: 'USDT', settlement: 'linear', multiplier: Dec.of(multiplier), expiry: undefined });
      }
    }
    this.marks(ms, out);
    const usd = (asset: string, qty: Dec): string => (asset === 'USDT' ? qty.mul(this.usdt()) : qty.mul(this.price(asset)).mul(this.usdt())).round(2).toString();
    const deposit = (book: string, venue: string, asset: string, qtyText: string): void => {
      const qty = Dec.of(qtyText);
      out.events.push({ type: 'deposit', id: `${venue}:deposit:${this.idBase}-${book}-${asset}`, ts, book, venue, asset, qty: qtyText, cost: usd(asset, qty), txid: `seed-${venue}-${asset}` });
      this.move(book, venue, asset, qty);
    };
    for (const v of VENUES) {
      deposit('mm', v, 'USDT', USDT_SEED);
      for (const s of SPOT) deposit('mm', v, s.asset, s.seed);
    }
    deposit('mm', 'binance', 'BNB', BNB_SEED);
    deposit('otc', OTC_VENUE, 'USDT', '20000000');
    deposit('otc', OTC_VENUE, 'BTC', '150');
    deposit('otc', OTC_VENUE, 'ETH', '2500');
  }

  // ── the clock ─────────────────────────────────────────────────────────────

  private tick(ms: number, out: Advance): void {
    if (ms >= this.nextMarkMs) {
      this.nextMarkMs += this.options.markEveryMs;
      this.walk();
      this.marks(ms, out);
    }
    while (this.transits.length > 0 && this.transits[0]!.dueMs <= ms) {
      const t = this.transits.shift()!;
      out.events.push({ ...t.event, ts: iso(ms) });
      this.move('mm', t.venue, t.asset, t.qty);
    }
    this.fillAcc += this.fillsPerSec;
    while (this.fillAcc >= 1000) {
      this.fillAcc -= 1000;
      this.fill(ms, out);
    }
    if (ms >= this.nextOtcMs) {
      this.nextOtcMs += this.options.otcEveryMs;
      this.otc(ms, out);
    }
    if (ms >= this.nextFundingMs) {
      this.nextFundingMs += this.options.fundingEveryMs;
      this.funding(ms, out);
    }
    if (ms >= this.nextTransferMs) {
      this.nextTransferMs += this.options.transferEveryMs;
      this.transfer(ms, out);
    }
    // Reports last: a report at T holds everything stamped at or before T.
    for (const v of VENUES) {
      if (ms < this.nextReportMs.get(v)!) continue;
      this.nextReportMs.set(v, this.nextReportMs.get(v)! + this.options.reportEveryMs);
      this.report(v, ms, out);
    }
  }

  // ── marks ─────────────────────────────────────────────────────────────────

  private price(asset: string): Dec {
    return cents(this.cents.get(asset)!);
  }

  private usdt(): Dec {
    return new Dec(this.usdtTicks, 4);
  }

  /** A random walk of up to ±3 bp per step; USDT wanders within a few bp of 1 USD. */
  private walk(): void {
    for (const [asset, c] of this.cents) {
      const step = BigInt(this.rng.int(-6, 6));
      const next = c + (c * step) / 20_000n;
      this.cents.set(asset, next > 100n ? next : 100n);
    }
    const pull = this.usdtTicks > 10_003n ? -1 : this.usdtTicks < 9_997n ? 1 : this.rng.int(-1, 1);
    this.usdtTicks += BigInt(pull);
  }

  private marks(ms: number, out: Advance): void {
    const ts = iso(ms);
    for (const [asset, c] of this.cents) out.events.push({ type: 'price', id: `index:${asset}/USDT@${ms}`, ts, asset, quote: 'USDT', price: cents(c).toString() });
    out.events.push({ type: 'price', id: `index:USDT/USD@${ms}`, ts, asset: 'USDT', quote: 'USD', price: this.usdt().toString() });
  }

  // ── balances ──────────────────────────────────────────────────────────────

  private move(book: string, venue: string, asset: string, delta: Dec): void {
    const key = `${book}|${venue}`;
    let cell = this.balances.get(key);
    if (cell === undefined) this.balances.set(key, (cell = new Map<string, Dec>()));
    cell.set(asset, (cell.get(asset) ?? Dec.ZERO).add(delta));
  }

  private nextTradeId(venue: string): string {
    const n = (this.tradeSeq.get(venue) ?? this.idBase) + 1n;
    this.tradeSeq.set(venue, n);
    return `${venue}:${n}`;
  }

  /** Percent chance of buying: 50, leaning against the inventory's distance from its target. */
  private buyPercent(deviation: Dec, limit: Dec): number {
    const lean = Number(deviation.mul(Dec.int(40)).div(limit, 0).toString());
    return 50 - Math.max(-40, Math.min(40, lean));
  }

  // ── the market maker ──────────────────────────────────────────────────────

  private fill(ms: number, out: Advance): void {
    const venue = this.rng.pick(VENUES);
    const perpVenue = (PERP_VENUES as readonly string[]).includes(venue);
    if (perpVenue && this.rng.chance(30)) this.perpFill(venue as (typeof PERP_VENUES)[number], ms, out);
    else this.spotFill(venue, ms, out);
  }

  /** Maker: at the mark ∓ 1–3 bp, with a rebate; taker (1 in 4): at the mark ± 1 bp, paying a fee. */
  private quote(asset: string, side: 'buy' | 'sell', maker: boolean): Dec {
    const bps = BigInt(maker ? this.rng.int(1, 3) : 1);
    const away = (side === 'buy') === maker ? -bps : bps;
    const c = this.cents.get(asset)!;
    return cents(c + (c * away) / 10_000n);
  }

  private spotFill(venue: string, ms: number, out: Advance): void {
    const spec = this.rng.pick(SPOT);
    const seed = Dec.of(spec.seed);
    const held = this.balance('mm', venue, spec.asset);
    const side = this.rng.chance(this.buyPercent(held.sub(seed), seed.div(Dec.int(4), 8))) ? 'buy' : 'sell';
    const maker = !this.rng.chance(25);
    const qty = new Dec(BigInt(this.rng.int(spec.qtyMin, spec.qtyMax)), spec.qtyScale);
    const price = this.quote(spec.asset, side, maker);
    const notional = qty.mul(price);
    const id = this.nextTradeId(venue);
    let fee: { asset: string; amount: Dec };
    if (maker) fee = { asset: 'USDT', amount: notional.mul(Dec.of('0.00005')).neg().round(8) };
    else if (venue === 'binance' && this.rng.chance(30)) fee = { asset: 'BNB', amount: notional.mul(Dec.of('0.00075')).div(this.price('BNB'), 8) };
    else fee = { asset: 'USDT', amount: notional.mul(Dec.of('0.001')).round(8) };
    const d = side === 'buy' ? qty : qty.neg();
    const deltas = new Map<string, Dec>([[spec.asset, d]]);
    const usdt = d.mul(price).neg().sub(fee.asset === 'USDT' ? fee.amount : Dec.ZERO);
    deltas.set('USDT', usdt);
    if (fee.asset === 'BNB') deltas.set('BNB', fee.amount.neg());
    for (const [asset, delta] of deltas) this.move('mm', venue, asset, delta);
    const event: WireEvent = { type: 'trade', id, ts: iso(ms), book: 'mm', venue, instrument: `${spec.asset}/USDT`, side, qty: qty.toString(), price: price.toString(), order: `${venue}-o${id.slice(venue.length + 1)}`, meta: { liquidity: maker ? 'maker' : 'taker' } };
    if (!fee.amount.isZero()) event.fee = { asset: fee.asset, amount: fee.amount.toString() };
    out.events.push(event);
    this.lastFill.set(venue, { id, ms, deltas, usdtFee: fee.asset === 'USDT' ? fee.amount : Dec.ZERO });
  }

  private perpFill(venue: (typeof PERP_VENUES)[number], ms: number, out: Advance): void {
    const spec = this.rng.pick(PERPS);
    const inst = this.terms.get(`${venue}|${spec.symbol}`)!;
    const pos = this.perp(venue, spec.symbol);
    const limit = Dec.int(spec.contractsMax * 5);
    const side = this.rng.chance(this.buyPercent(pos.qty, limit)) ? 'buy' : 'sell';
    const maker = !this.rng.chance(25);
    const qty = Dec.int(this.rng.int(1, spec.contractsMax));
    const price = this.quote(spec.base, side, maker);
    const notional = qty.mul(inst.multiplier).mul(price);
    const fee = (maker ? notional.mul(Dec.of('0.00002')).neg() : notional.mul(Dec.of('0.0005'))).round(8);
    const pnl = applyDerivativeFill(pos, side === 'buy' ? qty : qty.neg(), price, inst);
    this.move('mm', venue, 'USDT', pnl.sub(fee));
    const event: WireEvent = { type: 'trade', id: this.nextTradeId(venue), ts: iso(ms), book: 'mm', venue, instrument: spec.symbol, side, qty: qty.toString(), price: price.toString(), meta: { liquidity: maker ? 'maker' : 'taker' } };
    if (!fee.isZero()) event.fee = { asset: 'USDT', amount: fee.toString() };
    out.events.push(event);
  }

  private perp(venue: string, symbol: string): DerivativePosition {
    const key = `${venue}|${symbol}`;
    let p = this.perps.get(key);
    if (p === undefined) {
      p = { kind: 'derivative', instrument: symbol, venue, qty: Dec.ZERO, entry: Dec.ZERO, realized: Dec.ZERO, realizedSettle: Dec.ZERO, fees: Dec.ZERO, funding: Dec.ZERO, fundingSettle: Dec.ZERO };
      this.perps.set(key, p);
    }
    return p;
  }

  /** Every open perpetual pays or receives funding at a rate of −0.002% to +0.006%. */
  private funding(ms: number, out: Advance): void {
    for (const [key, pos] of this.perps) {
      if (pos.qty.isZero()) continue;
      const venue = pos.venue;
      const inst = this.terms.get(key)!;
      const rate = new Dec(BigInt(this.rng.int(-2, 6)), 5);
      const amount = pos.qty.mul(inst.multiplier).mul(this.price(inst.base)).mul(rate).neg().round(8);
      if (amount.isZero()) continue;
      this.move('mm', venue, 'USDT', amount);
      out.events.push({ type: 'funding', id: `${venue}:funding:${pos.instrument}:${ms}`, ts: iso(ms), book: 'mm', venue, instrument: pos.instrument, amount: amount.toString(), asset: 'USDT' });
    }
  }

  // ── OTC and transfers ─────────────────────────────────────────────────────

  private otc(ms: number, out: Advance): void {
    const asset = this.rng.chance(60) ? 'BTC' : 'ETH';
    const target = Dec.int(asset === 'BTC' ? 150 : 2500);
    const side = this.rng.chance(this.buyPercent(this.balance('otc', OTC_VENUE, asset).sub(target), target.div(Dec.int(3), 8))) ? 'buy' : 'sell';
    const qty = Dec.int(asset === 'BTC' ? this.rng.int(5, 25) : this.rng.int(100, 500));
    const c = this.cents.get(asset)!;
    const away = BigInt(this.rng.int(5, 15)) * (side === 'buy' ? -1n : 1n);
    const price = cents(c + (c * away) / 10_000n);
    this.move('otc', OTC_VENUE, asset, side === 'buy' ? qty : qty.neg());
    this.move('otc', OTC_VENUE, 'USDT', (side === 'buy' ? qty : qty.neg()).mul(price).neg());
    this.moveSeq++;
    out.events.push({ type: 'trade', id: `${OTC_VENUE}:otc-${this.idBase + BigInt(this.moveSeq)}`, ts: iso(ms), book: 'otc', venue: OTC_VENUE, instrument: `${asset}/USDT`, side, qty: qty.toString(), price: price.toString(), meta: { counterparty: 'cumberland', block: true } });
  }

  /** Rebalances USDT from the richest venue to the poorest; every other time as withdrawal + deposit. */
  private transfer(ms: number, out: Advance): void {
    const byUsdt = [...VENUES].sort((a, b) => this.balance('mm', b, 'USDT').cmp(this.balance('mm', a, 'USDT')) || (a < b ? -1 : 1));
    const from = byUsdt[0]!;
    const to = byUsdt[byUsdt.length - 1]!;
    this.moveSeq++;
    this.moveKind++;
    const ts = iso(ms);
    if (this.moveKind % 2 === 1) {
      const qty = Dec.int(this.rng.int(50, 300) * 1000);
      const fee = Dec.int(1);
      this.move('mm', from, 'USDT', qty.add(fee).neg());
      this.move('mm', to, 'USDT', qty);
      out.events.push({ type: 'transfer', id: `${from}:transfer:${this.idBase + BigInt(this.moveSeq)}`, ts, book: 'mm', asset: 'USDT', qty: qty.toString(), from, to, fee: fee.toString() });
      return;
    }
    const btc = this.moveKind % 4 === 0;
    const asset = btc ? 'BTC' : 'USDT';
    const qty = btc ? new Dec(BigInt(this.rng.int(5, 20)), 1) : Dec.int(this.rng.int(20, 100) * 1000);
    const fee = btc ? Dec.of('0.0002') : Dec.of('1.5');
    const txid = `0x${this.rng.nextU32().toString(16).padStart(8, '0')}${this.moveSeq.toString(16).padStart(8, '0')}`;
    this.move('mm', from, asset, qty.add(fee).neg());
    out.events.push({ type: 'withdrawal', id: `${from}:withdrawal:${this.idBase + BigInt(this.moveSeq)}`, ts, book: 'mm', venue: from, asset, qty: qty.toString(), fee: fee.toString(), txid });
    const dueMs = ms + this.rng.int(2_000, 6_000);
    this.transits.push({ dueMs, venue: to, asset, qty, event: { type: 'deposit', id: `${to}:deposit:${this.idBase + BigInt(this.moveSeq)}`, book: 'mm', venue: to, asset, qty: qty.toString(), txid } });
    this.transits.sort((a, b) => a.dueMs - b.dueMs);
  }

  // ── venue reports and injected breaks ─────────────────────────────────────

  private report(venue: string, ms: number, out: Advance): void {
    const since = this.lastReportMs.get(venue) ?? -1;
    this.lastReportMs.set(venue, ms);
    if (ms >= this.nextBreakMs && !this.active.has(venue)) this.inject(venue, since, ms);
    const active = this.active.get(venue);
    const ts = iso(ms);
    const cell = this.balances.get(`mm|${venue}`) ?? new Map<string, Dec>();
    for (const asset of [...cell.keys()].sort()) {
      const running = cell.get(asset)!;
      const delta = active?.injection.deltas.find((d) => d.asset === asset);
      const reported = delta === undefined ? running : running.add(Dec.of(delta.delta));
      const id = `${venue}:balance:${ms}:${asset}`;
      out.events.push({ type: 'balance', id, ts, venue, asset, total: reported.toString() });
      out.reports.push({ id, ts, venue, asset, running: running.toString(), reported: reported.toString(), injections: delta === undefined ? [] : [active!.injection.id] });
    }
    if (active !== undefined && --active.remaining <= 0) this.active.delete(venue);
  }

  /** Makes this report of `venue` disagree, if the venue has the fill the next kind needs. */
  private inject(venue: string, sinceMs: number, ms: number): void {
    const f = this.lastFill.get(venue);
    if (f === undefined || f.ms <= sinceMs) return;
    const n = this.injections.length + 1;
    let injection: Injection;
    if (this.nextKind === 'missing_fill') {
      const deltas = [...f.deltas].filter(([, d]) => !d.isZero()).map(([asset, d]) => ({ asset, delta: d.neg().toString() }));
      injection = { id: `inj-${n}`, kind: 'missing_fill', venue, trade: f.id, ts: iso(ms), deltas, reports: 3, description: `${venue}'s balance report leaves out fill ${f.id} for 3 reports (its snapshot lags)` };
    } else {
      if (venue !== 'binance' || !f.usdtFee.isPos()) return;
      const bnb = f.usdtFee.div(this.price('BNB'), 8);
      injection = {
        id: `inj-${n}`,
        kind: 'fee_in_other_asset',
        venue,
        trade: f.id,
        ts: iso(ms),
        deltas: [
          { asset: 'USDT', delta: f.usdtFee.toString() },
          { asset: 'BNB', delta: bnb.neg().toString() },
        ],
        reports: 6,
        description: `binance charged fill ${f.id}'s fee (${f.usdtFee.toString()} USDT) in BNB instead, for 6 reports (then refunds it)`,
      };
    }
    this.injections.push(injection);
    this.active.set(venue, { injection, remaining: injection.reports });
    this.nextKind = this.nextKind === 'missing_fill' ? 'fee_in_other_asset' : 'missing_fill';
    this.nextBreakMs = ms + this.options.breakEveryMs;
  }
}
