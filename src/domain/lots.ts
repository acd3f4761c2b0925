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
import { Dec, DIVISION_SCALE, pow10, unitsText } from './decimal.js';
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
  /**
   * A leg at an exact unit on raw units (FIFO and LIFO only; see QueueBook.legAtUnit): opens,
   * closes or flips, the realized PnL to `sink`; true when it used the sequence number `seq`.
   */
  legAtUnit?(du: bigint, ds: number, cashU: bigint, cashS: number, uu: bigint, us: number, ts: TsUs, seq: number, sink: RealizedSink): boolean;
  /** Adds lots taken from another book as they are (a transfer keeps cost and date). */
  restore(lots: readonly Lot[]): void;
  /** Open lots in acquisition order (for display; WAC shows its one pooled lot). */
  lots(): Lot[];
  /** How many lots `lots()` would give (books that write their snapshot rows themselves). */
  lotCount?(): number;
  /**
   * The snapshot rows (snapshot.ts: `JSON.stringify` of each lot's row) of `lots()[start …
   * start + count)`, comma-separated, straight from the book's own columns (no Lot nor Dec
   * made); undefined when the book cannot (then the caller reads `lots()`).
   */
  lotRowsJson?(start: number, count: number): string | undefined;
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

/**
 * Raw decimal arithmetic for the queue's hot path, on (units, scale) pairs: each operation is a
 * function of the units (a bigint) and one of the scale (a number), which together give exactly
 * the units and scale the Dec method they mirror gives (the same value at the same scale, zero
 * operands included). A result is then two locals, not a Dec nor a shared variable written per
 * step (a store V8 cannot keep in registers, with a write barrier for each new bigint).
 *
 * Quantities and costs go through different functions on purpose. V8 runs a bigint operation
 * whose operands have always fitted in 64 bits inline (a few ns); one that has seen a wider value
 * calls the runtime (~20 ns). Quantities stay well inside 64 bits while costs (units at 10+
 * places) often do not, and an inlined function keeps one record of what it has seen for every
 * caller: so the quantities' arithmetic has its own functions (`q…`), which costs never reach.
 */

/** Units of a + b (costs), at the scale `addS` gives: as `Dec.add`. */
export function addU(au: bigint, as: number, bu: bigint, bs: number): bigint {
  if (bu === 0n) return au;
  if (au === 0n) return bu;
  if (as === bs) return au + bu;
  return as > bs ? au + bu * pow10(as - bs) : au * pow10(bs - as) + bu;
}

/** The scale of a + b (costs), as `Dec.add`. */
export function addS(au: bigint, as: number, bu: bigint, bs: number): number {
  return bu === 0n ? as : au === 0n ? bs : as > bs ? as : bs;
}

/** Units of a − b (costs), at the scale `subS` gives: as `Dec.sub`. */
function subU(au: bigint, as: number, bu: bigint, bs: number): bigint {
  if (bu === 0n) return au;
  if (as === bs) return au - bu;
  return as > bs ? au - bu * pow10(as - bs) : au * pow10(bs - as) - bu;
}

/** The scale of a − b (costs), as `Dec.sub`. */
function subS(as: number, bu: bigint, bs: number): number {
  return bu === 0n || as > bs ? as : bs;
}

/** Units of a + b (quantities), at the scale `qAddS` gives: as `Dec.add`. */
function qAddU(au: bigint, as: number, bu: bigint, bs: number): bigint {
  if (bu === 0n) return au;
  if (au === 0n) return bu;
  if (as === bs) return au + bu;
  return as > bs ? au + bu * pow10(as - bs) : au * pow10(bs - as) + bu;
}

/** The scale of a + b (quantities), as `Dec.add`. */
function qAddS(au: bigint, as: number, bu: bigint, bs: number): number {
  return bu === 0n ? as : au === 0n ? bs : as > bs ? as : bs;
}

/** Units of a − b (quantities), at the scale `qSubS` gives: as `Dec.sub`. */
function qSubU(au: bigint, as: number, bu: bigint, bs: number): bigint {
  if (bu === 0n) return au;
  if (as === bs) return au - bu;
  return as > bs ? au - bu * pow10(as - bs) : au * pow10(bs - as) - bu;
}

