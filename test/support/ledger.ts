/**
 * Test helpers: build a ledger from wire-format events (validated exactly as the CLI does), and
 * short constructors for the common events.
 */
import { Ledger, type LedgerConfig, type SubmitResult } from '../../src/domain/ledger.js';
import { validateEvent } from '../../src/domain/validate.js';
import { buildReport, type PositionReport, type Report } from '../../src/domain/report.js';
import type { LedgerEvent } from '../../src/domain/events.js';

export type Wire = Record<string, unknown>;

let clock = 0;
/** A strictly increasing timestamp per call, from 2026-01-01. */
export function nextTs(): string {
  clock++;
  const s = clock % 60;
  const m = Math.floor(clock / 60) % 60;
  const h = Math.floor(clock / 3600);
  return `2026-01-01T${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}Z`;
}

export function parse(ledger: Ledger, w: Wire): LedgerEvent {
  const v = validateEvent(w, ledger.instruments);
  if (!v.ok) throw new Error(`test event invalid: ${JSON.stringify(v.issues)}`);
  return v.event;
}

export function ledgerOf(events: Wire[], config: Partial<LedgerConfig> = {}): { ledger: Ledger; results: SubmitResult[] } {
  const ledger = new Ledger(config);
  const results: SubmitResult[] = [];
  for (const w of events) results.push(ledger.submit(parse(ledger, w)));
  return { ledger, results };
}

export function reportOf(events: Wire[], config: Partial<LedgerConfig> = {}): Report {
  return buildReport(ledgerOf(events, config).ledger, { lots: true, includeFlat: true });
}

export function position(r: Report, asset: string, book = 'b1'): PositionReport {
  const p = r.positions.find((x) => x.asset === asset && x.book === book);
  if (p === undefined) throw new Error(`no position ${book}/${asset} in ${JSON.stringify(r.positions.map((x) => x.asset))}`);
  return p;
}

let n = 0;
export function trade(side: 'buy' | 'sell', qty: string, price: string, extra: Wire = {}): Wire {
  n++;
  return { type: 'trade', id: `t${n}`, ts: nextTs(), book: 'b1', venue: 'binance', instrument: 'BTC/USD', side, qty, price, ...extra };
}

export function mark(asset: string, price: string, quote = 'USD', extra: Wire = {}): Wire {
  return { type: 'price', ts: nextTs(), asset, quote, price, ...extra };
}
