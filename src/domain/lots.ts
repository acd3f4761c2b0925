/**
 * Lot books: the open lots of one position and the order in which a reducing leg releases them
 * (DOMAIN.md §3). FIFO releases the oldest lot first, LIFO the newest, HIFO the highest unit cost
 * (for shorts the highest sale price), ties oldest; WAC keeps one running (qty, cost).
 *
 * Invariants (asserted, and property-tested against a naive model):
 * - every lot has the sign of the book's quantity; `qty` and `cost` are the exact sums of the lots;
 * - releasing a lot whole releases its whole cost, so a full close leaves exactly zero;
 * - a lot with an exact `unit` (cost = qty × unit) releases `x × unit` with no division; other lots
 *   (capitalised fees, WAC) release `cost × x / qty` rounded half-even at 18 places, the remainder
 *   derived by subtraction.
 */
import { Dec, DIVISION_SCALE } from './decimal.js';
import type { TsUs } from './events.js';

export type CostMethod = 'fifo' | 'lifo' | 'hifo' | 'wac';
export const COST_METHODS: readonly CostMethod[] = ['fifo', 'lifo', 'hifo', 'wac'];

export interface Rank {
  readonly num: Dec;
  readonly den: Dec;
}

export interface Lot {
  /** Signed quantity: positive long, negative short. Never zero. */
  readonly qty: Dec;
  /** Signed cost in the reporting currency: + paid for a long, − received for a short. */
  readonly cost: Dec;
  /** Exact cost per unit when known (cost = qty × unit); undefined when cost came with a fee or a quotient. */
  readonly unit: Dec | undefined;
  /** When the quantity was acquired (kept across transfers). */
  readonly ts: TsUs;
  /** Acquisition order, for ties; unique within a book. */
  readonly seq: number;
  /**
   * HIFO only: the unit cost (or short-sale price) fixed at acquisition, as an exact ratio
   * |cost| / |qty| (or |unit| / 1), compared by cross-multiplication: no rounding decides an order.
   */
  readonly rank: Rank | undefined;
}

export interface LotBook {
  readonly method: CostMethod;
  /** Signed sum of the lots' quantities. */
  qty(): Dec;
  /** Signed sum of the lots' costs. */
  cost(): Dec;
  /** Adds a lot; its sign must equal the book's (or the book is flat). */
  open(qty: Dec, cost: Dec, unit: Dec | undefined, ts: TsUs, seq: number): void;
  /** Removes `x` (0 < x ≤ |qty|) in method order; returns the released lots (fragments included). */
  release(x: Dec): Lot[];
  /** As `release`, returning only the released cost: the hot path of a reducing fill. */
  close(x: Dec): Dec;
  /** Adds lots taken from another book as they are (a transfer keeps cost and date). */
  restore(lots: readonly Lot[]): void;
  /** Open lots in acquisition order (for display; WAC shows its one pooled lot). */
  lots(): Lot[];
  clone(): LotBook;
}

function assert(cond: boolean, message: string): asserts cond {
  if (!cond) throw new Error(`lot book invariant: ${message}`);
}

export function makeLot(qty: Dec, cost: Dec, unit: Dec | undefined, ts: TsUs, seq: number, ranked = false): Lot {
  assert(!qty.isZero(), 'a lot has quantity');
  return { qty, cost, unit, ts, seq, rank: ranked ? rankOf(qty, cost, unit) : undefined };
}

/** HIFO's ordering key: the unit cost (or short-sale price) in absolute value, as a ratio. */
export function rankOf(qty: Dec, cost: Dec, unit: Dec | undefined): Rank {
  return unit !== undefined ? { num: unit.abs(), den: Dec.ONE } : { num: cost.abs(), den: qty.abs() };
}

/** Compares two ranks exactly: a.num / a.den vs b.num / b.den. */
export function compareRanks(a: Rank, b: Rank): -1 | 0 | 1 {
  return a.num.mul(b.den).cmp(b.num.mul(a.den));
}

