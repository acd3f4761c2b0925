/**
 * Trade reconciliation: a venue's own trade history against the fills UTL booked at that venue,
 * matched by the venue's trade id. Reports what is missing on either side, what differs
 * (side, instrument, quantity, price, fees, time), and ids that appear twice on one side.
 *
 * The window is the venue history's own span unless given: a venue keeps months of trades, UTL
 * keeps years, and fills older than the venue's history are not "missing at the venue".
 * The venue trade id of a booked fill is its event id less a `<venue>:` prefix (the ccxt
 * importer's namespacing: `binance:12345` is binance's trade 12345).
 */
import { Dec } from '../decimal.js';
import { compareEvents, isBookEvent, type AmendEvent, type BookEvent, type LedgerEvent, type TradeEvent, type TsUs } from '../events.js';
import { parseSymbol } from '../instrument.js';
import { formatTimestamp } from '../time.js';

export interface TradeReconOptions {
  readonly venue: string;
  /** The window (inclusive); by default the venue trades' first and last instants. */
  readonly fromTs?: TsUs;
  readonly toTs?: TsUs;
  /** Differences allowed (absolute): quantity, price, each fee; time in µs (default 1 s). */
  readonly qtyTolerance?: Dec;
  readonly priceTolerance?: Dec;
  readonly feeTolerance?: Dec;
  readonly tsToleranceUs?: TsUs;
}

export interface TradeLine {
  readonly venueTradeId: string;
  readonly id: string;
  readonly ts: string;
  readonly account: string;
  readonly instrument: string;
  readonly side: string;
  readonly qty: string;
  readonly price: string;
  readonly fees: { asset: string; amount: string }[];
}

export type TradeField = 'side' | 'instrument' | 'qty' | 'price' | 'fee' | 'ts';

export interface TradeMismatch {
  readonly venueTradeId: string;
  readonly utlId: string;
  readonly venueId: string;
  readonly field: TradeField;
  readonly utl: string;
  readonly venue: string;
}

export interface TradeReconResult {
  readonly venue: string;
  readonly window: { readonly from: string | null; readonly to: string | null };
  readonly venueTrades: number;
  readonly utlTrades: number;
  readonly matched: number;
  readonly missingInUtl: TradeLine[];
  readonly missingAtVenue: TradeLine[];
  readonly mismatches: TradeMismatch[];
  readonly duplicates: { readonly side: 'venue' | 'utl'; readonly venueTradeId: string; readonly ids: string[] }[];
  readonly ok: boolean;
}

/** The venue's id of a fill: its event id less a `<venue>:` prefix. */
export function venueTradeId(t: TradeEvent): string {
  const p = `${t.venue}:`;
  return t.id.startsWith(p) ? t.id.slice(p.length) : t.id;
}

function line(t: TradeEvent): TradeLine {
  return {
    venueTradeId: venueTradeId(t),
    id: t.id,
    ts: formatTimestamp(t.ts),
    account: t.account,
    instrument: t.instrument,
    side: t.side,
    qty: t.qty.toString(),
    price: t.price.toString(),
    fees: t.fees.map((f) => ({ asset: f.asset, amount: f.amount.toString() })),
  };
}

function feeTotals(t: TradeEvent): Map<string, Dec> {
  const m = new Map<string, Dec>();
  for (const f of t.fees) m.set(f.asset, (m.get(f.asset) ?? Dec.ZERO).add(f.amount));
  return m;
}

function feeText(m: Map<string, Dec>): string {
  return [...m.entries()]
    .filter(([, v]) => !v.isZero())
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .map(([k, v]) => `${v.toString()} ${k}`)
    .join(', ');
}

function groupById(ts: readonly TradeEvent[]): Map<string, TradeEvent[]> {
  const m = new Map<string, TradeEvent[]>();
  for (const t of ts) {
    const k = venueTradeId(t);
    const g = m.get(k);
    if (g === undefined) m.set(k, [t]);
    else g.push(t);
  }
  return m;
}

