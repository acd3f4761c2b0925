/**
 * The fast path of the boundary for the commonest line of all: a canonical trade, fields in the
 * documented order, no escapes. It reads the JSON text and validates each field in one pass,
 * building the TradeEvent directly (no intermediate object), several times faster than
 * JSON.parse followed by validateEvent.
 *
 * Contract (property-tested): for any text, `decodeTradeLine` returns undefined (declines: the
 * caller takes the general path, which also reports every problem) or exactly the event that
 * `validateEvent(JSON.parse(text))` accepts. It never rejects anything itself.
 *
 * A log repeats its few books, venues, accounts, instruments, sides and fee assets on every line,
 * and its timestamps share their date and time to the second with the line before. So the decoder
 * keeps memos of pieces of line text it has already read and found valid, keys and quotes
 * included: the run from `","book":"` to `","qty":"` (book, venue, account, instrument and side at
 * once), the fee's asset with its keys, and the timestamp up to its seconds. A piece of a new line
 * equal to a remembered one, character for character (one native string comparison), is taken as
 * it was read then; anything else is read field by field and checked. A memo is chosen by a hash of
 * a few characters, but only an exact comparison ever accepts one, so a memo can make the decoder
 * faster, never change its answer. What is remembered is valid whatever the registry holds: a spot
 * instrument is valid at every venue, and a derivative (whose validity depends on the registered
 * terms) is never remembered.
 *
 * Reading characters one at a time (`charCodeAt`) is what costs here: a line is a slice of a large
 * chunk of the file, and each character read from it takes some 50 instructions (measured under
 * cachegrind; a flat string takes a few). So the pieces are found with `indexOf` of a quote and
 * compared whole, constant keys included (`holds`), and characters are read one by one only where
 * a value must be (digits, the id's own short copy, a few for the memos' hashes).
 */
import { decimalAt } from './decimal.js';
import type { Fee, Side, TradeEvent, TsUs } from './events.js';
import { ASSET_RE, type InstrumentRegistry } from './instrument.js';
import { parseTimestamp, parseTimestampAt } from './time.js';
import { isName } from './validate.js';

const PREFIX = '{"type":"trade","id":"';
const K_TS = '","ts":"';
const K_BOOK = '","book":"';
const K_VENUE = '","venue":"';
const K_ACCOUNT = '","account":"';
const K_INSTRUMENT = '","instrument":"';
const K_SIDE = '","side":"';
const K_QTY = '","qty":"';
const K_PRICE = '","price":"';
const K_FEE = '","fee":{"asset":"';
const K_AMOUNT = '","amount":"';
const ID_MAX = 256;
const QUOTE = 34;
const BACKSLASH = 92;
const CLOSE = 125;
/** `YYYY-MM-DDTHH:MM:SS`: the part of a timestamp remembered. */
const TS_SECONDS = 19;

/** Whether `token` stands at `i` in `t` (past the end: no), character by character: for the paths that miss the memos. */
function at(t: string, i: number, token: string): boolean {
  for (let k = 0; k < token.length; k++) if (t.charCodeAt(i + k) !== token.charCodeAt(k)) return false;
  return true;
}

/** Whether `t` holds `piece` at `i`: one native comparison (a slice of 13+ characters is not a copy, a shorter one a small one). */
function holds(t: string, i: number, piece: string): boolean {
  return t.slice(i, i + piece.length) === piece;
}

/** A copy of a string that holds no reference to the (large) text it was sliced from. */
function detached(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}

function mix(h: number, v: number): number {
  const x = Math.imul(h ^ v, 0x9e3779b1);
  return x ^ (x >>> 15);
}

interface Piece {
  /** The exact text, keys and quotes included. */
  readonly text: string;
  /** Its hash (the memo's choice of where to keep it). */
  readonly hash: number;
}

const WAYS = 4;

