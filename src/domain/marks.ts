/**
 * Marks as a time series: every price event is kept under its (ts, id) key, so the rate of an
 * asset at any instant is a lookup, whatever order the marks arrived in. That makes valuation
 * causal and replayable (DOMAIN.md §2): booking an event never depends on arrival order.
 *
 * A mark counts for every event at or after its instant (a mark and a fill at the same microsecond:
 * the mark is known). Among marks of one pair at one instant, the one with the greatest id wins.
 *
 * r(X) at instant T: the latest direct mark of X in the reporting currency R at or before T;
 * failing that, the latest mark of X in another quote Q times r(Q) at T (one hop, Q's direct mark).
 */
import { Dec } from './decimal.js';
import { compareEvents, type TsUs } from './events.js';

export interface Key {
  readonly ts: TsUs;
  readonly id: string;
}

/** A mark added (its price) or removed (null), in the marks' journal. */
export type JournalEntry = readonly [asset: string, quote: string, ts: TsUs, id: string, price: Dec | null];

interface Point {
  readonly ts: TsUs;
  readonly id: string;
  readonly price: Dec;
}

/** One pair's marks, sorted by key. */
class Series {
  readonly points: Point[] = [];

  /** Inserts `p` in key order; false (nothing changed) when a point with its key is held. */
  insert(p: Point): boolean {
    const pts = this.points;
    const last = pts[pts.length - 1];
    if (last === undefined || compareEvents(last, p) < 0) {
      pts.push(p);
      return true;
    }
    let lo = 0;
    let hi = pts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareEvents(pts[mid]!, p) <= 0) lo = mid + 1;
      else hi = mid;
    }
    // A point already held under the same key (ts, id) stays the only one: a mark is one event,
    // and a restart may see it twice (the marks journal and the log's tail), never two points.
    const before = pts[lo - 1];
    if (before !== undefined && before.ts === p.ts && before.id === p.id) return false;
    pts.splice(lo, 0, p);
    return true;
  }

  remove(key: Key): boolean {
    const i = this.points.findIndex((p) => p.ts === key.ts && p.id === key.id);
    if (i < 0) return false;
    this.points.splice(i, 1);
    return true;
  }

  /** The latest point at or before `ts`. */
  at(ts: TsUs): Point | undefined {
    const pts = this.points;
    const last = pts[pts.length - 1];
    if (last === undefined) return undefined;
    if (last.ts <= ts) return last; // the common case: marks arrive in order
    let lo = 0;
    let hi = pts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (pts[mid]!.ts <= ts) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? undefined : pts[lo - 1];
  }
}

/** "Now": after every event. */
export const END_TS: TsUs = Number.MAX_SAFE_INTEGER;

export class Marks {
  /** Series by asset, then quote (nested: no pair strings to build on the hot path). */
  private readonly seriesByAsset = new Map<string, Map<string, Series>>();
  /**
   * Marks added (price set) and removed (price null) since the last `takeJournal`, in order,
   * once `journal()` turned it on: what a checkpoint writes instead of every mark.
   */
  private journalEntries: JournalEntry[] | undefined;

  /** Starts keeping the journal (empty). */
  journal(): void {
    this.journalEntries = [];
  }

  /** The journal since the last call, emptied. */
  takeJournal(): JournalEntry[] {
    const out = this.journalEntries ?? [];
    if (this.journalEntries !== undefined) this.journalEntries = [];
    return out;
  }

  /** Changes so far (marks added or removed), and per asset the count at its last one: see `unchangedSince`. */
  private changes = 0;
  private readonly stamps = new Map<string, number>();

  /** The count of changes so far: a reading taken now stays current while `unchangedSince(it, assets)`. */
  get clock(): number {
    return this.changes;
  }

  /**
   * Whether no series of any of `assets` changed after the count `clock`: then every rate that
   * consulted only them (the `touched` of `rate`) is the same.
   */
  unchangedSince(clock: number, assets: readonly string[]): boolean {
    if (this.changes === clock) return true;
    for (let i = 0; i < assets.length; i++) if ((this.stamps.get(assets[i]!) ?? 0) > clock) return false;
    return true;
  }

