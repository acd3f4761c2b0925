/**
 * Snapshots: a book's state, and the marks, as plain JSON-ready values (decimals as canonical
 * strings) and back. Restoring a snapshot gives a state that books and reports exactly as the
 * original: lots keep their order, cost, unit, acquisition time and sequence.
 *
 * Used to hand books between threads (the sharded replay) and, later, to store position and lot
 * snapshots in PostgreSQL (issue 3).
 */
import { BookState, SpotPosition, type BookSettings, type Position } from './book.js';
import { Dec } from './decimal.js';
import type { BookingCode } from './errors.js';
import type { TsUs } from './events.js';
import { newLotBook, type Lot } from './lots.js';
import type { Marks } from './marks.js';

type LotRow = [qty: string, cost: string, unit: string | null, ts: TsUs, seq: number, rankNum: string | null, rankDen: string | null];

export type PositionSnapshot =
  | { kind: 'spot'; key: string; asset: string; venue: string | null; realized: string; fees: string; lots: LotRow[] }
  | {
      kind: 'derivative';
      key: string;
      instrument: string;
      venue: string;
      qty: string;
      entry: string;
      realized: string;
      realizedSettle: string;
      fees: string;
      funding: string;
      fundingSettle: string;
    };

export interface BookSnapshot {
  book: string;
  settings: BookSettings;
  positions: PositionSnapshot[];
  balances: [venue: string, account: string, asset: string, qty: string][];
  unbooked: [id: string, code: string, message: string, ts: TsUs][];
  cashFees: string;
  lotSeq: number;
  booked: number;
}

const d = (text: string): Dec => Dec.of(text);

function lotRow(l: Lot): LotRow {
  return [l.qty.toString(), l.cost.toString(), l.unit?.toString() ?? null, l.ts, l.seq, l.rank?.num.toString() ?? null, l.rank?.den.toString() ?? null];
}

function rowLot(r: LotRow): Lot {
  const [qty, cost, unit, ts, seq, num, den] = r;
  return { qty: d(qty), cost: d(cost), unit: unit === null ? undefined : d(unit), ts, seq, rank: num === null || den === null ? undefined : { num: d(num), den: d(den) } };
}

export function snapshotBook(s: BookState): BookSnapshot {
  const positions: PositionSnapshot[] = [];
  for (const [key, p] of s.positions) positions.push(snapshotPosition(key, p));
  const unbooked: BookSnapshot['unbooked'] = [];
  for (const [id, u] of s.unbooked) unbooked.push([id, u.code, u.message, u.ts]);
  return { book: s.book, settings: s.settings, positions, balances: snapshotBalances(s), unbooked, cashFees: s.cashFees.toString(), lotSeq: s.lotSeq, booked: s.booked };
}

/**
 * `JSON.stringify(snapshotBook(s))` in pieces, one per position and a spot position's lots
 * LOTS_PER_PIECE at a time (the lots are most of a large book's snapshot), for a caller that does
 * other work between them. Read all of it before `s` changes again.
 */
export function* snapshotBookJson(s: BookState): Generator<string, void, undefined> {
  const head = JSON.stringify({ book: s.book, settings: s.settings });
  yield `${head.slice(0, -1)},"positions":[`;
  let first = true;
  for (const [key, p] of s.positions) {
    if (p.kind === 'spot') {
      let piece = first ? '' : ',';
      for (const part of spotJson(key, p)) {
        yield piece + part;
        piece = '';
      }
    } else yield `${first ? '' : ','}${JSON.stringify(snapshotPosition(key, p))}`;
    first = false;
  }
  const unbooked: BookSnapshot['unbooked'] = [];
  for (const [id, u] of s.unbooked) unbooked.push([id, u.code, u.message, u.ts]);
  const tail = JSON.stringify({ balances: snapshotBalances(s), unbooked, cashFees: s.cashFees.toString(), lotSeq: s.lotSeq, booked: s.booked });
  yield `],${tail.slice(1)}`;
}

/** Lots per piece of `spotJson` (a cash position can hold tens of thousands). */
const LOTS_PER_PIECE = 1024;

/**
 * `JSON.stringify(snapshotPosition(key, p))` of a spot position, written directly and in pieces
 * of LOTS_PER_PIECE lots: the lots are most of a large book's snapshot, and a row array per lot
 * to stringify is most of its cost. Decimals print as digits, sign and point, and timestamps and
 * sequence numbers as integers: nothing of a lot needs escaping; the names go through
 * JSON.stringify.
 */
