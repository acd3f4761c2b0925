/**
 * The ledger: takes validated events in any order and keeps every book's state equal to a clean
 * replay of the corrected log in (ts, id) order.
 *
 * - Each book has a timeline: its effective events (originals with their amends applied, cancelled
 *   ones left out) sorted by (ts, id). An event after the end of its timeline is simply booked; a
 *   late one is inserted and the book is rebooked from the nearest snapshot before it.
 * - Marks are a time series (marks.ts); a late mark rebooks only the books that read that asset's
 *   rate after it.
 * - Duplicates (same id, same content) are no-ops; the same id with other content is refused.
 * - A correction whose target has not arrived waits for it, so arrival order never matters.
 *
 * With `retain: false` (streaming replay of a large, sorted file) no timeline is kept; anything
 * that would need a rebook sets `needsReplay` instead, and the caller replays with retention.
 */
import { BookState, bookEvent, DEFAULT_SETTINGS, type BookingContext, type BookSettings } from './book.js';
import { Dec } from './decimal.js';
import type { RejectCode } from './errors.js';
import { compareEvents, isBookEvent, type AmendEvent, type BalanceEvent, type BookEvent, type CancelEvent, type LedgerEvent, type TradeEvent, type TsUs } from './events.js';
import { IdHashSet } from './idset.js';
import { InstrumentRegistry } from './instrument.js';
import { Marks, type Key } from './marks.js';

export interface LedgerConfig {
  /** The reporting currency R. */
  readonly reporting: string;
  /** Assets valued at exactly 1 R and kept as cash (e.g. USDT when configured so). */
  readonly cashLike: readonly string[];
  readonly defaults: BookSettings;
  /** Per-book overrides of the defaults. */
  readonly books: Readonly<Record<string, Partial<BookSettings>>>;
  /** Keep timelines and events so that late events and corrections rebook (default true). */
  readonly retain: boolean;
  /** Events between a book's snapshots, at least (a late event replays at most this many plus the tail); more for a large book. */
  readonly snapshotEvery: number;
  /** As-of: events (and marks) after this instant are left out. */
  readonly until: TsUs | undefined;
  /** About how many events will come (a hint, e.g. from a file's size): streaming sizes its id set for them. */
  readonly expectedEvents: number;
}

export const DEFAULT_CONFIG: LedgerConfig = {
  reporting: 'USD',
  cashLike: [],
  defaults: DEFAULT_SETTINGS,
  books: {},
  retain: true,
  snapshotEvery: 4096,
  until: undefined,
  expectedEvents: 0,
};

/**
 * What the ledger needs before it can take an event (windowed books, see `trim`): `book`'s events
 * from before `before`, given back with `rebase`. Nothing was changed; submit the event again then.
 */
export interface HistoryNeed {
  readonly book: string;
  readonly before: Key;
}

export type SubmitResult =
  | { readonly status: 'booked' | 'stored' | 'duplicate' | 'ignored' }
  | { readonly status: 'rejected' | 'unbooked'; readonly code: RejectCode; readonly message: string }
  | { readonly status: 'history'; readonly need: HistoryNeed };

/** A book's state after every effective event up to `key`: the start of a window. */
export interface BookBase {
  readonly key: Key;
  readonly state: BookState;
}

/** A large book's snapshots are at least this many events apart per position it holds. */
const SNAPSHOT_EVENTS_PER_POSITION = 4;

const BOOKED: SubmitResult = { status: 'booked' };
const STORED: SubmitResult = { status: 'stored' };
const DUPLICATE: SubmitResult = { status: 'duplicate' };
const IGNORED: SubmitResult = { status: 'ignored' };

interface Snapshot {
  readonly index: number;
  readonly state: BookState;
}

/**
 * One book: its timeline of effective events and the state after all of them. A windowed line
 * (after `trim`, `rebase` or `restore`) starts from `base`: the state after every event up to
 * `base.key`, whose events are no longer held here.
 */
class BookLine {
  timeline: BookEvent[] = [];
  snapshots: Snapshot[] = [];
  state: BookState;
  base: Key | undefined;
  /** Assets whose marks this book's bookings have read (conservative: never shrinks). */
  readonly consulted = new Set<string>();
  /** Key of the last event booked, for detecting late events without a timeline. */
  last: Key | undefined;
  /** True while the ledger's `changed` holds this book (no set insertion per event booked). */
  inChanged = false;