  /** Every asset with a series changed after the count `clock` (a pass over the assets with marks). */
  changedSince(clock: number): string[] {
    const out: string[] = [];
    if (this.changes === clock) return out;
    // forEach: no entry array per asset (this runs at every report of a changing book).
    this.stamps.forEach((stamp, asset) => {
      if (stamp > clock) out.push(asset);
    });
    return out;
  }

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
    let byQuote = this.seriesByAsset.get(asset);
    if (byQuote === undefined) {
      byQuote = new Map();
      this.seriesByAsset.set(asset, byQuote);
    }
    let s = byQuote.get(quote);
    if (s === undefined) {
      s = new Series();
      byQuote.set(quote, s);
    }
    if (!s.insert({ ts, id, price })) return;
    this.stamps.set(asset, ++this.changes);
    this.journalEntries?.push([asset, quote, ts, id, price]);
  }

  remove(asset: string, quote: string, key: Key): boolean {
    const removed = this.seriesByAsset.get(asset)?.get(quote)?.remove(key) ?? false;
    if (removed) {
      this.stamps.set(asset, ++this.changes);
      this.journalEntries?.push([asset, quote, key.ts, key.id, null]);
    }
    return removed;
  }

  /**
   * The series of `asset`'s direct marks in R, for callers that read it often (a route): its
   * `at(ts)`, when defined, is r(asset) at ts. Undefined until a first such mark arrives.
   */
  directSeries(asset: string): { at(ts: TsUs): { readonly price: Dec } | undefined } | undefined {
    return this.seriesByAsset.get(asset)?.get(this.reporting);
  }

  /** The mark of `asset` in `quote` at `ts`, as given (no conversion). */
  pair(asset: string, quote: string, ts: TsUs): Dec | undefined {
    return this.seriesByAsset.get(asset)?.get(quote)?.at(ts)?.price;
  }

  /**
   * r(X) at `ts`: the value of one unit of `asset` in R; undefined when unknown. `touched`
   * collects every asset whose marks could change the answer (X, and each quote a cross may use),
   * so that a late mark of any of them rebooks what read this rate.
   */
  rate(asset: string, ts: TsUs, touched?: Set<string>): Dec | undefined {
    if (this.isCash(asset)) return Dec.ONE;
    touched?.add(asset);
    const byQuote = this.seriesByAsset.get(asset);
    if (byQuote === undefined) return undefined;
    const direct = byQuote.get(this.reporting)?.at(ts);
    if (direct !== undefined) return direct.price;
    // Cross through the quote with the most recent mark; ties broken by quote name (determinism).
    let best: { p: Point; q: string } | undefined;
    for (const [q, s] of byQuote) {
      if (q === this.reporting) continue;
      touched?.add(q);
      const p = s.at(ts);
      if (p === undefined) continue;
      if (best === undefined || compareEvents(best.p, p) < 0 || (compareEvents(best.p, p) === 0 && q < best.q)) best = { p, q };
    }
    if (best === undefined) return undefined;
    const rq = this.isCash(best.q) ? Dec.ONE : this.seriesByAsset.get(best.q)?.get(this.reporting)?.at(ts)?.price;
    return rq === undefined ? undefined : best.p.price.mul(rq);
  }

  /**
   * A derivative's mark in its quote: the instrument's own mark, else the base's mark in that
   * quote, else (a cash-like quote) the base's rate in R.
   */
  instrumentMark(symbol: string, base: string, quote: string, ts: TsUs, touched?: Set<string>): Dec | undefined {
    touched?.add(symbol);
    touched?.add(base);
    return this.pair(symbol, quote, ts) ?? this.pair(base, quote, ts) ?? (this.isCash(quote) ? this.rate(base, ts, touched) : undefined);
  }

  /** Every series, sorted by pair: for snapshots. */
  series(): [string, string, readonly { ts: TsUs; id: string; price: Dec }[]][] {
    const out: [string, string, readonly Point[]][] = [];
    for (const [asset, byQuote] of this.seriesByAsset) for (const [quote, s] of byQuote) out.push([asset, quote, s.points]);
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  }

  /** Every pair's latest mark, sorted: for reports. */
  latest(): { pair: string; ts: TsUs; price: Dec }[] {
    const out: { pair: string; ts: TsUs; price: Dec }[] = [];
    for (const [asset, byQuote] of this.seriesByAsset) {
      for (const [quote, s] of byQuote) {
        const p = s.points[s.points.length - 1];
        if (p !== undefined) out.push({ pair: `${asset}/${quote}`, ts: p.ts, price: p.price });
      }
    }
    return out.sort((a, b) => (a.pair < b.pair ? -1 : a.pair > b.pair ? 1 : 0));
  }
}
