/**
 * The ccxt importer: maps ccxt's unified structures (what `exchange.fetchMyTrades()`,
 * `fetchBalance()`, `fetchFundingHistory()`, `fetchDeposits()` and `fetchWithdrawals()` return,
 * serialised as JSON) to UTL's canonical *wire* events, i.e. exactly what a JSONL input line holds:
 * decimals as JSON strings, timestamps as ISO-8601 UTC strings.
 *
 * It is pure (no I/O, no clock) and shallow: it maps fields and reports what it could not map,
 * and leaves deep checks (positive quantities, digit limits, known assets) to UTL's validator.
 *
 * Invariants:
 * - Every input record ends up somewhere: as one or more events, or as a problem naming its index
 *   (the only silent case is an empty balance, which holds nothing to report).
 * - Event ids are unique within one call: a second record mapping to an id already produced is a
 *   problem, not a second event (ids derive from venue data, so re-imports stay idempotent).
 * - Money never passes through arithmetic on a JS number: each ccxt number becomes its shortest
 *   round-trip decimal text (number.ts); the one sum we form (balance total) is exact on strings.
 * - Ids are always strings; a numeric id is accepted only while it is a safe integer, because a
 *   larger one (e.g. a 19-digit funding id) has already lost digits.
 * - Each fee is counted once: ccxt often repeats `fee` inside `fees`.
 * - Event fields are emitted in a fixed order so the output is stable line for line.
 */
import { addDecimalStrings, ccxtNumberToDecimal } from './number.js';

/** ccxt structures do not carry the exchange id, so the caller supplies venue and book. */
export interface CcxtContext {
  venue: string;
  book: string;
  account?: string;
  /** ISO-8601 UTC time to stamp balances that carry no timestamp of their own. */
  asOf?: string;
}

export type CcxtKind = 'trade' | 'balance' | 'funding' | 'transaction';

export interface CcxtProblem {
  /** Position of the record in the input (0 for a single structure). */
  index: number;
  kind: CcxtKind | 'unknown';
  /** The ccxt record's own id, when it has one. */
  id?: string;
  message: string;
}

export interface CcxtMapped {
  events: Record<string, unknown>[];
  /** For each event, the index of the record it came from (for error messages). */
  sources: number[];
  problems: CcxtProblem[];
}

type Rec = Record<string, unknown>;

/** ccxt shapes we recognise but deliberately do not import (see `NOT_IMPORTED`). */
type OtherShape = 'position' | 'ledger' | 'transfer' | 'order';

const NOT_IMPORTED: Record<OtherShape, string> = {
  position:
    'position snapshot (fetchPositions) is not an event: import the trades and funding that built the position instead',
  ledger:
    'ledger entry (fetchLedger) not imported: its legs repeat trades, fees and transfers; import fetchMyTrades, fetchDeposits, fetchWithdrawals and fetchFundingHistory instead',
  transfer: 'internal transfer between accounts (fetchTransfers) not imported',
  order: 'order (fetchOrders) not imported: import its fills with fetchMyTrades',
};

/** Keys of a ccxt Balances structure that are not currencies. */
const BALANCE_META_KEYS = new Set(['info', 'timestamp', 'datetime', 'free', 'used', 'total', 'debt']);

/** ISO-8601 UTC as ccxt's `iso8601()` writes it (fractional seconds optional). */
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/** Latest instant whose ISO text still has a 4-digit year (9999-12-31T23:59:59.999Z). */
const MAX_TS_MS = 253_402_300_799_999;

