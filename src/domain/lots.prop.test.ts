/**
 * Model-based tests of the lot books (DOMAIN.md §3, §7). Each run books a random list of operations
 * on one side (all long or all short) into a real book from `newLotBook` and into a naive model
 * written here: a plain array of lots re-sorted for every release (FIFO by seq ascending, LIFO by
 * seq descending, HIFO by acquisition unit cost descending, compared exactly by cross-multiplication,
 * then seq ascending), and for WAC one (qty, cost) pool releasing cost·x/|qty| rounded half-even at
 * 18 places, all of it when x = |qty|. After every step the two must agree exactly.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Dec, DIVISION_SCALE, pow10, sum } from './decimal.js';
import { COST_METHODS, newLotBook, type CostMethod, type Lot, type LotBook } from './lots.js';

type Side = 1 | -1;

// ---------------------------------------------------------------------------------------------
// Numbers: quantities up to 8 decimals, prices up to 6, all positive magnitudes (signed per run).

function decOf(units: bigint, scale: number): Dec {
  return new Dec(units, scale);
}

const qtyArb: fc.Arbitrary<Dec> = fc.oneof(
  fc.tuple(fc.bigInt({ min: 1n, max: 10n ** 10n }), fc.integer({ min: 0, max: 8 })).map(([u, s]) => decOf(u, s)),
  fc.tuple(fc.bigInt({ min: 1n, max: 50n }), fc.integer({ min: 0, max: 2 })).map(([u, s]) => decOf(u, s)),
);

const priceArb: fc.Arbitrary<Dec> = fc.oneof(
  fc.tuple(fc.bigInt({ min: 1n, max: 10n ** 9n }), fc.integer({ min: 0, max: 6 })).map(([u, s]) => decOf(u, s)),
  // A small set of prices so that HIFO meets ties in unit cost.
  fc.constantFrom('100', '120', '90', '0.5', '3', '33.333333').map((t) => Dec.of(t)),
);

/** A cost for a lot without an exact unit: a capitalised fee on a fill, or any non-negative cost. */
const costArb = (qty: Dec): fc.Arbitrary<Dec> =>
  fc.oneof(
    fc.tuple(priceArb, fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 6n }), fc.integer({ min: 0, max: 8 }))).map(([p, [fu, fs]]) => qty.mul(p).add(decOf(fu, fs))),
    fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 14n }), fc.integer({ min: 0, max: 10 })).map(([u, s]) => decOf(u, s)),
    fc.constantFrom(Dec.of('100'), Dec.of('1'), Dec.ZERO),
  );

// ---------------------------------------------------------------------------------------------
// Operations.

type Op =
  | { readonly kind: 'openExact'; readonly qty: Dec; readonly price: Dec }
  | { readonly kind: 'openCost'; readonly qty: Dec; readonly cost: Dec }
  | { readonly kind: 'releaseAll' }
  | { readonly kind: 'releaseFraction'; readonly k: number }
  | { readonly kind: 'releaseLots'; readonly n: number }
  | { readonly kind: 'restore'; readonly pick: number; readonly count: number }
  | { readonly kind: 'clone' };

const openExactArb: fc.Arbitrary<Op> = fc.record({ kind: fc.constant('openExact' as const), qty: qtyArb, price: priceArb });
const openCostArb: fc.Arbitrary<Op> = qtyArb.chain((qty) => costArb(qty).map((cost): Op => ({ kind: 'openCost', qty, cost })));
const releaseArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 1, arbitrary: fc.constant<Op>({ kind: 'releaseAll' }) },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 9999 }).map((k): Op => ({ kind: 'releaseFraction', k })) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 4 }).map((n): Op => ({ kind: 'releaseLots', n })) },
);
const restoreArb: fc.Arbitrary<Op> = fc.record({ kind: fc.constant('restore' as const), pick: fc.nat(1000), count: fc.integer({ min: 1, max: 3 }) });
const cloneArb: fc.Arbitrary<Op> = fc.constant<Op>({ kind: 'clone' });