/** Splits `x` (absolute, < |lot.qty|) off a lot: returns [taken, remaining]. */
export function splitLot(lot: Lot, x: Dec): [Lot, Lot] {
  const sign = lot.qty.isNeg() ? -1 : 1;
  const takenQty = sign < 0 ? x.neg() : x;
  const takenCost = lot.unit !== undefined ? takenQty.mul(lot.unit) : lot.cost.mul(x).div(lot.qty.abs(), DIVISION_SCALE);
  const taken: Lot = { qty: takenQty, cost: takenCost, unit: lot.unit, ts: lot.ts, seq: lot.seq, rank: lot.rank };
  const rest: Lot = { qty: lot.qty.sub(takenQty), cost: lot.cost.sub(takenCost), unit: lot.unit, ts: lot.ts, seq: lot.seq, rank: lot.rank };
  return [taken, rest];
}

/** FIFO and LIFO: lots in acquisition order; FIFO takes from the head, LIFO from the tail. */
class QueueBook implements LotBook {
  private items: Lot[] = [];
  private head = 0;
  private sumQty = Dec.ZERO;
  private sumCost = Dec.ZERO;

  constructor(readonly method: 'fifo' | 'lifo') {}

  qty(): Dec {
    return this.sumQty;
  }

  cost(): Dec {
    return this.sumCost;
  }

  open(qty: Dec, cost: Dec, unit: Dec | undefined, ts: TsUs, seq: number): void {
    assert(this.sumQty.isZero() || this.sumQty.sign() === qty.sign(), 'open on the same side');
    this.items.push(makeLot(qty, cost, unit, ts, seq));
    this.sumQty = this.sumQty.add(qty);
    this.sumCost = this.sumCost.add(cost);
  }

  release(x: Dec): Lot[] {
    assert(x.isPos() && x.lte(this.sumQty.abs()), 'release within the open quantity');
    const out: Lot[] = [];
    let left = x;
    const fifo = this.method === 'fifo';
    while (!left.isZero()) {
      const idx = fifo ? this.head : this.items.length - 1;
      const lot = this.items[idx];
      assert(lot !== undefined && idx >= this.head, 'lots cover the quantity');
      const lotAbs = lot.qty.abs();
      if (lotAbs.lte(left)) {
        out.push(lot);
        left = left.sub(lotAbs);
        if (fifo) this.head++;
        else this.items.pop();
      } else {
        const [taken, rest] = splitLot(lot, left);
        out.push(taken);
        this.items[idx] = rest;
        left = Dec.ZERO;
      }
    }
    this.compact();
    for (const l of out) {
      this.sumQty = this.sumQty.sub(l.qty);
      this.sumCost = this.sumCost.sub(l.cost);
    }
    if (this.head === this.items.length) this.reset();
    return out;
  }

  close(x: Dec): Dec {
    // Callers close at most the open quantity (applyLeg compares first); the loop asserts cover.
    assert(x.isPos(), 'close a positive quantity');
    const fifo = this.method === 'fifo';
    const short = this.sumQty.isNeg();
    let left = x;
    let released = Dec.ZERO;
    for (;;) {
      const idx = fifo ? this.head : this.items.length - 1;
      const lot = this.items[idx];
      assert(lot !== undefined && idx >= this.head, 'lots cover the quantity');
      const lotAbs = short ? lot.qty.neg() : lot.qty;
      const c = lotAbs.cmp(left);
      if (c <= 0) {
        released = released.add(lot.cost);
        if (fifo) this.head++;
        else this.items.pop();
        if (c === 0) break;
        left = left.sub(lotAbs);
      } else {
        // Part of this lot: the taken cost exactly (x × unit) when the lot has a unit, else pro rata.
        const takenCost = lot.unit !== undefined ? (short ? left.mulNeg(lot.unit) : left.mul(lot.unit)) : lot.cost.mul(left).div(lotAbs, DIVISION_SCALE);
        released = released.add(takenCost);
        this.items[idx] = { qty: short ? lot.qty.add(left) : lot.qty.sub(left), cost: lot.cost.sub(takenCost), unit: lot.unit, ts: lot.ts, seq: lot.seq, rank: lot.rank };
        break;
      }
    }
    this.sumQty = short ? this.sumQty.add(x) : this.sumQty.sub(x);
    this.sumCost = this.sumCost.sub(released);
    if (this.head === this.items.length) this.reset();
    else this.compact();
    return released;
  }

