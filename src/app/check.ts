/**
 * `utl check FILE...`: reconciliation and consistency of a log, offline. The files are booked as
 * `utl replay` books them (keeping timelines, so the past can be read), then:
 * - every venue balance report in them is held against UTL's balance as of its own instant, in
 *   time order per (venue, account, asset): breaks open, update and auto-resolve as in the service;
 * - withdrawals are matched to deposits at other venues; "now" is the log's last instant, so the
 *   answer depends on the log alone;
 * - optionally, a venue's trade history (canonical or ccxt) against the fills booked there;
 * - the consistency checks (flows, lots, balances, negative balances).
 */
import { readFile } from 'node:fs/promises';
import { fromCcxt, isCcxtPayload } from '../adapters/ccxt/ccxt.js';
import type { DepositEvent, TradeEvent, TsUs, WithdrawalEvent } from '../domain/events.js';
import { BookCursor, type Ledger } from '../domain/ledger.js';
import { reconcileBalances } from '../domain/recon/balances.js';
import { BreakBook, type Break } from '../domain/recon/breaks.js';
import { consistencyChecks, type CheckResult } from '../domain/recon/checks.js';
import { reconcileTrades, spotTradeDeltas, type TradeReconResult } from '../domain/recon/trades.js';
import { matchTransfers, type TransferReconResult } from '../domain/recon/transfers.js';
import { validateEvent } from '../domain/validate.js';
import type { ReconConfig } from './recon-config.js';
import { replayFiles, type ReplayOptions, type ReplayResult } from './replay.js';

export interface CheckRun {
  readonly replay: ReplayResult;
  /** Every break the reports opened, in the state the last report left it. */
  readonly breaks: Break[];
  readonly reports: number;
  readonly transfers: TransferReconResult;
  readonly trades: TradeReconResult | undefined;
  readonly checks: CheckResult[];
  /** No active break, no transfer too long in transit, no trade difference, every check passing. */
  readonly ok: boolean;
}

export interface VenueTrades {
  readonly venue: string;
  readonly path: string;
  readonly from?: TsUs;
  readonly to?: TsUs;
}

/** The effective book events of every book, in booking order (read on copies of the books). */
function bookedFlows(ledger: Ledger): { trades: TradeEvent[]; withdrawals: WithdrawalEvent[]; deposits: DepositEvent[]; lastTs: TsUs } {
  const out = { trades: [] as TradeEvent[], withdrawals: [] as WithdrawalEvent[], deposits: [] as DepositEvent[], lastTs: 0 };
  for (const book of ledger.bookNames()) {
    const c = ledger.cursor(book, Number.MIN_SAFE_INTEGER);
    if (!(c instanceof BookCursor)) continue;
    for (let e = c.next(); e !== undefined; e = c.next()) {
      if (e.ts > out.lastTs) out.lastTs = e.ts;
      if (e.type === 'trade') out.trades.push(e);
      else if (e.type === 'withdrawal') out.withdrawals.push(e);
      else if (e.type === 'deposit') out.deposits.push(e);
    }
  }
  return out;
}

/** A venue's trade history from a file: canonical trade events (JSONL or a JSON array) or ccxt fetchMyTrades output. */
export async function readVenueTrades(v: VenueTrades, ledger: Ledger): Promise<TradeEvent[]> {
  const text = (await readFile(v.path, 'utf8')).trim();
  let values: unknown[];
  if (text.startsWith('[')) values = JSON.parse(text) as unknown[];
  else values = text.split('\n').filter((l) => l.trim().length > 0).map((l) => JSON.parse(l) as unknown);
  if (values.length > 0 && isCcxtPayload(values)) {
    const m = fromCcxt(values, { venue: v.venue, book: 'recon' });
    if (m.problems.length > 0) throw new Error(`${v.path}: ${m.problems.map((p) => `#${p.index + 1} ${p.message}`).join('; ')}`);
    values = m.events;
  }
  return values.map((w, i) => {
    const x = typeof w === 'object' && w !== null && !('book' in w) ? { ...w, book: 'recon' } : w;
    const r = validateEvent(x, ledger.instruments);
    if (!r.ok) throw new Error(`${v.path} #${i + 1}: ${r.issues.map((s) => `${s.path}: expected ${s.expected}, got ${s.received}`).join('; ')}`);
    if (r.event.type !== 'trade') throw new Error(`${v.path} #${i + 1}: a ${r.event.type}, not a trade`);
    return r.event;
  });
}

export async function checkFiles(paths: readonly string[], opts: ReplayOptions, recon: ReconConfig, venueTrades?: VenueTrades): Promise<CheckRun> {
  const replay = await replayFiles(paths, { ...opts, retain: true });
  const ledger = replay.ledger;
  const flows = bookedFlows(ledger);
  const breaks = new BreakBook();
  const reports = ledger.reports;
  // Wall clock of a file check: the log's own last instant (deterministic), in ms.
  const nowMs = Math.floor(flows.lastTs / 1000);
  const t = recon.transfers;
  const transfers = matchTransfers(flows.withdrawals, flows.deposits, { windowUs: t.windowMs * 1000, skewUs: t.skewMs * 1000, maxTransitUs: t.maxTransitMs * 1000, feeTolerance: t.feeTolerance, nowUs: flows.lastTs });
  let trades: TradeReconResult | undefined;
  let missingTrades: TradeEvent[] = [];
  let theirs: TradeEvent[] = [];
  if (venueTrades !== undefined) {
    theirs = await readVenueTrades(venueTrades, ledger);
    trades = reconcileTrades(theirs, flows.trades, { venue: venueTrades.venue, ...(venueTrades.from === undefined ? {} : { fromTs: venueTrades.from }), ...(venueTrades.to === undefined ? {} : { toTs: venueTrades.to }) });
  }
  if (trades !== undefined) {
    const ids = new Set(trades.missingInUtl.map((l) => l.id));
    missingTrades = theirs.filter((t) => ids.has(t.id));
  }
  const open = new Set([...transfers.inTransit, ...transfers.breaks].map((f) => f.id));
  reconcileBalances(ledger, breaks, reports, {
    tolerances: recon.tolerances,
    atMs: nowMs,
    fundingIntervalUs: recon.fundingIntervalMs * 1000,
    unbookedVenueTrades: (venue, asset) =>
      trades === undefined || venue !== trades.venue
        ? []
        : missingTrades.flatMap((t) => {
            const d = spotTradeDeltas(t)?.get(asset);
            return d === undefined ? [] : [{ id: t.id, delta: d }];
          }),
    unmatchedWithdrawals: (asset) => flows.withdrawals.filter((w) => w.asset === asset && open.has(w.id)).map((w) => ({ id: w.id, venue: w.venue, qty: w.qty })),
  });
  const checks = consistencyChecks(ledger, { lendingVenues: recon.lendingVenues });
  const list = breaks.list().sort((a, b) => (a.id < b.id ? -1 : 1));
  const ok = breaks.active().length === 0 && transfers.breaks.length === 0 && (trades?.ok ?? true) && checks.every((c) => c.ok);
  return { replay, breaks: list, reports: reports.length, transfers, trades, checks, ok };
}
