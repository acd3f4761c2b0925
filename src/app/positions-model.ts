/**
 * A copy of every book's positions as their JSON bytes, kept current from the service's book
 * updates: what the HTTP front (src/adapters/http/front.ts) answers `GET /positions` from, on its
 * own thread, without the booking thread (docs/operations.md "The HTTP front").
 *
 * `PositionsFeed` (booking thread) turns each `BookUpdate` into a message: the book's whole list
 * when its positions came or went, else only the places whose report changed. `PositionsModel`
 * (front thread) applies the messages in order and writes the body of `GET /positions` byte for
 * byte as the booking thread would at the same `seq`: `{"asOf":null,"reporting":…,"seq":…,"positions":[…]}`,
 * books in name order, each book's positions in the order of its updates (report.ts: by key).
 */
import type { PositionReport } from '../domain/report.js';
import { samePosition } from './book-diff.js';
import { joinedBody, positionBytes } from './positions-json.js';
import type { BookUpdate } from './service.js';

/** One position as the front holds it: what its filters read, and its JSON. */
export interface ModelEntry {
  readonly asset: string;
  /** The venues of its `byVenue` (the `venue` filter). */
  readonly venues: readonly string[];
  readonly bytes: Uint8Array;
}

export type ModelMessage =
  /** A book's positions, all of them, as of `seq`. */
  | { readonly t: 'book'; readonly book: string; readonly seq: number; readonly entries: readonly ModelEntry[] }
  /** A book's positions at these places replaced (the same positions, new figures), as of `seq`. */
  | { readonly t: 'patch'; readonly book: string; readonly seq: number; readonly at: readonly number[]; readonly entries: readonly ModelEntry[] }
  /** Every event up to `seq` is in the books sent so far (no update is pending). */
  | { readonly t: 'seq'; readonly seq: number };

function entryOf(p: PositionReport): ModelEntry {
  return { asset: p.asset, venues: Object.keys(p.byVenue), bytes: positionBytes(p) };
}

/** Booking thread: a message per book update, relative to the ones before it. */
export class PositionsFeed {
  private readonly sent = new Map<string, readonly PositionReport[]>();

  /**
   * The message that brings the model to `u`: a book's first, or after positions came or went,
   * all of it; else the places whose report is another object (a walk side by side, as
   * `diffPositions` does, by identity alone: the front compares nothing).
   */
  message(u: Pick<BookUpdate, 'book' | 'seq' | 'positions'>): ModelMessage {
    const before = this.sent.get(u.book);
    const after = u.positions;
    this.sent.set(u.book, after);
    if (before !== undefined && before.length === after.length) {
      const at: number[] = [];
      const entries: ModelEntry[] = [];
      let i = 0;
      for (; i < after.length; i++) {
        const p = after[i]!;
        const was = before[i]!;
        if (p === was) continue;
        if (!samePosition(p, was)) break;
        at.push(i);
        entries.push(entryOf(p));
      }
      if (i === after.length) return { t: 'patch', book: u.book, seq: u.seq, at, entries };
    }
    return { t: 'book', book: u.book, seq: u.seq, entries: after.map(entryOf) };
  }
}

export interface PositionsQuery {
  /** Only these books (undefined: all). */
  readonly books?: ReadonlySet<string>;
  readonly asset?: string;
  readonly venue?: string;
}

/** Front thread: the books' positions as the messages left them. */
export class PositionsModel {
  private readonly books = new Map<string, ModelEntry[]>();
  private names: string[] = [];
  /**
   * Every event up to here is in the model (the last `seq` message): the `seq` its answers carry.
   * A book may show later events too (its update came; another book's is pending).
   */
  seq = 0;

  constructor(readonly reporting: string) {}

  apply(m: ModelMessage): void {
    if (m.t === 'seq') {
      if (m.seq > this.seq) this.seq = m.seq;
      return;
    }
    if (m.t === 'book') {
      if (!this.books.has(m.book)) this.names = [...this.names, m.book].sort();
      this.books.set(m.book, [...m.entries]);
      return;
    }
    const entries = this.books.get(m.book);
    // A patch of a book not held cannot happen (the feed sends a book whole first).
    if (entries === undefined) throw new Error(`positions model: a patch of ${m.book}, which it does not hold`);
    for (let k = 0; k < m.at.length; k++) entries[m.at[k]!] = m.entries[k]!;
  }

  /** The body of `GET /positions` for `q`, in chunks of 64 KiB, and its length. */
  body(q: PositionsQuery): { length: number; chunks: Buffer[] } {
    const picked: Uint8Array[] = [];
    for (const name of this.names) {
      if (q.books !== undefined && !q.books.has(name)) continue;
      for (const e of this.books.get(name)!) {
        if (q.asset !== undefined && e.asset !== q.asset) continue;
        if (q.venue !== undefined && !e.venues.includes(q.venue)) continue;
        picked.push(e.bytes);
      }
    }
    return joinedBody({ asOf: null, reporting: this.reporting, seq: this.seq }, picked);
  }
}