  constructor(
    readonly book: string,
    readonly settings: BookSettings,
  ) {
    this.state = new BookState(book, settings);
  }
}

export class Ledger {
  readonly config: LedgerConfig;
  readonly marks: Marks;
  readonly instruments: InstrumentRegistry;
  private readonly ctx: BookingContext;
  private readonly lines = new Map<string, BookLine>();
  /** Ids seen with their events, for idempotency and corrections (retain mode). */
  private readonly seen = new Map<string, LedgerEvent>();
  /**
   * The marks', venue reports' and terms' events put in `seen`, in the order they came: what
   * `trim` lets go of (without a pass over every id held, which the books' events fill).
   */
  private heldRefs: LedgerEvent[] = [];
  /** Windows' events a deferred trim has yet to let go of (`forgetSome`): each a range of an old timeline. */
  private deferred: { events: readonly LedgerEvent[]; at: number; end: number }[] = [];
  /** Ids seen (streaming mode): a repeat, or a correction, asks for the retaining replay. */
  private readonly seenIds: IdHashSet;
  private readonly cancels = new Map<string, CancelEvent[]>();
  private readonly amends = new Map<string, AmendEvent[]>();
  /** Venue-reported balances, kept for reconciliation. */
  reports: BalanceEvent[] = [];
  /** Books whose state changed since the last `takeChanged()`. */
  private changed = new Set<string>();
  /** True once a book has a base (trim, rebase, restore): submissions check for history needs. */
  private windowed = false;
  /** Set in streaming mode when an event needed a rebook that could not be done. */
  needsReplay = false;

  constructor(config: Partial<LedgerConfig> = {}, instruments?: InstrumentRegistry) {
    this.config = { ...DEFAULT_CONFIG, ...config };
    this.marks = new Marks(this.config.reporting, new Set(this.config.cashLike));
    this.instruments = instruments ?? new InstrumentRegistry();
    this.ctx = { marks: this.marks, instruments: this.instruments };
    this.seenIds = new IdHashSet(this.config.retain ? 0 : this.config.expectedEvents);
  }

  settingsOf(book: string): BookSettings {
    return { ...this.config.defaults, ...this.config.books[book] };
  }

  /** Books (or stores) one validated event. Never throws on bad business input. */
  submit(e: LedgerEvent): SubmitResult {
    if (!this.config.retain) {
      // Streaming books a sorted log of distinct events; anything else needs the retaining pass.
      if (this.seenIds.add(e.id) || e.type === 'cancel' || e.type === 'amend') {
        this.needsReplay = true;
        return STORED;
      }
    } else {
      const prev = this.seen.get(e.id);
      if (prev !== undefined) {
        if (contentText(prev) === contentText(e)) return DUPLICATE;
        if (e.type === 'instrument' && prev.type === 'instrument' && prev.symbol === e.symbol && prev.venue === e.venue) {
          // Terms are reference data: the same terms sent again (another ts, say) are a duplicate.
          if (prev.multiplier.eq(e.multiplier)) return DUPLICATE;
          return { status: 'rejected', code: 'INSTRUMENT_CONFLICT', message: `instrument ${e.symbol}@${e.venue ?? '*'}: terms already registered with multiplier ${prev.multiplier.toString()}` };
        }
        return { status: 'rejected', code: 'DUPLICATE_CONFLICT', message: `${e.type} ${e.id}: id already used by an event with different content` };
      }
      if (this.windowed) {
        const need = this.needFor(e);
        if (need !== undefined) return { status: 'history', need };
      }
    }
    if (e.type === 'instrument') {
      if (!this.instruments.register(e.symbol, e.venue, e.multiplier)) {
        return { status: 'rejected', code: 'INSTRUMENT_CONFLICT', message: `instrument ${e.symbol}@${e.venue ?? '*'}: terms already registered with another multiplier` };
      }
      if (this.config.retain) this.hold(e);
      return STORED;
    }
    if (this.config.retain) this.hold(e);
    switch (e.type) {
      case 'balance':
        this.reports.push(e);
        return STORED;
      case 'cancel':
      case 'amend':
        return this.correct(e);
      case 'price':
        if (this.isCancelled(e.id)) return STORED;
        return this.addMark(e.asset, e.quote, e, e.price);
      default:
        return this.place(this.effective(e));
    }
  }