  restore(lots: readonly Lot[]): void {
    for (const l of lots) {
      assert(this.sumQty.isZero() || this.sumQty.sign() === l.qty.sign(), 'restore on the same side');
      this.sumQty = this.sumQty.add(l.qty);
      this.sumCost = this.sumCost.add(l.cost);
    }
    // Transferred lots keep their acquisition order: merge by (ts, seq).
    const merged = this.items.slice(this.head).concat(lots);
    merged.sort((a, b) => a.ts - b.ts || a.seq - b.seq);
    this.items = merged;
    this.head = 0;
  }

  private reset(): void {
    this.items = [];
    this.head = 0;
    this.sumQty = Dec.ZERO;
    this.sumCost = Dec.ZERO;
  }

  /** Drops released heads once they are the larger part, keeping FIFO amortised O(1). */
  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  lots(): Lot[] {
    return this.items.slice(this.head);
  }

  clone(): LotBook {
    const c = new QueueBook(this.method);
    c.items = this.items.slice(this.head);
    c.sumQty = this.sumQty;
    c.sumCost = this.sumCost;
    return c;
  }
}

/** HIFO: a binary heap on (rank desc, seq asc). */
class HifoBook implements LotBook {
  readonly method = 'hifo' as const;
  private heap: Lot[] = [];
  private sumQty = Dec.ZERO;
  private sumCost = Dec.ZERO;

  qty(): Dec {
    return this.sumQty;
  }

  cost(): Dec {
    return this.sumCost;
  }

  private static before(a: Lot, b: Lot): boolean {
    const c = compareRanks(a.rank!, b.rank!);
    return c > 0 || (c === 0 && a.seq < b.seq);
  }