/** The scale of a − b (quantities), as `Dec.sub`. */
function qSubS(as: number, bu: bigint, bs: number): number {
  return bu === 0n || as > bs ? as : bs;
}

/** a vs b (quantities), as `Dec.cmp`. */
function qCmp(au: bigint, as: number, bu: bigint, bs: number): number {
  if (as > bs) bu *= pow10(as - bs);
  else if (bs > as) au *= pow10(bs - as);
  return au < bu ? -1 : au > bu ? 1 : 0;
}

/** Where a leg's realized PnL goes (a spot position): added to as `Dec.add` would. */
export interface RealizedSink {
  addRealized(u: bigint, s: number): void;
}

/** a[0 … end − from) = a[from … end). */
function moveDown<T>(a: T[], from: number, end: number): void {
  for (let i = from; i < end; i++) a[i - from] = a[i]!;
}

/** The columns of a lot book with no capacity, shared: read-only by construction (see QueueBook). */
const NO_BIGINTS: bigint[] = Object.freeze([]) as unknown as bigint[];
const NO_BIGINT64 = new BigInt64Array(0);
const NO_INT32 = new Int32Array(0);
const NO_FLOAT64 = new Float64Array(0);

/** True when `v` fits a BigInt64Array slot (a store there would silently wrap anything wider). */
function fits64(v: bigint): boolean {
  return BigInt.asIntN(64, v) === v;
}

/** Slot i of a column of units: the wide value when one is held there, else the typed one. */
function unitsAt(typed: BigInt64Array, wide: (bigint | undefined)[] | undefined, i: number): bigint {
  const x = wide?.[i];
  return x !== undefined ? x : typed[i]!;
}

/**
 * A queue book's quantity and unit units that do not fit in 64 bits, by lot index (undefined: the
 * typed column holds the value). Made only when a book first holds such a lot.
 */
interface WideUnits {
  qu: (bigint | undefined)[];
  uu: (bigint | undefined)[];
}

/**
 * FIFO and LIFO: lots in acquisition order; FIFO takes from the head, LIFO from the tail.
 *
 * The lots are held column by column in arrays of a fixed capacity: units of quantity and unit in
 * BigInt64Arrays (with the rare value wider than 64 bits in `wide`), units of cost (bigints), their
 * scales, ts and seq, all but the cost in typed arrays (outside the garbage-collected heap). A lot
 * that stays open through a few garbage collections is then nothing to copy (a cost is a bigint
 * only for a lot without a unit), not an object, three Decs and a boxed timestamp. Closing reads
 * the lots at the head (or tail) from contiguous memory: held as bigint objects, each lot's units
 * were the fill's own bigints, far apart in the heap, and a close waited on a cache miss for each
 * (about half of closeRaw's time). The columns grow by doubling and are compacted in place, so an
 * open lot is not copied into a fresh array again and again. A partly released lot is updated in
 * place. Nothing here is ever handed out: `lots()`, `release()` and `clone()` build
 * fresh `Lot`s (or copy the columns), so what a caller holds never changes under it.
 *
 * A lot with an exact unit keeps no cost of its own: its cost is qty × unit (the invariant of such
 * a lot), at the scale qty × unit has, so taking part of it changes only its quantity. The cost
 * column holds the cost of the other lots.
 */
