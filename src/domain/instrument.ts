/**
 * Instruments, named as ccxt names them (a field standard): spot `BASE/QUOTE`, perpetual
 * `BASE/QUOTE:SETTLE`, dated future `BASE/QUOTE:SETTLE-YYMMDD`. Linear when SETTLE = QUOTE,
 * inverse when SETTLE = BASE (DOMAIN.md §5). Spot pairs are self-describing; a derivative's
 * contract multiplier differs by venue (okx BTC/USDT:USDT is 0.01 BTC, binance's is 1 BTC), so a
 * derivative is known only once its terms are registered (an `instrument` event), for one venue or
 * for all.
 */
import type { Dec } from './decimal.js';

export const ASSET_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;

export interface SpotInstrument {
  readonly kind: 'spot';
  readonly symbol: string;
  readonly base: string;
  readonly quote: string;
}

export interface DerivativeInstrument {
  readonly kind: 'perpetual' | 'future';
  readonly symbol: string;
  readonly base: string;
  readonly quote: string;
  readonly settle: string;
  readonly settlement: 'linear' | 'inverse';
  /** Contract size: base units per contract when linear, quote units per contract when inverse. */
  readonly multiplier: Dec;
  /** YYMMDD of a dated future. */
  readonly expiry: string | undefined;
}

export type Instrument = SpotInstrument | DerivativeInstrument;

export interface SymbolParts {
  readonly base: string;
  readonly quote: string;
  readonly settle: string | undefined;
  readonly expiry: string | undefined;
}

/** Splits a ccxt-style symbol; undefined when it is not one. */
export function parseSymbol(symbol: string): SymbolParts | undefined {
  const colon = symbol.indexOf(':');
  const pair = colon < 0 ? symbol : symbol.slice(0, colon);
  const slash = pair.indexOf('/');
  if (slash < 0) return undefined;
  const base = pair.slice(0, slash);
  const quote = pair.slice(slash + 1);
  if (!ASSET_RE.test(base) || !ASSET_RE.test(quote) || base === quote) return undefined;
  if (colon < 0) return { base, quote, settle: undefined, expiry: undefined };
  const rest = symbol.slice(colon + 1);
  const m = /^([A-Za-z0-9][A-Za-z0-9._]{0,31})(?:-(\d{6}))?$/.exec(rest);
  if (m === null) return undefined;
  return { base, quote, settle: m[1], expiry: m[2] };
}

export type InstrumentLookup = { ok: true; instrument: Instrument } | { ok: false; reason: string };

/** Registered derivative terms by symbol, then by venue (`*` for all venues). */
export class InstrumentRegistry {
  private readonly terms = new Map<string, Map<string, Dec>>();
  private readonly spot = new Map<string, SpotInstrument>();

  /** Registers terms; returns false when different terms are already registered for the same key. */
  register(symbol: string, venue: string | undefined, multiplier: Dec): boolean {
    let byVenue = this.terms.get(symbol);
    if (byVenue === undefined) {
      byVenue = new Map();
      this.terms.set(symbol, byVenue);
    }
    const key = venue ?? '*';
    const had = byVenue.get(key);
    if (had !== undefined) return had.eq(multiplier);
    byVenue.set(key, multiplier);
    return true;
  }

  lookup(symbol: string, venue: string): InstrumentLookup {
    const cached = this.spot.get(symbol);
    if (cached !== undefined) return { ok: true, instrument: cached };
    const parts = parseSymbol(symbol);
    if (parts === undefined) {
      return { ok: false, reason: 'expected BASE/QUOTE (spot), BASE/QUOTE:SETTLE (perpetual) or BASE/QUOTE:SETTLE-YYMMDD (future)' };
    }
    if (parts.settle === undefined) {
      const inst: SpotInstrument = { kind: 'spot', symbol, base: parts.base, quote: parts.quote };
      this.spot.set(symbol, inst);
      return { ok: true, instrument: inst };
    }
    if (parts.settle !== parts.quote && parts.settle !== parts.base) {
      return { ok: false, reason: `settlement in ${parts.settle} (quanto) is not supported: expected ${parts.quote} (linear) or ${parts.base} (inverse)` };
    }
    const byVenue = this.terms.get(symbol);
    const multiplier = byVenue?.get(venue) ?? byVenue?.get('*');
    if (multiplier === undefined) {
      return { ok: false, reason: `derivative ${symbol} has no registered terms at ${venue}: send an "instrument" event with its multiplier first` };
    }
    return {
      ok: true,
      instrument: {
        kind: parts.expiry === undefined ? 'perpetual' : 'future',
        symbol,
        base: parts.base,
        quote: parts.quote,
        settle: parts.settle,
        settlement: parts.settle === parts.quote ? 'linear' : 'inverse',
        multiplier,
        expiry: parts.expiry,
      },
    };
  }

  /** All registered terms, sorted: part of the state digest. */
  entries(): { symbol: string; venue: string; multiplier: Dec }[] {
    const out: { symbol: string; venue: string; multiplier: Dec }[] = [];
    for (const [symbol, byVenue] of this.terms) for (const [venue, multiplier] of byVenue) out.push({ symbol, venue, multiplier });
    return out.sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : a.venue < b.venue ? -1 : a.venue > b.venue ? 1 : 0));
  }
}

/** Key of a derivative position: one net position per instrument per venue. */
export function derivativeKey(symbol: string, venue: string): string {
  return `${symbol}@${venue}`;
}
