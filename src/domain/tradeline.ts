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
const UNSAFE = /[\\\u0000-\u001f]/;
const PREFIX = '{"type":"trade","id":"';

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

  /** Consumes `,"key":"` when it comes next. */
  key(key: string): boolean {
    const t = this.t;
    const i = this.i;
    if (t.charCodeAt(i) !== 44 || t.charCodeAt(i + 1) !== 34 || !t.startsWith(key, i + 2)) return false;
    const j = i + 2 + key.length;
    if (t.charCodeAt(j) !== 34 || t.charCodeAt(j + 1) !== 58 || t.charCodeAt(j + 2) !== 34) return false;
    this.i = j + 3;
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
  if (!text.startsWith(PREFIX) || UNSAFE.test(text)) return undefined;
  const c = new Cursor(text, PREFIX.length);
  const id = c.value();
  if (id === undefined || !isId(id) || !c.key('ts')) return undefined;
  const tsText = c.value();
  const ts = tsText === undefined ? undefined : parseTimestamp(tsText);
  if (ts === undefined || !c.key('book')) return undefined;
  const book = name(c.value());
  if (book === undefined || !c.key('venue')) return undefined;
  const venue = name(c.value());
  if (venue === undefined) return undefined;
  let account = 'default';
  if (c.key('account')) {
    const a = name(c.value());
    if (a === undefined) return undefined;
    account = a;
  }
  if (!c.key('instrument')) return undefined;
  const instrument = c.value();
  if (instrument === undefined || !instruments.lookup(instrument, venue).ok || !c.key('side')) return undefined;
  const side = c.value();
  if ((side !== 'buy' && side !== 'sell') || !c.key('qty')) return undefined;
  const qty = positive(c.value());
  if (qty === undefined || !c.key('price')) return undefined;
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
