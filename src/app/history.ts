/**
 * Booking with history on demand: the live service keeps only a window of each book in memory
 * (Ledger.trim); an event that lands before a window, or a correction of an event that is no
 * longer held, is answered here by loading the book's history from the store, rebasing the book
 * on its nearest stored base before the change, and submitting again.
 *
 * The store is the system of record, so this gives exactly the state of a full in-memory replay
 * (history.prop.test.ts checks it against a clean replay under random trims and restarts).
 */
import type { LedgerEvent } from '../domain/events.js';
import { isBookEvent } from '../domain/events.js';
import type { BookBase, HistoryNeed, Ledger, SubmitResult } from '../domain/ledger.js';
import type { Key } from '../domain/marks.js';

/**
 * What the store must answer for a book's history. It answers from the events booked so far
 * (committed and submitted, in commit order): an event committed but not yet submitted (the one
 * being submitted, or a later one of its batch) must not show, or the state would take a
 * correction before its checks ran.
 */
export interface HistoryStore {
  /** The latest stored base of `book` whose key is strictly before `before`. */
  baseBefore(book: string, before: Key): Promise<BookBase | undefined>;
  /**
   * Every event of `book` that can be effective after `from` (every one when undefined): the book
   * events stored at or after `from.ts`, every trade of the book that an amend touches (an amend
   * can move a trade's ts), and every correction of all of these (and of those corrections).
   */
  bookEvents(book: string, from: Key | undefined): Promise<LedgerEvent[]>;
  /** One event by id with every correction of it (and of those); empty when never stored. */
  eventWithCorrections(id: string): Promise<LedgerEvent[]>;
  /** Stored bases of `book` at or after `from` no longer hold (history before them changed). */
  dropBases(book: string, from: Key): Promise<void>;
}

/** The most history loads one submission may take before it is a bug (each moves a base earlier). */
const MAX_LOADS = 64;

/** Submits one event, loading whatever history it needs first. */
export async function submitWithHistory(ledger: Ledger, e: LedgerEvent, store: HistoryStore, onLoad?: () => void): Promise<SubmitResult> {
  if ((e.type === 'cancel' || e.type === 'amend') && !ledger.knows(e.target)) {
    onLoad?.();
    await recall(ledger, e.target, store, 0);
  }
  for (let i = 0; i < MAX_LOADS; i++) {
    const r = ledger.submit(e);
    if (r.status !== 'history') return r;
    onLoad?.();
    await loadHistory(ledger, r.need, store);
  }
  throw new Error(`${e.type} ${e.id}: history loads did not converge`);
}

/**
 * The synchronous path of `submitWithHistory`: the result, or undefined when the event needs
 * history (nothing was changed then). Most events never do, and skip the promise machinery.
 */
export function submitInMemory(ledger: Ledger, e: LedgerEvent): SubmitResult | undefined {
  if ((e.type === 'cancel' || e.type === 'amend') && !ledger.knows(e.target)) return undefined;
  const r = ledger.submit(e);
  return r.status === 'history' ? undefined : r;
}

/** Answers one history need: the book from its nearest stored base before the change. */
export async function loadHistory(ledger: Ledger, need: HistoryNeed, store: HistoryStore): Promise<void> {
  const base = await store.baseBefore(need.book, need.before);
  const events = await store.bookEvents(need.book, base?.key);
  await store.dropBases(need.book, need.before);
  ledger.rebase(need.book, base, events);
}

/** Brings a correction's target (no longer held) back: its book's history, or the event itself. */
async function recall(ledger: Ledger, id: string, store: HistoryStore, depth: number): Promise<void> {
  const events = await store.eventWithCorrections(id);
  const target = events.find((x) => x.id === id);
  if (target === undefined) return; // never arrived: the correction waits for it
  if ((target.type === 'amend' || target.type === 'cancel') && depth < 2) {
    if (!ledger.knows(target.target)) await recall(ledger, target.target, store, depth + 1);
    if (ledger.knows(id)) return;
  }
  if (isBookEvent(target)) {
    // Before every key the target has had: amends may have moved it.
    let ts = target.ts;
    for (const x of events) if (x.type === 'amend' && x.target === id && x.fields.ts !== undefined && x.fields.ts < ts) ts = x.fields.ts;
    await loadHistory(ledger, { book: target.book, before: { ts, id } }, store);
  }
  // A mark (or a report, or terms): its effects are in the state already, and so are those of the
  // corrections that were booked; those not booked yet (the one being submitted among them) must
  // still come through `submit`, so only the event itself is held again.
  else ledger.remember([target]);
}