function* spotJson(key: string, p: SpotPosition): Generator<string, void, undefined> {
  const venue = p.venue === undefined ? 'null' : JSON.stringify(p.venue);
  let out = `{"kind":"spot","key":${JSON.stringify(key)},"asset":${JSON.stringify(p.asset)},"venue":${venue},"realized":"${p.realized.toString()}","fees":"${p.fees.toString()}","lots":[`;
  const book = p.lots;
  const n = book.lotCount?.();
  if (n !== undefined && book.lotRowsJson !== undefined && book.lotRowsJson(0, 0) !== undefined) {
    // Rows straight from the book's columns, a piece at a time.
    for (let at = 0; at < n; at += LOTS_PER_PIECE) {
      const rows = book.lotRowsJson(at, LOTS_PER_PIECE)!;
      out += at === 0 ? rows : `,${rows}`;
      if (at + LOTS_PER_PIECE < n) {
        yield out;
        out = '';
      }
    }
    yield `${out}]}`;
    return;
  }
  const lots = book.lots();
  for (let i = 0; i < lots.length; i++) {
    const l = lots[i]!;
    const unit = l.unit === undefined ? 'null' : `"${l.unit.toString()}"`;
    const rank = l.rank === undefined ? 'null,null' : `"${l.rank.num.toString()}","${l.rank.den.toString()}"`;
    out += `${i === 0 ? '' : ','}["${l.qty.toString()}","${l.cost.toString()}",${unit},${l.ts},${l.seq},${rank}]`;
    if ((i + 1) % LOTS_PER_PIECE === 0 && i + 1 < lots.length) {
      yield out;
      out = '';
    }
  }
  yield `${out}]}`;
}

/** Every balance cell of the book (zeros too), as in its snapshot. */
export function snapshotBalances(s: BookState): BookSnapshot['balances'] {
  const balances: BookSnapshot['balances'] = [];
  for (const [venue, accounts] of s.balances) for (const [account, assets] of accounts) for (const [asset, cell] of assets) balances.push([venue, account, asset, cell.qty.toString()]);
  return balances;
}

function snapshotPosition(key: string, p: Position): PositionSnapshot {
  if (p.kind === 'spot') {
    return { kind: 'spot', key, asset: p.asset, venue: p.venue ?? null, realized: p.realized.toString(), fees: p.fees.toString(), lots: p.lots.lots().map(lotRow) };
  }
  return {
    kind: 'derivative',
    key,
    instrument: p.instrument,
    venue: p.venue,
    qty: p.qty.toString(),
    entry: p.entry.toString(),
    realized: p.realized.toString(),
    realizedSettle: p.realizedSettle.toString(),
    fees: p.fees.toString(),
    funding: p.funding.toString(),
    fundingSettle: p.fundingSettle.toString(),
  };
}

export function restoreBook(snap: BookSnapshot): BookState {
  const s = new BookState(snap.book, snap.settings);
  for (const p of snap.positions) {
    let pos: Position;
    if (p.kind === 'spot') {
      const lots = newLotBook(snap.settings.method);
      lots.restore(p.lots.map(rowLot));
      pos = new SpotPosition(p.asset, p.venue ?? undefined, lots, d(p.realized), d(p.fees));
    } else {
      pos = {
        kind: 'derivative',
        instrument: p.instrument,
        venue: p.venue,
        qty: d(p.qty),
        entry: d(p.entry),
        realized: d(p.realized),
        realizedSettle: d(p.realizedSettle),
        fees: d(p.fees),
        funding: d(p.funding),
        fundingSettle: d(p.fundingSettle),
      };
    }
    s.positions.set(p.key, pos);
  }
  for (const [venue, account, asset, qty] of snap.balances) s.addBalance(venue, account, asset, d(qty));
  for (const [id, code, message, ts] of snap.unbooked) s.unbooked.set(id, { code: code as BookingCode, message, ts });
  s.cashFees = d(snap.cashFees);
  s.lotSeq = snap.lotSeq;
  s.booked = snap.booked;
  return s;
}

export type MarksSnapshot = [asset: string, quote: string, points: [ts: TsUs, id: string, price: string][]][];

export function snapshotMarks(m: Marks): MarksSnapshot {
  return m.series().map(([asset, quote, points]) => [asset, quote, points.map((p) => [p.ts, p.id, p.price.toString()] as [TsUs, string, string])]);
}

export function restoreMarks(m: Marks, snap: MarksSnapshot): void {
  for (const [asset, quote, points] of snap) for (const [ts, id, price] of points) m.add(asset, quote, ts, id, d(price));
}