  /** The event as corrected: undefined when cancelled, else with its amends applied in (ts, id) order. */
  private effective(e: BookEvent): BookEvent | undefined {
    if (this.cancels.size === 0 && this.amends.size === 0) return e; // the common case: no corrections
    if (this.isCancelled(e.id)) return undefined;
    const amends = this.amends.get(e.id);
    if (amends === undefined || e.type !== 'trade') return e;
    let t: TradeEvent = e;
    for (const a of amends) if (!this.isCancelled(a.id)) t = { ...t, ...a.fields };
    return t;
  }

  /** The event with this id as it arrived (retain mode), or undefined. */
  private original(id: string): LedgerEvent | undefined {
    return this.seen.get(id);
  }

  private isCancelled(id: string): boolean {
    const cs = this.cancels.get(id);
    return cs !== undefined && cs.length > 0;
  }

  private line(book: string): BookLine {
    let l = this.lines.get(book);
    if (l === undefined) {
      l = new BookLine(book, this.settingsOf(book));
      this.lines.set(book, l);
    }
    return l;
  }

  private addMark(asset: string, quote: string, key: Key, price: Dec): SubmitResult {
    if (this.config.until !== undefined && key.ts > this.config.until) return IGNORED;
    this.marks.add(asset, quote, key.ts, key.id, price);
    this.rebookAfterMark(asset, key);
    return BOOKED;
  }

  /** A mark at `key.ts` counts for events at or after that instant: rebook those that read it. */
  private rebookAfterMark(asset: string, key: Key): void {
    for (const l of this.lines.values()) {
      if (l.last === undefined || l.last.ts < key.ts || !l.consulted.has(asset)) continue;
      if (!this.config.retain) {
        this.needsReplay = true;
        return;
      }
      this.rebook(l, lowerBound(l.timeline, { ts: key.ts, id: '' }));
    }
  }

  /** Puts an effective book event on its timeline: appended and booked, or inserted and rebooked. */
  private place(e: BookEvent | undefined): SubmitResult {
    if (e === undefined) return STORED;
    if (this.config.until !== undefined && e.ts > this.config.until) return IGNORED;
    const l = this.line(e.book);
    if (l.last === undefined || compareEvents(l.last, e) < 0) {
      if (this.config.retain) l.timeline.push(e);
      return this.bookNext(l, e);
    }
    if (!this.config.retain) {
      this.needsReplay = true;
      return STORED;
    }
    const i = lowerBound(l.timeline, e);
    l.timeline.splice(i, 0, e);
    this.rebook(l, i);
    const u = l.state.unbooked.get(e.id);
    return u === undefined ? BOOKED : { status: 'unbooked', code: u.code, message: u.message };
  }

  /** Removes an effective event from its timeline (it was cancelled or is being amended). */
  private unplace(e: BookEvent): void {
    const l = this.lines.get(e.book);
    if (l === undefined) return;
    const i = lowerBound(l.timeline, e);
    const at = l.timeline[i];
    if (at === undefined || at.id !== e.id) return; // it was left out (after `until`)
    l.timeline.splice(i, 1);
    this.rebook(l, i);
  }

  private bookNext(l: BookLine, e: BookEvent): SubmitResult {
    const out = bookEvent(l.state, e, this.ctx, l.consulted);
    if (!l.inChanged) {
      this.changed.add(l.book);
      l.inChanged = true;
    }
    l.last = e;
    if (this.config.retain && l.timeline.length - (l.snapshots.at(-1)?.index ?? 0) >= this.snapshotInterval(l)) {
      l.snapshots.push({ index: l.timeline.length, state: l.state.clone() });
    }
    return out === undefined ? BOOKED : { status: 'unbooked', code: out.code, message: out.message };
  }