class QueueBook implements LotBook {
  /** Lot i, for head ≤ i < end: quantity units (signed; read through quAt) and scale. */
  private qu: BigInt64Array;
  private qs: Int32Array;
  /** Cost units and scale, for a lot without a unit (else 0n and 0: its cost is qty × unit). */
  private cu: bigint[];
  private cs: Int32Array;
  /** Unit cost units (read through uuAt) and scale; scale −1 when the lot has no exact unit. */
  private uu: BigInt64Array;
  private us: Int32Array;
  /** Units wider than 64 bits, once a lot brought one (see WideUnits). */
  private wide: WideUnits | undefined;
  private tss: Float64Array;
  private seqs: Float64Array;
  /** Ranks, only once a restored lot brought one (FIFO and LIFO lots have none of their own). */
  private ranks: (Rank | undefined)[] | undefined;
  private head = 0;
  private end = 0;
  /**
   * The columns are shared with a clone (copy on write): the first change after `clone()` copies
   * them (`own`). A snapshot of a book is then a pointer per position, not eight arrays each, and
   * the copying is spread over the positions the book goes on to change.
   */
  private shared = false;
  /** Σ quantity and Σ cost, raw, with their Decs built on demand. */
  private sqU = 0n;
  private sqS = 0;
  private scU = 0n;
  private scS = 0;
  private qtyDec: Dec | undefined = Dec.ZERO;
  private costDec: Dec | undefined = Dec.ZERO;
  /**
   * Σ cost is kept up to date only once someone has read it (`cost()`): until then a leg leaves it
   * stale, and the first read sums the open lots' costs (exactly: a unit lot's is qty × unit).
   * A streaming replay reads it once, at its report, and saves two wide bigint operations per lot
   * leg; a service, whose reports read it, keeps it current. The sum read is exact either way;
   * only its scale may differ from the running sum's (the larger scale of every cost it ever
   * added), which the canonical text never shows.
   */
  private costStale = false;
  private costRead = false;

  /**
   * A book with no lots holds the shared empty columns (nothing is ever written at an index below
   * a capacity of 0): a position is cheap to create, and a rebook creates every position of its
   * book again. The first lot gets columns of its own (`room`).
   */
  /** FIFO (else LIFO), decided once: a method given as text from outside is compared by its characters. */
  private readonly fifo: boolean;

  constructor(readonly method: 'fifo' | 'lifo') {
    this.fifo = method === 'fifo';
    this.qu = NO_BIGINT64;
    this.qs = NO_INT32;
    this.cu = NO_BIGINTS;
    this.cs = NO_INT32;
    this.uu = NO_BIGINT64;
    this.us = NO_INT32;
    this.tss = NO_FLOAT64;
    this.seqs = NO_FLOAT64;
    this.ranks = undefined;
    this.wide = undefined;
  }

  /** Lot i's quantity units. */
  private quAt(i: number): bigint {
    return unitsAt(this.qu, this.wide?.qu, i);
  }

  /** Lot i's unit units (0n for a lot without a unit). */
  private uuAt(i: number): bigint {
    return unitsAt(this.uu, this.wide?.uu, i);
  }

  private setQu(i: number, v: bigint): void {
    if (fits64(v)) {
      this.qu[i] = v;
      if (this.wide !== undefined) this.wide.qu[i] = undefined;
    } else this.wideUnits().qu[i] = v;
  }

  private setUu(i: number, v: bigint): void {
    if (fits64(v)) {
      this.uu[i] = v;
      if (this.wide !== undefined) this.wide.uu[i] = undefined;
    } else this.wideUnits().uu[i] = v;
  }

  private wideUnits(): WideUnits {
    const cap = this.qu.length;
    return (this.wide ??= { qu: new Array<bigint | undefined>(cap).fill(undefined), uu: new Array<bigint | undefined>(cap).fill(undefined) });
  }

  qty(): Dec {
    return (this.qtyDec ??= new Dec(this.sqU, this.sqS));
  }

  cost(): Dec {
    if (this.costStale) this.sumCosts();
    this.costRead = true;
    return (this.costDec ??= new Dec(this.scU, this.scS));
  }

  /** Σ cost of the open lots, from the lots (see costStale). */
  private sumCosts(): void {
    let cu = 0n;
    let cs = 0;
    for (let i = this.head; i < this.end; i++) {
      const us = this.us[i]!;
      const tu = us < 0 ? this.cu[i]! : this.quAt(i) * this.uuAt(i);
      const ts = us < 0 ? this.cs[i]! : this.qs[i]! + us;
      const ncu = addU(cu, cs, tu, ts);
      cs = addS(cu, cs, tu, ts);
      cu = ncu;
    }
    this.scU = cu;
    this.scS = cs;
    this.costDec = undefined;
    this.costStale = false;
  }

