/**
 * The FIFO/LIFO lot book keeps its lots in mutable columns (lots.ts, QueueBook). This test holds it
 * to the immutable implementation it replaced, copied here as the reference: after any sequence of
 * opens, closes, releases, restores, clones and reads, both give the same figures to the unit and
 * the scale (not only the same values), and nothing a caller was handed (lots, released lots, a
 * clone, an earlier qty or cost) changes under it when the book books on. Σ cost is the exception:
 * the queue sums its lots' costs when first asked (until then it keeps no running sum), so its
 * value is held to the reference's but not its scale (which the canonical text never shows); it
 * is read at some steps only, so that both ways of keeping it are exercised.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Dec, DIVISION_SCALE } from './decimal.js';
import { makeLot, newLotBook, splitLot, type Lot, type LotBook, type RealizedSink } from './lots.js';
import type { TsUs } from './events.js';

function assert(cond: boolean, message: string): asserts cond {
  if (!cond) throw new Error(`lot book invariant: ${message}`);
}

/** The queue book as it was before its lots became columns: one immutable object per lot. */
class ReferenceQueueBook implements LotBook {
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
    for (const l of out) {
      this.sumQty = this.sumQty.sub(l.qty);
      this.sumCost = this.sumCost.sub(l.cost);
    }
    if (this.head === this.items.length) this.reset();
    return out;
  }

  close(x: Dec): Dec {
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
        const takenCost = lot.unit !== undefined ? (short ? left.mulNeg(lot.unit) : left.mul(lot.unit)) : lot.cost.mul(left).div(lotAbs, DIVISION_SCALE);
        released = released.add(takenCost);
        this.items[idx] = { qty: short ? lot.qty.add(left) : lot.qty.sub(left), cost: lot.cost.sub(takenCost), unit: lot.unit, ts: lot.ts, seq: lot.seq, rank: lot.rank };
        break;
      }
    }
    this.sumQty = short ? this.sumQty.add(x) : this.sumQty.sub(x);
    this.sumCost = this.sumCost.sub(released);
    if (this.head === this.items.length) this.reset();
    return released;
  }

  restore(lots: readonly Lot[]): void {
    for (const l of lots) {
      assert(this.sumQty.isZero() || this.sumQty.sign() === l.qty.sign(), 'restore on the same side');
      this.sumQty = this.sumQty.add(l.qty);
      this.sumCost = this.sumCost.add(l.cost);
    }
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

  lots(): Lot[] {
    return this.items.slice(this.head);
  }

  clone(): LotBook {
    const c = new ReferenceQueueBook(this.method);
    c.items = this.items.slice(this.head);
    c.sumQty = this.sumQty;
    c.sumCost = this.sumCost;
    return c;
  }
}

/** A decimal's exact representation: units and scale. */
function raw(d: Dec | undefined): string {
  return d === undefined ? '-' : `${d.u}e-${d.s}`;
}

function rawLot(l: Lot): string {
  return `${raw(l.qty)} ${raw(l.cost)} ${raw(l.unit)} ${l.ts} ${l.seq} ${l.rank === undefined ? '-' : `${raw(l.rank.num)}/${raw(l.rank.den)}`}`;
}

type Op =
  | { kind: 'open'; units: bigint; scale: number; price: Dec; exact: boolean; extra: bigint }
  | { kind: 'close' | 'release'; part: number; scale: number }
  | { kind: 'restore'; pick: number }
  | { kind: 'clone'; keepOld: boolean }
  | { kind: 'read' };

/**
 * Units around and beyond 64 bits: the queue keeps quantities and units in BigInt64Arrays, with a
 * wider value held apart (lots.ts, WideUnits), so its tests cross that line both ways.
 */
const wideUnitsArb = fc.oneof(fc.bigInt({ min: 2n ** 63n - 2000n, max: 2n ** 63n + 2000n }), fc.bigInt({ min: 1n, max: 10n ** 25n }));