/** A memo of pieces, four ways per hash (a fifth piece in the same set replaces one). */
class Pieces<T extends Piece> {
  private readonly slots: (T | undefined)[];
  private readonly mask: number;

  constructor(bits: number) {
    this.slots = new Array<T | undefined>(1 << bits).fill(undefined);
    this.mask = (1 << bits) - 1;
  }

  find(t: string, i: number, h: number): T | undefined {
    const k = h & this.mask;
    for (let w = 0; w < WAYS; w++) {
      const p = this.slots[k ^ w];
      if (p === undefined) return undefined;
      if (p.hash === h && holds(t, i, p.text)) return p;
    }
    return undefined;
  }

  remember(p: T): void {
    const k = p.hash & this.mask;
    for (let w = 0; w < WAYS; w++) {
      if (this.slots[k ^ w] === undefined) {
        this.slots[k ^ w] = p;
        return;
      }
    }
    this.slots[k ^ ((p.hash >>> 29) & (WAYS - 1))] = p;
  }

  clear(): void {
    this.slots.fill(undefined);
  }
}

/** `","book":"…","qty":"`: where a fill is booked and what it trades. */
interface Place extends Piece {
  readonly book: string;
  readonly venue: string;
  readonly account: string;
  readonly instrument: string;
  readonly side: Side;
  /** The fee head the last line with this place had (a fill's fee is mostly in one asset): tried first. */
  fee: FeeHead | undefined;
}

/** `","fee":{"asset":"…","amount":"`. */
interface FeeHead extends Piece {
  readonly asset: string;
}

const places = new Pieces<Place>(16);
const feeHeads = new Pieces<FeeHead>(6);
/** `","ts":"YYYY-MM-DDTHH:MM:SS` of the last timestamp read, and its epoch microseconds. */
let tsHead = '';
let tsHeadUs = 0;

/**
 * Where the line's text continues after the piece just read (the index of the quote that ends
 * it): set by the readers below, which return their value or undefined.
 */
let next = 0;

/** Reads the timestamp after `","ts":"` at `i` (the id's closing quote). */
function readTs(t: string, i: number): TsUs | undefined {
  if (tsHead !== '' && holds(t, i, tsHead)) {
    // The same second as the memo's: `Z` or `.` and 1-6 digits and `Z`, then the quote.
    let p = i + tsHead.length;
    const c = t.charCodeAt(p);
    let us = 0;
    let ok = false;
    if (c === 90) {
      ok = true;
      p++;
    } else if (c === 46) {
      const from = ++p;
      let d = 0;
      while (p - from < 6 && (d = t.charCodeAt(p) - 48) >= 0 && d <= 9) {
        us = us * 10 + d;
        p++;
      }
      if (p > from && t.charCodeAt(p) === 90) {
        for (let k = p - from; k < 6; k++) us *= 10;
        ok = true;
        p++;
      }
    }
    if (ok && t.charCodeAt(p) === QUOTE) {
      next = p;
      return tsHeadUs + us;
    }
  }
  if (!at(t, i, K_TS)) return undefined;
  const start = i + K_TS.length;
  const end = t.indexOf('"', start);
  if (end < 0) return undefined;
  const ts = parseTimestampAt(t, start, end);
  if (ts === undefined) return undefined;
  const tail = t.charCodeAt(start + TS_SECONDS);
  if (t.charCodeAt(end - 1) === 90 && (tail === 46 || tail === 90)) {
    // A UTC timestamp: remember its second (valid, since the whole timestamp is).
    const second = detached(t.slice(start, start + TS_SECONDS));
    const us = parseTimestamp(`${second}Z`);
    if (us !== undefined) {
      tsHead = K_TS + second;
      tsHeadUs = us;
    }
  }
  next = end;
  return ts;
}