  private setSums(qu: bigint, qs: number, cu: bigint, cs: number): void {
    this.sqU = qu;
    this.sqS = qs;
    this.scU = cu;
    this.scS = cs;
    this.qtyDec = undefined;
    this.costDec = undefined;
    this.costStale = false;
  }

  /** A new Σ quantity, Σ cost left stale (see costStale). */
  private setQty(qu: bigint, qs: number): void {
    this.sqU = qu;
    this.sqS = qs;
    this.qtyDec = undefined;
    this.costDec = undefined;
    this.costStale = true;
  }

  /** Makes room for one more lot at the end: compacts in place, or doubles the columns. */
  private room(): void {
    const cap = this.qu.length;
    if (this.end < cap) return;
    const live = this.end - this.head;
    if (this.head > 0 && live * 2 <= cap) {
      // The JS array columns moved by a loop: Array.prototype.copyWithin on a JS array takes the
      // generic path of the spec (a property lookup per element in the runtime).
      moveDown(this.cu, this.head, this.end);
      if (this.ranks !== undefined) moveDown(this.ranks, this.head, this.end);
      if (this.wide !== undefined) {
        moveDown(this.wide.qu, this.head, this.end);
        moveDown(this.wide.uu, this.head, this.end);
      }
      this.qu.copyWithin(0, this.head, this.end);
      this.uu.copyWithin(0, this.head, this.end);
      this.qs.copyWithin(0, this.head, this.end);
      this.cs.copyWithin(0, this.head, this.end);
      this.us.copyWithin(0, this.head, this.end);
      this.tss.copyWithin(0, this.head, this.end);
      this.seqs.copyWithin(0, this.head, this.end);
      // Let go of the moved lots' old slots (no stale reference keeps a bigint alive).
      for (let i = live; i < this.end; i++) this.clearSlot(i);
    } else {
      this.resize(Math.max(8, cap * 2));
    }
    this.head = 0;
    this.end = live;
  }

  /** New columns of `capacity` holding the open lots from index 0 (head is then 0). */
  private resize(capacity: number): void {
    const { head, end } = this;
    const take = <T>(a: T[], fill: T): T[] => {
      const b: T[] = [];
      for (let i = head; i < end; i++) b.push(a[i]!);
      for (let i = end - head; i < capacity; i++) b.push(fill);
      return b;
    };
    this.cu = take(this.cu, 0n);
    if (this.ranks !== undefined) this.ranks = take(this.ranks, undefined);
    if (this.wide !== undefined) this.wide = { qu: take(this.wide.qu, undefined), uu: take(this.wide.uu, undefined) };
    // The seven typed columns share one buffer: one allocation outside the heap instead of seven
    // (each its own backing store to allocate and account for), which is most of what a copy on
    // write costs after a snapshot. The 8-byte ones first, so that each view is aligned.
    const buffer = new ArrayBuffer(capacity * 44);
    const float64 = (a: Float64Array, at: number): Float64Array => {
      const b = new Float64Array(buffer, at * capacity, capacity);
      b.set(a.subarray(head, end));
      return b;
    };
    const bigint64 = (a: BigInt64Array, at: number): BigInt64Array => {
      const b = new BigInt64Array(buffer, at * capacity, capacity);
      b.set(a.subarray(head, end));
      return b;
    };
    const int32 = (a: Int32Array, at: number): Int32Array => {
      const b = new Int32Array(buffer, at * capacity, capacity);
      b.set(a.subarray(head, end));
      return b;
    };
    this.tss = float64(this.tss, 0);
    this.seqs = float64(this.seqs, 8);
    this.qu = bigint64(this.qu, 16);
    this.uu = bigint64(this.uu, 24);
    this.qs = int32(this.qs, 32);
    this.cs = int32(this.cs, 36);
    this.us = int32(this.us, 40);
    this.end = end - head;
    this.head = 0;
  }