export function reconcileTrades(venueSide: readonly TradeEvent[], booked: readonly TradeEvent[], o: TradeReconOptions): TradeReconResult {
  const atVenue = venueSide.filter((t) => t.venue === o.venue);
  let from = o.fromTs;
  let to = o.toTs;
  for (const t of atVenue) {
    if (o.fromTs === undefined && (from === undefined || t.ts < from)) from = t.ts;
    if (o.toTs === undefined && (to === undefined || t.ts > to)) to = t.ts;
  }
  const inWindow = (t: TradeEvent): boolean => t.venue === o.venue && (from === undefined || t.ts >= from) && (to === undefined || t.ts <= to);
  const venueTrades = atVenue.filter(inWindow);
  const utlTrades = booked.filter(inWindow);
  const v = groupById(venueTrades);
  const u = groupById(utlTrades);
  const zero = Dec.ZERO;
  const qtyTol = o.qtyTolerance ?? zero;
  const priceTol = o.priceTolerance ?? zero;
  const feeTol = o.feeTolerance ?? zero;
  const tsTol = o.tsToleranceUs ?? 1_000_000;

  const duplicates: TradeReconResult['duplicates'] = [];
  for (const [side, m] of [['venue', v] as const, ['utl', u] as const]) {
    for (const [k, g] of m) if (g.length > 1) duplicates.push({ side, venueTradeId: k, ids: g.map((t) => t.id).sort() });
  }
  const missingInUtl: TradeLine[] = [];
  const missingAtVenue: TradeLine[] = [];
  const mismatches: TradeMismatch[] = [];
  let matched = 0;
  for (const [k, g] of v) {
    const a = g[0]!;
    const b = u.get(k)?.[0];
    if (b === undefined) {
      missingInUtl.push(line(a));
      continue;
    }
    matched++;
    const differ = (field: TradeField, utl: string, venue: string): void => {
      mismatches.push({ venueTradeId: k, utlId: b.id, venueId: a.id, field, utl, venue });
    };
    if (a.side !== b.side) differ('side', b.side, a.side);
    if (a.instrument !== b.instrument) differ('instrument', b.instrument, a.instrument);
    if (a.qty.sub(b.qty).abs().gt(qtyTol)) differ('qty', b.qty.toString(), a.qty.toString());
    if (a.price.sub(b.price).abs().gt(priceTol)) differ('price', b.price.toString(), a.price.toString());
    if (Math.abs(a.ts - b.ts) > tsTol) differ('ts', formatTimestamp(b.ts), formatTimestamp(a.ts));
    const fa = feeTotals(a);
    const fb = feeTotals(b);
    for (const asset of new Set([...fa.keys(), ...fb.keys()])) {
      if ((fa.get(asset) ?? zero).sub(fb.get(asset) ?? zero).abs().gt(feeTol)) {
        differ('fee', feeText(fb), feeText(fa));
        break;
      }
    }
  }
  for (const [k, g] of u) if (!v.has(k)) missingAtVenue.push(line(g[0]!));
  const byTs = (x: TradeLine, y: TradeLine): number => (x.ts < y.ts ? -1 : x.ts > y.ts ? 1 : x.id < y.id ? -1 : 1);
  missingInUtl.sort(byTs);
  missingAtVenue.sort(byTs);
  return {
    venue: o.venue,
    window: { from: from === undefined ? null : formatTimestamp(from), to: to === undefined ? null : formatTimestamp(to) },
    venueTrades: venueTrades.length,
    utlTrades: utlTrades.length,
    matched,
    missingInUtl,
    missingAtVenue,
    mismatches,
    duplicates,
    ok: missingInUtl.length === 0 && missingAtVenue.length === 0 && mismatches.length === 0 && duplicates.length === 0,
  };
}

/**
 * A spot trade's change to each balance cell of its (venue, account): the base by ±qty less a fee
 * in the base, the quote by ∓qty × price less a fee in the quote, any other fee asset by −fee.
 * Derivatives settle PnL that depends on the position: undefined.
 */
export function spotTradeDeltas(t: TradeEvent): Map<string, Dec> | undefined {
  const parts = parseSymbol(t.instrument);
  if (parts === undefined || parts.settle !== undefined) return undefined;
  const d = t.side === 'buy' ? t.qty : t.qty.neg();
  const m = new Map<string, Dec>();
  const add = (asset: string, x: Dec): void => {
    m.set(asset, (m.get(asset) ?? Dec.ZERO).add(x));
  };
  add(parts.base, d);
  add(parts.quote, d.mulNeg(t.price));
  for (const f of t.fees) add(f.asset, f.amount.neg());
  return m;
}

/**
 * The effective book events among `events` (originals with their corrections): cancelled ones
 * left out (a cancelled amend no longer applies), amends applied in (ts, id) order.
 */
export function effectiveEvents(events: readonly LedgerEvent[]): BookEvent[] {
  const cancelled = new Set<string>();
  for (const e of events) if (e.type === 'cancel') cancelled.add(e.target);
  const amends = events.filter((e): e is AmendEvent => e.type === 'amend' && !cancelled.has(e.id)).sort(compareEvents);
  const out: BookEvent[] = [];
  for (const e of events) {
    if (!isBookEvent(e) || cancelled.has(e.id)) continue;
    let x: BookEvent = e;
    if (x.type === 'trade') for (const a of amends) if (a.target === e.id) x = { ...(x), ...a.fields };
    out.push(x);
  }
  return out.sort(compareEvents);
}