function isRec(x: unknown): x is Rec {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function has(x: Rec, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(x, key);
}

function isPerCurrencyBalance(v: unknown): v is Rec {
  return isRec(v) && (has(v, 'free') || has(v, 'used') || has(v, 'total'));
}

/**
 * Classifies a record by the keys ccxt always writes for each structure (ccxt fills absent values
 * with null rather than dropping keys), checking the non-importable shapes first because some of
 * them share keys with importable ones (a position has `side` and `symbol`, a ledger entry
 * `type`, `currency` and `amount`).
 */
function classify(x: unknown): CcxtKind | OtherShape | undefined {
  if (!isRec(x)) return undefined;
  if (has(x, 'contracts') || (has(x, 'entryPrice') && has(x, 'markPrice'))) return 'position';
  if ((has(x, 'direction') && has(x, 'referenceId')) || (has(x, 'before') && has(x, 'after'))) return 'ledger';
  if (has(x, 'fromAccount') && has(x, 'toAccount')) return 'transfer';
  if (has(x, 'filled') || has(x, 'remaining')) return 'order';
  if ((x.type === 'deposit' || x.type === 'withdrawal') && (has(x, 'currency') || has(x, 'amount'))) return 'transaction';
  if (has(x, 'symbol') && (has(x, 'side') || has(x, 'takerOrMaker')) && (has(x, 'price') || has(x, 'amount'))) return 'trade';
  if (has(x, 'code') && has(x, 'amount') && has(x, 'symbol') && !has(x, 'side')) return 'funding';
  if (['free', 'used', 'total'].some((k) => isRec(x[k]))) return 'balance';
  // A balance written without the summary maps: only per-currency {free, used, total} entries.
  const entries = Object.entries(x).filter(([k]) => !BALANCE_META_KEYS.has(k));
  if (entries.length > 0 && entries.every(([, v]) => isPerCurrencyBalance(v))) return 'balance';
  return undefined;
}

/** Which importable ccxt structure `x` is, or undefined (positions, ledger entries, junk). */
export function detectCcxtKind(x: unknown): CcxtKind | undefined {
  const shape = classify(x);
  return shape === 'trade' || shape === 'balance' || shape === 'funding' || shape === 'transaction' ? shape : undefined;
}

/**
 * True when `input` (an array of records, or one record) looks like ccxt unified output, for
 * telling a ccxt JSON file from UTL's own events. At least one record must be a recognised ccxt
 * shape, and none may look like a UTL wire event (those always carry `ts`, which no ccxt
 * structure has). Unknown records among ccxt ones still count as ccxt, so they are reported by
 * `fromCcxt` rather than making the whole file unreadable.
 */
export function isCcxtPayload(input: unknown): boolean {
  const items: unknown[] = Array.isArray(input) ? input : [input];
  if (items.length === 0) return false;
  let recognised = false;
  for (const x of items) {
    if (!isRec(x)) return false;
    if (has(x, 'ts') && typeof x.type === 'string') return false;
    if (classify(x) !== undefined) recognised = true;
  }
  return recognised;
}

/** Maps one ccxt structure or an array of them (kinds may be mixed) to UTL wire events. */
export function fromCcxt(input: unknown, ctx: CcxtContext): CcxtMapped {
  const out: CcxtMapped = { events: [], sources: [], problems: [] };
  const items: unknown[] = Array.isArray(input) ? input : [input];
  /** Event id → the record that produced it and its JSON, to catch id collisions. */
  const seen = new Map<string, { index: number; json: string }>();
  items.forEach((x, index) => {
    const one: CcxtMapped = { events: [], sources: [], problems: [] };
    mapOne(x, index, ctx, one);
    out.problems.push(...one.problems);
    for (const e of one.events) {
      const id = typeof e.id === 'string' ? e.id : '';
      const json = JSON.stringify(e);
      const first = seen.get(id);
      if (first === undefined) seen.set(id, { index, json });
      if (first === undefined || json === first.json) {
        // An identical repeat (overlapping fetches) goes on as the same event: the ledger counts
        // it as a duplicate, which it is, rather than as a rejection.
        out.events.push(e);
        out.sources.push(index);
      } else {
        out.problems.push(collision(index, x, id, first.index));
      }
    }
  });
  return out;
}

/**
 * Two records mapping to one event id with different values: usually two balances of different
 * ccxt accounts (spot, swap, ...) stamped with one time, which only the caller can tell apart.
 * Reported, never merged silently.
 */
function collision(index: number, x: unknown, id: string, firstIndex: number): CcxtProblem {
  const kind = detectCcxtKind(x) ?? 'unknown';
  const rawId = isRec(x) ? idText(x.id) : undefined;
  const hint = kind === 'balance' ? '; import each account\'s balance separately with its own account name' : '';
  return {
    index,
    kind,
    ...(typeof rawId === 'string' ? { id: rawId } : {}),
    message: `event id ${id} already produced by record #${firstIndex + 1} with different values: not mapped${hint}`,
  };
}

/** Collects the problems of one record, tagged with its index, kind and id. */
class Reporter {
  constructor(
    private readonly out: CcxtMapped,
    private readonly index: number,
    private readonly kind: CcxtKind | 'unknown',
    private readonly id: string | undefined,
  ) {}

  problem(message: string): void {
    this.out.problems.push({ index: this.index, kind: this.kind, ...(this.id !== undefined ? { id: this.id } : {}), message });
  }
}

function mapOne(x: unknown, index: number, ctx: CcxtContext, out: CcxtMapped): void {
  const shape = classify(x);
  const rawId = isRec(x) ? idText(x.id) : undefined;
  const id = typeof rawId === 'string' ? rawId : undefined;
  if (!isRec(x) || shape === undefined) {
    const what = Array.isArray(x) ? 'an array' : x === null ? 'null' : typeof x;
    const message = isRec(x)
      ? `unrecognised record (keys: ${Object.keys(x).slice(0, 12).join(', ')})`
      : `not a ccxt structure: ${what}`;
    new Reporter(out, index, 'unknown', id).problem(message);
    return;
  }
  if (shape === 'position' || shape === 'ledger' || shape === 'transfer' || shape === 'order') {
    new Reporter(out, index, 'unknown', id).problem(NOT_IMPORTED[shape]);
    return;
  }
  const report = new Reporter(out, index, shape, id);
  if (rawId instanceof Error) {
    report.problem(rawId.message);
    return;
  }
  const account = ctx.account ?? 'default';
  switch (shape) {
    case 'trade':
      mapTrade(x, ctx, account, id, report, out);
      return;
    case 'balance':
      mapBalance(x, ctx, account, report, out);
      return;
    case 'funding':
      mapFunding(x, ctx, account, id, report, out);
      return;
    case 'transaction':
      mapTransaction(x, ctx, account, id, report, out);
      return;
  }
}

/**
 * An id as text. ccxt writes ids as strings; a number is taken only while it is a safe integer,
 * since beyond 2^53 its digits are already wrong and booking it would merge distinct records.
 */
function idText(v: unknown): string | Error | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number') {
    return Number.isSafeInteger(v)
      ? String(v)
      : new Error(`id ${String(v)} is a number beyond 2^53 and has lost digits; ids must be strings`);
  }
  return undefined;
}