  /** Columns of its own before a change, when they are shared with a clone. */
  private own(): void {
    if (!this.shared) return;
    this.shared = false;
    // The shared empty columns are never written (capacity 0): nothing to copy.
    if (this.qu.length > 0) this.resize(this.qu.length);
  }

  /** Lets go of what lot i's slot refers to (the typed columns hold no references). */
  private clearSlot(i: number): void {
    this.cu[i] = 0n;
    if (this.ranks !== undefined) this.ranks[i] = undefined;
    if (this.wide !== undefined) {
      this.wide.qu[i] = undefined;
      this.wide.uu[i] = undefined;
    }
  }

  /** Appends a lot; with a unit (us ≥ 0) its cost must be qty × unit, and is not stored. */
  private pushRaw(qu: bigint, qs: number, cu: bigint, cs: number, uu: bigint, us: number, ts: TsUs, seq: number, rank: Rank | undefined): void {
    this.room();
    const i = this.end++;
    this.setQu(i, qu);
    this.qs[i] = qs;
    this.setUu(i, uu);
    this.us[i] = us;
    this.cu[i] = cu;
    this.cs[i] = cs;
    this.tss[i] = ts;
    this.seqs[i] = seq;
    if (rank !== undefined && this.ranks === undefined) this.ranks = new Array<Rank | undefined>(this.qu.length).fill(undefined);
    if (this.ranks !== undefined) this.ranks[i] = rank;
  }

  private push(qty: Dec, cost: Dec, unit: Dec | undefined, ts: TsUs, seq: number, rank: Rank | undefined): void {
    if (unit === undefined) this.pushRaw(qty.u, qty.s, cost.u, cost.s, 0n, -1, ts, seq, rank);
    else {
      assert(qty.u * unit.u * pow10(Math.max(0, cost.s - qty.s - unit.s)) === cost.u * pow10(Math.max(0, qty.s + unit.s - cost.s)), 'a lot with a unit costs qty × unit');
      this.pushRaw(qty.u, qty.s, 0n, 0, unit.u, unit.s, ts, seq, rank);
    }
  }

  /** Lot i as a fresh object (a unit lot's cost: qty × unit). */
  private lotAt(i: number): Lot {
    const us = this.us[i]!;
    const qu = this.quAt(i);
    const qs = this.qs[i]!;
    return {
      qty: new Dec(qu, qs),
      cost: us < 0 ? new Dec(this.cu[i]!, this.cs[i]!) : new Dec(qu * this.uuAt(i), qs + us),
      unit: us < 0 ? undefined : new Dec(this.uuAt(i), us),
      ts: this.tss[i]!,
      seq: this.seqs[i]!,
      rank: this.ranks?.[i],
    };
  }

  /** Drops the lot a release took whole: the head (FIFO) or the tail (LIFO). */
  private drop(fifo: boolean): void {
    if (fifo) this.clearSlot(this.head++);
    else this.clearSlot(--this.end);
  }

  open(qty: Dec, cost: Dec, unit: Dec | undefined, ts: TsUs, seq: number): void {
    this.own();
    assert(this.sqU === 0n || (this.sqU < 0n ? qty.u < 0n : qty.u > 0n), 'open on the same side');
    assert(!qty.isZero(), 'a lot has quantity');
    this.push(qty, cost, unit, ts, seq, undefined);
    const qu = qAddU(this.sqU, this.sqS, qty.u, qty.s);
    const qs = qAddS(this.sqU, this.sqS, qty.u, qty.s);
    if (this.costStale) this.setQty(qu, qs);
    else this.setSums(qu, qs, addU(this.scU, this.scS, cost.u, cost.s), addS(this.scU, this.scS, cost.u, cost.s));
  }