  /** Rebooks a book from the last snapshot at or before timeline index `from`. */
  private rebook(l: BookLine, from: number): void {
    let s = l.snapshots.length - 1;
    while (s >= 0 && l.snapshots[s]!.index > from) s--;
    const snap = s >= 0 ? l.snapshots[s]! : undefined;
    l.snapshots = l.snapshots.slice(0, s + 1);
    l.state = snap === undefined ? new BookState(l.book, l.settings) : snap.state.clone();
    const start = snap?.index ?? 0;
    l.last = start === 0 ? l.base : l.timeline[start - 1];
    this.changed.add(l.book);
    let since = start;
    for (let i = start; i < l.timeline.length; i++) {
      const e = l.timeline[i]!;
      bookEvent(l.state, e, this.ctx, l.consulted);
      l.last = e;
      if (i + 1 - since >= this.snapshotInterval(l)) {
        l.snapshots.push({ index: i + 1, state: l.state.clone() });
        since = i + 1;
      }
    }
  }

  /**
   * Events between a book's snapshots: `snapshotEvery`, or more for a large book, so that copying
   * the book costs about as much as booking the events between two copies (a book of 5,000
   * positions: every 20,000 events instead of 4,096). The window then holds fewer copies of it,
   * and a late event replays at most this many events.
   */
  private snapshotInterval(l: BookLine): number {
    return Math.max(this.config.snapshotEvery, SNAPSHOT_EVENTS_PER_POSITION * l.state.positions.size);
  }

  private correct(c: CancelEvent | AmendEvent): SubmitResult {
    const target = this.original(c.target);
    // What the target (or, for a cancel of an amend, the amend's target) looked like before.
    const affected = target?.type === 'amend' ? this.original(target.target) : target;
    const before = affected !== undefined && isBookEvent(affected) ? this.effective(affected) : undefined;
    const wasPrice = affected?.type === 'price' && !this.isCancelled(affected.id);
    if (c.type === 'cancel') pushTo(this.cancels, c.target, c);
    else pushTo(this.amends, c.target, c, true);
    if (affected === undefined) return STORED; // waits for its target
    if (affected.type === 'price') {
      if (wasPrice && this.isCancelled(affected.id)) {
        this.marks.remove(affected.asset, affected.quote, affected);
        this.rebookAfterMark(affected.asset, affected);
      }
      return STORED;
    }
    if (!isBookEvent(affected)) return STORED;
    const after = this.effective(affected);
    if (before !== undefined) this.unplace(before);
    return this.place(after);
  }

  // ---- windows: bounded memory for a long-running service ----

  /**
   * What `e` needs from before a windowed book's base, if anything: the book's events from
   * before the first key its booking would change.
   */
  private needFor(e: LedgerEvent): HistoryNeed | undefined {
    switch (e.type) {
      case 'price':
        return this.isCancelled(e.id) ? undefined : this.markNeed(e.asset, e);
      case 'cancel':
      case 'amend':
        return this.correctionNeed(e);
      case 'balance':
      case 'instrument':
        return undefined;
      default: {
        const eff = this.effective(e);
        return eff === undefined ? undefined : this.keyNeed(eff.book, eff);
      }
    }
  }

  private keyNeed(book: string, key: Key): HistoryNeed | undefined {
    const l = this.lines.get(book);
    if (l?.base === undefined || compareEvents(key, l.base) > 0) return undefined;
    return { book, before: { ts: key.ts, id: key.id } };
  }

  /** A mark at `key.ts` rebooks from the first event at that instant: before every window that holds one. */
  private markNeed(asset: string, key: Key): HistoryNeed | undefined {
    if (this.config.until !== undefined && key.ts > this.config.until) return undefined;
    for (const l of this.lines.values()) {
      if (l.base !== undefined && l.base.ts >= key.ts && l.consulted.has(asset)) return { book: l.book, before: { ts: key.ts, id: '' } };
    }
    return undefined;
  }

  private correctionNeed(c: CancelEvent | AmendEvent): HistoryNeed | undefined {
    const target = this.original(c.target);
    const affected = target?.type === 'amend' ? this.original(target.target) : target;
    if (affected === undefined) return undefined;
    if (affected.type === 'price') return c.type === 'cancel' && target === affected && !this.isCancelled(affected.id) ? this.markNeed(affected.asset, affected) : undefined;
    if (!isBookEvent(affected)) return undefined;
    const before = this.effective(affected);
    // The event as it would be with `c`: tried on the correction maps, then taken back.
    const map: Map<string, (CancelEvent | AmendEvent)[]> = c.type === 'cancel' ? this.cancels : this.amends;
    pushTo(map, c.target, c, c.type === 'amend');
    const after = this.effective(affected);
    const list = map.get(c.target)!;
    list.splice(list.indexOf(c), 1);
    if (list.length === 0) map.delete(c.target);
    const keys = [before, after].filter((k): k is BookEvent => k !== undefined).sort(compareEvents);
    return keys.length === 0 ? undefined : this.keyNeed(affected.book, keys[0]!);
  }

