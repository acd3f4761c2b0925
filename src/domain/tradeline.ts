/**
 * The fast path of the boundary for the commonest line of all: a canonical trade, fields in the
 * documented order, no escapes. It reads the JSON text and validates each field in one pass,
 * building the TradeEvent directly (no intermediate object), about four times faster than
 * JSON.parse followed by validateEvent.
 *
 * Contract (property-tested): for any text, `decodeTradeLine` returns undefined (declines: the
 * caller takes the general path, which also reports every problem) or exactly the event that
 * `validateEvent(JSON.parse(text))` accepts. It never rejects anything itself.
 */
import { Dec, readDecimal } from './decimal.js';
import type { Fee, TradeEvent } from './events.js';
import { ASSET_RE, type InstrumentRegistry } from './instrument.js';
import { parseTimestamp } from './time.js';
import { isId, isName } from './validate.js';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f]/;
const PREFIX = '{"type":"trade","id":"';
const K_TS = ',"ts":"';
const K_BOOK = ',"book":"';
const K_VENUE = ',"venue":"';
const K_ACCOUNT = ',"account":"';
const K_INSTRUMENT = ',"instrument":"';
const K_SIDE = ',"side":"';
const K_QTY = ',"qty":"';
const K_PRICE = ',"price":"';

/** Reads `"key":"value"` pieces in a fixed order from a line; any surprise ends the fast path. */
class Cursor {
  i: number;
  constructor(
    readonly t: string,
    start: number,
  ) {
    this.i = start;
  }

  /** The string value up to the next quote (the cursor is just after an opening quote). */
  value(): string | undefined {
    const end = this.t.indexOf('"', this.i);
    if (end < 0) return undefined;
    const v = this.t.slice(this.i, end);
    this.i = end + 1;
    return v;
  }

  /** Consumes a token such as `,"ts":"` when it comes next. */
  key(token: string): boolean {
    if (!this.t.startsWith(token, this.i)) return false;
    this.i += token.length;
    return true;
  }

  literal(text: string): boolean {
    if (!this.t.startsWith(text, this.i)) return false;
    this.i += text.length;
    return true;
  }
}

function positive(text: string | undefined): Dec | undefined {
  if (text === undefined) return undefined;
  const d = readDecimal(text);
  return d instanceof Dec && d.isPos() ? d : undefined;
}

function name(text: string | undefined): string | undefined {
  return text !== undefined && isName(text) ? text : undefined;
}

/** A canonical trade line as its event, or undefined to take the general path. */
export function decodeTradeLine(text: string, instruments: InstrumentRegistry): TradeEvent | undefined {
  // No escapes (a value then ends at the next quote), and no control characters in the one free
  // text field, the id: every other field is checked against a strict pattern.
  if (!text.startsWith(PREFIX) || text.includes('\\')) return undefined;
  const c = new Cursor(text, PREFIX.length);
  const id = c.value();
  if (id === undefined || !isId(id) || CONTROL.test(id) || !c.key(K_TS)) return undefined;
  const tsText = c.value();
  const ts = tsText === undefined ? undefined : parseTimestamp(tsText);
  if (ts === undefined || !c.key(K_BOOK)) return undefined;
  const book = name(c.value());
  if (book === undefined || !c.key(K_VENUE)) return undefined;
  const venue = name(c.value());
  if (venue === undefined) return undefined;
  let account = 'default';
  if (c.key(K_ACCOUNT)) {
    const a = name(c.value());
    if (a === undefined) return undefined;
    account = a;
  }
  if (!c.key(K_INSTRUMENT)) return undefined;
  const instrument = c.value();
  if (instrument === undefined || !instruments.lookup(instrument, venue).ok || !c.key(K_SIDE)) return undefined;
  const side = c.value();
  if ((side !== 'buy' && side !== 'sell') || !c.key(K_QTY)) return undefined;
  const qty = positive(c.value());
  if (qty === undefined || !c.key(K_PRICE)) return undefined;
  const price = positive(c.value());
  if (price === undefined) return undefined;
  let fees: Fee[] = [];
  if (c.literal(',"fee":{"asset":"')) {
    const asset = c.value();
    if (asset === undefined || !ASSET_RE.test(asset) || !c.literal(',"amount":"')) return undefined;
    const amountText = c.value();
    const amount = amountText === undefined ? undefined : readDecimal(amountText);
    if (!(amount instanceof Dec) || !c.literal('}')) return undefined;
    fees = [{ asset, amount }];
  }
  if (c.i !== text.length - 1 || text.charCodeAt(c.i) !== 125) return undefined;
  return { type: 'trade', id, ts, book, venue, account, instrument, side, qty, price, fees };
}