  /**
   * A leg of Δ = (du, ds) ≠ 0 with cash (cashU, cashS) = −Δ × unit exactly, unit (uu, us): what
   * `applyLeg` does with `open` and `close`, on raw units and with no Dec made: opens a lot on the
   * book's side (true: a lot sequence number was used), or closes (false), or closes every lot
   * and opens the rest (a flip: true). The realized PnL (cash of the closed part − its released
   * cost) goes to `sink`. Gives the same figures as the Dec path to the unit and scale.
   */
  legAtUnit(du: bigint, ds: number, cashU: bigint, cashS: number, uu: bigint, us: number, ts: TsUs, seq: number, sink: RealizedSink): boolean {
    this.own();
    const q = this.sqU;
    const qs = this.sqS;
    if (q === 0n || q < 0n === du < 0n) {
      this.pushRaw(du, ds, 0n, 0, uu, us, ts, seq, undefined);
      if (!this.costRead || this.costStale) {
        this.setQty(qAddU(q, qs, du, ds), qAddS(q, qs, du, ds));
        return true;
      }
      // The lot's cost is −cash: Σ cost + (−cash), as Dec.add (a zero sum takes −cash as it is).
      const scU = this.scU;
      const scS = this.scS;
      const cu = cashU === 0n ? scU : scU === 0n ? -cashU : subU(scU, scS, cashU, cashS);
      const cs = cashU === 0n ? scS : scU === 0n ? cashS : subS(scS, cashU, cashS);
      this.setSums(qAddU(q, qs, du, ds), qAddS(q, qs, du, ds), cu, cs);
      return true;
    }
    // |Δ| vs |q|: Δ and q have opposite signs, so compare −Δ with q on q's side.
    const nd = -du;
    const c = ds === qs ? (q < 0n ? (q < nd ? -1 : q > nd ? 1 : 0) : nd < q ? -1 : nd > q ? 1 : 0) : q < 0n ? qCmp(q, qs, nd, ds) : qCmp(nd, ds, q, qs);
    if (c <= 0) {
      // Closes |Δ|: the lots' side of Δ is −Δ. Realized: cash − released.
      const ru = this.closeRaw(nd, ds);
      const rs = this.relS;
      sink.addRealized(subU(cashU, cashS, ru, rs), subS(cashS, ru, rs));
      return false;
    }
    // A flip: close every lot (|q|) with its share of the cash, q × unit; open Δ + q at the unit.
    const closeU = q * uu;
    const closeS = qs + us;
    const ru = this.closeRaw(q, qs);
    const rs = this.relS;
    sink.addRealized(subU(closeU, closeS, ru, rs), subS(closeS, ru, rs));
    const restU = qAddU(du, ds, q, qs);
    const restS = qAddS(du, ds, q, qs);
    // The rest's cash, cash − q × unit, is −rest × unit: its cost is rest × unit.
    const openU = subU(cashU, cashS, closeU, closeS);
    const openS = subS(cashS, closeU, closeS);
    this.pushRaw(restU, restS, 0n, 0, uu, us, ts, seq, undefined);
    // The book was flat: Σ cost = 0 + the rest's cost (as Dec.add: a zero cost keeps scale 0).
    if (openU === 0n) this.setSums(restU, restS, 0n, 0);
    else this.setSums(restU, restS, -openU, openS);
    return true;
  }

  release(x: Dec): Lot[] {
    this.own();
    assert(x.isPos() && x.lte(this.qty().abs()), 'release within the open quantity');
    const out: Lot[] = [];
    let left = x;
    const fifo = this.fifo;
    while (!left.isZero()) {
      const idx = fifo ? this.head : this.end - 1;
      assert(idx < this.end && idx >= this.head, 'lots cover the quantity');
      const lot = this.lotAt(idx);
      const lotAbs = lot.qty.abs();
      if (lotAbs.lte(left)) {
        out.push(lot);
        left = left.sub(lotAbs);
        this.drop(fifo);
      } else {
        const [taken, rest] = splitLot(lot, left);
        out.push(taken);
        this.setQu(idx, rest.qty.u);
        this.qs[idx] = rest.qty.s;
        if (rest.unit === undefined) {
          this.cu[idx] = rest.cost.u;
          this.cs[idx] = rest.cost.s;
        }
        left = Dec.ZERO;
      }
    }
    let qu = this.sqU;
    let qs = this.sqS;
    let cu = this.scU;
    let cs = this.scS;
    for (const l of out) {
      const q = l.qty;
      const c = l.cost;
      const nqu = qSubU(qu, qs, q.u, q.s);
      qs = qSubS(qs, q.u, q.s);
      qu = nqu;
      const ncu = subU(cu, cs, c.u, c.s);
      cs = subS(cs, c.u, c.s);
      cu = ncu;
    }
    if (this.costStale) this.setQty(qu, qs);
    else this.setSums(qu, qs, cu, cs);
    if (this.head === this.end) this.reset();
    return out;
  }