  /** The books whose state changed since the last call (booked, rebooked, rebased). */
  takeChanged(): string[] {
    const out = [...this.changed];
    this.changed = new Set();
    for (const book of out) {
      const l = this.lines.get(book);
      if (l !== undefined) l.inChanged = false;
    }
    return out;
  }

  /** Whether an event with this id is held here (booked in a window, stored, or waiting). */
  knows(id: string): boolean {
    return this.seen.has(id);
  }

  /**
   * Lets go of every book's events up to its last snapshot before `cut`, or a later one when more
   * than `maxKeep` events would stay (and of the marks', reports' and terms' events before `cut`,
   * whose effects stay): that snapshot becomes the book's base.
   * A later event before a base asks for history (`status: 'history'`). Returns the new bases, for
   * the caller to keep where `rebase` can find them again.
   */
  trim(cut: TsUs, maxKeep = Number.MAX_SAFE_INTEGER, options: { deferForget?: boolean } = {}): { book: string; base: BookBase }[] {
    this.forgetDeferred();
    const out: { book: string; base: BookBase }[] = [];
    for (const l of this.lines.values()) {
      // The latest snapshot before `cut`…
      let s = l.snapshots.length - 1;
      while (s >= 0 && (l.snapshots[s]!.index === 0 || l.timeline[l.snapshots[s]!.index - 1]!.ts >= cut)) s--;
      // …or a later one, when more than `maxKeep` events would stay (a busy book's hour is long).
      if (l.timeline.length > maxKeep) {
        const first = l.snapshots.findIndex((x) => x.index > 0 && l.timeline.length - x.index <= maxKeep);
        if (first > s) s = first;
      }
      if (s < 0) continue;
      const snap = l.snapshots[s]!;
      const last = l.timeline[snap.index - 1]!;
      if (options.deferForget === true) this.deferred.push({ events: l.timeline, at: 0, end: snap.index });
      else for (let i = 0; i < snap.index; i++) this.forget(l.timeline[i]!.id);
      l.timeline = l.timeline.slice(snap.index);
      l.snapshots = l.snapshots.slice(s).map((x) => ({ index: x.index - snap.index, state: x.state }));
      l.base = { ts: last.ts, id: last.id };
      this.windowed = true;
      out.push({ book: l.book, base: { key: l.base, state: snap.state } });
    }
    const held: LedgerEvent[] = [];
    for (const e of this.heldRefs) {
      if (this.seen.get(e.id) !== e) continue; // let go of already
      // Kept when corrected: a correction's target stays known (and an invalid one stays reported).
      if (e.ts < cut && !this.cancels.has(e.id) && !this.amends.has(e.id)) this.forget(e.id);
      else held.push(e);
    }
    this.heldRefs = held;
    // Reports: those from `cut` on, and the latest before it of each (venue, account, asset).
    const latest = new Map<string, BalanceEvent>();
    for (const r of this.reports) {
      if (r.ts >= cut) continue;
      const k = `${r.venue}\u0000${r.account}\u0000${r.asset}`;
      const had = latest.get(k);
      if (had === undefined || compareEvents(had, r) < 0) latest.set(k, r);
    }
    const keep = new Set(latest.values());
    this.reports = this.reports.filter((r) => r.ts >= cut || keep.has(r));
    return out;
  }

  /** Forgets an event and every correction of it (their effects stay in the states). */
  /**
   * Lets go of up to `max` of the ids a deferred trim left held (`trim(…, { deferForget: true })`:
   * a large window lets go of hundreds of thousands, which the caller spreads over slices).
   * Returns whether any are left. Until then they are held as if remembered: a repeat is still
   * a duplicate, a correction of one still finds it (and asks for its history).
   */
  forgetSome(max: number): boolean {
    let n = 0;
    while (this.deferred.length > 0) {
      const d = this.deferred[0]!;
      while (d.at < d.end && n < max) {
        const e = d.events[d.at++]!;
        if (this.seen.get(e.id) === e) this.forget(e.id);
        n++;
      }
      if (d.at < d.end) return true;
      this.deferred.shift();
    }
    return false;
  }

