/**
 * Marks as a time series: every price event is kept under its (ts, id) key, so the rate of an
 * asset "known before" any event is a lookup, whatever order the marks arrived in. That makes
 * valuation causal and replayable (DOMAIN.md §2): booking an event never depends on arrival order.
 *
 * r(X) at key K: the latest direct mark of X in the reporting currency R before K; failing that,
 * the latest mark of X in another quote Q before K times r(Q) at K (one hop, the direct mark of Q).
 */
import { Dec } from './decimal.js';
import { compareEvents, type TsUs } from './events.js';

export interface Key {
  readonly ts: TsUs;
  readonly id: string;
}

interface Point {
  readonly ts: TsUs;
  readonly id: string;
  readonly price: Dec;
}

/** One pair's marks, sorted by key. */
class Series {
  readonly points: Point[] = [];

  insert(p: Point): void {
    const pts = this.points;
    const last = pts[pts.length - 1];
    if (last === undefined || compareEvents(last, p) < 0) {
      pts.push(p);
      return;
    }
    const i = this.upperBound(p);
    pts.splice(i, 0, p);
  }

  remove(key: Key): boolean {
    const i = this.upperBound(key) - 1;
    const p = this.points[i];
    if (p === undefined || p.ts !== key.ts || p.id !== key.id) return false;
    this.points.splice(i, 1);
    return true;
  }

  /** Index of the first point after `key` (so the point before it is the latest not after key). */
  private upperBound(key: Key): number {
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareEvents(this.points[mid]!, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The latest point strictly before `key`. */
  before(key: Key): Point | undefined {
    const pts = this.points;
    const last = pts[pts.length - 1];
    if (last === undefined) return undefined;
    if (compareEvents(last, key) < 0) return last; // the common case: marks arrive in order
    let lo = 0;
    let hi = pts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareEvents(pts[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? undefined : pts[lo - 1];
  }
}

/** Sentinel key after every event: "now". */
export const END_KEY: Key = { ts: Number.MAX_SAFE_INTEGER, id: '\uffff' };

export class Marks {
  /** Series by pair `ASSET/QUOTE`. */
  private readonly series = new Map<string, Series>();
  /** Quotes seen per asset, for the one-hop cross. */
  private readonly quotes = new Map<string, Set<string>>();

  constructor(
    readonly reporting: string,
    /** Assets valued at exactly 1 R (configured R-equivalents). */
    readonly cashLike: ReadonlySet<string>,
  ) {}

  /** True for R and its configured equivalents: cash, never a position. */
  isCash(asset: string): boolean {
    return asset === this.reporting || this.cashLike.has(asset);
  }

  add(asset: string, quote: string, ts: TsUs, id: string, price: Dec): void {
    const pair = `${asset}/${quote}`;
    let s = this.series.get(pair);
    if (s === undefined) {
      s = new Series();
      this.series.set(pair, s);
      let qs = this.quotes.get(asset);
      if (qs === undefined) {
        qs = new Set();
        this.quotes.set(asset, qs);
      }
      qs.add(quote);
    }
    s.insert({ ts, id, price });
  }

  remove(asset: string, quote: string, key: Key): boolean {
    return this.series.get(`${asset}/${quote}`)?.remove(key) ?? false;
  }

  /** The mark of `asset` in `quote` before `key`, as given (no conversion). */
  pair(asset: string, quote: string, key: Key): Dec | undefined {
    return this.series.get(`${asset}/${quote}`)?.before(key)?.price;
  }

  /** r(X): the value of one unit of `asset` in R before `key`; undefined when unknown. */
  rate(asset: string, key: Key): Dec | undefined {
    if (this.isCash(asset)) return Dec.ONE;
    const direct = this.directRate(asset, key);
    if (direct !== undefined) return direct;
    const qs = this.quotes.get(asset);
    if (qs === undefined) return undefined;
    // Cross through the quote with the most recent mark; ties broken by quote name (determinism).
    let best: { p: Point; q: string } | undefined;
    for (const q of qs) {
      if (q === this.reporting) continue;
      const p = this.series.get(`${asset}/${q}`)?.before(key);
      if (p === undefined) continue;
      if (best === undefined || compareEvents(best.p, p) < 0 || (compareEvents(best.p, p) === 0 && q < best.q)) best = { p, q };
    }
    if (best === undefined) return undefined;
    const rq = this.isCash(best.q) ? Dec.ONE : this.directRate(best.q, key);
    return rq === undefined ? undefined : best.p.price.mul(rq);
  }

  private directRate(asset: string, key: Key): Dec | undefined {
    return this.series.get(`${asset}/${this.reporting}`)?.before(key)?.price;
  }

  /** Every pair's latest mark, sorted: for reports. */
  latest(): { pair: string; ts: TsUs; price: Dec }[] {
    const out: { pair: string; ts: TsUs; price: Dec }[] = [];
    for (const [pair, s] of this.series) {
      const p = s.points[s.points.length - 1];
      if (p !== undefined) out.push({ pair, ts: p.ts, price: p.price });
    }
    return out.sort((a, b) => (a.pair < b.pair ? -1 : a.pair > b.pair ? 1 : 0));
  }
}