/** `timestamp` (integer ms) if usable, else `datetime` if it is ISO-8601 UTC, else an error text. */
function readTs(x: Rec): string | Error {
  const ms = x.timestamp;
  if (typeof ms === 'number' && Number.isSafeInteger(ms) && ms >= 0 && ms <= MAX_TS_MS) {
    return new Date(ms).toISOString();
  }
  const dt = x.datetime;
  if (typeof dt === 'string' && ISO_UTC.test(dt) && !Number.isNaN(Date.parse(dt))) return dt;
  if ((ms === null || ms === undefined) && (dt === null || dt === undefined)) return new Error('no timestamp');
  return new Error(`unusable timestamp ${JSON.stringify(ms ?? null)} / datetime ${JSON.stringify(dt ?? null)}`);
}

function nonEmptyString(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function mapTrade(x: Rec, ctx: CcxtContext, account: string, id: string | undefined, report: Reporter, out: CcxtMapped): void {
  const missing: string[] = [];
  if (id === undefined) missing.push('id');
  const side = x.side === 'buy' || x.side === 'sell' ? x.side : undefined;
  if (side === undefined) missing.push('side');
  const qty = ccxtNumberToDecimal(x.amount);
  if (qty === undefined) missing.push('amount');
  const price = ccxtNumberToDecimal(x.price);
  if (price === undefined) missing.push('price');
  const symbol = nonEmptyString(x.symbol);
  if (symbol === undefined) missing.push('symbol');
  const ts = readTs(x);
  if (ts instanceof Error) missing.push(`timestamp (${ts.message})`);
  const fees = tradeFees(x);
  if (fees instanceof Error) missing.push(`fees (${fees.message})`);
  if (missing.length > 0 || id === undefined || side === undefined || qty === undefined || price === undefined
    || symbol === undefined || ts instanceof Error || fees instanceof Error) {
    report.problem(`trade not mapped: missing or unusable ${missing.join(', ')}`);
    return;
  }
  const order = idText(x.order);
  out.events.push({
    type: 'trade',
    id: `${ctx.venue}:${id}`,
    ts,
    book: ctx.book,
    venue: ctx.venue,
    account,
    instrument: symbol,
    side,
    qty,
    price,
    ...(fees.length > 0 ? { fees } : {}),
    ...(typeof order === 'string' ? { order } : {}),
  });
}

/**
 * The trade's fees, each counted once: a non-empty `fees` array is the full list (and usually
 * contains `fee` again), otherwise the single `fee`. Entries with a null cost are no fee at all;
 * a negative cost is a rebate and stays negative. A cost without a currency cannot be booked,
 * so it fails the trade rather than vanishing (a zero cost without currency is harmless and dropped).
 */
function tradeFees(x: Rec): { asset: string; amount: string }[] | Error {
  const list: unknown[] = Array.isArray(x.fees) && x.fees.length > 0 ? x.fees : isRec(x.fee) ? [x.fee] : [];
  const fees: { asset: string; amount: string }[] = [];
  for (const f of list) {
    if (!isRec(f)) return new Error(`fee entry is not an object: ${JSON.stringify(f)}`);
    if (f.cost === null || f.cost === undefined) continue;
    const amount = ccxtNumberToDecimal(f.cost);
    if (amount === undefined) return new Error(`fee cost ${JSON.stringify(f.cost)} is not a number`);
    const asset = nonEmptyString(f.currency);
    if (asset === undefined) {
      if (!/[1-9]/.test(amount)) continue;
      return new Error(`fee ${amount} has no currency`);
    }
    fees.push({ asset, amount });
  }
  return fees;
}

interface BalanceLine {
  free: unknown;
  used: unknown;
  total: unknown;
}

/**
 * One balance event per currency. The per-currency `{free, used, total}` entries and the
 * top-level `free`/`used`/`total` maps carry the same data; the entries are preferred and the maps
 * used only when a serialiser dropped the entries.
 */
function mapBalance(x: Rec, ctx: CcxtContext, account: string, report: Reporter, out: CcxtMapped): void {
  const lines = balanceLines(x);
  if (lines.size === 0) return; // an empty account: nothing held, nothing to report
  let ts = readTs(x);
  if (ts instanceof Error && ctx.asOf !== undefined) {
    if (!ISO_UTC.test(ctx.asOf) || Number.isNaN(Date.parse(ctx.asOf))) {
      report.problem(`asOf ${JSON.stringify(ctx.asOf)} is not an ISO-8601 UTC timestamp (like 2024-01-31T00:00:00.000Z)`);
      return;
    }
    ts = ctx.asOf;
  }
  if (ts instanceof Error) {
    const why = ts.message === 'no timestamp' ? 'balance has no timestamp' : `balance has an ${ts.message}`;
    report.problem(`${why}; pass --as-of`);
    return;
  }
  for (const [asset, line] of lines) {
    const free = ccxtNumberToDecimal(line.free);
    const used = ccxtNumberToDecimal(line.used);
    let total = ccxtNumberToDecimal(line.total);
    if (total === undefined && free !== undefined && used !== undefined) total = addDecimalStrings(free, used);
    if (total === undefined) {
      report.problem(`balance ${asset}: no total (total ${JSON.stringify(line.total ?? null)}, free ${JSON.stringify(line.free ?? null)}, used ${JSON.stringify(line.used ?? null)})`);
      continue;
    }
    out.events.push({
      type: 'balance',
      id: `${ctx.venue}:${account}:balance:${ts}:${asset}`,
      ts,
      book: ctx.book,
      venue: ctx.venue,
      account,
      asset,
      total,
      ...(free !== undefined ? { free } : {}),
      ...(used !== undefined ? { used } : {}),
    });
  }
}

function balanceLines(x: Rec): Map<string, BalanceLine> {
  const lines = new Map<string, BalanceLine>();
  for (const [asset, v] of Object.entries(x)) {
    if (BALANCE_META_KEYS.has(asset) || !isPerCurrencyBalance(v)) continue;
    lines.set(asset, { free: v.free, used: v.used, total: v.total });
  }
  if (lines.size > 0) return lines;
  const total = isRec(x.total) ? x.total : {};
  const free = isRec(x.free) ? x.free : {};
  const used = isRec(x.used) ? x.used : {};
  for (const asset of [...Object.keys(total), ...Object.keys(free), ...Object.keys(used)]) {
    if (!lines.has(asset)) lines.set(asset, { free: free[asset], used: used[asset], total: total[asset] });
  }
  return lines;
}

/** A funding payment: ccxt's `amount` is signed in `code` (the settle currency), negative = paid. */
function mapFunding(x: Rec, ctx: CcxtContext, account: string, id: string | undefined, report: Reporter, out: CcxtMapped): void {
  const missing: string[] = [];
  const symbol = nonEmptyString(x.symbol);
  if (symbol === undefined) missing.push('symbol');
  const asset = nonEmptyString(x.code);
  if (asset === undefined) missing.push('code');
  const amount = ccxtNumberToDecimal(x.amount);
  if (amount === undefined) missing.push('amount');
  const ts = readTs(x);
  if (ts instanceof Error) missing.push(`timestamp (${ts.message})`);
  if (missing.length > 0 || symbol === undefined || asset === undefined || amount === undefined || ts instanceof Error) {
    report.problem(`funding not mapped: missing or unusable ${missing.join(', ')}`);
    return;
  }
  // Without a venue id, symbol and time identify a payment: venues pay funding once per interval.
  const key = id ?? `${symbol}:${ts}`;
  out.events.push({
    type: 'funding',
    id: `${ctx.venue}:funding:${key}`,
    ts,
    book: ctx.book,
    venue: ctx.venue,
    account,
    instrument: symbol,
    amount,
    asset,
  });
}

/**
 * A deposit or a withdrawal. Only settled ones (status "ok", or no status at all) are booked;
 * pending, failed and canceled ones are reported so that nothing disappears without a word.
 * For a withdrawal ccxt's `amount` excludes the fee (amount 9 + fee 1 = 10 left the account),
 * which is also what UTL's withdrawal means by qty + fee.
 */
function mapTransaction(x: Rec, ctx: CcxtContext, account: string, id: string | undefined, report: Reporter, out: CcxtMapped): void {
  const type = x.type === 'withdrawal' ? 'withdrawal' : 'deposit';
  const status = x.status;
  if (status !== 'ok' && status !== null && status !== undefined) {
    report.problem(`${type} not booked: status ${typeof status === 'string' ? status : JSON.stringify(status)}`);
    return;
  }
  const txid = nonEmptyString(x.txid);
  const key = id ?? txid;
  const missing: string[] = [];
  if (key === undefined) missing.push('id/txid');
  const asset = nonEmptyString(x.currency);
  if (asset === undefined) missing.push('currency');
  const qty = ccxtNumberToDecimal(x.amount);
  if (qty === undefined) missing.push('amount');
  const ts = readTs(x);
  if (ts instanceof Error) missing.push(`timestamp (${ts.message})`);
  if (missing.length > 0 || key === undefined || asset === undefined || qty === undefined || ts instanceof Error) {
    report.problem(`${type} not mapped: missing or unusable ${missing.join(', ')}`);
    return;
  }
  const fee = transactionFee(x.fee, asset);
  if (fee instanceof Error) report.problem(`${type} ${key}: ${fee.message}`);
  const bookedFee = typeof fee === 'string' && type === 'withdrawal' ? fee : undefined;
  if (typeof fee === 'string' && type === 'deposit') {
    // UTL's deposit has no fee; say so instead of folding it into qty by guesswork.
    report.problem(`deposit ${key}: fee ${fee} ${asset} not booked (a deposit event has no fee)`);
  }
  out.events.push({
    type,
    id: `${ctx.venue}:${type}:${key}`,
    ts,
    book: ctx.book,
    venue: ctx.venue,
    account,
    asset,
    qty,
    ...(bookedFee !== undefined ? { fee: bookedFee } : {}),
    ...(txid !== undefined ? { txid } : {}),
  });
}

/**
 * The fee of a transaction in the transferred asset, undefined when there is none (null or zero),
 * or an error when it cannot be booked on the event (another currency, not a number). The event is
 * still booked in that case: the amount moved is known, only the fee is reported.
 */
function transactionFee(fee: unknown, asset: string): string | Error | undefined {
  if (fee === null || fee === undefined) return undefined;
  if (!isRec(fee)) return new Error(`fee is not an object: ${JSON.stringify(fee)}`);
  if (fee.cost === null || fee.cost === undefined) return undefined;
  const cost = ccxtNumberToDecimal(fee.cost);
  if (cost === undefined) return new Error(`fee cost ${JSON.stringify(fee.cost)} is not a number`);
  if (!/[1-9]/.test(cost)) return undefined;
  const currency = nonEmptyString(fee.currency);
  if (currency !== undefined && currency !== asset) {
    return new Error(`fee ${cost} ${currency} not booked: it is in another currency than the ${asset} moved`);
  }
  if (currency === undefined) return new Error(`fee ${cost} not booked: it has no currency`);
  return cost;
}