const priceArb = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.bigInt({ min: 1n, max: 10n ** 9n }), fc.integer({ min: 0, max: 6 })).map(([u, s]) => new Dec(u, s)) },
  { weight: 3, arbitrary: fc.constantFrom(Dec.ONE, Dec.of('100'), Dec.of('0.5'), Dec.of('1.0001')) },
  { weight: 1, arbitrary: fc.tuple(wideUnitsArb, fc.integer({ min: 0, max: 12 })).map(([u, s]) => new Dec(u, s)) },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('open' as const),
      units: fc.oneof({ weight: 5, arbitrary: fc.bigInt({ min: 1n, max: 20n }) }, { weight: 5, arbitrary: fc.bigInt({ min: 1n, max: 10n ** 10n }) }, { weight: 1, arbitrary: wideUnitsArb }),
      scale: fc.integer({ min: 0, max: 8 }),
      price: priceArb,
      exact: fc.boolean(),
      extra: fc.bigInt({ min: 0n, max: 10n ** 6n }),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constantFrom('close' as const, 'release' as const), part: fc.integer({ min: 1, max: 1000 }), scale: fc.integer({ min: 0, max: 9 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restore' as const), pick: fc.nat(1000) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('clone' as const), keepOld: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: 'read' }) },
);

/** A quantity to take: `part`/1000 of the open quantity at `scale` places (truncated), or all of it. */
function amount(open: Dec, part: number, scale: number): Dec | undefined {
  if (open.isZero()) return undefined;
  if (part === 1000) return open;
  const x = open.mul(new Dec(BigInt(part), 3));
  const u = x.s > scale ? x.u / 10n ** BigInt(x.s - scale) : x.u;
  const d = new Dec(u, Math.min(x.s, scale));
  return d.isZero() ? undefined : d;
}

function run(method: 'fifo' | 'lifo', side: 1 | -1, ops: readonly Op[]): void {
  let sut = newLotBook(method);
  let ref: LotBook = new ReferenceQueueBook(method);
  // What callers were handed, with what it said then: it must still say so at the end.
  const handed: { what: string; read: () => string; then: string }[] = [];
  const hand = (what: string, read: () => string): void => {
    handed.push({ what, read, then: read() });
  };
  const released: Lot[][] = [];
  let seq = 1;
  const check = (readCost: boolean): void => {
    expect(raw(sut.qty())).toBe(raw(ref.qty()));
    if (readCost) expect(sut.cost().eq(ref.cost()), `cost ${raw(sut.cost())} vs ${raw(ref.cost())}`).toBe(true);
    expect(sut.lots().map(rawLot)).toEqual(ref.lots().map(rawLot));
  };
  for (const op of ops) {
    switch (op.kind) {
      case 'open': {
        let qty = new Dec(op.units, op.scale);
        if (side < 0) qty = qty.neg();
        const unit = op.exact ? op.price : undefined;
        const cost = op.exact ? qty.mul(op.price) : qty.mul(op.price).add(new Dec(side < 0 ? -op.extra : op.extra, 4));
        sut.open(qty, cost, unit, 1_700_000_000_000_000 + seq, seq);
        ref.open(qty, cost, unit, 1_700_000_000_000_000 + seq, seq);
        seq++;
        break;
      }
      case 'close': {
        const x = amount(ref.qty().abs(), op.part, op.scale);
        if (x === undefined) break;
        const a = sut.close(x);
        expect(raw(a)).toBe(raw(ref.close(x)));
        break;
      }
      case 'release': {
        const x = amount(ref.qty().abs(), op.part, op.scale);
        if (x === undefined) break;
        const a = sut.release(x);
        const b = ref.release(x);
        expect(a.map(rawLot)).toEqual(b.map(rawLot));
        released.push(a);
        hand('released lots', () => a.map(rawLot).join('|'));
        break;
      }
      case 'restore': {
        // Lots released earlier come back (a transfer to this book), when on the book's side.
        if (released.length === 0) break;
        const lots = released.splice(op.pick % released.length, 1)[0]!;
        sut.restore(lots);
        ref.restore(lots);
        break;
      }
      case 'clone': {
        const a = sut.clone();
        const b = ref.clone();
        if (op.keepOld) {
          // The original books on; the clone is what was handed out.
          hand('a clone', () => `${raw(a.qty())} ${raw(a.cost())} ${a.lots().map(rawLot).join('|')}`);
        } else {
          // The clone books on; the original must stay as it was.
          const old = sut;
          hand('the original of a clone', () => `${raw(old.qty())} ${raw(old.cost())} ${old.lots().map(rawLot).join('|')}`);
          sut = a;
          ref = b;
        }
        break;
      }
      case 'read': {
        const lots = sut.lots();
        const q = sut.qty();
        const c = sut.cost();
        hand('lots()', () => lots.map(rawLot).join('|'));
        hand('qty() and cost()', () => `${raw(q)} ${raw(c)}`);
        break;
      }
    }
    check(op.kind === 'read' || op.kind === 'restore');
  }
  check(true);
  for (const h of handed) expect(h.read(), `${h.what} changed after it was handed out`).toBe(h.then);
}

describe('QueueBook (columns) against the immutable queue book it replaced', () => {
  for (const method of ['fifo', 'lifo'] as const) {
    it(`${method}: the same qty, cost, lots, closes and releases to the unit and scale; nothing handed out changes`, () => {
      fc.assert(
        fc.property(fc.constantFrom<1 | -1>(1, -1), fc.array(opArb, { minLength: 1, maxLength: 120 }), (side, ops) => run(method, side, ops)),
        { numRuns: 300 },
      );
    });
  }

  it('fifo: long runs through many compactions and growths of the columns', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<1 | -1>(1, -1),
        fc.array(fc.oneof({ weight: 5, arbitrary: opArb.filter((o) => o.kind === 'open') }, { weight: 4, arbitrary: opArb.filter((o) => o.kind === 'close') }, { weight: 1, arbitrary: opArb }), {
          minLength: 200,
          maxLength: 600,
        }),
        (side, ops) => run('fifo', side, ops),
      ),
      { numRuns: 30 },
    );
  });
});

/** A realized PnL kept as `applyLeg`'s Dec path keeps it. */
class Realized implements RealizedSink {
  value = Dec.ZERO;