  /** Lets go of every id a deferred trim left held (before anything that holds events again). */
  private forgetDeferred(): void {
    if (this.deferred.length > 0) this.forgetSome(Number.MAX_SAFE_INTEGER);
  }

  private forget(id: string): void {
    this.seen.delete(id);
    if (this.cancels.size > 0) this.forgetCorrections(this.cancels, id);
    if (this.amends.size > 0) this.forgetCorrections(this.amends, id);
  }

  private forgetCorrections(m: Map<string, (CancelEvent | AmendEvent)[]>, id: string): void {
    const cs = m.get(id);
    if (cs === undefined) return;
    m.delete(id);
    for (const c of cs) this.forget(c.id);
  }

  /** Puts `e` in `seen` (and in `heldRefs` when `trim` lets go of its kind by time). */
  private hold(e: LedgerEvent): void {
    this.seen.set(e.id, e);
    if (e.type === 'price' || e.type === 'balance' || e.type === 'instrument') this.heldRefs.push(e);
  }

  /**
   * Rebuilds `book` from `base` (undefined: from nothing) and `events`: every event of the book
   * that could be effective after the base, with every correction of them, as the store holds
   * them (events already held here may be among them). Answers a `history` need.
   */
  rebase(book: string, base: BookBase | undefined, events: readonly LedgerEvent[]): void {
    this.forgetDeferred();
    this.remember(events);
    const l = this.line(book);
    const originals = new Map<string, BookEvent>();
    for (const e of events) if (isBookEvent(e) && e.book === book) originals.set(e.id, this.seen.get(e.id) as BookEvent);
    for (const e of l.timeline) {
      const o = this.seen.get(e.id);
      if (o !== undefined && isBookEvent(o) && !originals.has(e.id)) originals.set(e.id, o);
    }
    const timeline: BookEvent[] = [];
    for (const o of originals.values()) {
      const eff = this.effective(o);
      if (eff === undefined || (base !== undefined && compareEvents(eff, base.key) <= 0)) continue;
      if (this.config.until !== undefined && eff.ts > this.config.until) continue;
      timeline.push(eff);
    }
    timeline.sort(compareEvents);
    l.timeline = timeline;
    l.base = base === undefined ? undefined : { ts: base.key.ts, id: base.key.id };
    l.snapshots = base === undefined ? [] : [{ index: 0, state: base.state }];
    if (base !== undefined) this.windowed = true;
    this.rebook(l, 0);
  }

  /**
   * Holds events again whose effects are already in the state (a mark, say, that a correction
   * now targets), with their corrections: nothing is booked.
   */
  remember(events: readonly LedgerEvent[]): void {
    this.forgetDeferred();
    for (const e of events) {
      if (this.seen.has(e.id)) continue;
      this.hold(e);
      if (e.type === 'cancel') pushTo(this.cancels, e.target, e);
      else if (e.type === 'amend') pushTo(this.amends, e.target, e, true);
    }
  }

  /** Each book's state, last key and the marks it read: what `restoreBook` takes back. */
  checkpoint(): { book: string; last: Key | undefined; consulted: string[]; state: BookState }[] {
    return [...this.lines.values()].map((l) => ({ book: l.book, last: l.last === undefined ? undefined : { ts: l.last.ts, id: l.last.id }, consulted: [...l.consulted].sort(), state: l.state }));
  }

  /** Ids of corrections whose target has not arrived: they must outlive a restart. */
  pendingCorrections(): string[] {
    const out: string[] = [];
    /** Whether the chain of corrections from `id` ends at an event that has not arrived. */
    const waits = (id: string): boolean => {
      for (let i = 0, t = this.seen.get(id); i < 3; i++, t = this.seen.get(id)) {
        if (t === undefined) return true;
        if (t.type !== 'cancel' && t.type !== 'amend') return false;
        id = t.target;
      }
      return false;
    };
    for (const m of [this.cancels, this.amends]) for (const [target, cs] of m) if (waits(target)) for (const c of cs) out.push(c.id);
    return out.sort();
  }