function opsArb(opens: fc.Arbitrary<Op>[]): fc.Arbitrary<Op[]> {
  return fc.array(
    fc.oneof(
      ...opens.map((arbitrary) => ({ weight: 6 / opens.length, arbitrary })),
      { weight: 5, arbitrary: releaseArb },
      { weight: 3, arbitrary: restoreArb },
      { weight: 1, arbitrary: cloneArb },
    ),
    { minLength: 1, maxLength: 40, size: 'max' },
  );
}

const sideArb: fc.Arbitrary<Side> = fc.constantFrom<Side>(1, -1);
const methodArb: fc.Arbitrary<CostMethod> = fc.constantFrom(...COST_METHODS);
const RUNS = { numRuns: 200 };

/** Truncates a non-negative value toward zero at `scale` places. */
function truncate(d: Dec, scale: number): Dec {
  return d.s <= scale ? d : new Dec(d.u / pow10(d.s - scale), scale);
}

/** The quantity a release op asks for, given the open |qty| and the model's release order. */
function releaseAmount(op: Op, open: Dec, orderAbs: readonly Dec[]): Dec | undefined {
  if (open.isZero()) return undefined;
  switch (op.kind) {
    case 'releaseAll':
      return open;
    case 'releaseFraction': {
      const x = truncate(open.mul(new Dec(BigInt(op.k), 4)), 8);
      return x.isZero() ? open.min(new Dec(1n, 8)) : x;
    }
    case 'releaseLots':
      // A lot boundary: the sum of the first n lots in release order (all of a WAC pool).
      return orderAbs.length === 0 ? open : sum(orderAbs.slice(0, op.n));
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// The naive model.

interface MLot {
  readonly qty: Dec;
  readonly cost: Dec;
  readonly unit: Dec | undefined;
  readonly seq: number;
  readonly ts: number;
  /** |cost| and |qty| at acquisition: HIFO orders by their ratio, which a split never changes. */
  readonly acqCost: Dec;
  readonly acqQty: Dec;
}

/** a's acquisition unit cost vs b's, exactly: |ca|/|qa| vs |cb|/|qb| by cross-multiplication. */
function cmpUnit(a: MLot, b: MLot): number {
  return a.acqCost.mul(b.acqQty).cmp(b.acqCost.mul(a.acqQty));
}

class Model {
  /** FIFO/LIFO/HIFO lots, kept in seq order. */
  lots: MLot[] = [];
  /** WAC pool. */
  pool = { qty: Dec.ZERO, cost: Dec.ZERO };

  constructor(readonly method: CostMethod) {}

  qty(): Dec {
    return this.method === 'wac' ? this.pool.qty : sum(this.lots.map((l) => l.qty));
  }

  cost(): Dec {
    return this.method === 'wac' ? this.pool.cost : sum(this.lots.map((l) => l.cost));
  }

  hasSeq(seq: number): boolean {
    return this.lots.some((l) => l.seq === seq);
  }

  open(qty: Dec, cost: Dec, unit: Dec | undefined, seq: number): void {
    if (this.method === 'wac') {
      this.pool = { qty: this.pool.qty.add(qty), cost: this.pool.cost.add(cost) };
      return;
    }
    this.lots.push({ qty, cost, unit, seq, ts: seq, acqCost: cost.abs(), acqQty: qty.abs() });
  }

  restore(lots: readonly MLot[]): void {
    if (this.method === 'wac') {
      for (const l of lots) this.open(l.qty, l.cost, undefined, l.seq);
      return;
    }
    this.lots = this.lots.concat(lots).sort((a, b) => a.seq - b.seq);
  }

  /** Lots in the order this method releases them. */
  order(): MLot[] {
    const byUnitThenSeq = (a: MLot, b: MLot): number => -cmpUnit(a, b) || a.seq - b.seq;
    switch (this.method) {
      case 'fifo':
        return this.lots.slice().sort((a, b) => a.seq - b.seq);
      case 'lifo':
        return this.lots.slice().sort((a, b) => b.seq - a.seq);
      case 'hifo':
        return this.lots.slice().sort(byUnitThenSeq);
      case 'wac':
        return [];
    }
  }

  release(x: Dec): MLot[] {
    if (this.method === 'wac') {
      const { qty, cost } = this.pool;
      const taken = x.eq(qty.abs()) ? { qty, cost } : { qty: qty.isNeg() ? x.neg() : x, cost: cost.mul(x).div(qty.abs(), DIVISION_SCALE) };
      this.pool = { qty: qty.sub(taken.qty), cost: cost.sub(taken.cost) };
      return [{ ...taken, unit: undefined, seq: 0, ts: 0, acqCost: Dec.ZERO, acqQty: Dec.ONE }];
    }
    const out: MLot[] = [];
    let left = x;
    for (const lot of this.order()) {
      if (left.isZero()) break;
      const abs = lot.qty.abs();
      this.lots = this.lots.filter((l) => l !== lot);
      if (abs.lte(left)) {
        out.push(lot);
        left = left.sub(abs);
      } else {
        const takenQty = lot.qty.isNeg() ? left.neg() : left;
        const takenCost = lot.unit !== undefined ? takenQty.mul(lot.unit) : lot.cost.mul(left).div(abs, DIVISION_SCALE);
        out.push({ ...lot, qty: takenQty, cost: takenCost });
        this.lots.push({ ...lot, qty: lot.qty.sub(takenQty), cost: lot.cost.sub(takenCost) });
        this.lots.sort((a, b) => a.seq - b.seq);
        left = Dec.ZERO;
      }
    }
    if (!left.isZero()) throw new Error('model: release beyond the open quantity');
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Checks.

// Cheap assertions for the per-step checks: vitest's expect costs more than the books themselves.
function must(cond: boolean, what: string): void {
  if (!cond) throw new Error(`expected ${what}`);
}

function same<T>(got: T, want: T, what: string): void {
  if (got !== want) throw new Error(`${what}: expected ${String(want)}, got ${String(got)}`);
}

function sameList(got: readonly string[], want: readonly string[], what: string): void {
  if (got.length !== want.length || got.some((g, i) => g !== want[i])) throw new Error(`${what}: expected [${want.join(', ')}], got [${got.join(', ')}]`);
}

const show = (l: { qty: Dec; cost: Dec; seq: number }): string => `${l.seq}:${l.qty.toString()}@${l.cost.toString()}`;

function checkBook(book: LotBook, side: Side, model: Model | undefined): void {
  const lots = book.lots();
  must(book.qty().eq(sum(lots.map((l) => l.qty))), 'qty = Σ lots');
  must(book.cost().eq(sum(lots.map((l) => l.cost))), 'cost = Σ lot costs');
  for (const l of lots) {
    same(l.qty.sign(), side, 'every lot has the side of the book');
    must(l.cost.sign() !== -side, 'no lot cost of the other sign');
  }
  for (let i = 1; i < lots.length; i++) {
    const a = lots[i - 1]!;
    const b = lots[i]!;
    must(a.ts < b.ts || (a.ts === b.ts && a.seq <= b.seq), 'lots() in acquisition order');
  }
  if (book.qty().isZero()) {
    must(book.cost().isZero(), 'a flat book to have no cost');
    same(lots.length, 0, 'lots of a flat book');
  }
  if (model === undefined) return;
  same(book.qty().toString(), model.qty().toString(), 'qty');
  same(book.cost().toString(), model.cost().toString(), 'cost');
  if (model.method === 'wac') {
    same(lots.length, model.qty().isZero() ? 0 : 1, 'WAC lots');
    return;
  }
  const canon = (xs: readonly { qty: Dec; cost: Dec; seq: number }[]): string[] => xs.map(show).sort();
  sameList(canon(lots), canon(model.lots), 'lots');
  for (const l of lots) {
    const m = model.lots.find((ml) => ml.seq === l.seq)!;
    // HIFO ranks each lot by its unit cost at acquisition; the other methods need no rank.
    if (model.method === 'hifo') {
      // The rank is the exact ratio at acquisition: num / den = |unit|, or |cost| / |qty| then.
      const r = l.rank;
      const exact = r !== undefined && (l.unit !== undefined ? r.num.eq(l.unit.abs()) && r.den.eq(Dec.ONE) : r.num.mul(m.acqQty.abs()).eq(m.acqCost.abs().mul(r.den)));
      must(exact, 'HIFO rank fixed at acquisition');
    }
    same(l.unit?.toString(), m.unit?.toString(), 'unit');
  }
}

interface Pooled {
  sut: Lot;
  model: MLot;
  restored: boolean;
}

interface RunTotals {
  opened: Dec;
  released: Dec;
  restored: Dec;
}

/** Runs ops against a book and the model; `strict` restricts restores to seqs absent from the book. */
function run(method: CostMethod, side: Side, ops: readonly Op[], strict: boolean): void {
  let book = newLotBook(method);
  expect(book.method).toBe(method);
  const model = new Model(method);
  const pool: Pooled[] = [];
  const clones: { book: LotBook; qty: string; cost: string; lots: string[] }[] = [];
  const totals: RunTotals = { opened: Dec.ZERO, released: Dec.ZERO, restored: Dec.ZERO };
  let seq = 1;
  const signed = (d: Dec): Dec => (side < 0 ? d.neg() : d);

  for (const op of ops) {
    switch (op.kind) {
      case 'openExact': {
        const qty = signed(op.qty);
        const cost = qty.mul(op.price);
        book.open(qty, cost, op.price, seq, seq);
        model.open(qty, cost, op.price, seq);
        totals.opened = totals.opened.add(cost);
        seq++;
        break;
      }
      case 'openCost': {
        const qty = signed(op.qty);
        const cost = signed(op.cost);
        book.open(qty, cost, undefined, seq, seq);
        model.open(qty, cost, undefined, seq);
        totals.opened = totals.opened.add(cost);
        seq++;
        break;
      }
      case 'releaseAll':
      case 'releaseFraction':
      case 'releaseLots': {
        const open = model.qty().abs();
        const x = releaseAmount(op, open, model.order().map((l) => l.qty.abs()));
        if (x === undefined) break;
        const out = book.release(x);
        const expected = model.release(x);
        must(sum(out.map((l) => l.qty)).eq(signed(x)), 'released quantity to be x');
        for (const l of out) same(l.qty.sign(), side, 'released lot side');
        if (method === 'wac') same(out.length, 1, 'WAC released lots');
        if (strict) {
          same(sum(out.map((l) => l.cost)).toString(), sum(expected.map((l) => l.cost)).toString(), 'released cost');
          if (method !== 'wac') sameList(out.map(show), expected.map(show), 'released lots');
        }
        if (x.eq(open)) {
          must(book.qty().u === 0n && book.cost().u === 0n, 'a full release to leave exactly 0 qty and 0 cost');
          same(book.lots().length, 0, 'lots after a full release');
        }
        totals.released = totals.released.add(sum(out.map((l) => l.cost)));
        // Strict runs pair each released lot with the model's (asserted equal above); otherwise the
        // model, whose tie order among duplicate seqs is its own, restores what the book released.
        out.forEach((l, i) => pool.push({ sut: l, model: strict ? expected[i]! : { ...l, acqCost: l.cost.abs(), acqQty: l.qty.abs() }, restored: false }));
        break;
      }
      case 'restore': {
        const open = pool.filter((p) => !p.restored);
        if (open.length === 0) break;
        const chosen: Pooled[] = [];
        for (let i = 0; i < open.length && chosen.length < op.count; i++) {
          const p = open[(op.pick + i) % open.length]!;
          const clash = method !== 'wac' && strict && (model.hasSeq(p.sut.seq) || chosen.some((c) => c.sut.seq === p.sut.seq));
          if (!clash) chosen.push(p);
        }
        if (chosen.length === 0) break;
        for (const c of chosen) c.restored = true;
        book.restore(chosen.map((c) => c.sut));
        model.restore(chosen.map((c) => c.model));
        totals.restored = totals.restored.add(sum(chosen.map((c) => c.sut.cost)));
        break;
      }
      case 'clone': {
        clones.push({ book, qty: book.qty().toString(), cost: book.cost().toString(), lots: book.lots().map(show) });
        book = book.clone();
        expect(book.method).toBe(method);
        break;
      }
    }
    checkBook(book, side, strict ? model : undefined);
    // Cost is conserved exactly: nothing appears or vanishes in a split.
    must(book.cost().eq(totals.opened.sub(totals.released).add(totals.restored)), 'cost conserved: opened − released + restored');
    if (!strict) must(book.qty().eq(model.qty()), 'qty independent of release order');
  }
  for (const c of clones) {
    expect(c.book.qty().toString(), 'a clone leaves its original alone').toBe(c.qty);
    expect(c.book.cost().toString()).toBe(c.cost);
    expect(c.book.lots().map(show)).toEqual(c.lots);
  }
}

// ---------------------------------------------------------------------------------------------
// Properties.

describe('lot books against a naive model', () => {
  for (const method of COST_METHODS) {
    it(`${method}: qty, cost, lots and released lots equal the model after every step`, () => {
      fc.assert(
        fc.property(sideArb, opsArb([openExactArb, openCostArb]), (side, ops) => run(method, side, ops, true)),
        RUNS,
      );
    });
  }

  it('all methods: with fragments restored beside their remainders (duplicate seqs), the invariants hold', () => {
    fc.assert(
      fc.property(methodArb, sideArb, opsArb([openExactArb, openCostArb]), (method, side, ops) => run(method, side, ops, false)),
      RUNS,
    );
  });

  it('qty is independent of the method at every step; released plus open cost is the opened cost for every method', () => {
    fc.assert(
      fc.property(sideArb, opsArb([openExactArb, openCostArb]), (side, ops) => {
        const books = COST_METHODS.map((m) => newLotBook(m));
        const released = COST_METHODS.map(() => Dec.ZERO);
        let opened = Dec.ZERO;
        let seq = 1;
        for (const op of ops) {
          if (op.kind === 'openExact' || op.kind === 'openCost') {
            const qty = side < 0 ? op.qty.neg() : op.qty;
            const cost = op.kind === 'openExact' ? qty.mul(op.price) : side < 0 ? op.cost.neg() : op.cost;
            for (const b of books) b.open(qty, cost, op.kind === 'openExact' ? op.price : undefined, seq, seq);
            opened = opened.add(cost);
            seq++;
          } else if (op.kind === 'releaseAll' || op.kind === 'releaseFraction') {
            const x = releaseAmount(op, books[0]!.qty().abs(), []);
            if (x !== undefined) books.forEach((b, i) => (released[i] = released[i]!.add(sum(b.release(x).map((l) => l.cost)))));
          }
          const q = books[0]!.qty().toString();
          books.forEach((b, i) => {
            same(b.qty().toString(), q, `${b.method} qty`);
            must(released[i]!.add(b.cost()).eq(opened), `${b.method}: released + open cost = opened cost`);
          });
        }
        // Closing out releases exactly what is left and leaves exactly zero, for every method.
        books.forEach((b, i) => {
          const open = b.qty().abs();
          if (!open.isZero()) released[i] = released[i]!.add(sum(b.release(open).map((l) => l.cost)));
          expect(b.qty().u).toBe(0n);
          expect(b.cost().u).toBe(0n);
          expect(released[i]!.toString()).toBe(opened.toString());
        });
      }),
      RUNS,
    );
  });
});

describe('separate convention: lots with an exact unit never round', () => {
  for (const method of ['fifo', 'lifo', 'hifo'] as const) {
    it(`${method}: every release is qty × unit at no more than (max qty scale + max price scale) places`, () => {
      fc.assert(
        fc.property(
          sideArb,
          fc.array(fc.oneof({ weight: 1, arbitrary: openExactArb }, { weight: 1, arbitrary: releaseArb }), { minLength: 1, maxLength: 40, size: 'max' }),
          (side, ops) => {
            const book = newLotBook(method);
            let seq = 1;
            let maxQtyScale = 0;
            let maxPriceScale = 0;
            for (const op of ops) {
              if (op.kind === 'openExact') {
                const qty = side < 0 ? op.qty.neg() : op.qty;
                maxQtyScale = Math.max(maxQtyScale, qty.s);
                maxPriceScale = Math.max(maxPriceScale, op.price.s);
                book.open(qty, qty.mul(op.price), op.price, seq, seq);
                seq++;
                continue;
              }
              const x = releaseAmount(op, book.qty().abs(), book.lots().map((l) => l.qty.abs()));
              if (x === undefined) continue;
              // releaseLots over lots() (acquisition order) is still a valid amount for any method.
              maxQtyScale = Math.max(maxQtyScale, x.s);
              for (const l of book.release(x)) {
                must(l.unit !== undefined && l.cost.eq(l.qty.mul(l.unit)), 'released cost exactly qty × unit');
                must(l.cost.s <= maxQtyScale + maxPriceScale && l.cost.s < DIVISION_SCALE, `released cost scale ${l.cost.s} within the inputs' (no rounding)`);
              }
              for (const l of book.lots()) {
                must(l.unit !== undefined && l.cost.eq(l.qty.mul(l.unit)), 'remaining cost exactly qty × unit');
                must(l.cost.s <= maxQtyScale + maxPriceScale, `remaining cost scale ${l.cost.s} within the inputs'`);
              }
              must(book.cost().s <= maxQtyScale + maxPriceScale, `book cost scale ${book.cost().s} within the inputs'`);
            }
          },
        ),
        RUNS,
      );
    });
  }
});

describe('FIFO past its compaction threshold (more than 1024 released heads)', () => {
  it('releases in order, keeps qty, cost and lots exact, and restores and clones correctly', () => {
    // Lot i (1-based) holds 1 unit at unit cost i, so the first r units released cost 1 + … + r.
    const N = 1500;
    const costOfFirst = (units: bigint): bigint => (units * (units + 1n)) / 2n;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 20, max: 60 }), { minLength: 60, maxLength: 80 }), fc.boolean(), (chunks, withClone) => {
        let book = newLotBook('fifo');
        for (let i = 1; i <= N; i++) book.open(Dec.int(1), Dec.int(i), Dec.int(i), i, i);
        const total = costOfFirst(BigInt(N));
        let released = 0n;
        const out: Lot[] = [];
        for (const c of chunks) {
          const x = BigInt(Math.min(c, N - Number(released)));
          if (x === 0n) break;
          const lots = book.release(Dec.int(x));
          out.push(...lots);
          same(sum(lots.map((l) => l.cost)).toString(), (costOfFirst(released + x) - costOfFirst(released)).toString(), 'released cost');
          released += x;
          same(book.qty().toString(), (BigInt(N) - released).toString(), 'qty');
          same(book.cost().toString(), (total - costOfFirst(released)).toString(), 'cost');
          const left = book.lots();
          same(left.length, N - Number(released), 'open lots');
          if (left.length > 0) same(left[0]!.seq, Number(released) + 1, 'head lot');
          if (withClone) book = book.clone();
        }
        // Restoring every released lot puts them back at the front, in acquisition order.
        book.restore(out);
        same(book.qty().toString(), String(N), 'qty after restore');
        same(book.cost().toString(), total.toString(), 'cost after restore');
        const all = book.lots();
        must(all.length === N && all.every((l, i) => l.seq === i + 1), 'all lots back in seq order');
        same(sum(book.release(Dec.int(N)).map((l) => l.cost)).toString(), total.toString(), 'full release cost');
        must(book.qty().u === 0n && book.cost().u === 0n && book.lots().length === 0, 'a full release to leave nothing');
      }),
      { numRuns: 20 },
    );
  });
});