/** The string value after `key` at `i`, if it is there and has no escape or control character. */
function valueAfter(t: string, i: number, key: string): string | undefined {
  if (!at(t, i, key)) return undefined;
  const start = i + key.length;
  const end = t.indexOf('"', start);
  if (end < 0) return undefined;
  for (let k = start; k < end; k++) {
    const c = t.charCodeAt(k);
    if (c === BACKSLASH || c < 32) return undefined;
  }
  next = end;
  return t.slice(start, end);
}

function nameAfter(t: string, i: number, key: string): string | undefined {
  const v = valueAfter(t, i, key);
  return v !== undefined && isName(v) ? v : undefined;
}

/**
 * A hash of the place piece at `i`: the lengths of its values, a few characters of the book and
 * venue, every character of the instrument (a desk's symbols often differ in one digit: A0123/USDT,
 * A0124/USDT) and the side's first. Nothing after the place (a line without `account` once hashed
 * its price too, so its place was never found again).
 */
function placeHash(t: string, i: number): number {
  const bookEnd = t.indexOf('"', i + K_BOOK.length);
  const venueEnd = t.indexOf('"', bookEnd + K_VENUE.length);
  // `account` is optional: without it the instrument follows the venue.
  const accountEnd = at(t, venueEnd, K_ACCOUNT) ? t.indexOf('"', venueEnd + K_ACCOUNT.length) : venueEnd;
  const symbol = accountEnd + K_INSTRUMENT.length;
  const symbolEnd = t.indexOf('"', symbol);
  let h = mix(bookEnd - i, venueEnd - i);
  h = mix(h, symbolEnd - i);
  h = mix(h, t.charCodeAt(bookEnd - 1) | (t.charCodeAt(venueEnd - 1) << 8) | (t.charCodeAt(venueEnd - 2) << 16));
  let k = symbol;
  for (; k + 3 <= symbolEnd; k += 3) h = mix(h, t.charCodeAt(k) | (t.charCodeAt(k + 1) << 8) | (t.charCodeAt(k + 2) << 16));
  for (; k < symbolEnd; k++) h = mix(h, t.charCodeAt(k));
  return mix(h, t.charCodeAt(symbolEnd + K_SIDE.length));
}

/** Reads the place piece at `i` field by field; remembers it when its instrument is spot. */
function readPlace(t: string, i: number, h: number, instruments: InstrumentRegistry): Place | undefined {
  const book = nameAfter(t, i, K_BOOK);
  if (book === undefined) return undefined;
  const venue = nameAfter(t, next, K_VENUE);
  if (venue === undefined) return undefined;
  let account = 'default';
  if (at(t, next, K_ACCOUNT)) {
    const a = nameAfter(t, next, K_ACCOUNT);
    if (a === undefined) return undefined;
    account = a;
  }
  const instrument = valueAfter(t, next, K_INSTRUMENT);
  if (instrument === undefined) return undefined;
  const found = instruments.lookup(instrument, venue);
  if (!found.ok) return undefined;
  const sideAt = next + K_SIDE.length;
  if (!at(t, next, K_SIDE)) return undefined;
  let side: Side;
  if (at(t, sideAt, 'buy"')) side = 'buy';
  else if (at(t, sideAt, 'sell"')) side = 'sell';
  else return undefined;
  const end = sideAt + side.length;
  if (!at(t, end, K_QTY)) return undefined;
  const place: Place = { text: t.slice(i, end + K_QTY.length), hash: h, book, venue, account, instrument, side, fee: undefined };
  if (found.instrument.kind !== 'spot') return place;
  const kept: Place = { text: detached(place.text), hash: h, book: detached(book), venue: detached(venue), account: detached(account), instrument: detached(instrument), side, fee: undefined };
  places.remember(kept);
  return kept;
}

function feeHash(t: string, i: number): number {
  const asset = i + K_FEE.length;
  const end = t.indexOf('"', asset);
  return mix(mix(end - asset, t.charCodeAt(asset) | (t.charCodeAt(asset + 1) << 8)), t.charCodeAt(end - 1) | (t.charCodeAt(end - 2) << 8));
}