  close(x: Dec): Dec {
    this.own();
    // Callers close at most the open quantity (applyLeg compares first); the loop asserts cover.
    assert(x.isPos(), 'close a positive quantity');
    const ru = this.closeRaw(this.sqU < 0n ? -x.u : x.u, x.s);
    return new Dec(ru, this.relS);
  }

  /** The scale of the cost the last `closeRaw` released. */
  private relS = 0;

  /**
   * Closes (lu, ls), signed as the lots are (0 < |l| ≤ |qty|), in method order; returns the units
   * of the released cost, its scale in `relS`.
   */
  private closeRaw(lu: bigint, ls: number): bigint {
    const fifo = this.fifo;
    const short = this.sqU < 0n;
    const xu = lu;
    const xs = ls;
    // Released cost so far (Dec.ZERO).
    let ru = 0n;
    let rs = 0;
    for (;;) {
      const idx = fifo ? this.head : this.end - 1;
      assert(idx < this.end && idx >= this.head, 'lots cover the quantity');
      const qu = this.quAt(idx);
      const qs = this.qs[idx]!;
      const us = this.us[idx]!;
      // |lot| vs |left|, compared on the signed values (as one would be short: the other way).
      const a = short ? lu : qu;
      const b = short ? qu : lu;
      const c = ls === qs ? (a < b ? -1 : a > b ? 1 : 0) : short ? qCmp(lu, ls, qu, qs) : qCmp(qu, qs, lu, ls);
      if (c <= 0) {
        // The whole lot: its cost, or qty × unit.
        let tu: bigint;
        let ts: number;
        if (us < 0) {
          tu = this.cu[idx]!;
          ts = this.cs[idx]!;
        } else {
          tu = qu * this.uuAt(idx);
          ts = qs + us;
        }
        const nru = addU(ru, rs, tu, ts);
        rs = addS(ru, rs, tu, ts);
        ru = nru;
        this.drop(fifo);
        if (c === 0) break;
        const nlu = qSubU(lu, ls, qu, qs);
        ls = qSubS(ls, qu, qs);
        lu = nlu;
      } else {
        // Part of this lot: the taken cost exactly (x × unit) when the lot has a unit, else pro rata.
        let tu: bigint;
        let ts: number;
        if (us >= 0) {
          // x × unit for a long, −(x × unit) for a short: the signed left × unit either way.
          tu = lu * this.uuAt(idx);
          ts = ls + us;
        } else {
          const taken = this.takeProRata(idx, short ? -lu : lu, ls);
          tu = taken.u;
          ts = taken.s;
        }
        const nru = addU(ru, rs, tu, ts);
        rs = addS(ru, rs, tu, ts);
        ru = nru;
        // The rest of the lot, in place: qty − left (signed).
        this.setQu(idx, qSubU(qu, qs, lu, ls));
        this.qs[idx] = qSubS(qs, lu, ls);
        break;
      }
    }
    const qu = qSubU(this.sqU, this.sqS, xu, xs);
    const qs = qSubS(this.sqS, xu, xs);
    if (!this.costRead || this.costStale) this.setQty(qu, qs);
    else this.setSums(qu, qs, subU(this.scU, this.scS, ru, rs), subS(this.scS, ru, rs));
    if (this.head === this.end) this.reset();
    this.relS = rs;
    return ru;
  }