  /** Takes a book back from a checkpoint: a window that starts after `last`. */
  restoreBook(book: string, last: Key | undefined, consulted: readonly string[], state: BookState): void {
    const l = new BookLine(book, state.settings);
    l.state = state;
    l.base = last;
    l.last = last;
    l.snapshots = [{ index: 0, state: state.clone() }];
    for (const a of consulted) l.consulted.add(a);
    this.lines.set(book, l);
    if (last !== undefined) this.windowed = true;
  }

  // ---- reading the state ----

  /**
   * Takes a book's state as it is (from a snapshot, e.g. booked by another thread): the book is
   * then read-only here, for reports; it has no timeline to rebook.
   */
  adoptBook(state: BookState): void {
    const l = new BookLine(state.book, state.settings);
    l.state = state;
    this.lines.set(state.book, l);
  }

  /** Books with anything booked or refused (a book whose every event was cancelled is gone). */
  bookNames(): string[] {
    const names: string[] = [];
    for (const [name, l] of this.lines) if (l.state.booked > 0 || l.state.unbooked.size > 0) names.push(name);
    return names.sort();
  }

  bookState(book: string): BookState | undefined {
    return this.lines.get(book)?.state;
  }

  /**
   * The book's effective events with `fromTs <= ts <= toTs`, read only (nothing is booked), and
   * whether they are all of them (false when the window starts later, or nothing is retained).
   */
  timelineSlice(book: string, fromTs: TsUs, toTs: TsUs): { events: readonly BookEvent[]; complete: boolean } {
    const l = this.lines.get(book);
    if (l === undefined) return { events: [], complete: true };
    if (!this.config.retain) return { events: [], complete: l.last === undefined || l.last.ts < fromTs };
    const i = lowerBound(l.timeline, { ts: fromTs, id: '' });
    let j = i;
    while (j < l.timeline.length && l.timeline[j]!.ts <= toTs) j++;
    return { events: l.timeline.slice(i, j), complete: l.base === undefined || l.base.ts < fromTs };
  }

  /** The first instant a cursor over `book` can start at (undefined: the book is unknown). */
  windowStart(book: string): TsUs | undefined {
    const l = this.lines.get(book);
    if (l === undefined) return undefined;
    if (!this.config.retain) return l.last === undefined ? Number.MIN_SAFE_INTEGER : l.last.ts + 1;
    return l.base === undefined ? Number.MIN_SAFE_INTEGER : l.base.ts + 1;
  }

  /**
   * A replay of `book` on a copy, for reading the past (reconciliation as of a venue's report):
   * it starts with the state after every effective event before `fromTs` and books the rest of
   * the timeline one event at a time. The ledger itself is never changed. Undefined for an unknown
   * book; a `HistoryNeed` when the book's window (or a streaming ledger) cannot say what it held
   * before `fromTs`: the caller asks the store (a ledger rebased on that book's history).
   */
  cursor(book: string, fromTs: TsUs, detached = false, lazy = false): BookCursor | HistoryNeed | undefined {
    const l = this.lines.get(book);
    if (l === undefined) return undefined;
    const need: HistoryNeed = { book, before: { ts: fromTs, id: '' } };
    // Nothing at or after `fromTs`: the state as it is (read only, never booked into).
    if (l.last === undefined || l.last.ts < fromTs) return new BookCursor(detached ? l.state.clone() : l.state, [], 0, this.ctx);
    if (!this.config.retain || (l.base !== undefined && l.base.ts >= fromTs)) return need;
    let s = l.snapshots.length - 1;
    while (s >= 0 && l.snapshots[s]!.index > 0 && l.timeline[l.snapshots[s]!.index - 1]!.ts >= fromTs) s--;
    const snap = s >= 0 ? l.snapshots[s]! : undefined;
    if (snap === undefined && (l.base !== undefined || l.timeline.length === 0)) return need; // adopted or windowed without its base
    // Detached: on its own copy of the events from the snapshot on, so that it can be read later,
    // in slices, while the ledger books on (the marks and terms are still the ledger's).
    const from = snap?.index ?? 0;
    const cursor = detached
      ? new BookCursor(snap === undefined ? new BookState(l.book, l.settings) : snap.state.clone(), l.timeline.slice(from), 0, this.ctx)
      : new BookCursor(snap === undefined ? new BookState(l.book, l.settings) : snap.state.clone(), l.timeline, from, this.ctx);
    // Lazy: the caller books up to `fromTs` itself (a detached cursor, in slices outside the lane).
    if (!lazy) cursor.advanceBefore(fromTs);
    return cursor;
  }