  addRealized(u: bigint, s: number): void {
    this.value = this.value.add(new Dec(u, s));
  }
}

/**
 * `applyLeg`'s Dec path (book.ts) for a leg at an exact unit: open on the book's side, close at
 * most the open quantity, or close all and open the rest. Returns whether a lot was opened.
 */
function legByDecs(lots: LotBook, delta: Dec, cash: Dec, unit: Dec, ts: TsUs, seq: number, realized: Realized): boolean {
  const q = lots.qty();
  if (q.isZero() || q.sign() === delta.sign()) {
    lots.open(delta, cash.neg(), unit, ts, seq);
    return true;
  }
  if (delta.cmpAbs(q) <= 0) {
    realized.value = realized.value.add(cash.sub(lots.close(delta.abs())));
    return false;
  }
  const closeCash = q.mul(unit);
  const openCash = cash.sub(closeCash);
  realized.value = realized.value.add(closeCash.sub(lots.close(q.abs())));
  lots.open(delta.add(q), openCash.neg(), unit, ts, seq);
  return true;
}

type Leg = { kind: 'leg'; units: bigint; scale: number; unit: Dec } | { kind: 'all'; extra: bigint; scale: number; unit: Dec } | { kind: 'clone' } | { kind: 'read' };

const legArb: fc.Arbitrary<Leg> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('leg' as const), units: fc.oneof({ weight: 5, arbitrary: fc.bigInt({ min: -30n, max: 30n }) }, { weight: 5, arbitrary: fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }) }, { weight: 1, arbitrary: fc.tuple(wideUnitsArb, fc.boolean()).map(([u, neg]) => (neg ? -u : u)) }), scale: fc.integer({ min: 0, max: 9 }), unit: priceArb }) },
  // Exactly the open quantity reversed, plus a little more or nothing: full closes and flips.
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('all' as const), extra: fc.bigInt({ min: 0n, max: 5n }), scale: fc.integer({ min: 0, max: 9 }), unit: priceArb }) },
  { weight: 1, arbitrary: fc.constant<Leg>({ kind: 'clone' }) },
  { weight: 1, arbitrary: fc.constant<Leg>({ kind: 'read' }) },
);

describe('QueueBook.legAtUnit (raw units) against the Dec path of applyLeg', () => {
  for (const method of ['fifo', 'lifo'] as const) {
    it(`${method}: the same qty, lots, realized PnL and sequence numbers to the unit and scale (cost: the same value), through opens, closes, full closes and flips`, () => {
      fc.assert(
        fc.property(fc.array(legArb, { minLength: 1, maxLength: 150 }), (legs) => {
          let sut = newLotBook(method);
          let ref = newLotBook(method);
          const sutPnl = new Realized();
          const refPnl = new Realized();
          let sutSeq = 0;
          let refSeq = 0;
          let ts = 1_700_000_000_000_000;
          const handed: { read: () => string; then: string }[] = [];
          for (const leg of legs) {
            if (leg.kind === 'clone') {
              // The original must stay as it was while the clone books on.
              const old = sut;
              handed.push({ read: () => `${raw(old.qty())} ${raw(old.cost())} ${old.lots().map(rawLot).join('|')}`, then: `${raw(old.qty())} ${raw(old.cost())} ${old.lots().map(rawLot).join('|')}` });
              sut = sut.clone();
              ref = ref.clone();
              continue;
            }
            if (leg.kind === 'read') {
              const lots = sut.lots();
              handed.push({ read: () => lots.map(rawLot).join('|'), then: lots.map(rawLot).join('|') });
              continue;
            }
            let delta: Dec;
            if (leg.kind === 'leg') {
              if (leg.units === 0n) continue;
              delta = new Dec(leg.units, leg.scale);
            } else {
              const q = ref.qty();
              if (q.isZero()) continue;
              const more = new Dec(q.isNeg() ? leg.extra : -leg.extra, leg.scale);
              delta = q.neg().add(more);
            }
            const cash = delta.mulNeg(leg.unit);
            ts++;
            const opened = sut.legAtUnit!(delta.u, delta.s, cash.u, cash.s, leg.unit.u, leg.unit.s, ts, sutSeq, sutPnl);
            if (opened) sutSeq++;
            if (legByDecs(ref, delta, cash, leg.unit, ts, refSeq, refPnl)) refSeq++;
            expect(sutSeq).toBe(refSeq);
            expect(raw(sut.qty())).toBe(raw(ref.qty()));
            if (legs.indexOf(leg) % 7 === 6) expect(sut.cost().eq(ref.cost()), `cost ${raw(sut.cost())} vs ${raw(ref.cost())}`).toBe(true);
            expect(raw(sutPnl.value)).toBe(raw(refPnl.value));
            expect(sut.lots().map(rawLot)).toEqual(ref.lots().map(rawLot));
          }
          expect(sut.cost().eq(ref.cost()), `cost ${raw(sut.cost())} vs ${raw(ref.cost())}`).toBe(true);
          for (const h of handed) expect(h.read()).toBe(h.then);
        }),
        { numRuns: 400 },
      );
    });
  }
});