  /**
   * Takes |x| (0 < |x| < |lot|) of lot `idx`, which has no unit: its cost × |x| / |qty| rounded
   * half-even at 18 places, the rest of its cost kept in place (by subtraction). Returns the taken
   * cost, signed as the lot's. Apart from closeRaw, which it would swell for a case fills rarely
   * take (capitalised fees, restored lots).
   */
  private takeProRata(idx: number, xu: bigint, xs: number): Dec {
    const cu = this.cu[idx]!;
    const cs = this.cs[idx]!;
    const qu = this.quAt(idx);
    const taken = new Dec(cu, cs).mul(new Dec(xu, xs)).div(new Dec(qu < 0n ? -qu : qu, this.qs[idx]!), DIVISION_SCALE);
    this.cu[idx] = subU(cu, cs, taken.u, taken.s);
    this.cs[idx] = subS(cs, taken.u, taken.s);
    return taken;
  }

  restore(lots: readonly Lot[]): void {
    this.own();
    let qu = this.sqU;
    let qs = this.sqS;
    let cu = this.scU;
    let cs = this.scS;
    for (const l of lots) {
      assert(qu === 0n || (qu < 0n ? l.qty.u < 0n : l.qty.u > 0n), 'restore on the same side');
      const nqu = qAddU(qu, qs, l.qty.u, l.qty.s);
      qs = qAddS(qu, qs, l.qty.u, l.qty.s);
      qu = nqu;
      const ncu = addU(cu, cs, l.cost.u, l.cost.s);
      cs = addS(cu, cs, l.cost.u, l.cost.s);
      cu = ncu;
    }
    // Transferred lots keep their acquisition order: merge by (ts, seq).
    const merged = this.lots().concat(lots);
    merged.sort((a, b) => a.ts - b.ts || a.seq - b.seq);
    for (let i = this.head; i < this.end; i++) this.clearSlot(i);
    this.head = 0;
    this.end = 0;
    for (const l of merged) this.push(l.qty, l.cost, l.unit, l.ts, l.seq, l.rank);
    if (this.costStale) this.setQty(qu, qs);
    else this.setSums(qu, qs, cu, cs);
  }

  /** Flat: every lot gone (their slots are already cleared), the sums exactly zero. */
  private reset(): void {
    this.head = 0;
    this.end = 0;
    this.setSums(0n, 0, 0n, 0);
    this.qtyDec = Dec.ZERO;
    this.costDec = Dec.ZERO;
  }

  lots(): Lot[] {
    const out: Lot[] = [];
    for (let i = this.head; i < this.end; i++) out.push(this.lotAt(i));
    return out;
  }

  lotCount(): number {
    return this.end - this.head;
  }

  lotRowsJson(start: number, count: number): string | undefined {
    if (this.ranks !== undefined) return undefined;
    let out = '';
    const to = Math.min(this.end, this.head + start + count);
    for (let i = this.head + start; i < to; i++) {
      const qu = this.quAt(i);
      const qs = this.qs[i]!;
      const us = this.us[i]!;
      const cost = us < 0 ? unitsText(this.cu[i]!, this.cs[i]!) : unitsText(qu * this.uuAt(i), qs + us);
      const unit = us < 0 ? 'null' : `"${unitsText(this.uuAt(i), us)}"`;
      out += `${out.length === 0 ? '' : ','}["${unitsText(qu, qs)}","${cost}",${unit},${this.tss[i]!},${this.seqs[i]!},null,null]`;
    }
    return out;
  }

  clone(): LotBook {
    const c = new QueueBook(this.method);
    // The same columns, copied by whichever of the two changes first (`own`).
    c.qu = this.qu;
    c.qs = this.qs;
    c.cu = this.cu;
    c.cs = this.cs;
    c.uu = this.uu;
    c.us = this.us;
    c.tss = this.tss;
    c.seqs = this.seqs;
    c.ranks = this.ranks;
    c.wide = this.wide;
    c.head = this.head;
    c.end = this.end;
    c.sqU = this.sqU;
    c.sqS = this.sqS;
    c.scU = this.scU;
    c.scS = this.scS;
    c.qtyDec = this.qtyDec;
    c.costDec = this.costDec;
    c.costStale = this.costStale;
    c.costRead = this.costRead;
    c.shared = true;
    this.shared = true;
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