  /** Corrections whose target never arrived, or that target something they cannot correct. */
  invalidCorrections(): { id: string; code: 'ORPHAN_CORRECTION' | 'CORRECTION_TARGET_INVALID'; message: string }[] {
    const out: { id: string; code: 'ORPHAN_CORRECTION' | 'CORRECTION_TARGET_INVALID'; message: string }[] = [];
    const check = (target: string, c: CancelEvent | AmendEvent): void => {
      const t = this.original(target);
      if (t === undefined && !this.seen.has(target)) {
        out.push({ id: c.id, code: 'ORPHAN_CORRECTION', message: `${c.type} ${c.id}: target ${target} never arrived` });
      } else if (t !== undefined && c.type === 'amend' && t.type !== 'trade') {
        out.push({ id: c.id, code: 'CORRECTION_TARGET_INVALID', message: `amend ${c.id}: only trades can be amended, ${target} is a ${t.type}` });
      } else if (t !== undefined && c.type === 'cancel' && (t.type === 'cancel' || t.type === 'instrument' || t.type === 'balance')) {
        out.push({ id: c.id, code: 'CORRECTION_TARGET_INVALID', message: `cancel ${c.id}: a ${t.type} cannot be cancelled (${target})` });
      }
    };
    for (const [target, cs] of this.cancels) for (const c of cs) check(target, c);
    for (const [target, as] of this.amends) for (const a of as) check(target, a);
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}

/**
 * A book replayed on a copy (see `Ledger.cursor`): `state` is the book after every event before
 * `peek()`. Used synchronously: the ledger must not take events while a cursor is being read.
 */
export class BookCursor {
  private readonly consulted = new Set<string>();
  /** Whether the book refused the last event `next()` booked (UNVALUED…): the state did not move. */
  refused = false;

  constructor(
    readonly state: BookState,
    private readonly timeline: readonly BookEvent[],
    private at: number,
    private readonly ctx: BookingContext,
  ) {}

  /** The next event to book, if any. */
  peek(): BookEvent | undefined {
    return this.timeline[this.at];
  }

  /** Books the next event and returns it (undefined at the end). */
  next(): BookEvent | undefined {
    const e = this.timeline[this.at];
    if (e === undefined) return undefined;
    this.at++;
    this.refused = bookEvent(this.state, e, this.ctx, this.consulted) !== undefined;
    return e;
  }

  /** Books every event before `ts`. */
  advanceBefore(ts: TsUs): void {
    for (let e = this.peek(); e !== undefined && e.ts < ts; e = this.peek()) this.next();
  }

  /** Books every event at or before `ts`: the state is then the book as of `ts`. */
  advanceTo(ts: TsUs): void {
    for (let e = this.peek(); e !== undefined && e.ts <= ts; e = this.peek()) this.next();
  }
}

function pushTo<T extends { ts: TsUs; id: string }>(m: Map<string, T[]>, key: string, v: T, sorted = false): void {
  const list = m.get(key);
  if (list === undefined) m.set(key, [v]);
  else {
    list.push(v);
    if (sorted) list.sort(compareEvents);
  }
}

/** First index whose event is not before `key`. */
function lowerBound(list: readonly BookEvent[], key: Key): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareEvents(list[mid]!, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A canonical text of an event's content: equal texts, equal events (key order never matters). */
export function contentText(e: LedgerEvent): string {
  return valueText(e);
}

function valueText(v: unknown): string {
  if (v instanceof Dec) return `#${v.toString()}`;
  if (v === undefined) return '~';
  if (typeof v === 'object' && v !== null) {
    if (Array.isArray(v)) return `[${v.map(valueText).join(',')}]`;
    let s = '{';
    for (const k of Object.keys(v).sort()) s += `${JSON.stringify(k)}:${valueText((v as Record<string, unknown>)[k])},`;
    return `${s}}`;
  }
  return JSON.stringify(v) ?? typeof v;
}