  private push(lot: Lot): void {
    const h = this.heap;
    h.push(lot);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!HifoBook.before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private popTop(): Lot {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && HifoBook.before(h[l]!, h[m]!)) m = l;
        if (r < h.length && HifoBook.before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  open(qty: Dec, cost: Dec, unit: Dec | undefined, ts: TsUs, seq: number): void {
    assert(this.sumQty.isZero() || this.sumQty.sign() === qty.sign(), 'open on the same side');
    this.push(makeLot(qty, cost, unit, ts, seq, true));
    this.sumQty = this.sumQty.add(qty);
    this.sumCost = this.sumCost.add(cost);
  }

  release(x: Dec): Lot[] {
    assert(x.isPos() && x.lte(this.sumQty.abs()), 'release within the open quantity');
    const out: Lot[] = [];
    let left = x;
    while (!left.isZero()) {
      const lot = this.heap[0];
      assert(lot !== undefined, 'lots cover the quantity');
      const lotAbs = lot.qty.abs();
      if (lotAbs.lte(left)) {
        out.push(this.popTop());
        left = left.sub(lotAbs);
      } else {
        // The remainder keeps its rank and seq, so it stays at the top of the heap.
        const [taken, rest] = splitLot(lot, left);
        out.push(taken);
        this.heap[0] = rest;
        left = Dec.ZERO;
      }
    }
    for (const l of out) {
      this.sumQty = this.sumQty.sub(l.qty);
      this.sumCost = this.sumCost.sub(l.cost);
    }
    return out;
  }

  close(x: Dec): Dec {
    return costOf(this.release(x));
  }

  restore(lots: readonly Lot[]): void {
    for (const l of lots) {
      assert(this.sumQty.isZero() || this.sumQty.sign() === l.qty.sign(), 'restore on the same side');
      this.push(l.rank === undefined ? { ...l, rank: rankOf(l.qty, l.cost, l.unit) } : l);
      this.sumQty = this.sumQty.add(l.qty);
      this.sumCost = this.sumCost.add(l.cost);
    }
  }

  lots(): Lot[] {
    return this.heap.slice().sort((a, b) => a.ts - b.ts || a.seq - b.seq);
  }

  clone(): LotBook {
    const c = new HifoBook();
    c.heap = this.heap.slice();
    c.sumQty = this.sumQty;
    c.sumCost = this.sumCost;
    return c;
  }
}

/** WAC: one pooled (qty, cost); the average is derived for display, never stored rounded. */
class WacBook implements LotBook {
  readonly method = 'wac' as const;
  private sumQty = Dec.ZERO;
  private sumCost = Dec.ZERO;
  /** Earliest acquisition still open, and the first seq: shown on the pooled lot. */
  private firstTs = 0;
  private firstSeq = 0;

  qty(): Dec {
    return this.sumQty;
  }

  cost(): Dec {
    return this.sumCost;
  }

  open(qty: Dec, cost: Dec, _unit: Dec | undefined, ts: TsUs, seq: number): void {
    assert(this.sumQty.isZero() || this.sumQty.sign() === qty.sign(), 'open on the same side');
    if (this.sumQty.isZero()) {
      this.firstTs = ts;
      this.firstSeq = seq;
    }
    this.sumQty = this.sumQty.add(qty);
    this.sumCost = this.sumCost.add(cost);
  }

  release(x: Dec): Lot[] {
    const abs = this.sumQty.abs();
    assert(x.isPos() && x.lte(abs), 'release within the open quantity');
    const pooled = this.pooled();
    if (x.eq(abs)) {
      this.sumQty = Dec.ZERO;
      this.sumCost = Dec.ZERO;
      return [pooled];
    }
    const [taken, rest] = splitLot(pooled, x);
    this.sumQty = rest.qty;
    this.sumCost = rest.cost;
    return [taken];
  }

  close(x: Dec): Dec {
    const abs = this.sumQty.abs();
    assert(x.isPos() && x.lte(abs), 'close within the open quantity');
    if (x.eq(abs)) {
      const all = this.sumCost;
      this.sumQty = Dec.ZERO;
      this.sumCost = Dec.ZERO;
      return all;
    }
    const released = this.sumCost.mul(x).div(abs, DIVISION_SCALE);
    this.sumQty = this.sumQty.isNeg() ? this.sumQty.add(x) : this.sumQty.sub(x);
    this.sumCost = this.sumCost.sub(released);
    return released;
  }

  restore(lots: readonly Lot[]): void {
    for (const l of lots) this.open(l.qty, l.cost, undefined, l.ts, l.seq);
  }

  private pooled(): Lot {
    return { qty: this.sumQty, cost: this.sumCost, unit: undefined, ts: this.firstTs, seq: this.firstSeq, rank: undefined };
  }

  lots(): Lot[] {
    return this.sumQty.isZero() ? [] : [this.pooled()];
  }

  clone(): LotBook {
    const c = new WacBook();
    c.sumQty = this.sumQty;
    c.sumCost = this.sumCost;
    c.firstTs = this.firstTs;
    c.firstSeq = this.firstSeq;
    return c;
  }
}

/** Total cost of some lots. */
export function costOf(lots: readonly Lot[]): Dec {
  let c = Dec.ZERO;
  for (const l of lots) c = c.add(l.cost);
  return c;
}

export function newLotBook(method: CostMethod): LotBook {
  switch (method) {
    case 'fifo':
    case 'lifo':
      return new QueueBook(method);
    case 'hifo':
      return new HifoBook();
    case 'wac':
      return new WacBook();
  }
}
