/**
 * What changed in a book's positions from one update to the next: the positions that are new or
 * different, and the ones gone. Updates (NATS `utl.updates.<book>`, WebSocket deltas) carry only
 * that, so their size follows the activity, not the size of the book (a book of 5,000 positions
 * is about 1.5 MB whole: more than NATS takes in one message).
 *
 * A position is the same as before when its report is the same object (a valuation is kept while
 * its inputs are the same: report.ts) or when its JSON is the same bytes (after a rebook every
 * report is a new object, mostly with the same figures).
 */
import type { PositionReport } from '../domain/report.js';
import { positionBytes } from './positions-json.js';

/** A position's identity within its book: what a `removed` entry names. */
export interface PositionRef {
  readonly asset: string;
  readonly kind: PositionReport['kind'];
  readonly venue?: string;
}

export function positionKey(p: PositionRef): string {
  return p.venue === undefined ? `${p.kind}\u0000${p.asset}` : `${p.kind}\u0000${p.asset}\u0000${p.venue}`;
}

export function positionRef(p: PositionReport): PositionRef {
  return p.venue === undefined ? { asset: p.asset, kind: p.kind } : { asset: p.asset, kind: p.kind, venue: p.venue };
}

export function indexPositions(positions: readonly PositionReport[]): Map<string, PositionReport> {
  const m = new Map<string, PositionReport>();
  for (const p of positions) m.set(positionKey(p), p);
  return m;
}

export interface BookDiff {
  /** New or different since `before`, in the order of `after`. */
  readonly changed: PositionReport[];
  /** In `before`, not in `after`, in the order of `before`. */
  readonly removed: PositionRef[];
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether two reports are of the same position (its identity: asset, kind, venue). */
export function samePosition(a: PositionReport, b: PositionReport): boolean {
  return a.asset === b.asset && a.kind === b.kind && a.venue === b.venue;
}

/**
 * `after` against `before` (undefined: nothing before, every position is new). A book's updates
 * list its positions in the same order (report.ts: by their key in the book), so the common case
 * is walked side by side, with no index built: the same positions at the same places, most of
 * them the same report objects. When positions came or went (or the orders differ), both are
 * indexed by identity.
 */
export function diffPositions(before: readonly PositionReport[] | undefined, after: readonly PositionReport[]): BookDiff {
  const changed: PositionReport[] = [];
  if (before === undefined) return { changed: [...after], removed: [] };
  if (before.length === after.length) {
    let i = 0;
    for (; i < after.length; i++) {
      const p = after[i]!;
      const was = before[i]!;
      if (was === p) continue;
      if (!samePosition(was, p)) break;
      if (!bytesEqual(positionBytes(was), positionBytes(p))) changed.push(p);
    }
    if (i === after.length) return { changed, removed: [] };
  }
  return diffIndexed(indexPositions(before), indexPositions(after));
}

/** `diffPositions` by identity, whatever the order. */
function diffIndexed(before: ReadonlyMap<string, PositionReport>, after: ReadonlyMap<string, PositionReport>): BookDiff {
  const changed: PositionReport[] = [];
  const removed: PositionRef[] = [];
  for (const [k, p] of after) {
    const was = before.get(k);
    if (was === p) continue;
    if (was === undefined || !bytesEqual(positionBytes(was), positionBytes(p))) changed.push(p);
  }
  for (const [k, p] of before) if (!after.has(k)) removed.push(positionRef(p));
  return { changed, removed };
}

/**
 * Several consecutive diffs as one (what a coalesced message carries): the latest report of each
 * changed position, and the positions gone at the end. Mutable; `add` in order.
 */
export class MergedDiff {
  private readonly changed = new Map<string, PositionReport>();
  private readonly removed = new Map<string, PositionRef>();

  add(d: BookDiff): void {
    for (const p of d.changed) {
      const k = positionKey(p);
      this.removed.delete(k);
      this.changed.set(k, p);
    }
    for (const r of d.removed) {
      const k = positionKey(r);
      this.changed.delete(k);
      this.removed.set(k, r);
    }
  }

  get size(): number {
    return this.changed.size + this.removed.size;
  }

  diff(): BookDiff {
    return { changed: [...this.changed.values()], removed: [...this.removed.values()] };
  }
}