function readFeeHead(t: string, i: number, h: number): FeeHead | undefined {
  const asset = valueAfter(t, i, K_FEE);
  if (asset === undefined || !ASSET_RE.test(asset) || !at(t, next, K_AMOUNT)) return undefined;
  const head: FeeHead = { text: detached(t.slice(i, next + K_AMOUNT.length)), hash: h, asset: detached(asset) };
  feeHeads.remember(head);
  return head;
}

/**
 * Whether the id passes `isId` and holds no escape or control character. Read from the id's own
 * string, not the line: a short slice is a flat copy, whose characters cost a fraction of a line's.
 */
function plainId(id: string): boolean {
  const n = id.length;
  if (n === 0 || n > ID_MAX) return false;
  for (let k = 0; k < n; k++) {
    const c = id.charCodeAt(k);
    if (c === BACKSLASH || c < 32) return false;
  }
  // Printable ASCII at both ends: nothing for trim() to remove.
  const a = id.charCodeAt(0);
  const b = id.charCodeAt(n - 1);
  return (a > 32 && a < 127 && b > 32 && b < 127) || id.trim() === id;
}

/** A canonical trade line as its event, or undefined to take the general path. */
export function decodeTradeLine(text: string, instruments: InstrumentRegistry): TradeEvent | undefined {
  if (!holds(text, 0, PREFIX)) return undefined;
  let e = text.indexOf('"', PREFIX.length);
  if (e < 0) return undefined;
  const id = text.slice(PREFIX.length, e);
  if (!plainId(id)) return undefined;
  const ts = readTs(text, e);
  if (ts === undefined) return undefined;
  e = next;
  const h = placeHash(text, e);
  let place = places.find(text, e, h);
  if (place === undefined) {
    placeMisses++;
    place = readPlace(text, e, h, instruments);
  }
  if (place === undefined) return undefined;
  let i = e + place.text.length;
  e = text.indexOf('"', i);
  const qty = e < 0 ? undefined : decimalAt(text, i, e);
  if (qty === undefined || !qty.isPos() || !holds(text, e, K_PRICE)) return undefined;
  i = e + K_PRICE.length;
  e = text.indexOf('"', i);
  const price = e < 0 ? undefined : decimalAt(text, i, e);
  if (price === undefined || !price.isPos()) return undefined;
  let fees: Fee[] = [];
  if (text.charCodeAt(e + 1) !== CLOSE) {
    let head = place.fee;
    if (head === undefined || !holds(text, e, head.text)) {
      const fh = feeHash(text, e);
      head = feeHeads.find(text, e, fh) ?? readFeeHead(text, e, fh);
      if (head === undefined) return undefined;
      place.fee = head;
    }
    i = e + head.text.length;
    e = text.indexOf('"', i);
    const amount = e < 0 ? undefined : decimalAt(text, i, e);
    if (amount === undefined || text.charCodeAt(e + 1) !== CLOSE) return undefined;
    fees = [{ asset: head.asset, amount }];
    e++;
  }
  // The closing quote of the last value (or the fee's `}`), then `}` and the end of the line.
  if (e + 2 !== text.length || text.charCodeAt(e + 1) !== CLOSE) return undefined;
  const p = place;
  return { type: 'trade', id, ts, book: p.book, venue: p.venue, account: p.account, instrument: p.instrument, side: p.side, qty, price, fees };
}

/** Lines whose place was not in the memo (read field by field): what `placeMisses()` tells. */
let placeMisses = 0;

/** How many lines so far had a place the memo did not hold (tests: the memo finds what it should). */
export function tradeLinePlaceMisses(): number {
  return placeMisses;
}

/** Forgets every memo (tests: a decoder that starts cold). */
export function forgetTradeLineMemos(): void {
  places.clear();
  feeHeads.clear();
  tsHead = '';
  tsHeadUs = 0;
}

